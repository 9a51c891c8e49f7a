"""Console pages for orders and dead letters; they call the same services as the API."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.carbon import service as carbon
from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import DomainError, Forbidden
from orderhub.inventory import service as inventory
from orderhub.orders import aftersales_pages, capture, exceptions, service
from orderhub.orders.api import order_json
from orderhub.orders.model import OrderStatus
from orderhub.platform import jobs
from orderhub.platform.auth.model import Principal, Role
from orderhub.web import charts
from orderhub.web.templating import act, check_csrf, console_user, error_message, flash, redirect, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)


def _stock_held_until(status: OrderStatus, events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Until when an unpaid order's stock stays held (the presale lock), as its own events say."""
    if status not in (OrderStatus.created, OrderStatus.awaiting_payment):
        return None
    until = None
    for e in events:
        if e["type"] == "order.stock_reserved" and e["data"].get("expires_at"):
            until = e["data"]["expires_at"]
        elif e["type"] == "order.hold_extended" and e["data"].get("until"):
            until = e["data"]["until"]
    if until is None:
        return None
    at = as_utc(datetime.fromisoformat(until))
    return {"at": at, "minutes": max(0, math.ceil((at - utcnow()).total_seconds() / 60))}


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_detail(request: Request, order_id: str, user: User) -> Response:
    try:
        view = service.get(request.app.state.engine, order_id=order_id)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    return render(
        request,
        "orders/detail.html",
        {
            "user": user,
            "nav": "orders",
            "o": order_json(view.order, view.events),
            "editable": view.order.is_editable,
            "footprint": carbon.get_order_footprint(request.app.state.engine, order_id=order_id).as_dict(detail=True),
            "sourcing": service.latest_sourcing(view.events),
            "held": _stock_held_until(view.order.status, view.events),
            "ship_nodes": [
                n.id for n in inventory.get_all_nodes(request.app.state.engine) if n.can(inventory.Capability.ships)
            ],
            "can_operate": user.role >= Role.operator,
            **aftersales_pages.detail_context(request.app.state.engine, view),
        },
    )


#: Fulfilment orders a node's pick list page shows (the API pages further with ``limit``).
PICK_LIST_ROWS = 200


def _age(seconds: int) -> str:
    """An order's age in the unit a warehouse reads it: minutes, hours, days and hours."""
    minutes, hours = seconds // 60, seconds // 3600
    if hours < 1:
        return f"{minutes} min"
    return f"{hours} h" if hours < 24 else f"{hours // 24} d {hours % 24} h"


@router.get("/nodes/{node_id}/pick-list", response_class=HTMLResponse)
def pick_list(request: Request, node_id: str, user: User) -> Response:
    """A node's pick list, rank 1 first (linked from the node's page, which is inventory's)."""
    engine = request.app.state.engine
    try:
        node = inventory.get_node(engine, node_id=node_id)
        picks = service.get_pick_list(engine, node_id=node_id, limit=PICK_LIST_ROWS)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    ages = {x.fulfilment_order_id: _age(x.age_seconds) for x in picks.items}
    return render(
        request,
        "orders/pick_list.html",
        {"user": user, "nav": "nodes", "node": node, "picks": picks, "ages": ages},
    )


def _act(request: Request, user: Principal, order_id: str, done: str, action: Callable[[str], Any]) -> Response:
    """Run an operator action, flash its outcome, redirect back to the order."""

    def run() -> str:
        action(user.actor)
        return done

    return act(request, user, Role.operator, f"/console/orders/{order_id}", run)


@router.post("/orders/{order_id}/transition", dependencies=[Csrf])
def order_transition(
    request: Request, order_id: str, user: User, to: Annotated[str, Form()], reason: Annotated[str, Form()] = ""
) -> Response:
    engine = request.app.state.engine
    return _act(
        request,
        user,
        order_id,
        f"Moved to {to}",
        lambda actor: service.transition(engine, order_id=order_id, to=to, actor=actor, reason=reason),
    )


