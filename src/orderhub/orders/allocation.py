"""Allocation through sourcing from the console: a paid order is allocated where its stock is
held (the nodes sourcing chose at capture or re-optimisation put it), through the allocation
operation that creates the fulfilment orders (``Order.allocate``), never by a status move."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from orderhub.core.errors import Conflict
from orderhub.core.ids import new_id
from orderhub.inventory import service as inventory
from orderhub.orders import changes
from orderhub.orders.model import Order, OrderStatus
from orderhub.platform.db import unit_of_work


def allocate_as_sourced(engine: Engine, *, order_id: str, actor: str) -> Order:
    """Allocate a paid order where sourcing put its stock: one fulfilment order per node that
    holds its units (``service.allocate``'s model rule: every open unit exactly once). 409
    ``not_all_held`` when units wait for stock (backordered): allocate them to a node instead."""

    def action(conn: Any, order: Order) -> None:
        if order.status != OrderStatus.paid:
            raise Conflict(
                f"only a paid order is allocated; this one is {order.status.value}",
                code="illegal_transition",
                current_status=order.status.value,
            )
        assignments: dict[str, dict[str, int]] = {}
        for h in inventory.holds_of(conn, order_id=order.id):
            if h["status"] == "active":
                node = assignments.setdefault(h["node_id"], {})
                node[h["line_id"]] = node.get(h["line_id"], 0) + int(h["quantity"])
        held = {lid: sum(n.get(lid, 0) for n in assignments.values()) for lid in {x.id for x in order.lines}}
        short = [x.sku for x in order.lines if x.open_quantity and held.get(x.id, 0) != x.open_quantity]
        if short:
            raise Conflict(
                f"no stock is held for all of {', '.join(short)} (backordered): allocate to a node instead",
                code="not_all_held",
                skus=short,
            )
        order.allocate(assignments, new_id=new_id, reason="allocated where sourcing holds the stock")

    order, _ = changes.change(engine, order_id, actor=actor, action=action)
    return order


def held_nodes(engine: Engine, *, order_id: str) -> list[str]:
    """The nodes holding an order's stock now (what "allocate via sourcing" would choose)."""
    with unit_of_work(engine, write=False) as conn:
        return sorted({h["node_id"] for h in inventory.holds_of(conn, order_id=order_id) if h["status"] == "active"})
