"""Tracking's two bus subscribers (registered in ``orderhub.wiring``):

- ``tracking.timeline`` turns the order's own events (captured, paid, allocated, released …)
  into milestones and keeps ``tracking_orders``, tracking's copy of the order;
- ``tracking.orders`` moves the order along when its parcels and fulfilment orders do (picked,
  packed, in transit, out for delivery, delivered), through the order's unit of work.

Order changes made by tracking carry an actor starting ``tracking``, so the timeline does not
record them twice.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection

from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import Conflict, InvalidInput
from orderhub.core.events import DomainEvent
from orderhub.orders import service as orders
from orderhub.tracking import store
from orderhub.tracking.carriers.places import local_date
from orderhub.tracking.events import TrackingUpdated
from orderhub.tracking.model import Milestone, Update, language_for_country
from orderhub.tracking.timeline import ACTOR, row_of, write

M = Milestone
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
        rows = [row_of(u, order_id=order_id, parcel_id=None, fo_id="", now=utcnow(), inbox_id=None) for u in updates]
        write(conn, rows, {}, ACTOR, utcnow())


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
