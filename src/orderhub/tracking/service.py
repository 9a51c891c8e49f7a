"""Tracking's use cases: ship with tracking, take in what WMS, carriers and drivers report, keep
the timeline, and answer "where is my parcel?" for the customer and for staff.

Writes happen in two places:

- ``record`` (every inbound feed) and ``ship`` write timeline rows and publish a
  ``tracking.updated`` event for each new one, in one transaction;
- two bus subscribers (registered in ``orderhub.wiring``): ``tracking.timeline`` turns the
  order's own events (captured, paid, allocated, released …) into milestones and keeps
  ``tracking_orders``; ``tracking.orders`` moves the order along when its parcels do (picked,
  packed, in transit, out for delivery, delivered), through the order's unit of work.

Order changes made by tracking carry an actor starting ``tracking`` so the timeline does not
record them twice.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from orderhub.bus import service as bus
from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import Conflict, DomainError, InvalidInput, NotFound
from orderhub.core.events import DomainEvent
from orderhub.core.ids import new_id
from orderhub.orders import service as orders
from orderhub.platform.db import unit_of_work
from orderhub.tracking import kpis, store, views
from orderhub.tracking.carriers.places import local_date
from orderhub.tracking.events import TrackingUpdated
from orderhub.tracking.model import PROBLEMS, Milestone, Update, language_for_country, parcel_state, tracking_url

M = Milestone
ACTOR = "tracking"
log = logging.getLogger("orderhub.tracking")
#: The order statuses the hub moves an order through as its parcels report (no backwards move).
_FORWARD = {
    M.picked: ("released", "picked"),
    M.packed: ("picked", "packed"),
    M.in_transit: ("shipped", "in_transit"),
    M.out_for_delivery: ("in_transit", "out_for_delivery"),
}


#: Milestones that can move the order, each with the statuses at or past which it moves nothing.
#: Tracking's copy of the status may lag the order (another subscriber keeps it) but never runs
#: ahead, so a copy already past the milestone is proof enough to skip the order's lock.
_DONE = frozenset({"cancelled", "return_requested", "returned", "refunded"})
_PAST: dict[str, frozenset[str]] = {
    M.picked: _DONE
    | {
        "picked",
        "packed",
        "partially_shipped",
        "shipped",
        "in_transit",
        "out_for_delivery",
        "partially_delivered",
        "delivered",
    },
    M.packed: _DONE
    | {"packed", "partially_shipped", "shipped", "in_transit", "out_for_delivery", "partially_delivered", "delivered"},
    M.in_transit: _DONE | {"in_transit", "out_for_delivery", "partially_delivered", "delivered"},
    M.out_for_delivery: _DONE | {"out_for_delivery", "partially_delivered", "delivered"},
    M.delivered: _DONE | {"delivered"},
}


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one inbound message did: timeline rows written, and deliveries seen before."""

    inbox_id: int
    recorded: int
    duplicates: int


# -- writing the timeline ---------------------------------------------------------------------
def _row(
    u: Update, *, order_id: str, parcel_id: str | None, fo_id: str, now: datetime, inbox_id: int | None
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "parcel_id": parcel_id,
        "fulfilment_order_id": fo_id or u.fulfilment_order_id,
        "source": u.source,
        "key": u.key[:200],
        "milestone": u.milestone.value if u.milestone else None,
        "occurred_at": as_utc(u.occurred_at),
        "received_at": now,
        "description": u.description[:500],
        "location": u.location[:200],
        "country": u.country[:2].upper(),
        "lat": u.position.lat if u.position else None,
        "lon": u.position.lon if u.position else None,
        "time_note": u.time_note[:200],
        "detail": {**u.detail, "estimated_delivery": u.estimated_delivery.isoformat()}
        if u.estimated_delivery
        else u.detail,
        "inbox_id": inbox_id,
    }


def _event(row: dict[str, Any], *, tracking_number: str = "") -> TrackingUpdated:
    return TrackingUpdated(
        milestone=row["milestone"] or "",
        source=row["source"],
        occurred_at=row["occurred_at"].isoformat(),
        parcel_id=row["parcel_id"] or "",
        tracking_number=tracking_number,
        fulfilment_order_id=row["fulfilment_order_id"],
        description=row["description"],
        location=row["location"],
        country=row["country"],
        lat=row["lat"],
        lon=row["lon"],
    )


