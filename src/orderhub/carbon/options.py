"""Delivery options at checkout, each with price, promised date and kg CO2e.

Counted per option: every parcel through the parcel network (``network.ParcelNetwork``, the
model order footprints and the sourcing planner use) plus, where a ``packaging:parcel`` factor
is loaded, each parcel's own box. A parcel carries a share of its delivery round (and of a
store's collection round) whatever it weighs — GLEC's example gives 87 g per parcel for the
delivery round alone — so one parcel fewer saves that much even when the one parcel left comes
from farther away.

- ``standard``: every line from the nearest node that has it (possibly several parcels).
- ``consolidated``: everything in one parcel from the nearest node that has the whole basket,
  even if it is farther (offered only when one node can).
- ``wait``: ship with the next consolidated run to the customer's area, 2 days later: the
  run's round serves more items than an ordinary one, so the parcel's share of it is
  ``WAIT_ROUND_SHARE`` of an ordinary round's (a policy assumption, stated in docs/carbon.md).

Transit days and the wait run's savings are policy, stated here and in docs/carbon.md:
road distance ≤ 150 km → 1 day, ≤ 500 km → 2 days, else 3; the wait run adds 2 days.
Reward points for a greener choice: ``POINTS_PER_KG`` per kg CO2e saved against standard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from orderhub.carbon.model import ShipmentFootprint, great_circle_km
from orderhub.carbon.network import Origin, ParcelNetwork

WAIT_ROUND_SHARE = 0.6
WAIT_EXTRA_DAYS = 2
POINTS_PER_KG = 20
#: The delivery fee and the basket value from which delivery is free, per currency: options
#: answer in the basket's currency. A currency without a schedule gets no price (None) and a
#: note saying so, never a price in another currency. The merchant's own price list, not a
#: market figure: each amount is set in its currency (not converted), and
#: ``ORDERHUB_DELIVERY_FEES`` replaces or adds entries (``parse_fees``).
FEES: dict[str, tuple[Decimal, Decimal]] = {
    "EUR": (Decimal("4.95"), Decimal("50.00")),
    "GBP": (Decimal("3.95"), Decimal("40.00")),
    "USD": (Decimal("5.95"), Decimal("50.00")),
}


def parse_fees(text: str) -> dict[str, tuple[Decimal, Decimal]]:
    """``"GBP:3.95/40.00, CHF:6.90/60.00"`` → fee and free-from per currency. Raises
    ``ValueError`` naming the entry that is not ``CUR:fee/free-from``."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            code, amounts = entry.split(":")
            fee, free_from = (Decimal(a) for a in amounts.split("/"))
        except (ValueError, ArithmeticError):
            raise ValueError(f"delivery fee entry {entry!r} is not CUR:fee/free-from") from None
        if len(code) != 3 or not code.isalpha() or not code.isupper() or fee < 0 or free_from < 0:
            raise ValueError(f"delivery fee entry {entry!r} is not CUR:fee/free-from")
        out[code] = (fee.quantize(Decimal("0.01")), free_from.quantize(Decimal("0.01")))
    return out


@dataclass(frozen=True, slots=True)
class Stocked:
    """A node with its coordinates and what it can promise of each SKU."""

    node_id: str
    lat: float
    lon: float
    atp: dict[str, int]
    origin: Origin = field(default_factory=lambda: Origin(hub=None))


@dataclass(frozen=True, slots=True)
class BasketLine:
    sku: str
    quantity: int
    weight_g: int


@dataclass(slots=True)
class Option:
    name: str
    parcels: list[tuple[str, float, ShipmentFootprint]]  # (node, road km, footprint)
    price: Decimal | None
    promised: date
    kg_co2e: float = 0.0
    points: int = 0
    savings_kg: float = 0.0
    note: str = ""
    lines_from: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    currency: str = "EUR"


def transit_days(road_km: float) -> int:
    return 1 if road_km <= 150 else 2 if road_km <= 500 else 3


