"""The order side of stock: what an order holds follows what happens to the order.

Called inside the order's own transaction, so the order and its stock never disagree:
capture holds stock (the presale lock expires if the order stays unpaid), an edit re-holds the
open quantities, an allocation turns holds into allocations at the chosen nodes, a shipment
consumes them, a cancellation gives everything back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from orderhub.inventory import service as inventory
from orderhub.orders import events as ev
from orderhub.orders import hooks
from orderhub.orders.model import DeliveryMethod, Order, OrderStatus
from orderhub.sourcing import service as sourcing

#: Unpaid orders hold stock this long unless a stock policy says otherwise (``*`` / ``*``).
DEFAULT_HOLD_TTL_S = 30 * 60
UNPAID = (OrderStatus.created, OrderStatus.awaiting_payment)
#: A backordered line's rank when scarce stock arrives (``vip_first`` policy).
TIER_RANK = {"vip": 3, "gold": 2, "silver": 1, "standard": 0}
EDITS = {"order.edited", "order.line_cancelled"}


def _demand(order: Order) -> list[inventory.LineDemand]:
    return [
        inventory.LineDemand(line.id, line.sku, line.open_quantity) for line in order.lines if line.open_quantity > 0
    ]


def _where(order: Order) -> dict[str, Any]:
    a = order.shipping_address
    return {
        "destination": (a.lat, a.lon) if a.lat is not None and a.lon is not None else None,
        "pickup_node": order.pickup_node_id if order.delivery_method == DeliveryMethod.pickup else None,
    }


def _record(
    order: Order, result: inventory.ReserveResult, expires_at: datetime | None, *, cart_id: str | None = None
) -> None:
    held = [{"line_id": h.line_id, "sku": h.sku, "node_id": h.node_id, "quantity": h.quantity} for h in result.held]
    order.changes.append(
        ev.StockReserved(
            held=held,
            expires_at=expires_at.isoformat() if expires_at else None,
            cart_id=cart_id or None,
            from_cart=result.from_cart if cart_id else None,
        )
    )
    if result.backordered:
        order.changes.append(ev.OrderBackordered(lines=result.backordered))


def _planner(conn: Connection, order: Order, demand: list[inventory.LineDemand]) -> sourcing.LivePlanner | None:
    """The sourcing engine for a shipped order with coordinates (pickup orders go to their store)."""
    a = order.shipping_address
    if order.delivery_method != DeliveryMethod.ship or a.lat is None or a.lon is None or not demand:
        return None
    items = inventory.items_by_sku(conn)
    lines = [
        sourcing.Line(d.line_id, d.sku, d.quantity, inventory.shipping_weight_g(items, d.sku) * d.quantity / 1000)
        for d in demand
    ]
    advice = hooks.ask(hooks.BEFORE_SOURCING, conn, order.as_facts())
    return sourcing.live_planner_for(
        conn,
        destination=(a.lat, a.lon),
        lines=lines,
        tier=order.customer.tier.value,
        channel=order.channel,
        region=a.region,
        country=a.country,
        promise_days=order.promise_days,
        strategy=advice.get("strategy"),
        strategy_by=str(advice.get("by") or ""),
    )


def hold_stock(
    conn: Connection,
    order: Order,
    *,
    on_shortage: str,
    now: datetime,
    prefer_node: str | None = None,
    cart_id: str | None = None,
) -> None:
    """At capture: hold stock for a new order (or take it off the shelf for a till sale).
    With ``cart_id``, the cart's holds serve the order's lines first."""
    if order.status == OrderStatus.cancelled:
        return
    if order.delivery_method == DeliveryMethod.in_store and order.status == OrderStatus.delivered:
        missing = inventory.sell_from_shelf(
            conn, node_id=order.pickup_node_id, lines=_demand(order), order_id=order.id, now=now
        )
        if missing:
            order.changes.append(ev.StockCountDue(node_id=order.pickup_node_id, missing_units=missing))
        return
    demand = _demand(order)
    planner = _planner(conn, order, demand)
    expires_at = None
    if order.status in UNPAID:
        lock = hooks.ask(hooks.RESERVATION, conn, order.as_facts()).get("lock_minutes")
        expires_at = (
            now + timedelta(minutes=float(lock))
            if lock
            else inventory.hold_deadline(
                conn, channel=order.channel, skus=[d.sku for d in demand], now=now, default_ttl_s=DEFAULT_HOLD_TTL_S
            )
        )
    result = inventory.reserve(
        conn,
        order_id=order.id,
        channel=order.channel,
        lines=demand,
        expires_at=expires_at,
        on_shortage="reject" if on_shortage == "reject" else "backorder",
        now=now,
        prefer_node=prefer_node,
        planner=planner,
        priority=TIER_RANK.get(order.customer.tier.value, 0),
        values={line.id: line.total.minor for line in order.lines},
        cart_id=cart_id,
        **_where(order),
    )
    _record(order, result, expires_at, cart_id=cart_id)
    if planner is not None and sum(h.quantity for h in result.held) > result.from_cart:  # some freshly routed
        explanation = planner.explanation() if result.routed else {"method": "fallback: nearest node with stock"}
        order.changes.append(ev.OrderSourced(explanation=explanation))


def follow(
    conn: Connection, order: Order, changes: list[ev.OrderEvent], shipped_before: dict[str, int], *, now: datetime
) -> None:
    """After a change to an existing order: move its stock the same way."""
    types = {c.type for c in changes}
    if order.status == OrderStatus.cancelled:
        inventory.release_order(conn, order_id=order.id, now=now)
        return
    if "order.allocated" in types:
        assignments: dict[str, dict[str, int]] = {f.node_id: dict(f.lines) for f in order.fulfilment_orders}
        inventory.allocate(
            conn, order_id=order.id, assignments=assignments, skus={line.id: line.sku for line in order.lines}, now=now
        )
    elif types & EDITS:
        result = inventory.rereserve(
            conn, order_id=order.id, channel=order.channel, lines=_demand(order), now=now, **_where(order)
        )
        _record(order, result, None)
    shipped = {
        line.id: line.quantity_shipped - shipped_before.get(line.id, 0)
        for line in order.lines
        if line.quantity_shipped > shipped_before.get(line.id, 0)
    }
    if shipped:
        inventory.ship(conn, order_id=order.id, lines=shipped, now=now)
    for change in changes:
        if change.type == "order.return_received" and change.data.get("condition") != "damaged":
            skus = {line.id: line.sku for line in order.lines}
            inventory.receive_return(
                conn,
                node_id=change.data["node_id"],
                order_id=order.id,
                now=now,
                lines=[inventory.LineDemand(lid, skus[lid], qty) for lid, qty in change.data["lines"].items()],
            )
    if "order.payment_changed" in types and order.status not in UNPAID:
        inventory.clear_expiry(conn, order_id=order.id)


def due_for_expiry(conn: Connection, *, now: datetime) -> list[str]:
    return inventory.due_orders(conn, now=now)


def expire(conn: Connection, order: Order, *, now: datetime) -> None:
    """The presale lock ran out: an unpaid order is cancelled and its stock returns to ATP;
    an order paid meanwhile keeps its holds, now without a deadline."""
    if order.status in UNPAID:
        order.cancel(reason="payment not received in time")
        inventory.release_order(conn, order_id=order.id, now=now, expired=True)
    else:
        inventory.clear_expiry(conn, order_id=order.id)


class NoGain(Exception):
    """Re-planning found nothing better: the transaction is rolled back, nothing moves."""


def reroute(conn: Connection, order: Order, *, now: datetime) -> tuple[Any, Any] | None:
    """Re-plan a paid, unallocated order against today's stock: if the planner finds a better
    plan (including the stock the order holds), move its holds there and record why.
    Returns (before, after) plans, or None when the order is not re-plannable. Raises
    ``NoGain`` (caller rolls back) when the current holds are already as good."""
    if order.status != OrderStatus.paid or order.fulfilment_orders:
        return None
    held = [h for h in inventory.holds_of(conn, order_id=order.id) if h["status"] == "active"]
    demand = _demand(order)
    if not held or sum(h["quantity"] for h in held) != sum(d.quantity for d in demand):
        return None  # nothing held, or part of it is backordered: leave it to the backlog policy
    planner = _planner(conn, order, demand)
    if planner is None:
        return None
    nodes = inventory.nodes_by_id(conn)
    before = sourcing.score(planner, nodes, {h["line_id"]: h["node_id"] for h in held})
    if before is None:
        return None
    result = inventory.rereserve(
        conn, order_id=order.id, channel=order.channel, lines=demand, now=now, planner=planner, **_where(order)
    )
    after = planner.decision.plan if planner.decision and result.routed and not result.backordered else None
    if after is None or after.objective >= before.objective - 1e-6:
        raise NoGain()
    order.changes.append(
        ev.OrderRerouted(
            reason="batch re-optimisation",
            from_=list(before.nodes),
            to=list(after.nodes),
            objective=[round(before.objective, 4), round(after.objective, 4)],
        )
    )
    order.changes.append(ev.OrderSourced(explanation=planner.explanation()))
    return before, after