def _write(conn: Connection, rows: list[dict[str, Any]], numbers: Mapping[str, str], actor: str, now: datetime) -> int:
    """Insert timeline rows (a second delivery inserts nothing), publish one event per new row,
    and bring the parcels' states and the orders' last positions up to date. Returns how many
    rows were new."""
    unique = list({(r["source"], r["key"]): r for r in reversed(rows)}.values())[::-1]  # a repeat in one batch
    new = store.add_events(conn, unique)
    fresh = [r for r in unique if (r["source"], r["key"]) in new]
    _follow_estimates(conn, rows)  # a carrier may resend what it said with only the estimate changed
    if not fresh:
        return 0
    bus.publish(
        conn,
        [
            DomainEvent.of(
                _event(r, tracking_number=numbers.get(r["parcel_id"] or "", "")),
                aggregate_id=r["order_id"],
                actor=actor,
                occurred_at=now,
            )
            for r in fresh
        ],
    )
    _follow_parcels(conn, fresh)
    _follow_orders(conn, fresh)
    return len(fresh)


def _follow_parcels(conn: Connection, fresh: list[dict[str, Any]]) -> None:
    """Each touched parcel's state from its state so far and the new milestones (the same
    answer as ``parcel_state`` over its whole history: the state kept is the latest final one
    when there is one, else the latest), under the parcels' row locks, in id order."""
    touched = {r["parcel_id"] for r in fresh if r["parcel_id"] and r["milestone"]}
    if not touched:
        return
    parcels = store.parcels_by_id(conn, touched, for_update=True)
    new: dict[str, list[tuple[datetime, Milestone]]] = {}
    estimates: dict[str, str] = {}
    for r in fresh:
        if r["parcel_id"] in touched and r["milestone"]:
            new.setdefault(r["parcel_id"], []).append((r["occurred_at"], M(r["milestone"])))
        if r["parcel_id"] and r["detail"].get("estimated_delivery"):
            estimates[r["parcel_id"]] = r["detail"]["estimated_delivery"]
    changes = []
    for pid, parcel in parcels.items():
        seen = list(new[pid])
        if parcel["state"] and parcel["state_at"]:
            seen.append((as_utc(parcel["state_at"]), M(parcel["state"])))
        state = parcel_state(seen)
        estimate = estimates.get(pid)
        changes.append(
            {
                "b_id": pid,
                "state": state.value if state else None,
                "state_at": max((t for t, m in seen if m == state), default=None),
                "estimated_delivery": date.fromisoformat(estimate) if estimate else parcel["estimated_delivery"],
            }
        )
    store.update_parcels(conn, changes)


def _follow_orders(conn: Connection, fresh: list[dict[str, Any]]) -> None:
    """The order's last known position (the latest by occurred-at wins), the carrier's latest
    estimate and its first problem — each a conditional update, no read first."""
    positions: dict[str, dict[str, Any]] = {}
    problems: dict[str, datetime] = {}
    for r in fresh:
        o = r["order_id"]
        if r["lat"] is not None and (o not in positions or positions[o]["occurred_at"] < r["occurred_at"]):
            positions[o] = r
        if r["milestone"] in PROBLEMS and (o not in problems or r["occurred_at"] < problems[o]):
            problems[o] = r["occurred_at"]
    store.move_positions(
        conn, [{"b_order": o, "lat": r["lat"], "lon": r["lon"], "at": r["occurred_at"]} for o, r in positions.items()]
    )
    store.mark_problems(conn, [{"b_order": o, "at": t} for o, t in problems.items()])


