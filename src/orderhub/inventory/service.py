"""Inventory use cases (nodes and the item master for now)."""

from __future__ import annotations

from sqlalchemy import Engine

from orderhub.inventory import store
from orderhub.inventory.model import Capability, Item, Node, NodeType
from orderhub.platform.db import unit_of_work

__all__ = ["Capability", "Item", "Node", "NodeType", "get_all_items", "get_all_nodes", "save_items", "save_nodes"]


def save_nodes(engine: Engine, *, nodes: list[Node]) -> None:
    """Create or update nodes by id (idempotent)."""
    with unit_of_work(engine) as conn:
        store.upsert_nodes(conn, nodes)


def save_items(engine: Engine, *, items: list[Item]) -> None:
    """Create or update items by SKU (idempotent)."""
    with unit_of_work(engine) as conn:
        store.upsert_items(conn, items)


def get_all_nodes(engine: Engine) -> list[Node]:
    with unit_of_work(engine, write=False) as conn:
        return store.list_nodes(conn)


def get_all_items(engine: Engine) -> list[Item]:
    with unit_of_work(engine, write=False) as conn:
        return store.list_items(conn)
