"""Emission factors and the ISO 14083 / GLEC calculator: pure functions, no I/O.

Method (ISO 14083, GLEC Framework v3): a transport chain is a sequence of elements. A leg emits
its transport activity (tonne-km = mass × distance) times the GHG intensity of its transport
operation category (g CO2e per t·km, well-to-wheel = tank-to-wheel + well-to-tank). A hub emits
per tonne handled, once per visit. A delivery or collection round is a shared operation: an item
carries its share of the round's emissions (by its t·km when the round is tracked, per item
when not). Elements sum to the chain; a parcel's emissions are allocated to the orders in it
by mass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

EARTH_RADIUS_KM = 6371.0088
#: Great-circle distance × this factor estimates the road distance when no route is known (a
#: detour index; configurable per calculation). It stands for the shortest feasible distance.
DEFAULT_ROAD_FACTOR = 1.2


class DataQuality(StrEnum):
    """How much a figure can be trusted, lowest first (ISO 14083 wording)."""

    default = "default"  # a published average for the transport operation category
    modelled = "modelled"  # derived from a model of the operation
    primary = "primary"  # measured by the carrier or site itself

    @property
    def rank(self) -> int:
        return {"default": 0, "modelled": 1, "primary": 2}[self.value]


class FactorKind(StrEnum):
    transport = "transport"  # g CO2e per tonne-km
    hub = "hub"  # kg CO2e per tonne handled, per visit
    round = "round"  # kg CO2e per item carried by a delivery or collection round
    energy = "energy"  # kg CO2e per litre, kWh or kg of a fuel or of electricity (unit in the key)
    product = "product"  # kg CO2e per unit (materials, production)
    packaging = "packaging"  # kg CO2e per unit shipped


UNITS = {
    FactorKind.transport: "g CO2e/t.km",
    FactorKind.hub: "kg CO2e/t",
    FactorKind.round: "kg CO2e/item",
    FactorKind.energy: "kg CO2e/unit",
    FactorKind.product: "kg CO2e/unit",
    FactorKind.packaging: "kg CO2e/unit",
}
#: The units an energy factor may be per: its key ends with one (``diesel.eu/l``).
ENERGY_UNITS = ("l", "kWh", "kg")
#: Plausible ranges per unit: a value outside is refused on load as a unit or typing error.
RANGES = {
    FactorKind.transport: (0.1, 10000.0),
    FactorKind.hub: (0.0, 200.0),
    FactorKind.round: (0.0, 10.0),
    FactorKind.energy: (0.0, 20.0),
    FactorKind.product: (0.0, 10000.0),
    FactorKind.packaging: (0.0, 100.0),
}


@dataclass(frozen=True, slots=True)
class Factor:
    """One emission factor with where it came from.

    ``value`` is well-to-wheel and ``ttw`` its tank-to-wheel part (the rest is well-to-tank).
    ``key`` names what it applies to: a transport operation category
    (``road.artic.le40t.diesel``), a hub type (``hub.warehouse``) or a site (``hub.site:DC-1``),
    a round type (``round.delivery.urban.van.diesel``), a fuel with its unit (``diesel.eu/l``), a
    SKU (``sku:ABC-1``) or a product category (``category:apparel``). ``carrier`` is set on a
    carrier's own figure.
    """

    kind: FactorKind
    key: str
    value: float
    source: str
    edition: str
    region: str = "global"
    scope: str = "WTW"
    quality: DataQuality = DataQuality.default
    ttw: float | None = None
    carrier: str = ""
    note: str = ""

    @property
    def unit(self) -> str:
        if self.kind == FactorKind.energy and "/" in self.key:
            return "kg CO2e/" + self.key.rsplit("/", 1)[1]
        return UNITS[self.kind]

    @property
    def wtt(self) -> float | None:
        return None if self.ttw is None else self.value - self.ttw

    @property
    def year(self) -> int:
        """The edition's year (the latest four-digit year it names; 0 when it names none)."""
        years = [int(y) for y in re.findall(r"(?<!\d)(?:19|20)\d\d(?!\d)", self.edition)]
        return max(years, default=0)

    def as_dict(self) -> dict[str, Any]:
        """The factor's own fields (enums as their values), as stored and as shown."""
        return {
            "kind": self.kind.value,
            "key": self.key,
            "value": self.value,
            "ttw": self.ttw,
            "source": self.source,
            "edition": self.edition,
            "region": self.region,
            "scope": self.scope,
            "quality": self.quality.value,
            "carrier": self.carrier,
            "note": self.note,
        }


def _region_rank(f: Factor, region: str) -> int:
    if region and f.region == region:
        return 2
    return 1 if f.region in ("global", "") else 0


def pick(candidates: list[Factor], *, carrier: str = "", region: str = "", edition: str = "") -> Factor | None:
    """The factor to use among those for one key: a carrier's own (primary) figure beats a
    modelled one, which beats a default; then the route's region beats a global figure, which
    beats another region's; then the newer edition. ``edition`` keeps only that edition (an
    older table stays usable by naming it)."""
    usable = [
        f for f in candidates if (not f.carrier or f.carrier == carrier) and (not edition or f.edition == edition)
    ]
    if not usable:
        return None
    return max(usable, key=lambda f: (bool(f.carrier), f.quality.rank, _region_rank(f, region), f.year, f.edition))


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def leg_kg(mass_kg: float, distance_km: float, g_per_tkm: float) -> float:
    """kg CO2e of one leg: tonne-km × g CO2e/t·km ÷ 1000. The hot path of every plan."""
    return mass_kg * distance_km * g_per_tkm * 1e-6