def _follow_estimates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The carrier's estimate: the one given with the latest update wins (an older update
    arriving late, or resent, does not undo a newer estimate)."""
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["detail"].get("estimated_delivery"):
            o = r["order_id"]
            if o not in latest or latest[o]["occurred_at"] <= r["occurred_at"]:
                latest[o] = r
    store.set_estimates(
        conn,
        [
            {"b_order": o, "estimate": date.fromisoformat(r["detail"]["estimated_delivery"]), "at": r["occurred_at"]}
            for o, r in latest.items()
        ],
    )


def record(
    engine: Engine,
    updates: list[Update],
    *,
    inbox: dict[str, Any] | int | None = None,
    pointer: str = "/events/{i}/{field}",
) -> Receipt:
    """Put updates on their orders' timelines, all or none: each names a parcel by tracking
    number, a fulfilment order, or an order. An update nobody can place is refused (422 naming
    it) and nothing is written. ``inbox``: the message they came in (a new row to keep, or the
    id of a kept one), marked accepted with its counts in the same transaction."""
    fo_ids = [u.fulfilment_order_id for u in updates if u.fulfilment_order_id and not u.tracking_number]
    fo_orders = orders.fulfilment_orders_of(engine, fo_ids) if fo_ids else {}
    now = utcnow()
    with unit_of_work(engine) as conn:
        inbox_id = store.add_inbox(conn, **inbox, status="accepted") if isinstance(inbox, dict) else inbox
        parcels = store.parcels_by_number(conn, [u.tracking_number for u in updates if u.tracking_number])
        direct = store.existing_orders(conn, [u.order_id for u in updates if u.order_id and not u.tracking_number])
        rows, errors = [], []
        for i, u in enumerate(updates):
            if u.tracking_number:
                parcel = parcels.get(u.tracking_number)
                if parcel is None:
                    errors.append(
                        {
                            "pointer": pointer.format(i=i, field="tracking_number"),
                            "detail": f"no parcel has tracking number {u.tracking_number!r}",
                        }
                    )
                    continue
                rows.append(
                    _row(
                        u,
                        order_id=parcel["order_id"],
                        parcel_id=parcel["id"],
                        fo_id=parcel["fulfilment_order_id"],
                        now=now,
                        inbox_id=inbox_id,
                    )
                )
            elif u.fulfilment_order_id:
                order_id = fo_orders.get(u.fulfilment_order_id)
                if order_id is None:
                    errors.append(
                        {
                            "pointer": pointer.format(i=i, field="fulfilment_order_id"),
                            "detail": f"no fulfilment order {u.fulfilment_order_id!r}",
                        }
                    )
                    continue
                rows.append(
                    _row(u, order_id=order_id, parcel_id=None, fo_id=u.fulfilment_order_id, now=now, inbox_id=inbox_id)
                )
            elif u.order_id in direct:
                rows.append(_row(u, order_id=u.order_id, parcel_id=None, fo_id="", now=now, inbox_id=inbox_id))
            else:
                errors.append(
                    {
                        "pointer": pointer.format(i=i, field="order_id"),
                        "detail": f"no order {u.order_id!r} (or give a tracking_number)",
                    }
                )
        if errors:
            raise InvalidInput(
                f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors, code="unknown_reference"
            )
        numbers = {p["id"]: n for n, p in parcels.items()}
        written = _write(conn, rows, numbers, f"{ACTOR}:{updates[0].source}" if updates else ACTOR, now)
        if inbox_id is not None:  # the message's outcome commits with what it wrote
            store.update_inbox(
                conn, inbox_id, status="accepted", error=None, recorded=written, duplicates=len(rows) - written
            )
    return Receipt(inbox_id or 0, written, len(rows) - written)


def receive(
    engine: Engine,
    *,
    source: str,
    body: bytes,
    parse: Callable[[bytes], list[Update]],
    signature: str = "none",
    pointer: str = "/events/{i}/{field}",
) -> Receipt:
    """Parse and record an inbound message, kept in the inbox in the same transaction as what it
    wrote. A message that is refused (bad field, unknown tracking number) is kept as
    ``rejected`` with its problem, for ``replay`` once its cause is fixed; the error is raised
    to the caller with the message's ``inbox_id``."""
    kept = _message(source=source, body=body, signature=signature)
    return _process(engine, kept, body, parse, pointer=pointer)


def _message(*, source: str, body: bytes, signature: str) -> dict[str, Any]:
    return {
        "source": source,
        "received_at": utcnow(),
        "body": body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "signature": signature,
    }


