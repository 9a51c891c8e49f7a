"""The sourcing planner: which nodes fulfil which lines of an order. Pure and fast.

Objective (a weighted sum, per plan):
    Σ shipments [ w_cost × (rate(zone) base + per-kg × mass + node handling)
                 + w_late × days late against the promise
                 + w_carbon × kg CO2e ]
    + w_split × (shipments − 1)
    + w_protect × units of a store's expected local demand the plan leaves uncovered
Hard constraints: enough ATP at each node for the lines it gets, capacity left today,
eligibility, at most ``max_shipments`` shipments, and (when required) the promise date.

Costs are affine in mass for a given node–destination pair (zone rate cards are a base plus a
per-kg price; carbon is a share of the delivery round per parcel — and of the collection round
for a store — plus hubs and linehaul per kg), so for a fixed set of nodes each line simply goes
to the node where it costs least. The fast path enumerates every 1-node plan and every pair of
pruned candidates exactly; the exact solver (``exact.py``, HiGHS) settles the rest.

Equal objectives break toward lower kg CO2e, then shorter road distance, then node id.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

EARTH_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Line:
    line_id: str
    sku: str
    quantity: int
    weight_kg: float  # of the whole line


@dataclass(frozen=True, slots=True)
class Offer:
    """A node as the planner sees it for one order."""

    node_id: str
    lat: float
    lon: float
    atp: dict[str, int]
    handling: float = 1.0  # cost per shipment leaving this node
    capacity_left: int = 1_000_000  # shipments it can still take today
    eligible: bool = True  # for this channel and order type
    delay_days: int = 0  # a dynamic factor: traffic, weather, staff shortage
    kind: str = "distribution_centre"  # the node's type (its hub and whether a round collects from it)
    #: a store's expected local demand (in-store sales, pickups) per SKU over the next days:
    #: what store protection keeps for the store's own customers
    local_demand: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Zone:
    up_to_km: float
    base: float
    per_kg: float
    days: int


#: A parcel rate card by road distance (EUR; base + per kg) with transit days.
DEFAULT_ZONES = (
    Zone(100, 3.90, 0.18, 1),
    Zone(300, 4.60, 0.25, 1),
    Zone(600, 5.40, 0.32, 2),
    Zone(1200, 6.90, 0.45, 3),
    Zone(math.inf, 9.90, 0.70, 4),
)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much one unit of each term costs in the objective."""

    cost: float = 1.0  # per EUR
    late: float = 5.0  # per day late
    carbon: float = 0.0  # per kg CO2e
    split: float = 2.0  # per extra shipment


STRATEGIES: dict[str, Weights] = {
    "cheapest": Weights(cost=1.0, late=1.0, carbon=0.0, split=1.0),
    "fastest": Weights(cost=0.2, late=50.0, carbon=0.0, split=1.0),
    "greenest": Weights(cost=0.2, late=1.0, carbon=20.0, split=1.0),
    "balanced": Weights(cost=1.0, late=5.0, carbon=2.0, split=2.0),
}


@dataclass(frozen=True, slots=True)
class Request:
    lines: tuple[Line, ...]
    lat: float
    lon: float
    weights: Weights = Weights()
    promise_days: int = 3
    promise_required: bool = False
    max_shipments: int = 2
    road_factor: float = 1.2
    protect_weight: float = 0.0  # per unit of a store's expected local demand left uncovered (0: off)


@dataclass(frozen=True, slots=True)
class Shipment:
    node_id: str
    line_ids: tuple[str, ...]
    mass_kg: float
    road_km: float
    cost: float
    days: int
    kg_co2e: float
    protection: float = 0.0  # weighted: the store's expected local demand this shipment uncovers


@dataclass(frozen=True, slots=True)
class Plan:
    shipments: tuple[Shipment, ...]
    objective: float

    @property
    def cost(self) -> float:
        return sum(s.cost for s in self.shipments)

    @property
    def kg_co2e(self) -> float:
        return sum(s.kg_co2e for s in self.shipments)

    @property
    def days(self) -> int:
        return max((s.days for s in self.shipments), default=0)

    @property
    def protection(self) -> float:
        return sum(s.protection for s in self.shipments)

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(s.node_id for s in self.shipments)


@dataclass(slots=True)
class Decision:
    """The plan and everything needed to explain it."""

    plan: Plan | None
    method: str  # "enumeration" | "exact" | "fallback"
    weights: Weights
    candidates: list[dict[str, object]] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    alternatives: list[Plan] = field(default_factory=list)


_RAD = math.pi / 180