def fuel_leg_kg(distance_km: float, litres_per_km: float, kg_per_litre: float) -> float:
    """kg of a leg from its fuel use (the ISO 14083 route when the fuel burnt is known)."""
    return distance_km * litres_per_km * kg_per_litre


def hub_kg(mass_kg: float, kg_per_t: float) -> float:
    return mass_kg * 1e-3 * kg_per_t


@dataclass(frozen=True, slots=True)
class Leg:
    """A transport leg: a transport operation category, a distance and the mass moved."""

    factor: Factor
    distance_km: float
    mass_kg: float

    @property
    def tkm(self) -> float:
        return self.mass_kg * 1e-3 * self.distance_km

    @property
    def kg(self) -> float:
        return leg_kg(self.mass_kg, self.distance_km, self.factor.value)

    @property
    def ttw_kg(self) -> float | None:
        return None if self.factor.ttw is None else leg_kg(self.mass_kg, self.distance_km, self.factor.ttw)


@dataclass(frozen=True, slots=True)
class Hub:
    """A hub visit: the hub's intensity per tonne handled and the mass handled."""

    factor: Factor
    mass_kg: float

    @property
    def kg(self) -> float:
        return hub_kg(self.mass_kg, self.factor.value)

    @property
    def ttw_kg(self) -> float | None:
        return None if self.factor.ttw is None else hub_kg(self.mass_kg, self.factor.ttw)


@dataclass(frozen=True, slots=True)
class RoundShare:
    """An item's share of a delivery or collection round: the round's kg per item (a default
    for the round type, or what a recorded round allocated to it) times ``share`` (1 for one
    item; less for an item on a consolidated run)."""

    factor: Factor
    share: float = 1.0

    @property
    def kg(self) -> float:
        return self.factor.value * self.share

    @property
    def ttw_kg(self) -> float | None:
        return None if self.factor.ttw is None else self.factor.ttw * self.share


@dataclass(frozen=True, slots=True)
class ShipmentFootprint:
    """A parcel's transport chain: legs, hub visits and round shares."""

    legs: tuple[Leg, ...]
    hubs: tuple[Hub, ...] = ()
    rounds: tuple[RoundShare, ...] = ()

    @property
    def kg(self) -> float:
        total = 0.0  # plain loops: this runs for every parcel footprinted
        for leg in self.legs:
            total += leg.kg
        for hub in self.hubs:
            total += hub.kg
        for share in self.rounds:
            total += share.kg
        return total

    @property
    def elements(self) -> tuple[Leg | Hub | RoundShare, ...]:
        """Legs, hub visits and round shares, in that order."""
        return (*self.legs, *self.hubs, *self.rounds)

    @property
    def ttw_kg(self) -> float | None:
        """Tank-to-wheel part, when every element states one."""
        parts = [x.ttw_kg for x in self.elements]
        return None if any(p is None for p in parts) else sum(p or 0.0 for p in parts)

    @property
    def quality(self) -> DataQuality:
        parts = [x.factor.quality for x in self.elements]
        return min(parts, key=lambda q: q.rank, default=DataQuality.default)


def allocate_by_mass(total_kg: float, masses: dict[str, float]) -> dict[str, float]:
    """Split a shipment's emissions over the orders in it in proportion to their mass."""
    whole = sum(masses.values())
    if whole <= 0:
        return dict.fromkeys(masses, 0.0)
    return {k: total_kg * m / whole for k, m in masses.items()}


@dataclass(frozen=True, slots=True)
class Part:
    """One item of a footprint: what, how much, and how good the figure is."""

    what: str
    kg: float
    quality: DataQuality
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Footprint:
    parts: tuple[Part, ...] = field(default_factory=tuple)

    @property
    def kg(self) -> float:
        return sum(p.kg for p in self.parts)

    def by(self, prefix: str) -> float:
        return sum(p.kg for p in self.parts if p.what.startswith(prefix))


# -- orders as the carbon context keeps them ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderLineFacts:
    """One line of an order: its open units (ordered minus cancelled)."""

    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """An order as carbon keeps it in its own projection (``carbon_orders``): what a footprint,
    a dashboard and a disclosure need, and nothing else. Fed from the order's facts
    (``Order.as_facts``) by a hook inside each order change, so carbon never reads orders."""

    order_id: str
    created_at: datetime
    channel: str
    customer_email: str
    delivery_method: str
    destination: tuple[float, float] | None
    country: str
    lines: tuple[OrderLineFacts, ...]
    status: str

    @property
    def is_in_store(self) -> bool:
        """Sold over the counter: no transport to count."""
        return self.delivery_method == "in_store"

    @classmethod
    def from_facts(cls, facts: dict[str, Any]) -> OrderFacts:
        """From the plain facts an order hands its hooks (``Order.as_facts``)."""
        address = facts.get("address") or {}
        lat, lon = address.get("lat"), address.get("lon")
        return cls(
            order_id=facts["id"],
            created_at=datetime.fromisoformat(facts["created_at"]),
            channel=facts["channel"],
            customer_email=(facts.get("customer") or {}).get("email", ""),
            delivery_method=facts["delivery_method"],
            destination=(float(lat), float(lon)) if lat is not None and lon is not None else None,
            country=address.get("country", ""),
            lines=tuple(OrderLineFacts(x["id"], x["sku"], int(x["quantity"])) for x in facts["lines"]),
            status=facts["status"],
        )
