"""Tracking pages: the public tracking page (no login; an unguessable token per order) with live
updates by server-sent events, and the tracking card of the console's order page (the
timeline in words, parcels with tracking links, the internal detail on request, ship with
tracking)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from orderhub.core.errors import DomainError, InvalidInput
from orderhub.platform.auth.model import Principal, Role
from orderhub.tracking import service, views
from orderhub.tracking.model import CARRIER_PAGES, LANGUAGES, language_of
from orderhub.web.templating import act, bars, check_csrf, console_user, render

router = APIRouter(include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
KEEPALIVE_S = 15.0
SHIPPABLE = {"released", "picked", "packed", "partially_shipped", "partially_delivered"}


def _language(request: Request, order_language: str, lang: str | None) -> str:
    """``?lang=`` first, then the order's language; the browser's only for an order without one."""
    if lang in LANGUAGES:
        return str(lang)
    return order_language or language_of(request.headers.get("accept-language", ""))


@router.get("/track/{token}", response_class=HTMLResponse)
def track(request: Request, token: str, lang: str | None = None) -> Response:
    engine = request.app.state.engine
    try:
        link = service.by_token(engine, token=token[:64])
    except DomainError:
        return render(request, "tracking/missing.html", {"user": None}, status_code=404)
    language = _language(request, link["language"], lang)
    view = service.get_public_view(engine, order_id=link["order_id"], language=language)
    return render(
        request,
        "tracking/track.html",
        {"user": None, "v": view, "t": views.PAGE_WORDS[language], "token": token, "languages": LANGUAGES},
    )


@router.get("/track/{token}/live")
async def track_live(request: Request, token: str, lang: str | None = None) -> Response:
    """Server-sent events: the customer view (JSON) now and after every change of the order's
    timeline, until the page closes; a comment every 15 s keeps proxies from closing it."""
    engine = request.app.state.engine
    try:
        link = await run_in_threadpool(service.by_token, engine, token=token[:64])
    except DomainError as exc:
        return Response(exc.detail, status_code=404, media_type="text/plain")
    order_id, language = link["order_id"], _language(request, link["language"], lang)
    tail = request.app.state.live

    async def stream() -> AsyncIterator[str]:
        queue = tail.listen(order_id)  # before the first read: nothing published after it is missed
        try:
            yield "retry: 2000\n\n"
            yield _sse(await run_in_threadpool(service.get_public_view, engine, order_id=order_id, language=language))
            while not await request.is_disconnected():
                try:
                    await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                while not queue.empty():  # a burst is one update
                    queue.get_nowait()
                view = await run_in_threadpool(service.get_public_view, engine, order_id=order_id, language=language)
                yield _sse(view)
        finally:
            tail.forget(order_id, queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _sse(view: dict[str, Any]) -> str:
    return f"event: update\ndata: {json.dumps(view, separators=(',', ':'))}\n\n"


# -- the console's order page -------------------------------------------------------------------
@router.get("/console/orders/{order_id}/tracking", response_class=HTMLResponse)
def order_tracking(request: Request, order_id: str, user: User, status: str = "", lines: str = "") -> Response:
    """The tracking card of an order page (loaded by htmx)."""
    engine = request.app.state.engine
    try:
        internal, customer = service.get_views(engine, order_id=order_id[:40])
    except DomainError:
        return render(request, "tracking/_card.html", {"user": user, "missing": True})
    return render(
        request,
        "tracking/_card.html",
        {
            "user": user,
            "order_id": order_id,
            "i": internal,
            "c": customer,
            "can_ship": status in SHIPPABLE,
            "carriers": sorted(c for c in CARRIER_PAGES if c != "cargo-bike"),
            "page": f"/track/{internal['token']}",
            "ship_lines": "\n".join(p.strip() for p in lines[:20_000].split(",") if p.strip()),
        },
    )


@router.post("/console/orders/{order_id}/parcels", dependencies=[Depends(check_csrf)])
def order_ship(
    request: Request,
    order_id: str,
    user: User,
    carrier: Annotated[str, Form(max_length=40)],
    tracking_number: Annotated[str, Form(max_length=60)],
    lines: Annotated[str, Form(max_length=20_000, description="line_id=qty, one per line or comma-separated")],
    service_name: Annotated[str, Form(alias="service", max_length=60)] = "",
) -> Response:
    def ship() -> str:
        parsed = _parse_lines(lines)
        service.ship(
            request.app.state.engine,
            order_id=order_id,
            parcels=[
                service.ParcelIn(
                    carrier=carrier, service=service_name, tracking_number=tracking_number.strip(), lines=parsed
                )
            ],
            actor=user.actor,
        )
        return f"Parcel {tracking_number.strip()} shipped with {carrier}"

    return act(request, user, Role.operator, f"/console/orders/{order_id}", ship)


def _parse_lines(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in text.replace(",", "\n").splitlines():
        if not part.strip():
            continue
        line_id, _, qty = part.partition("=")
        if not qty.strip().isdigit() or int(qty) < 1:
            raise InvalidInput(
                f"{part.strip()!r}: write line_id=quantity",
                errors=[{"pointer": "/lines", "detail": "line_id=quantity"}],
            )
        out[line_id.strip()] = out.get(line_id.strip(), 0) + int(qty)
    if not out:
        raise InvalidInput(
            "name the lines in the parcel", errors=[{"pointer": "/lines", "detail": "must not be empty"}]
        )
    return out


# -- the console's tracking page -----------------------------------------------------------------
@router.get("/console/tracking", response_class=HTMLResponse)
def tracking_page(request: Request, user: User, days: int = 30) -> Response:
    """KPIs with charts, the late and stuck lists, and the inbox of refused messages."""
    engine = request.app.state.engine
    days = min(max(days, 1), 366)
    k = service.get_kpis(engine, days=days, limit=50)
    dwell = {d.step: d.median_h or 0.0 for d in k.dwell}
    on_time = {c.channel: c.on_time_pct or 0.0 for c in k.channels if c.on_time_pct is not None}
    return render(
        request,
        "tracking/page.html",
        {
            "user": user,
            "nav": "tracking",
            "k": k,
            "days": days,
            "dwell_bars": bars(dwell, [d.step for d in k.dwell]),
            "on_time_bars": bars(on_time),
            "rejected": service.get_inbox(engine, status="rejected", limit=20),
        },
    )


@router.post("/console/tracking/inbox/{inbox_id}/replay", dependencies=[Depends(check_csrf)])
def inbox_replay(request: Request, inbox_id: int, user: User) -> Response:
    def replay() -> str:
        receipt = service.replay(request.app.state.engine, inbox_id=inbox_id)
        return f"Message {inbox_id} replayed: {receipt.recorded} recorded, {receipt.duplicates} already there"

    return act(request, user, Role.operator, "/console/tracking", replay)
