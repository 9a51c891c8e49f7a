"""A node's pick list: the work released to it that is still to be picked, in picking order.

One statement on both databases: the node's open fulfilment orders with their orders, ranked
and limited in a subquery, joined to their lines (``json_each`` over the fulfilment order's
``{line_id: qty}``; a table-valued function in SQLite and PostgreSQL alike).

What is on the list: a fulfilment order at the node that is live (``allocated``; the other
status, ``cancelled``, goes with a cancelled order) whose order is

- ``released`` — sent to the warehouse, nothing picked or shipped yet; or
- ``partially_shipped`` / ``partially_delivered`` with units of this fulfilment order's lines
  not yet shipped: another node of a split order shipped (or even delivered) first, and this
  node's part is still to do. Such an item carries its ``order_status`` so the list shows it.

Not on it: orders not yet released (``paid``, ``allocated``: the warehouse must not start),
held orders (``on_hold``, even when held from ``released``: a hold stops the picking), and
orders ``picked`` or later (every node reported its pick) or ``shipped`` and beyond.

What the hub cannot see: picks are reported per fulfilment order to tracking (the WMS feed),
and the order becomes ``picked`` only once every node has reported. So a node that has
picked its part of a split order keeps it on its list until the other nodes have picked too
or its units ship; and a partially shipped order that had been picked before its first parcel
left lists the rest of its unshipped work here as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.clock import as_utc
from orderhub.orders.model import OrderStatus
from orderhub.orders.store import fulfilment_orders, order_lines, orders

#: Order statuses with work that can still be waiting at a node (see the module docstring).
PICKABLE = (OrderStatus.released, OrderStatus.partially_shipped, OrderStatus.partially_delivered)
#: The status of a fulfilment order that is live (the other one is ``cancelled``).
LIVE = "allocated"


@dataclass(frozen=True, slots=True)
class PickLine:
    """A line to pick: ``quantity`` units of ``sku`` at this node."""

    line_id: str
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PickItem:
    """One fulfilment order on the list; ``rank`` 1 is picked first."""

    rank: int
    fulfilment_order_id: str
    order_id: str
    external_ref: str
    channel: str
    customer_tier: str
    priority: int
    promised_by: datetime | None  # created_at + promise_days (UTC); None without a promise
    created_at: datetime
    age_seconds: int
    order_status: str
    lines: tuple[PickLine, ...]


def _open(line: Any) -> Any:
    """Units of an order line not yet shipped (nor cancelled)."""
    return line.quantity - line.quantity_cancelled - line.quantity_shipped


def _promised(dialect: str) -> Any:
    """The promise as a sort key: created_at + promise_days, NULL without a promise. In hours
    on PostgreSQL, since a day added to a timestamptz follows the session's time zone."""
    if dialect == "postgresql":
        hour = sa.literal_column("interval '1 hour'", type_=sa.Interval)
        return orders.c.created_at + orders.c.promise_days * 24 * hour
    return sa.func.julianday(orders.c.created_at) + orders.c.promise_days  # SQLite: a day number


def _ranked(dialect: str, *, node_id: str, limit: int) -> Any:
    """The node's open fulfilment orders in picking order, at most ``limit``."""
    promised = _promised(dialect).label("promised")
    own = sa.func.json_each(fulfilment_orders.c.lines).table_valued("key")
    unshipped = (
        sa.select(order_lines.c.id)
        .select_from(own.join(order_lines, order_lines.c.id == own.c.key))
        .where(_open(order_lines.c) > 0)
        .exists()
    )
    return (
        sa.select(
            fulfilment_orders.c.id,
            fulfilment_orders.c.lines,
            orders.c.id.label("order_id"),
            orders.c.external_ref,
            orders.c.channel,
            orders.c.customer_tier,
            orders.c.priority,
            orders.c.promise_days,
            orders.c.created_at,
            orders.c.status,
            promised,
        )
        .join_from(fulfilment_orders, orders, orders.c.id == fulfilment_orders.c.order_id)
        .where(
            fulfilment_orders.c.node_id == node_id,
            fulfilment_orders.c.status == LIVE,
            orders.c.status.in_([s.value for s in PICKABLE]),
            unshipped,
        )
        .order_by(*_picking_order(orders.c.priority, promised, orders.c.created_at, fulfilment_orders.c.id))
        .limit(limit)
        .subquery("picks")
    )


def _picking_order(priority: Any, promised: Any, created_at: Any, fo_id: Any) -> list[Any]:
    return [priority.desc(), promised.asc().nulls_last(), created_at.asc(), fo_id.asc()]


