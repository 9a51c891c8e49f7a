"""Tracking's use cases — the one door into the context: ship with tracking, take in what WMS,
carriers and drivers report (``timeline``: the inbox and the writing of the timeline), follow
the order's own events and move the order with its parcels (``subscribers``), and answer
"where is my parcel?" for the customer, for staff and as KPIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.orders import service as orders
from orderhub.platform.db import unit_of_work
from orderhub.tracking import kpis, store, views
from orderhub.tracking.model import Milestone, Update, tracking_url
from orderhub.tracking.subscribers import FOLLOW as FOLLOW
from orderhub.tracking.subscribers import LIVE_TYPES as LIVE_TYPES
from orderhub.tracking.subscribers import TIMELINE as TIMELINE
from orderhub.tracking.timeline import ACTOR, row_of, write
from orderhub.tracking.timeline import Receipt as Receipt
from orderhub.tracking.timeline import get_inbox as get_inbox
from orderhub.tracking.timeline import get_inbox_message as get_inbox_message
from orderhub.tracking.timeline import receive as receive
from orderhub.tracking.timeline import record as record
from orderhub.tracking.timeline import register_parser as register_parser
from orderhub.tracking.timeline import replay as replay

M = Milestone


# -- shipping with tracking -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ParcelIn:
    carrier: str
    tracking_number: str
    lines: dict[str, int]
    service: str = ""
    fulfilment_order_id: str = ""
    tracking_url: str = ""


def ship(engine: Engine, *, order_id: str, parcels: list[ParcelIn], actor: str) -> list[dict[str, Any]]:
    """Ship parcels of an order: each with carrier, service, tracking number and its lines. The
    order records the shipped units (shipped or partially shipped), each parcel is on the
    timeline as handed to the carrier — one transaction. A tracking number already in use is a
    409; lines that do not belong to the named fulfilment order a 422."""
    now = utcnow()

    def action(conn: Connection, order: Any) -> list[dict[str, Any]]:
        _check_parcels(conn, order, parcels)
        totals: dict[str, int] = {}
        for p in parcels:
            for line_id, qty in p.lines.items():
                totals[line_id] = totals.get(line_id, 0) + qty
        order.record_shipment(totals, reason="shipped with tracking")
        fos = {f.id: f for f in order.fulfilment_orders}
        rows = [
            {
                "id": new_id("prc"),
                "order_id": order.id,
                "fulfilment_order_id": p.fulfilment_order_id or _fo_of(fos, p.lines),
                "carrier": p.carrier,
                "service": p.service,
                "tracking_number": p.tracking_number,
                "tracking_url": p.tracking_url or tracking_url(p.carrier, p.tracking_number),
                "lines": p.lines,
                "state": M.handed_to_carrier.value,
                "state_at": now,
                "estimated_delivery": None,
                "created_at": now,
            }
            for p in parcels
        ]
        store.add_parcels(conn, rows)
        handed = [
            Update(
                source="oms",
                key=r["id"],
                occurred_at=now,
                milestone=M.handed_to_carrier,
                tracking_number=r["tracking_number"],
                carrier=r["carrier"],
                description=f"{r['carrier']} {r['service']}".strip(),
            )
            for r in rows
        ]
        write(
            conn,
            [
                row_of(u, order_id=order.id, parcel_id=r["id"], fo_id=r["fulfilment_order_id"], now=now, inbox_id=None)
                for u, r in zip(handed, rows, strict=True)
            ],
            {r["id"]: r["tracking_number"] for r in rows},
            f"{ACTOR}:{actor}",
            now,
        )
        return rows

    try:
        _, rows = orders.change(engine, order_id, actor=f"{ACTOR}:{actor}", action=action)
    except IntegrityError:  # another shipment took one of these numbers at the same moment
        numbers = ", ".join(p.tracking_number for p in parcels)
        raise Conflict(f"tracking numbers already in use: {numbers}", code="tracking_number_in_use") from None
    return rows


def carriers_of(conn: Connection, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each order's parcels shipped with tracking — ``carrier``, ``service`` and ``lines``
    (line id → units) — read on the caller's connection (carbon's footprints, through wiring)."""
    return store.carriers_of_orders(conn, order_ids)


def _fo_of(fos: dict[str, Any], lines: dict[str, int]) -> str:
    for fo in fos.values():
        if set(lines) <= set(fo.lines):
            return str(fo.id)
    return ""