@router.post("/orders/{order_id}/pin", dependencies=[Csrf])
def order_pin(
    request: Request, order_id: str, user: User, node_id: Annotated[str, Form()], reason: Annotated[str, Form()] = ""
) -> Response:
    """Pin every open unit of a paid (or move an allocated) order to one node, with a reason."""
    engine = request.app.state.engine

    def pin(actor: str) -> Any:
        order = service.get(engine, order_id=order_id).order
        lines = {line.id: line.open_quantity for line in order.lines if line.open_quantity}
        return service.allocate(
            engine, order_id=order_id, actor=actor, assignments={node_id: lines}, reason=reason or "pinned in console"
        )

    return _act(request, user, order_id, f"Fulfilment pinned to {node_id}", pin)


@router.post("/orders/{order_id}/cancel", dependencies=[Csrf])
def order_cancel(request: Request, order_id: str, user: User, reason: Annotated[str, Form()] = "") -> Response:
    engine = request.app.state.engine
    return _act(
        request,
        user,
        order_id,
        "Order cancelled",
        lambda actor: service.cancel(engine, order_id=order_id, actor=actor, reason=reason or "cancelled in console"),
    )


@router.post("/orders/{order_id}/hold", dependencies=[Csrf])
def order_hold(request: Request, order_id: str, user: User, reason: Annotated[str, Form()] = "") -> Response:
    engine = request.app.state.engine
    return _act(
        request,
        user,
        order_id,
        "Order on hold",
        lambda actor: service.hold(engine, order_id=order_id, actor=actor, reason=reason),
    )


@router.post("/orders/{order_id}/release-hold", dependencies=[Csrf])
def order_release(request: Request, order_id: str, user: User) -> Response:
    engine = request.app.state.engine
    return _act(
        request,
        user,
        order_id,
        "Hold released",
        lambda actor: service.release_hold(engine, order_id=order_id, actor=actor),
    )


@router.post("/orders/{order_id}/address", dependencies=[Csrf])
def order_address(
    request: Request,
    order_id: str,
    user: User,
    name: Annotated[str, Form()] = "",
    line1: Annotated[str, Form()] = "",
    line2: Annotated[str | None, Form()] = None,
    city: Annotated[str, Form()] = "",
    postal_code: Annotated[str, Form()] = "",
    region: Annotated[str | None, Form()] = None,
    country: Annotated[str, Form()] = "",
) -> Response:
    engine = request.app.state.engine
    # Fields the form does not show (line 2, region, coordinates) are not sent, so they keep
    # their values: an edit of the street must not drop the region or the pin.
    sent = {"line2": line2, "region": region}
    address = {
        "name": name,
        "line1": line1,
        "city": city,
        "postal_code": postal_code,
        "country": country[:2].upper(),
        **{k: v for k, v in sent.items() if v is not None},
    }
    return _act(
        request,
        user,
        order_id,
        "Address changed",
        lambda actor: service.change_address(engine, order_id=order_id, actor=actor, address=address),
    )


@router.post("/orders/{order_id}/lines/{line_id}/quantity", dependencies=[Csrf])
def line_quantity(
    request: Request, order_id: str, line_id: str, user: User, quantity: Annotated[int, Form()]
) -> Response:
    engine = request.app.state.engine
    return _act(
        request,
        user,
        order_id,
        "Quantity changed",
        lambda actor: service.change_line_quantity(
            engine, order_id=order_id, actor=actor, line_id=line_id, quantity=quantity
        ),
    )


@router.post("/orders/{order_id}/lines/{line_id}/cancel", dependencies=[Csrf])
def line_cancel(request: Request, order_id: str, line_id: str, user: User) -> Response:
    engine = request.app.state.engine
    return _act(
        request,
        user,
        order_id,
        "Line cancelled",
        lambda actor: service.cancel_line(
            engine, order_id=order_id, actor=actor, line_id=line_id, reason="cancelled in console"
        ),
    )


@router.post("/orders/{order_id}/lines", dependencies=[Csrf])
def line_add(
    request: Request,
    order_id: str,
    user: User,
    sku: Annotated[str, Form()],
    quantity: Annotated[int, Form()],
    unit_price: Annotated[str, Form()],
) -> Response:
    engine = request.app.state.engine
    return _act(
        request,
        user,
        order_id,
        f"Line {sku} added",
        lambda actor: service.add_line(
            engine, order_id=order_id, actor=actor, sku=sku, quantity=quantity, unit_price=unit_price
        ),
    )


