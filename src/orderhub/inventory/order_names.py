"""How inventory's pages name the orders that hold, wait for or are promised stock: by the
channel's order number, as every other page does. Orders sit above inventory, so the hub's
wiring registers the lookup (``name_orders_with``); without one a page shows the order ids."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

#: ``(engine, order ids) -> {order id: {"external_ref": …, "channel": …, "status": …}}``
Lookup = Callable[[Engine, list[str]], dict[str, dict[str, str]]]
_lookup: list[Lookup] = []


def name_orders_with(lookup: Lookup) -> None:
    """Register the lookup (a later registration replaces an earlier one)."""
    _lookup[:] = [lookup]


def order_refs(engine: Engine, order_ids: list[str]) -> dict[str, dict[str, str]]:
    """The numbers of ``order_ids`` (empty strings dropped); ``{}`` when nothing is registered."""
    ids = sorted({i for i in order_ids if i})
    return _lookup[0](engine, ids) if _lookup and ids else {}