def _process(
    engine: Engine, inbox: dict[str, Any] | int, body: bytes, parse: Callable[[bytes], list[Update]], *, pointer: str
) -> Receipt:
    """``inbox``: a new message's row (written with the outcome) or a kept message's id."""
    try:
        updates = parse(body)
        return record(engine, updates, inbox=inbox, pointer=pointer)
    except DomainError as exc:
        problem = {"code": exc.code, "detail": exc.detail, "errors": getattr(exc, "errors", [])}
        with unit_of_work(engine) as conn:
            if isinstance(inbox, int):
                store.update_inbox(conn, inbox, status="rejected", error=problem)
                exc.fields["inbox_id"] = inbox
            else:
                exc.fields["inbox_id"] = store.add_inbox(conn, **inbox, status="rejected", error=problem)
        raise


PARSERS: dict[str, tuple[Callable[[bytes], list[Update]], str]] = {}


def register_parser(source: str, parse: Callable[[bytes], list[Update]], pointer: str) -> None:
    """How ``replay`` reads a kept message of ``source`` again (registered by the routes), and
    where its errors point (``{i}``: the update's index, ``{field}``: the field)."""
    PARSERS[source] = (parse, pointer)


def replay(engine: Engine, *, inbox_id: int) -> Receipt:
    """Process a kept message again (a rejected one, once the parcel exists or the cause is
    fixed). Idempotent: what was recorded before is recognised as duplicate."""
    with unit_of_work(engine, write=False) as conn:
        kept = store.get_inbox(conn, inbox_id)
    if kept is None:
        raise NotFound(f"no inbox message {inbox_id}", code="inbox_message_not_found")
    if kept["source"] not in PARSERS:
        raise Conflict(f"messages from {kept['source']} cannot be replayed", code="not_replayable")
    parse, pointer = PARSERS[kept["source"]]
    return _process(engine, inbox_id, kept["body"].encode(), parse, pointer=pointer)


