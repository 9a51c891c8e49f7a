"""The order page's after-sales parts: timeline in words, comments, payments and refunds,
returns (RMAs), and allocation through sourcing or a chosen node. They call the same services
as the API (``payments``, ``returns``, ``comments``, ``service.allocate``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from orderhub.inventory import service as inventory
from orderhub.orders import allocation, comments, payments, returns, service, timeline
from orderhub.orders.model import Order, OrderStatus
from orderhub.platform.auth.model import Principal, Role
from orderhub.web.templating import act, check_csrf, console_user

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)
Lines = Annotated[list[str], Form()]


def detail_context(engine: Engine, view: service.OrderView) -> dict[str, Any]:
    """What the order page shows besides the order itself: the timeline in words (comments
    among the events), the payments panel, the RMAs, SKUs and names for fulfilment orders,
    and the nodes a return may arrive at or an order be allocated to."""
    order = view.order
    nodes = inventory.get_all_nodes(engine)
    names = {n.id: n.name or n.id for n in nodes}
    items = inventory.get_items(engine, skus=sorted({line.sku for line in order.lines}))
    summary = payments.get(engine, order_id=order.id)
    _, rmas = returns.get_all(engine, order_id=order.id)
    notes = comments.get_all(engine, order_id=order.id)
    naming = timeline.Naming(
        currency=order.currency,
        method=summary.method,
        skus={line.id: line.sku for line in order.lines},
        nodes=names,
    )
    by_line = {line.id: line for line in order.lines}
    return {
        "timeline": timeline.entries(view.events, notes, naming),
        "comment_count": len(notes),
        "payments": summary.as_json(),
        "can_refund": summary.refundable.minor > 0,
        "balance_says": "settled"
        if summary.balance.minor == 0
        else ("owed by the customer" if summary.balance.minor > 0 else "owed to the customer"),
        "skus": naming.skus,
        "held_nodes": allocation.held_nodes(engine, order_id=order.id) if order.status == OrderStatus.paid else [],
        "rmas": [returns.rma_json(r, order) for r in rmas],
        "returnable": _returnable(order, rmas),
        "return_nodes": [{"id": n.id, "name": n.name or n.id} for n in nodes if n.can(inventory.Capability.returns)],
        "allocate_nodes": [{"id": n.id, "name": n.name or n.id} for n in nodes if n.can(inventory.Capability.ships)],
        "node_names": names,
        "item_names": {sku: item.name for sku, item in items.items()},
        "fo_lines": {
            f.id: [
                {
                    "sku": by_line[k].sku if k in by_line else k,
                    "name": (items[by_line[k].sku].name if k in by_line and by_line[k].sku in items else "")
                    or (by_line[k].name if k in by_line else ""),
                    "quantity": q,
                }
                for k, q in f.lines.items()
            ]
            for f in order.fulfilment_orders
        },
    }


def _returnable(order: Order, rmas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines with delivered units not returned nor on an open RMA (what a new RMA may name)."""
    if order.status not in returns.RETURNABLE:
        return []
    pending = returns.pending_units([r for r in rmas if r["status"] in returns.OPEN])
    out = []
    for line in order.lines:
        left = line.quantity_delivered - line.quantity_returned - pending.get(line.id, 0)
        if left > 0:
            out.append({"id": line.id, "sku": line.sku, "name": line.name, "left": left})
    return out


def _pairs(line_id: list[str], quantity: list[str]) -> list[dict[str, Any]]:
    """The form's repeated ``line_id`` / ``quantity`` fields, blank and zero quantities left out."""
    out = []
    for lid, qty in zip(line_id, quantity, strict=False):
        qty = qty.strip()
        if qty and qty.lstrip("-").isdigit() and int(qty) != 0:
            out.append({"line_id": lid, "quantity": int(qty)})
    return out


def _back(order_id: str) -> str:
    return f"/console/orders/{order_id}"


@router.post("/orders/{order_id}/comments", dependencies=[Csrf])
def comment_add(request: Request, order_id: str, user: User, text: Annotated[str, Form()] = "") -> Response:
    engine = request.app.state.engine

    def run() -> str:
        comments.create(engine, order_id=order_id, author=user.actor, text=text)
        return "Comment added"

    return act(request, user, Role.operator, _back(order_id) + "#timeline", run)


