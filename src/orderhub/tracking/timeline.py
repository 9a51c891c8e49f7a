"""Writing the timeline: every inbound message (a carrier's webhook, the WMS feed, driver
positions, OrderHub's own format) is kept in the inbox and put on its orders' timelines in one
transaction — each new entry with its ``tracking.updated`` event, the parcels' states and the
orders' last positions, estimates and first problems moved with it. A refused message is kept
as rejected, for replay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.bus import service as bus
from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import Conflict, DomainError, InvalidInput, NotFound
from orderhub.core.events import DomainEvent
from orderhub.orders import service as orders
from orderhub.platform.db import unit_of_work
from orderhub.tracking import store
from orderhub.tracking.events import TrackingUpdated
from orderhub.tracking.model import PROBLEMS, Milestone, Update, parcel_state

M = Milestone
ACTOR = "tracking"


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one inbound message did: timeline rows written, and deliveries seen before."""

    inbox_id: int
    recorded: int
    duplicates: int


# -- writing the timeline ---------------------------------------------------------------------
def row_of(
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


def write(conn: Connection, rows: list[dict[str, Any]], numbers: Mapping[str, str], actor: str, now: datetime) -> int:
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
    parcels = store.lock_parcels(conn, touched)
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
                    row_of(
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
                    row_of(
                        u, order_id=order_id, parcel_id=None, fo_id=u.fulfilment_order_id, now=now, inbox_id=inbox_id
                    )
                )
            elif u.order_id in direct:
                rows.append(row_of(u, order_id=u.order_id, parcel_id=None, fo_id="", now=now, inbox_id=inbox_id))
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
        written = write(conn, rows, numbers, f"{ACTOR}:{updates[0].source}" if updates else ACTOR, now)
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
