"""Nodes and items: the places stock lives and the things that are stocked. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from orderhub.core.errors import Conflict


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
    closed_dates: list[str] = field(default_factory=list)  # ISO dates the node does not ship
    cutoff_hour_utc: int | None = None  # orders after this hour ship the next open day
    channels: list[str] = field(default_factory=list)  # channels it may fulfil; empty = all

    def serves(self, channel: str) -> bool:
        return not self.channels or channel in self.channels

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def days_until_dispatch(self, now: datetime) -> int:
        """0 when an order placed ``now`` leaves today; else how many days until the next
        open day (closed dates and the cut-off hour both count; at most two weeks)."""
        day = now.date()
        if self.cutoff_hour_utc is not None and now.hour >= self.cutoff_hour_utc:
            day += timedelta(days=1)
        for extra in range(15):
            if (day + timedelta(days=extra)).isoformat() not in self.closed_dates:
                return (day - now.date()).days + extra
        return 15


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


# -- stock ------------------------------------------------------------------------------------
@dataclass(slots=True)
class Position:
    """Stock of one SKU at one node. ``atp`` never goes below zero; the database enforces
    ``reserved + allocated <= on_hand`` with a CHECK constraint as the last line of defence."""

    node_id: str
    sku: str
    on_hand: int = 0
    reserved: int = 0
    allocated: int = 0
    safety_stock: int = 0

    @property
    def atp(self) -> int:
        return max(0, self.on_hand - self.reserved - self.allocated - self.safety_stock)


def channel_atp(atp: int, buffer_pct: float) -> int:
    """ATP a channel may promise when ``buffer_pct`` of stock is held back from it (rounded
    down: a buffer never promises a unit that is not there)."""
    if buffer_pct <= 0:
        return atp
    return max(0, int(atp * (1 - buffer_pct / 100.0)))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A node that could serve a line, with what it has free and how far it is."""

    node_id: str
    available: int
    distance_km: float = 0.0


def plan_reservation(quantity: int, candidates: list[Candidate]) -> tuple[list[tuple[str, int]], int]:
    """Where to hold ``quantity`` units: the nearest node that has them all; otherwise take
    from the nearest nodes in turn. Returns ``([(node, qty), …], short)``."""
    ordered = sorted(candidates, key=lambda c: (c.distance_km, -c.available, c.node_id))
    for c in ordered:
        if c.available >= quantity:
            return [(c.node_id, quantity)], 0
    plan: list[tuple[str, int]] = []
    left = quantity
    for c in ordered:
        if left == 0:
            break
        take = min(left, c.available)
        if take > 0:
            plan.append((c.node_id, take))
            left -= take
    return plan, left


class ReservationStatus(StrEnum):
    active = "active"
    allocated = "allocated"
    released = "released"
    expired = "expired"
    fulfilled = "fulfilled"


class LedgerReason(StrEnum):
    snapshot = "snapshot"  # a counted quantity reported by a WMS / ERP / POS
    delta = "delta"  # a movement reported by a source (sale, receipt, adjustment)
    counted = "counted"  # a single position set by hand
    reserved = "reserved"
    released = "released"
    expired = "expired"
    allocated = "allocated"
    deallocated = "deallocated"
    shipped = "shipped"
    received = "received"  # incoming supply arrived
    returned = "returned"
    shortage = "shortage"  # on hand fell below what was promised: promises moved to backorder
    escrow_granted = "escrow_granted"  # units a store gateway may now sell without asking (docs/edge.md)
    escrow_released = "escrow_released"  # a gateway gave units of its escrow back
    escrow_sold = "escrow_sold"  # a gateway's till sold units of its escrow


# -- what an order asks of stock and what it got (reservations and carts share these) ----------
class OutOfStock(Conflict):
    """Not enough free stock for a line, and the caller asked not to backorder."""

    code = "out_of_stock"
    title = "Not enough stock"


@dataclass(frozen=True, slots=True)
class LineDemand:
    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Held:
    line_id: str
    sku: str
    node_id: str
    quantity: int