def great_circle(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in km by the equirectangular approximation: within 0.5 % of the haversine
    distance up to 1,000 km at European latitudes, and three times cheaper — the planner
    computes it for every node of the network for every order."""
    x = (lon2 - lon1) * _RAD * math.cos((lat1 + lat2) * 0.5 * _RAD)
    y = (lat2 - lat1) * _RAD
    return EARTH_KM * math.sqrt(x * x + y * y)


def zone_for(road_km: float, zones: tuple[Zone, ...] = DEFAULT_ZONES) -> Zone:
    for z in zones:
        if road_km <= z.up_to_km:
            return z
    return zones[-1]


#: (road km, node) → kg CO2e of a parcel from that node as (per parcel, per kg shipped)
CarbonTerms = Callable[[float, "Offer"], tuple[float, float]]


@dataclass(frozen=True, slots=True)
class NodeTerms:
    """An offer's terms for one destination: fixed per shipment, per kg shipped."""

    offer: Offer
    road_km: float
    fixed: float  # weighted: base rate + handling + lateness
    per_kg: float  # weighted: per-kg rate + carbon per kg
    days: int
    zone: Zone
    co2_per_kg: float
    co2_fixed: float = 0.0  # kg CO2e per parcel whatever it weighs (round shares)


def terms(offer: Offer, req: Request, carbon: CarbonTerms, zones: tuple[Zone, ...] = DEFAULT_ZONES) -> NodeTerms:
    road = great_circle(offer.lat, offer.lon, req.lat, req.lon) * req.road_factor
    z = zone_for(road, zones)
    days = z.days + offer.delay_days
    late = max(0, days - req.promise_days)
    w = req.weights
    co2_fixed, co2 = carbon(road, offer)
    return NodeTerms(
        offer=offer,
        road_km=road,
        fixed=w.cost * (z.base + offer.handling) + w.late * late + w.carbon * co2_fixed,
        per_kg=w.cost * z.per_kg + w.carbon * co2,
        days=days,
        zone=z,
        co2_per_kg=co2,
        co2_fixed=co2_fixed,
    )


def needs(lines: tuple[Line, ...] | list[Line]) -> dict[str, int]:
    need: dict[str, int] = {}
    for line in lines:
        need[line.sku] = need.get(line.sku, 0) + line.quantity
    return need


def covers(offer: Offer, lines: tuple[Line, ...] | list[Line], need: dict[str, int] | None = None) -> bool:
    atp = offer.atp
    return all(atp.get(sku, 0) >= q for sku, q in (need or needs(lines)).items())


def uncovered(offer: Offer, lines: tuple[Line, ...] | list[Line]) -> dict[str, float]:
    """Units of the store's expected local demand, per SKU, that taking ``lines`` from it leaves
    without stock (beyond what its stock could not cover anyway): with ATP ``a``, expected
    local demand ``e`` and ``q`` units taken, ``max(0, e − (a − q)) − max(0, e − a)``."""
    if not offer.local_demand:
        return {}
    out = {}
    for sku, q in needs(lines).items():
        e = offer.local_demand.get(sku, 0.0)
        if e > 0:
            a = offer.atp.get(sku, 0)
            short = max(0.0, e - (a - q)) - max(0.0, e - a)
            if short > 0:
                out[sku] = short
    return out


def protection(offer: Offer, lines: tuple[Line, ...] | list[Line], weight: float) -> float:
    """Store protection's term: ``weight`` per unit of local demand left uncovered."""
    return weight * sum(uncovered(offer, lines).values()) if weight > 0 else 0.0


def shipment(t: NodeTerms, lines: list[Line], protect_weight: float = 0.0) -> Shipment:
    mass = sum(line.weight_kg for line in lines)
    return Shipment(
        node_id=t.offer.node_id,
        line_ids=tuple(line.line_id for line in lines),
        mass_kg=mass,
        road_km=t.road_km,
        cost=t.zone.base + t.offer.handling + t.zone.per_kg * mass,
        days=t.days,
        kg_co2e=t.co2_fixed + t.co2_per_kg * mass,
        protection=protection(t.offer, lines, protect_weight),
    )


def objective(req: Request, parts: list[tuple[NodeTerms, list[Line]]]) -> float:
    total = sum(t.fixed + t.per_kg * sum(line.weight_kg for line in ls) for t, ls in parts)
    if req.protect_weight > 0:
        total += sum(protection(t.offer, ls, req.protect_weight) for t, ls in parts)
    return total + req.weights.split * (len(parts) - 1)


def _usable(offer: Offer, req: Request) -> str | None:
    if not offer.eligible:
        return "not eligible for this order"
    if offer.capacity_left <= 0:
        return "no capacity left today"
    atp = offer.atp
    for line in req.lines:
        if atp.get(line.sku, 0) >= line.quantity:
            return None
    return "has none of the lines"


def tie_break(plan: Plan) -> tuple[float, float, float, tuple[str, ...]]:
    """Plans in order: objective (to a millionth), then kg CO2e, then road km, then nodes."""
    return (round(plan.objective, 6), round(plan.kg_co2e, 9), sum(s.road_km for s in plan.shipments), plan.nodes)


def plan_fast(
    req: Request,
    offers: list[Offer],
    carbon_per_kg: CarbonTerms,
    *,
    keep: int = 16,
    zones: tuple[Zone, ...] = DEFAULT_ZONES,
) -> Decision:
    """Best plan of at most two shipments over pruned candidates (exact within that space)."""
    decision = Decision(plan=None, method="enumeration", weights=req.weights)
    usable: list[NodeTerms] = []
    for offer in offers:
        reason = _usable(offer, req)
        if reason:
            decision.excluded[offer.node_id] = reason
            continue
        t = terms(offer, req, carbon_per_kg, zones)
        if req.promise_required and t.days > req.promise_days:
            decision.excluded[offer.node_id] = f"cannot deliver in {req.promise_days} days"
            continue
        usable.append(t)
    usable.sort(key=lambda t: (t.fixed + t.per_kg, t.co2_fixed + t.co2_per_kg, t.road_km, t.offer.node_id))
    need = needs(req.lines)
    full = [t for t in usable if covers(t.offer, req.lines, need)]
    pool = {t.offer.node_id: t for t in usable[:keep]}
    for t in full[: max(4, keep // 4)]:
        pool.setdefault(t.offer.node_id, t)
    for t in usable[keep:]:
        if t.offer.node_id not in pool:
            decision.excluded[t.offer.node_id] = "pruned: dearer than the candidates kept"
    candidates = list(pool.values())
    decision.candidates = [
        {
            "node_id": t.offer.node_id,
            "road_km": round(t.road_km, 1),
            "days": t.days,
            "covers_all": covers(t.offer, req.lines, need),
        }
        for t in candidates
    ]
    plans: list[Plan] = []
    lines = list(req.lines)
    for t in candidates:
        if covers(t.offer, req.lines, need):
            plans.append(Plan((shipment(t, lines, req.protect_weight),), objective(req, [(t, lines)])))
    if req.max_shipments >= 2:
        mass = sum(line.weight_kg for line in req.lines)
        best = min((p.objective for p in plans), default=math.inf)
        skipped: list[tuple[float, NodeTerms, NodeTerms]] = []
        for a, b in combinations(candidates, 2):
            bound = a.fixed + b.fixed + req.weights.split + min(a.per_kg, b.per_kg) * mass
            if bound >= best:  # no split of these two can beat the best plan so far
                skipped.append((bound, a, b))
                continue
            split = _split_pair(req, a, b, need)
            if split is not None:
                plans.append(split)
                best = min(best, split.objective)
        # the explanation shows the best alternatives: build a few of the skipped pairs too
        for _, a, b in sorted(skipped, key=lambda s: s[0])[: max(0, 4 - len(plans))]:
            split = _split_pair(req, a, b, need)
            if split is not None:
                plans.append(split)
    plans.sort(key=tie_break)
    if plans:
        decision.plan, decision.alternatives = plans[0], plans[1:4]
    return decision


def _split_pair(req: Request, a: NodeTerms, b: NodeTerms, need: dict[str, int]) -> Plan | None:
    """Each line to whichever of two nodes costs less for it, within both nodes' stock."""
    to_a: list[Line] = []
    to_b: list[Line] = []
    left_a = {sku: a.offer.atp.get(sku, 0) for sku in need}
    left_b = {sku: b.offer.atp.get(sku, 0) for sku in need}
    # lines with the biggest difference choose first, so shared stock goes where it matters most
    for line in sorted(req.lines, key=lambda ln: -abs(a.per_kg - b.per_kg) * ln.weight_kg):
        order = ((left_a, to_a), (left_b, to_b)) if a.per_kg <= b.per_kg else ((left_b, to_b), (left_a, to_a))
        for stock, dest in order:
            if stock.get(line.sku, 0) >= line.quantity:
                stock[line.sku] -= line.quantity
                dest.append(line)
                break
        else:
            return None
    if not to_a or not to_b:
        return None  # a one-node plan, already counted
    parts = [(a, to_a), (b, to_b)]
    w = req.protect_weight
    return Plan((shipment(a, to_a, w), shipment(b, to_b, w)), objective(req, parts))


def plan_nearest(
    req: Request, offers: list[Offer], carbon_per_kg: CarbonTerms, zones: tuple[Zone, ...] = DEFAULT_ZONES
) -> Decision:
    """The plain rule (and the fallback): each line from the nearest usable node with stock."""
    decision = Decision(plan=None, method="fallback", weights=req.weights)
    usable = [terms(o, req, carbon_per_kg, zones) for o in offers if _usable(o, req) is None]
    usable.sort(key=lambda t: (t.road_km, t.offer.node_id))
    groups: dict[str, tuple[NodeTerms, list[Line]]] = {}
    left = {t.offer.node_id: dict(t.offer.atp) for t in usable}
    for line in req.lines:
        for t in usable:
            if left[t.offer.node_id].get(line.sku, 0) >= line.quantity:
                left[t.offer.node_id][line.sku] -= line.quantity
                groups.setdefault(t.offer.node_id, (t, []))[1].append(line)
                break
        else:
            return decision
    parts = list(groups.values())
    decision.plan = Plan(tuple(shipment(t, ls, req.protect_weight) for t, ls in parts), objective(req, parts))
    return decision