@router.post("/orders/{order_id}/refunds", dependencies=[Csrf])
def refund_add(
    request: Request,
    order_id: str,
    user: User,
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    line_id: Lines = [],  # noqa: B006  (FastAPI copies form defaults)
    quantity: Lines = [],  # noqa: B006
) -> Response:
    engine = request.app.state.engine

    def run() -> str:
        _, refund = payments.refund(
            engine, order_id=order_id, actor=user.actor, amount=amount, lines=_pairs(line_id, quantity), reason=reason
        )
        return f"Refunded {payments.refund_json(refund)['amount']} {refund['currency']}"

    return act(request, user, Role.operator, _back(order_id), run)


@router.post("/orders/{order_id}/returns", dependencies=[Csrf])
def return_create(
    request: Request,
    order_id: str,
    user: User,
    reason: Annotated[str, Form()] = "",
    condition: Annotated[str, Form()] = "",
    line_id: Lines = [],  # noqa: B006
    quantity: Lines = [],  # noqa: B006
) -> Response:
    engine = request.app.state.engine

    def run() -> str:
        _, rma = returns.create(
            engine,
            order_id=order_id,
            actor=user.actor,
            lines=_pairs(line_id, quantity),
            reason=reason,
            condition=condition[:40],
        )
        return f"Return {rma['id']} authorised"

    return act(request, user, Role.operator, _back(order_id), run)


@router.post("/orders/{order_id}/returns/{rma_id}/receive", dependencies=[Csrf])
def return_receive(
    request: Request,
    order_id: str,
    rma_id: str,
    user: User,
    node_id: Annotated[str, Form()] = "",
    condition: Annotated[str, Form()] = "resellable",
    line_id: Lines = [],  # noqa: B006
    quantity: Lines = [],  # noqa: B006
) -> Response:
    engine = request.app.state.engine

    def run() -> str:
        lines = _pairs(line_id, quantity)
        if line_id and not lines:
            raise returns.bad_input("/lines", "at least one unit that arrived")
        returns.receive(
            engine,
            order_id=order_id,
            rma_id=rma_id,
            actor=user.actor,
            node_id=node_id,
            condition=condition,
            lines=lines,
        )
        return f"Return {rma_id}: received at {node_id} ({condition})"

    return act(request, user, Role.operator, _back(order_id), run)


@router.post("/orders/{order_id}/returns/{rma_id}/cancel", dependencies=[Csrf])
def return_cancel(
    request: Request, order_id: str, rma_id: str, user: User, reason: Annotated[str, Form()] = ""
) -> Response:
    engine = request.app.state.engine

    def run() -> str:
        returns.cancel(engine, order_id=order_id, rma_id=rma_id, actor=user.actor, reason=reason)
        return f"Return {rma_id} cancelled"

    return act(request, user, Role.operator, _back(order_id), run)


@router.post("/orders/{order_id}/returns/{rma_id}/refund", dependencies=[Csrf])
def return_refund(
    request: Request,
    order_id: str,
    rma_id: str,
    user: User,
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    engine = request.app.state.engine

    def run() -> str:
        _, (_, refund) = returns.refund(
            engine, order_id=order_id, rma_id=rma_id, actor=user.actor, amount=amount.strip() or None, reason=reason
        )
        return f"Refunded {payments.refund_json(refund)['amount']} {refund['currency']} for return {rma_id}"

    return act(request, user, Role.operator, _back(order_id), run)


# -- allocation through a real operation --------------------------------------------------------
@router.post("/orders/{order_id}/allocate-as-sourced", dependencies=[Csrf])
def allocate_sourced(request: Request, order_id: str, user: User) -> Response:
    engine = request.app.state.engine

    def run() -> str:
        order = allocation.allocate_as_sourced(engine, order_id=order_id, actor=user.actor)
        return "Allocated to " + ", ".join(f.node_id for f in order.fulfilment_orders)

    return act(request, user, Role.operator, _back(order_id), run)