def _parcel(
    net: ParcelNetwork, node: Stocked, dest: tuple[float, float], mass_kg: float, share: float
) -> tuple[float, ShipmentFootprint]:
    road = great_circle_km(node.lat, node.lon, *dest) * net.road_factor
    return road, net.parcel(road, mass_kg, node.origin, delivery_share=share)


def _nearest(nodes: list[Stocked], dest: tuple[float, float]) -> list[Stocked]:
    return sorted(nodes, key=lambda n: (great_circle_km(n.lat, n.lon, *dest), n.node_id))


def standard(
    net: ParcelNetwork, nodes: list[Stocked], lines: list[BasketLine], dest: tuple[float, float]
) -> dict[str, list[tuple[str, int]]] | None:
    """Each line from the nearest node that has all of it (lines are not split)."""
    plan: dict[str, list[tuple[str, int]]] = {}
    left = {n.node_id: dict(n.atp) for n in nodes}
    for line in lines:
        for node in _nearest(nodes, dest):
            if left[node.node_id].get(line.sku, 0) >= line.quantity:
                left[node.node_id][line.sku] -= line.quantity
                plan.setdefault(node.node_id, []).append((line.sku, line.quantity))
                break
        else:
            return None
    return plan


def consolidated(
    nodes: list[Stocked], lines: list[BasketLine], dest: tuple[float, float]
) -> dict[str, list[tuple[str, int]]] | None:
    for node in _nearest(nodes, dest):
        if all(node.atp.get(line.sku, 0) >= line.quantity for line in lines):
            return {node.node_id: [(line.sku, line.quantity) for line in lines]}
    return None


def build_options(
    net: ParcelNetwork,
    nodes: list[Stocked],
    lines: list[BasketLine],
    dest: tuple[float, float],
    *,
    today: date,
    subtotal: Decimal,
    parcel_kg: float = 0.0,
    currency: str = "EUR",
    fees: dict[str, tuple[Decimal, Decimal]] | None = None,
) -> list[Option]:
    """The options a checkout can offer for this basket, standard first, priced in its currency
    by ``fees`` (default ``FEES``)."""
    fees = FEES if fees is None else fees
    weight = {line.sku: line.weight_g for line in lines}
    by_id = {n.node_id: n for n in nodes}
    schedule = fees.get(currency)
    fee = None if schedule is None else Decimal("0.00") if subtotal >= schedule[1] else schedule[0]

    def make(name: str, plan: dict[str, list[tuple[str, int]]], extra_days: int = 0, share: float = 1.0) -> Option:
        parcels = []
        for node_id, items in sorted(plan.items()):
            mass = sum(weight[sku] * qty for sku, qty in items) / 1000
            road, sf = _parcel(net, by_id[node_id], dest, mass, share)
            parcels.append((node_id, road, sf))
        days = max((transit_days(road) for _, road, _ in parcels), default=1) + extra_days
        return Option(
            name=name,
            parcels=parcels,
            price=fee,
            promised=today + timedelta(days=days),
            kg_co2e=sum(sf.kg for _, _, sf in parcels) + parcel_kg * len(parcels),
            lines_from=plan,
            currency=currency,
        )

    options: list[Option] = []
    plan = standard(net, nodes, lines, dest)
    if plan is None:
        return options
    base = make("standard", plan)
    options.append(base)
    one = consolidated(nodes, lines, dest)
    if one is not None and len(plan) > 1:
        options.append(make("consolidated", one))
    options.append(make("wait", one or plan, extra_days=WAIT_EXTRA_DAYS, share=WAIT_ROUND_SHARE))
    for opt in options[1:]:
        opt.savings_kg = max(0.0, base.kg_co2e - opt.kg_co2e)
        opt.points = round(opt.savings_kg * POINTS_PER_KG)
        opt.note = (
            f"{len(base.parcels) - len(opt.parcels)} parcel(s) fewer"
            if len(opt.parcels) < len(base.parcels)
            else "shared run"
        )
    if schedule is None:
        for opt in options:
            opt.note = (opt.note + "; " if opt.note else "") + f"no delivery fee schedule in {currency}"
    return options