def pick_list(conn: Connection, *, node_id: str, limit: int, now: datetime) -> tuple[list[PickItem], bool]:
    """The node's pick list (see the module docstring) and whether more than ``limit`` wait.

    Order: priority (higher first), then the promised time (earliest first, no promise
    last), then the order's age (oldest first), then the fulfilment order id. A line's
    quantity is what this node still has to pick: its share, less what of the line shipped
    (exact unless a line is split between nodes, where it may overstate)."""
    picks = _ranked(conn.dialect.name, node_id=node_id, limit=limit + 1)
    line_ids = sa.func.json_each(picks.c.lines).table_valued("key")
    stmt = (
        sa.select(
            picks,
            order_lines.c.id.label("line_id"),
            order_lines.c.sku,
            order_lines.c.name,
            _open(order_lines.c).label("unshipped"),
        )
        .select_from(picks.join(line_ids, sa.true()).join(order_lines, order_lines.c.id == line_ids.c.key))
        .order_by(
            *_picking_order(picks.c.priority, picks.c.promised, picks.c.created_at, picks.c.id), order_lines.c.position
        )
    )
    items: dict[str, dict[str, Any]] = {}
    for row in conn.execute(stmt).mappings():
        item = items.get(row["id"])
        if item is None:
            item = items[row["id"]] = {"row": row, "lines": []}
        quantity = min(int(row["lines"][row["line_id"]]), int(row["unshipped"]))
        if quantity > 0:
            item["lines"].append(PickLine(row["line_id"], row["sku"], row["name"], quantity))
    ordered = list(items.values())
    return [_item(rank, x["row"], x["lines"], now) for rank, x in enumerate(ordered[:limit], 1)], len(ordered) > limit


def _item(rank: int, row: Any, lines: list[PickLine], now: datetime) -> PickItem:
    created = as_utc(row["created_at"])
    days = row["promise_days"]
    return PickItem(
        rank=rank,
        fulfilment_order_id=row["id"],
        order_id=row["order_id"],
        external_ref=row["external_ref"] or "",
        channel=row["channel"],
        customer_tier=row["customer_tier"],
        priority=row["priority"],
        promised_by=created + timedelta(days=days) if days is not None else None,
        created_at=created,
        age_seconds=max(0, int((now - created).total_seconds())),
        order_status=row["status"],
        lines=tuple(lines),
    )


#: Order statuses in which a click & collect order waits at its store to be handed over.
HANDABLE = (OrderStatus.allocated, OrderStatus.released, OrderStatus.picked, OrderStatus.packed)


_PICKUPS = (
    sa.select(
        orders.c.id,
        orders.c.external_ref,
        orders.c.status,
        orders.c.customer,
        orders.c.created_at,
        fulfilment_orders.c.id.label("fulfilment_order_id"),
        fulfilment_orders.c.lines,
    )
    .join_from(fulfilment_orders, orders, orders.c.id == fulfilment_orders.c.order_id)
    .where(
        fulfilment_orders.c.node_id == sa.bindparam("node"),
        fulfilment_orders.c.status == LIVE,
        orders.c.delivery_method == "pickup",
        orders.c.status.in_([s.value for s in HANDABLE]),
    )
    .order_by(orders.c.created_at, orders.c.id)
    .limit(sa.bindparam("limit"))
)
_PICKUP_LINES = (
    sa.select(order_lines.c.id, order_lines.c.order_id, order_lines.c.sku, order_lines.c.name, _open(order_lines.c))
    .where(order_lines.c.order_id.in_(sa.bindparam("orders", expanding=True)))
    .order_by(order_lines.c.order_id, order_lines.c.position)
)


def pickups(conn: Connection, *, node_id: str, limit: int) -> list[dict[str, Any]]:
    """Click & collect orders waiting at ``node_id`` to be handed over: pickup orders whose live
    fulfilment order is at the node, allocated but not yet shipped, oldest first. Each with
    its lines still to hand over (``line_id``, ``sku``, ``name``, ``quantity``). Two statements,
    built once (a store gateway's sync asks every second)."""
    head = conn.execute(_PICKUPS, {"node": node_id, "limit": limit}).all()
    if not head:
        return []
    found = conn.execute(_PICKUP_LINES, {"orders": [h.id for h in head]}).all()
    by_order: dict[str, list[dict[str, Any]]] = {}
    for line_id, order_id, sku, name, left in found:
        by_order.setdefault(order_id, []).append({"line_id": line_id, "sku": sku, "name": name, "open": int(left)})
    out = []
    for h in head:
        mine = {str(k): int(v) for k, v in (h.lines or {}).items()}
        lines = [
            {
                "line_id": x["line_id"],
                "sku": x["sku"],
                "name": x["name"],
                "quantity": min(mine[x["line_id"]], x["open"]),
            }
            for x in by_order.get(h.id, [])
            if x["line_id"] in mine and min(mine[x["line_id"]], x["open"]) > 0
        ]
        if lines:
            customer = h.customer or {}
            out.append(
                {
                    "order_id": h.id,
                    "fulfilment_order_id": h.fulfilment_order_id,
                    "external_ref": h.external_ref or "",
                    "status": h.status,
                    "customer": str(customer.get("name") or customer.get("email") or ""),
                    "created_at": as_utc(h.created_at),
                    "lines": lines,
                }
            )
    return out
