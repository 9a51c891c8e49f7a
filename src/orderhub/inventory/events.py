"""Inventory's events: stock moved by hand, or received, at a node. Pure: standard library and
core only; the catalogue (docs/events.md) is generated from these classes.

Holds, allocations and shipments move stock too; those are the order's events. Reports from a
WMS or a store (``PUT /inventory/...``, ingest) are the node's own figures coming in, not news
the hub makes, and publish nothing (docs/inventory.md)."""

from __future__ import annotations

from dataclasses import dataclass

from orderhub.core.events import Event


@dataclass(frozen=True)
class StockMoved(Event):
    """Stock moved at a node (the subject) by a person or a delivery: a count or correction
    (``adjusted``), a transfer leaving or arriving (``transfer_out`` / ``transfer_in``, both with
    one transfer reference), units received with or without an announced supply (``received``). ``delta`` is the
    change in on hand; ``on_hand`` and ``atp`` are the position after it; ``reference`` is the
    reason or delivery reference the person gave."""

    TYPE = "inventory.stock_moved"
    AGGREGATE = "inventory_node"
    node_id: str
    sku: str
    reason: str
    delta: int
    on_hand: int
    atp: int
    reference: str = ""