def _dashboard_context(request: Request) -> dict[str, Any]:
    engine = request.app.state.engine
    data = service.get_dashboard(engine)
    return {
        "data": data,
        "status_chart": charts.log_bars(
            [charts.Bar(s, data.by_status.get(s, 0), f"/console/orders?status={s}") for s in OrderStatus],
            title="orders by status",
            attr="status",
        ),
        "channel_chart": charts.log_bars(
            [
                charts.Bar(c, n, f"/console/orders?channel={c}")
                for c, n in sorted(data.by_channel.items(), key=lambda x: -x[1])
            ],
            title="orders by channel",
            attr="channel",
        ),
        "days_chart": charts.columns(data.per_day, title="orders per day, last 30 days"),
        "days": data.per_day,
        "exceptions": exceptions.get_summary(engine),
    }


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, user: User) -> Response:
    """Live counts by status and channel; the counts part refreshes itself every 5 s."""
    return render(
        request,
        "orders/dashboard.html",
        {"user": user, "nav": "dashboard", **_dashboard_context(request)},
        fragment="orders/_dashboard_counts.html",
    )


# -- batch re-optimisation, started from the sourcing page (a durable job: any process shows it) --
@router.post("/sourcing/reoptimise", dependencies=[Csrf])
def reoptimise_start(request: Request, user: User) -> Response:
    """Queue the re-optimisation job and come back to the sourcing page, which polls it."""
    try:
        user.require(Role.operator)
    except Forbidden as exc:
        flash(request, exc.detail, "error")
        return redirect("/console/sourcing", request)
    job = service.start_reoptimise(request.app.state.engine, actor=user.actor)
    return redirect(f"/console/sourcing?job={job.id}", request)


@router.get("/sourcing/reoptimise/{job_id}", response_class=HTMLResponse)
def reoptimise_status(request: Request, job_id: str, user: User) -> Response:
    """The job's progress fragment, read from its row (htmx polls it every second)."""
    try:
        job = jobs.get(request.app.state.engine, job_id)
    except DomainError:
        job = None
    return render(request, "sourcing/_job.html", {"user": user, "job": job, "job_id": job_id})


# -- dead letters -------------------------------------------------------------------------
@router.get("/dead-letters", response_class=HTMLResponse)
def dead_letters(request: Request, user: User, status: str = "pending") -> Response:
    engine = request.app.state.engine
    letters, _ = capture.get_dead_letters(engine, status=status or None, limit=200)
    refs = service.get_refs(engine, [d["order_id"] for d in letters if d["order_id"]])
    context = {"user": user, "nav": "dead_letters", "letters": letters, "status": status, "refs": refs}
    return render(request, "orders/dead_letters.html", context)


@router.get("/dead-letters/{letter_id}", response_class=HTMLResponse)
def dead_letter(request: Request, letter_id: str, user: User) -> Response:
    try:
        letter = capture.get_dead_letter(request.app.state.engine, letter_id=letter_id)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    refs = service.get_refs(request.app.state.engine, [letter["order_id"]] if letter["order_id"] else [])
    return render(request, "orders/dead_letter.html", {"user": user, "nav": "dead_letters", "d": letter, "refs": refs})


@router.post("/dead-letters/{letter_id}/replay", dependencies=[Csrf])
def dead_letter_replay(request: Request, letter_id: str, user: User, payload: Annotated[str, Form()]) -> Response:
    try:
        user.require(Role.operator)
        result = capture.replay_dead_letter(
            request.app.state.engine, letter_id=letter_id, actor=user.actor, payload=payload
        )
    except DomainError as exc:
        flash(request, f"Replay failed: {error_message(exc)}", "error")
        return redirect(f"/console/dead-letters/{letter_id}", request)
    flash(request, f"Replayed: order {result.order_id} captured")
    return redirect(f"/console/orders/{result.order_id}", request)


@router.post("/dead-letters/{letter_id}/discard", dependencies=[Csrf])
def dead_letter_discard(request: Request, letter_id: str, user: User) -> Response:
    def discard() -> str:
        capture.discard_dead_letter(request.app.state.engine, letter_id=letter_id, actor=user.actor)
        return "Dead letter discarded"

    return act(request, user, Role.operator, "/console/dead-letters", discard)