def _check_parcels(conn: Connection, order: Any, parcels: list[ParcelIn]) -> None:
    if not parcels:
        raise InvalidInput("ship at least one parcel", errors=[{"pointer": "/parcels", "detail": "must not be empty"}])
    errors = []
    fos = {f.id: f for f in order.fulfilment_orders}
    numbers = [p.tracking_number for p in parcels]
    for i, p in enumerate(parcels):
        if p.fulfilment_order_id and p.fulfilment_order_id not in fos:
            errors.append(
                {"pointer": f"/parcels/{i}/fulfilment_order_id", "detail": f"not a fulfilment order of {order.id}"}
            )
        elif p.fulfilment_order_id:
            stray = set(p.lines) - set(fos[p.fulfilment_order_id].lines)
            if stray:
                errors.append(
                    {
                        "pointer": f"/parcels/{i}/lines",
                        "detail": f"lines {sorted(stray)} are not in {p.fulfilment_order_id}",
                    }
                )
        if numbers.count(p.tracking_number) > 1:
            errors.append({"pointer": f"/parcels/{i}/tracking_number", "detail": "given twice"})
    if errors:
        raise InvalidInput(f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors)
    taken = store.parcels_by_number(conn, numbers)
    if taken:
        raise Conflict(f"tracking numbers already in use: {', '.join(sorted(taken))}", code="tracking_number_in_use")


# -- reading ----------------------------------------------------------------------------------
def by_token(engine: Engine, *, token: str) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        row = store.order_of_token(conn, token)
    if row is None:
        raise NotFound("no such tracking page", code="tracking_not_found")
    return row


@dataclass(frozen=True, slots=True)
class Timeline:
    order: dict[str, Any]
    parcels: list[dict[str, Any]]
    events: list[dict[str, Any]]


def get_timeline(engine: Engine, *, order_id: str) -> Timeline:
    """Everything tracking knows of an order, the timeline in occurred-at order."""
    with unit_of_work(engine, write=False) as conn:
        row = store.get_order(conn, order_id)
        if row is None:
            raise NotFound(f"no tracking for order {order_id}", code="order_not_found", order_id=order_id)
        return Timeline(row, store.parcels_of_order(conn, order_id), store.timeline(conn, order_id))


def get_public_view(engine: Engine, *, order_id: str, language: str | None = None) -> dict[str, Any]:
    """The customer view as the public page shows it: no internal ids, the destination to about
    a kilometre (anyone holding the link sees it)."""
    view = get_view(engine, order_id=order_id, view="customer", language=language)
    view.pop("order_id", None)
    dest = view["destination"]
    for k in ("lat", "lon"):
        if dest[k] is not None:
            dest[k] = round(dest[k], 2)
    return view


def get_views(engine: Engine, *, order_id: str, language: str = "en") -> tuple[dict[str, Any], dict[str, Any]]:
    """Staff's view and the customer's, from one read (the console's tracking card shows both)."""
    t = get_timeline(engine, order_id=order_id)
    return views.internal(t.order, t.parcels, t.events), views.customer(t.order, t.parcels, t.events, language)


def get_view(engine: Engine, *, order_id: str, view: str = "customer", language: str | None = None) -> dict[str, Any]:
    """``customer``: the milestones in words (in ``language``, else the order's); ``internal``:
    every entry with its source, raw detail, occurred-at, received-at and lag."""
    t = get_timeline(engine, order_id=order_id)
    if view == "internal":
        return views.internal(t.order, t.parcels, t.events)
    return views.customer(t.order, t.parcels, t.events, language or t.order["language"])


# -- KPIs -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Kpis:
    days: int
    since: datetime
    dwell: list[kpis.Dwell]
    channels: list[kpis.ChannelRow]
    late: list[dict[str, Any]]
    stuck: list[dict[str, Any]]


def get_kpis(engine: Engine, *, days: int = 30, limit: int = 100) -> Kpis:
    """The visibility KPIs over orders placed in the last ``days`` (dwell, channel table) and
    over every open order (late against the promise, stuck beyond a threshold)."""
    now = utcnow()
    since = kpis.window_start(now, days)
    dead = {("api" if k == "canonical" else k): v for k, v in orders.count_dead_letters(engine, since=since).items()}
    with unit_of_work(engine, write=False) as conn:
        placed = store.orders_placed_since(conn, since)
        reached = store.first_reached(conn, since)
        moving = store.open_orders(conn, statuses=kpis.STUCK_AFTER_H)
    late = [o for o in moving if kpis.is_late(o, now.date())]
    stuck = []
    for o in moving:
        hours = kpis.stuck_for_h(o, now)
        if hours is not None:
            stuck.append({**o, "stuck_h": hours, "limit_h": kpis.STUCK_AFTER_H[o["status"]]})
    late.sort(key=lambda o: o["promised_by"])
    stuck.sort(key=lambda o: -o["stuck_h"])
    return Kpis(days, since, kpis.dwell(reached), kpis.channels(placed, dead), late[:limit], stuck[:limit])