def get_inbox(
    engine: Engine, *, status: str | None = None, before: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Inbound messages, newest first (without bodies); ``before`` pages by id."""
    with unit_of_work(engine, write=False) as conn:
        return store.list_inbox(conn, status=status, before=before, limit=limit)


def get_inbox_message(engine: Engine, *, inbox_id: int) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        kept = store.get_inbox(conn, inbox_id)
    if kept is None:
        raise NotFound(f"no inbox message {inbox_id}", code="inbox_message_not_found")
    return kept


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
        _write(
            conn,
            [
                _row(u, order_id=order.id, parcel_id=r["id"], fo_id=r["fulfilment_order_id"], now=now, inbox_id=None)
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


# -- the order follows its parcels (bus subscriber) ---------------------------------------------
def follow_order(conn: Connection, event: DomainEvent) -> None:
    """``tracking.updated`` → the order's status: picked / packed once every fulfilment order
    is; in transit / out for delivery from shipped; a parcel delivered records its lines as
    delivered (once). Never moves an order backwards; a move the order refuses is skipped."""
    follow_orders(conn, [event])


def follow_orders(conn: Connection, events: list[DomainEvent]) -> None:
    """``follow_order`` for a batch, in order: one read of tracking's copy of the statuses
    decides which events can move nothing (most scans), and only the rest take the order's
    lock. The copy is kept by another subscriber, never by this one, so reading it once for
    the batch sees what reading it per event would."""
    wanted = [e for e in events if (e.data.get("milestone") or "") in _PAST]
    statuses = store.statuses(conn, {e.aggregate_id for e in wanted})
    for event in wanted:
        milestone = M(event.data["milestone"])
        if statuses.get(event.aggregate_id) in _PAST[milestone]:
            continue  # the order is already there or past it: skip its lock
        orders.change_in(conn, event.aggregate_id, actor=ACTOR, action=partial(_follow, milestone=milestone))


def _follow(conn: Connection, order: Any, *, milestone: Milestone) -> None:
    """The move a milestone implies; one the order refuses (staff recorded it by hand already,
    the order is being returned) is logged and skipped, never retried into a dead event that
    would park the order's later updates."""
    try:
        _move(conn, order, milestone)
    except (Conflict, InvalidInput) as exc:
        order.changes.clear()
        log.info("order %s does not follow %s: %s", order.id, milestone.value, exc.detail)


def _move(conn: Connection, order: Any, milestone: Milestone) -> None:
    status = str(order.status)
    if milestone in (M.picked, M.packed):
        reached = store.fulfilment_milestones(conn, order.id)
        done = {M.picked: {"picked", "packed"}, M.packed: {"packed"}}[milestone]
        if order.fulfilment_orders and all(reached.get(f.id, set()) & done for f in order.fulfilment_orders):
            for before, after in (_FORWARD[M.picked], _FORWARD[M.packed]):
                if str(order.status) == before and (after == "picked" or milestone == M.packed):
                    order.transition_to(orders.OrderStatus(after), reason=f"warehouse: {milestone.value}")
        return
    if milestone == M.delivered:
        due = [
            p
            for p in store.parcels_of_order(conn, order.id)
            if p["state"] == M.delivered and not p["delivery_recorded"]
        ]
        lines: dict[str, int] = {}
        for p in due:
            for line_id, qty in p["lines"].items():
                lines[line_id] = lines.get(line_id, 0) + int(qty)
        if lines and status in {
            "partially_shipped",
            "shipped",
            "in_transit",
            "out_for_delivery",
            "partially_delivered",
        }:
            order.record_delivery(lines, reason="carrier: delivered")
            store.mark_delivery_recorded(conn, [p["id"] for p in due])
        return
    if milestone == M.out_for_delivery and status == "shipped":
        order.transition_to(orders.OrderStatus.in_transit, reason="carrier: out for delivery")
        status = "in_transit"
    before, after = _FORWARD[milestone]
    if status == before:
        order.transition_to(orders.OrderStatus(after), reason=f"carrier: {milestone.value.replace('_', ' ')}")


# -- the order's own milestones (bus subscriber) -------------------------------------------------
#: Milestones an order reaches once: keyed by order, so two events that both mean "paid" (the
#: payment, the status) put it on the timeline once.
_ONCE = frozenset({M.placed, M.paid, M.released, M.cancelled})


def _oms_update(event: DomainEvent, milestone: Milestone, description: str = "") -> Update:
    return Update(
        source="oms",
        key=f"{event.aggregate_id}/{milestone.value}" if milestone in _ONCE else event.id,
        occurred_at=as_utc(event.occurred_at),
        milestone=milestone,
        order_id=event.aggregate_id,
        description=description,
    )


def _promised(data: Mapping[str, Any], placed: datetime, country: str) -> date | None:
    """The date delivery is promised by, as the destination's calendar reads it."""
    days = data.get("promise_days")
    return local_date(placed + timedelta(days=int(days)), country) if days else None


def project_order(conn: Connection, event: DomainEvent) -> None:
    """Order events → ``tracking_orders`` and the hub's own milestones on the timeline."""
    data, order_id, at = event.data, event.aggregate_id, as_utc(event.occurred_at)
    from_tracking = event.actor.startswith(ACTOR)
    updates: list[Update] = []
    if event.type == "order.captured":
        placed = as_utc(datetime.fromisoformat(data["placed_at"])) if data.get("placed_at") else at
        dest = data.get("destination") or {}
        store.add_order(
            conn,
            order_id=order_id,
            token=secrets.token_urlsafe(24),
            language=language_for_country(dest.get("country") or ""),
            channel=data.get("channel", ""),
            external_ref=(data.get("external_ref") or "")[:200],
            customer_email=(data.get("customer_email") or "")[:254],
            placed_at=placed,
            promised_by=_promised(data, placed, dest.get("country") or ""),
            status="created",
            status_since=at,
            dest_city=(dest.get("city") or "")[:100],
            dest_country=(dest.get("country") or "")[:2].upper(),
            dest_lat=dest.get("lat"),
            dest_lon=dest.get("lon"),
        )
        # placed when the channel took it (an order can reach the hub later than that)
        updates.append(replace(_oms_update(event, M.placed, f"via {data.get('channel', '')}"), occurred_at=placed))
    elif store.get_order(conn, order_id) is None:
        return  # an order from before tracking existed and not migrated: nothing to follow
    elif event.type == "order.payment_changed" and data.get("payment_status") == "paid":
        updates.append(_oms_update(event, M.paid))
    elif event.type == "order.allocated":
        nodes = ", ".join(f["node_id"] for f in data.get("fulfilment_orders", []))
        updates.append(_oms_update(event, M.allocated, f"from {nodes}" if nodes else ""))
    elif event.type == "order.status_changed":
        _project_status(conn, event, from_tracking, updates)
    elif event.type == "order.shipment_recorded" and not from_tracking:
        updates.append(_oms_update(event, M.handed_to_carrier, "recorded without tracking"))
    elif event.type == "order.delivery_recorded" and not from_tracking:
        updates.append(_oms_update(event, M.delivered, "recorded by staff"))
    elif event.type == "order.return_received":
        updates.append(_oms_update(event, M.return_received, f"at {data.get('node_id', '')}".strip()))
    if updates:
        rows = [_row(u, order_id=order_id, parcel_id=None, fo_id="", now=utcnow(), inbox_id=None) for u in updates]
        _write(conn, rows, {}, ACTOR, utcnow())


_STATUS_MILESTONES = {"paid": M.paid, "released": M.released, "cancelled": M.cancelled}
_MANUAL_MILESTONES = {
    "picked": M.picked,
    "packed": M.packed,
    "out_for_delivery": M.out_for_delivery,
    "in_transit": M.in_transit,
}


def _project_status(conn: Connection, event: DomainEvent, from_tracking: bool, updates: list[Update]) -> None:
    to, at = event.data.get("to", ""), as_utc(event.occurred_at)
    values: dict[str, Any] = {"status": to, "status_since": at}
    current = store.get_order(conn, event.aggregate_id) or {}
    if to in {"shipped", "partially_shipped"} and current.get("shipped_at") is None:
        values["shipped_at"] = at
    if to == "delivered":
        values["delivered_at"] = at
    store.update_order(conn, event.aggregate_id, **values)
    if to in _STATUS_MILESTONES:
        updates.append(_oms_update(event, _STATUS_MILESTONES[to], event.data.get("reason", "")))
    elif to in _MANUAL_MILESTONES and not from_tracking:
        updates.append(_oms_update(event, _MANUAL_MILESTONES[to], "recorded by staff"))


# -- reading ----------------------------------------------------------------------------------
def get_link(engine: Engine, *, order_id: str) -> dict[str, Any]:
    """The order's tracking projection (token, language, promise, position) — 404 if tracking
    has not seen the order."""
    with unit_of_work(engine, write=False) as conn:
        row = store.get_order(conn, order_id)
    if row is None:
        raise NotFound(f"no tracking for order {order_id}", code="order_not_found", order_id=order_id)
    return row


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


def get_view(engine: Engine, *, order_id: str, view: str = "customer", language: str | None = None) -> dict[str, Any]:
    """``customer``: the milestones in words (in ``language``, else the order's); ``internal``:
    every entry with its source, raw detail, occurred-at, received-at and lag."""
    t = get_timeline(engine, order_id=order_id)
    if view == "internal":
        return views.internal(t.order, t.parcels, t.events)
    return views.customer(t.order, t.parcels, t.events, language or t.order["language"])


#: What a live tracking page listens for.
LIVE_TYPES = frozenset({TrackingUpdated.TYPE})

#: The order's own events, turned into milestones and tracking's copy of the order.
TIMELINE = Subscriber(
    name="tracking.timeline",
    handle=project_order,
    types=frozenset(
        {
            "order.captured",
            "order.payment_changed",
            "order.allocated",
            "order.status_changed",
            "order.shipment_recorded",
            "order.delivery_recorded",
            "order.return_received",
        }
    ),
    description="the order's own milestones on its timeline; tracking's copy of the order",
)

#: The order follows its parcels and fulfilment orders.
FOLLOW = Subscriber(
    name="tracking.orders",
    handle=follow_order,
    handle_batch=follow_orders,
    types=frozenset({TrackingUpdated.TYPE}),
    description="moves the order along as its parcels are picked, packed, carried and delivered",
)


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
