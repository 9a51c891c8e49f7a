"""Nodes and items: the places stock lives and the things that are stocked. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class NodeType(StrEnum):
    distribution_centre = "distribution_centre"
    store = "store"
    dark_store = "dark_store"
    drop_ship_supplier = "drop_ship_supplier"


class Capability(StrEnum):
    ships = "ships"
    pickup = "pickup"
    returns = "returns"
    ship_from_store = "ship_from_store"


@dataclass(slots=True)
class Node:
    """A place that holds stock and fulfils orders."""

    id: str
    name: str
    type: NodeType
    lat: float
    lon: float
    region: str
    city: str = ""
    capabilities: list[Capability] = field(default_factory=list)
    daily_capacity: int = 0  # orders per day; 0 = not limited

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


@dataclass(slots=True)
class Item:
    """A stocked SKU with what fulfilment, sourcing and carbon need to know about it."""

    sku: str
    name: str
    category: str
    weight_g: int
    price_minor: int
    cost_minor: int
    currency: str = "EUR"
