"""Nodes and items: the places stock lives and the things that are stocked. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

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
    weight_g: int | None  # None: not known yet (a placeholder awaiting review)
    price_minor: int
    cost_minor: int
    currency: str = "EUR"
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    barcode: str = ""
    co2e_kg_per_unit: float | None = None  # the product's own footprint, when the supplier states it
    needs_review: bool = False  # created for an unknown SKU at capture: a person must complete it


#: What routing and footprints count for a SKU whose weight is not known. Used only for an item
#: flagged ``needs_review`` (or absent): the estimate is visible, never silent.
UNKNOWN_WEIGHT_G = 500


def shipping_weight_g(items: Mapping[str, Item], sku: str) -> int:
    """The weight to route and footprint ``sku`` by: the item's own, else ``UNKNOWN_WEIGHT_G``."""
    item = items.get(sku)
    return item.weight_g if item is not None and item.weight_g is not None else UNKNOWN_WEIGHT_G


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


#: A position with no safety stock counts as low at or below this many units of ATP.
LOW_STOCK_UNITS = 5


def stock_state(atp: int, threshold: int) -> str:
    """``out`` (nothing to promise), ``low`` (ATP at or below the threshold: the position's
    safety stock, else ``LOW_STOCK_UNITS``) or ``ok``."""
    if atp <= 0:
        return "out"
    return "low" if atp <= threshold else "ok"


def low_threshold(safety_stock: int) -> int:
    return safety_stock if safety_stock > 0 else LOW_STOCK_UNITS


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
    adjusted = "adjusted"  # on hand corrected by hand in the console or API, with a reason
    transfer_out = "transfer_out"  # units sent to another node
    transfer_in = "transfer_in"  # units received from another node


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


# -- backorders ----------------------------------------------------------------------------------
#: How scarce stock goes to waiting orders: ``vip_first`` (customer tier, then first come),
#: ``profit`` (the line's contribution per unit, then first come) or ``fifo``.
BACKORDER_POLICIES = ("vip_first", "profit", "fifo")
DEFAULT_BACKORDER_POLICY = "vip_first"


def backlog_order(waiting: list[Any], *, policy: str, costs: dict[str, int]) -> list[Any]:
    """The order in which the waiting lines get stock under ``policy``."""
    if policy == "fifo":
        return sorted(waiting, key=lambda w: (w.created_at, w.id))
    if policy == "profit":
        return sorted(
            waiting, key=lambda w: (-(w.value_minor / max(w.quantity, 1) - costs.get(w.sku, 0)), w.created_at, w.id)
        )
    return sorted(waiting, key=lambda w: (-w.priority, w.created_at, w.id))


# -- planning with the forecast (``planning.py``) -------------------------------------------------
@dataclass(frozen=True, slots=True)
class Replenishment:
    """What a node should order of a SKU: ``quantity`` units, ordered by day ``order_day`` (days
    from today) so they arrive ``lead_days`` later; the day its projected stock runs out
    (``stockout_day``) or falls below the safety stock (``below_safety_day``), None when not
    within the horizon."""

    quantity: int
    order_day: int | None
    stockout_day: int | None
    below_safety_day: int | None
    safety: float
    demand: float  # over the horizon


def plan_replenishment(
    *,
    atp: int,
    daily: list[float],
    incoming: list[tuple[int, int]],
    sigma: float,
    lead_days: int,
    review_days: int,
    z: float,
) -> Replenishment:
    """Project the stock day by day — ATP now, plus incoming supply on the day it is expected
    (``incoming``: days from today, units), less the forecast demand (``daily``) — and size the
    next order: placed ``lead_days`` before the stock would fall below the safety stock
    ``z · σ · √(lead + review)`` (σ: the daily spread of the forecast's errors), it must cover
    the demand until the order after it arrives (``review_days`` later) plus the safety stock."""
    horizon = len(daily)
    arrivals = [0] * horizon
    for day, qty in incoming:
        if day < horizon:
            arrivals[max(day, 0)] += qty
    safety = z * max(sigma, 0.0) * (lead_days + review_days) ** 0.5
    stock, stockout, below = float(atp), None, None
    for t in range(horizon):
        stock += arrivals[t] - daily[t]
        if below is None and stock < safety:
            below = t
        if stockout is None and stock < 0:
            stockout = t
    if below is None:
        return Replenishment(0, None, None, None, safety, sum(daily))
    order = max(0, below - lead_days)
    window = min(horizon, order + lead_days + review_days)
    need = sum(daily[:window]) + safety - atp - sum(arrivals[:window])
    quantity = max(0, -int(-need // 1)) if need > 1e-9 else 0  # whole units, rounded up
    return Replenishment(quantity, order, stockout, below, safety, sum(daily))


@dataclass(frozen=True, slots=True)
class Waiting:
    """A backordered line as the promise sees it, in the order the backlog policy serves."""

    key: str
    quantity: int
    rank: float  # what the policy ranks by (customer tier, margin); equal for first come


@dataclass(frozen=True, slots=True)
class Promise:
    day: int | None  # days from today when stock for the line arrives; None: no supply covers it
    queue_ahead: int  # units of lines served before it
    forecast_ahead: float  # units of demand still to come that the policy will serve before it
    short: float  # units missing when no supply covers it


def promise_lines(
    lines: list[Waiting], *, supply: list[tuple[int, int]], daily: list[float], ranked: bool
) -> dict[str, Promise]:
    """When each waiting line (in serving order) gets stock: the day of the first supply
    (``supply``: days from today, units; free stock now is day 0) that covers every line before
    it, the line itself, and the demand still to come before that day that the policy will
    serve first. Under a ranking policy that is the share of the forecast (``daily``) that
    ranks above the line, estimated from the lines waiting now (the mix of the backlog);
    first come, first served lets no new order pass."""
    total = sum(w.quantity for w in lines) or 1
    events = sorted(supply)
    out: dict[str, Promise] = {}
    ahead = 0
    for w in lines:
        share = sum(x.quantity for x in lines if x.rank > w.rank) / total if ranked else 0.0
        promised, passing, covered = None, 0.0, 0
        for day, qty in events:
            covered += qty
            passing = share * sum(daily[: max(day, 0)])
            if covered >= ahead + w.quantity + passing - 1e-9:
                promised = max(day, 0)
                break
        short = 0.0 if promised is not None else min(w.quantity, ahead + w.quantity + passing - covered)
        out[w.key] = Promise(promised, ahead, round(passing, 2), round(max(short, 0.0), 2))
        ahead += w.quantity
    return out
