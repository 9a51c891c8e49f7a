"""Carbon use cases: the factor database, shipment and order footprints."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from orderhub.carbon import factors as tables
from orderhub.carbon import options as options_mod
from orderhub.carbon import store
from orderhub.carbon.model import (
    DataQuality,
    Factor,
    FactorKind,
    Footprint,
    Hub,
    Leg,
    ParcelNetwork,
    Part,
    ShipmentFootprint,
    allocate_by_mass,
    great_circle_km,
    pick,
)
from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput
from orderhub.inventory import service as inventory
from orderhub.platform.db import unit_of_work

__all__ = [
    "DataQuality",
    "Factor",
    "FactorKind",
    "FactorSet",
    "Footprint",
    "Hub",
    "ItemQty",
    "Leg",
    "OrderFootprint",
    "ShipmentFootprint",
    "ShipmentSpec",
    "get_factor_set",
    "great_circle_km",
    "load_factors",
    "order_footprint",
]

TRUNK = "road.artic.gt33t.diesel"
LAST_MILE = "road.van.le3_5t.diesel"
DEPOT = "hub.parcel"
PARCEL = "parcel"  # packaging factor per parcel shipped (box, label, handling)


class FactorSet:
    """Every usable factor by kind and key, with the choice rule of ``model.pick``."""

    def __init__(self, rows: list[Factor]) -> None:
        self.rows = rows
        self._by: dict[tuple[FactorKind, str], list[Factor]] = {}
        for f in rows:
            self._by.setdefault((f.kind, f.key), []).append(f)

    def get(self, kind: FactorKind, key: str, *, carrier: str = "", region: str = "") -> Factor | None:
        return pick(self._by.get((kind, key), []), carrier=carrier, region=region)

    def for_item(self, kind: FactorKind, sku: str, category: str) -> Factor | None:
        """A SKU's own factor, else its category's."""
        return self.get(kind, f"sku:{sku}") or self.get(kind, f"category:{category}")

    def network(self, carrier: str = "") -> ParcelNetwork:
        trunk = self.get(FactorKind.transport, TRUNK, carrier=carrier)
        last = self.get(FactorKind.transport, LAST_MILE, carrier=carrier)
        assert trunk is not None and last is not None, "the default table defines trunk and last-mile factors"
        return ParcelNetwork(trunk=trunk, last_mile=last, depot=self.get(FactorKind.hub, DEPOT, carrier=carrier))


# Keyed by the engine object itself (weakly): an id() can be reused by a later engine.
_cache: weakref.WeakKeyDictionary[Engine, tuple[float, FactorSet]] = weakref.WeakKeyDictionary()


def get_factor_set(engine: Engine) -> FactorSet:
    """The shipped default table plus every loaded table (cached for a few seconds)."""
    hit = _cache.get(engine)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    with unit_of_work(engine, write=False) as conn:
        return factor_set_on(conn)


def factor_set_on(conn: Any) -> FactorSet:
    """The factor set read on the caller's connection (inside its transaction: a second
    connection per request could exhaust the pool under load)."""
    hit = _cache.get(conn.engine)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    fs = FactorSet(tables.default_factors() + store.loaded_factors(conn))
    _cache[conn.engine] = (time.monotonic() + 5.0, fs)
    return fs


def load_factors(engine: Engine, *, text: str, fmt: str, actor: str, carrier: str = "") -> int:
    """Load a factor table (``csv`` or ``json``); all rows or none. A carrier's table carries
    its name on every row and wins over defaults for that carrier's shipments."""
    if fmt not in ("csv", "json"):
        raise InvalidInput("format must be csv or json", errors=[{"parameter": "format", "detail": "csv or json"}])
    rows = tables.parse_csv(text, carrier=carrier) if fmt == "csv" else tables.parse_json(text, carrier=carrier)
    if not rows:
        raise InvalidInput("the table has no rows", errors=[{"pointer": "/rows", "detail": "empty"}])
    with unit_of_work(engine) as conn:
        store.replace_factors(conn, rows, at=utcnow(), by=actor)
    _cache.pop(engine, None)
    return len(rows)


@dataclass(frozen=True, slots=True)
class ItemQty:
    sku: str
    category: str
    weight_g: int
    quantity: int


@dataclass(frozen=True, slots=True)
class ShipmentSpec:
    """A parcel from a node to a destination with the items of one order in it."""

    origin: str
    origin_at: tuple[float, float]
    destination: tuple[float, float]
    items: list[ItemQty]
    carrier: str = ""
    shared_mass_kg: float = 0.0  # other orders' goods in the same parcel (allocation by mass)


@dataclass(slots=True)
class OrderFootprint:
    footprint: Footprint
    shipments: list[tuple[str, ShipmentFootprint, float]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def as_dict(self, *, detail: bool) -> dict[str, Any]:
        fp = self.footprint
        out: dict[str, Any] = {
            "kg_co2e": round(fp.kg, 3),
            "transport_kg": round(fp.by("transport"), 3),
            "product_kg": round(fp.by("product"), 3),
            "packaging_kg": round(fp.by("packaging"), 3),
            "data_quality": min((p.quality for p in fp.parts), key=lambda q: q.rank, default=DataQuality.default).value,
            "method": "ISO 14083 / GLEC: tonne-km × WTW intensity per leg, hubs per tonne, allocation by mass",
        }
        if detail:
            out["parts"] = [
                {"what": p.what, "kg_co2e": round(p.kg, 4), "data_quality": p.quality.value, "detail": p.detail}
                for p in fp.parts
            ]
            out["shipments"] = [
                {
                    "from": origin,
                    "order_share_kg": round(share, 4),
                    "legs": [
                        {
                            "factor": leg.factor.key,
                            "distance_km": round(leg.distance_km, 1),
                            "mass_kg": round(leg.mass_kg, 3),
                            "tkm": round(leg.tkm, 4),
                            "kg_co2e": round(leg.kg, 4),
                            "g_per_tkm": leg.factor.value,
                            "source": leg.factor.source,
                            "edition": leg.factor.edition,
                        }
                        for leg in sf.legs
                    ],
                    "hubs": [{"factor": h.factor.key, "kg_co2e": round(h.kg, 4)} for h in sf.hubs],
                }
                for origin, sf, share in self.shipments
            ]
            out["missing"] = self.missing
        return out


def order_footprint(
    engine: Engine, *, shipments: list[ShipmentSpec], items: list[ItemQty], road_factor: float | None = None
) -> OrderFootprint:
    """An order's footprint: its shipments (allocated by mass), its products and packaging,
    itemised with the data quality of each part; what had no factor is listed as missing."""
    fs = get_factor_set(engine)
    result = OrderFootprint(footprint=Footprint())
    parts: list[Part] = []
    for spec in shipments:
        mass = sum(i.weight_g * i.quantity for i in spec.items) / 1000.0
        network = fs.network(spec.carrier)
        if road_factor is not None:
            network = ParcelNetwork(network.trunk, network.last_mile, network.depot, road_factor=road_factor)
        gc = great_circle_km(*spec.origin_at, *spec.destination)
        sf = network.shipment(gc, mass + spec.shared_mass_kg)
        share = allocate_by_mass(sf.kg, {"order": mass, "others": spec.shared_mass_kg})["order"]
        result.shipments.append((spec.origin, sf, share))
        parts.append(
            Part(
                f"transport:{spec.origin}",
                share,
                sf.quality,
                f"{gc * network.road_factor:.0f} km by road, {mass:.2f} kg",
            )
        )
        if network.depot is None and len(sf.legs) > 1:
            result.missing.append(f"hub handling at the depot ({DEPOT}): no factor loaded")
    for item in items:
        for kind in (FactorKind.product, FactorKind.packaging):
            f = fs.for_item(kind, item.sku, item.category)
            if f is None:
                result.missing.append(f"{kind.value} factor for {item.sku} ({item.category})")
                continue
            parts.append(
                Part(
                    f"{kind.value}:{item.sku}",
                    f.value * item.quantity,
                    f.quality,
                    f"{item.quantity} × {f.value} kg ({f.key})",
                )
            )
    result.footprint = Footprint(tuple(parts))
    result.missing = sorted(set(result.missing))
    return result


def factor_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every factor in use, with its provenance, for the console and the API."""
    return [{**f.as_dict(), "unit": f.unit, "wtt": f.wtt} for f in get_factor_set(engine).rows]


# -- delivery options, choices and points -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class BasketItem:
    sku: str
    quantity: int


def delivery_options(
    engine: Engine,
    *,
    lines: list[BasketItem],
    destination: tuple[float, float],
    channel: str = "web",
    points_per_kg: int = options_mod.POINTS_PER_KG,
    today: Any = None,
) -> list[options_mod.Option]:
    """Standard, consolidated and wait-for-the-run options for a basket, priced, dated and
    with kg CO2e each, from live ATP (the channel's buffer applied)."""
    items = inventory.get_items(engine, skus=[line.sku for line in lines])
    nodes = {n.id: n for n in inventory.get_all_nodes(engine) if n.can(inventory.Capability.ships)}
    atp: dict[str, dict[str, int]] = {node_id: {} for node_id in nodes}
    for line in lines:
        for n in inventory.get_atp(engine, sku=line.sku, channel=channel)["nodes"]:
            if n.node_id in atp:
                atp[n.node_id][line.sku] = n.atp
    stocked = [options_mod.Stocked(nid, nodes[nid].lat, nodes[nid].lon, atp[nid]) for nid in sorted(nodes)]
    basket = [
        options_mod.BasketLine(line.sku, line.quantity, items[line.sku].weight_g if line.sku in items else 500)
        for line in lines
    ]
    subtotal = sum(
        (Decimal(items[line.sku].price_minor) / 100 * line.quantity for line in lines if line.sku in items), Decimal(0)
    )
    fs = get_factor_set(engine)
    per_parcel = fs.get(FactorKind.packaging, PARCEL)
    result = options_mod.build_options(
        fs.network(),
        stocked,
        basket,
        destination,
        today=today or utcnow().date(),
        subtotal=subtotal,
        parcel_kg=per_parcel.value if per_parcel else 0.0,
    )
    for opt in result[1:]:
        opt.points = round(opt.savings_kg * points_per_kg)
    return result


def record_choice(
    conn: Any, *, order_id: str, customer_email: str, chosen: options_mod.Option, standard: options_mod.Option, at: Any
) -> None:
    """Keep a greener choice (and its reward points) in the order's own transaction."""
    store.add_choice(
        conn,
        order_id=order_id,
        customer_email=customer_email,
        option=chosen.name,
        kg_standard=standard.kg_co2e,
        kg_chosen=chosen.kg_co2e,
        parcels_standard=len(standard.parcels),
        parcels_chosen=len(chosen.parcels),
        points=chosen.points,
        at=at,
    )


def get_points(engine: Engine, *, email: str) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        rows = store.points_of(conn, email.lower())
    return {"customer_email": email.lower(), "balance": sum(r["points"] for r in rows), "entries": rows}


def redeem_points(engine: Engine, *, email: str, points: int, reason: str) -> dict[str, Any]:
    """Spend points (never below zero)."""
    if points <= 0:
        raise InvalidInput("points must be positive", errors=[{"pointer": "/points", "detail": "> 0"}])
    with unit_of_work(engine) as conn:
        balance = sum(r["points"] for r in store.points_of(conn, email.lower()))
        if points > balance:
            raise InvalidInput(
                f"only {balance} points available",
                code="not_enough_points",
                errors=[{"pointer": "/points", "detail": f"≤ {balance}"}],
            )
        store.add_points(conn, customer_email=email.lower(), points=-points, reason=reason, order_id=None, at=utcnow())
    return get_points(engine, email=email)


def green_report(engine: Engine, *, start: Any, end: Any) -> dict[str, Any]:
    """What greener choices saved over a period: parcels and kg CO2e against standard."""
    with unit_of_work(engine, write=False) as conn:
        rows = store.choices_between(conn, start, end)
    by_option: dict[str, dict[str, float]] = {}
    for r in rows:
        agg = by_option.setdefault(r["option"], {"orders": 0, "parcels_saved": 0, "kg_avoided": 0.0, "points": 0})
        agg["orders"] += 1
        agg["parcels_saved"] += r["parcels_standard"] - r["parcels_chosen"]
        agg["kg_avoided"] += r["kg_standard"] - r["kg_chosen"]
        agg["points"] += r["points"]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "orders": len(rows),
        "parcels_saved": int(sum(a["parcels_saved"] for a in by_option.values())),
        "kg_co2e_avoided": round(sum(a["kg_avoided"] for a in by_option.values()), 3),
        "by_option": {k: {**v, "kg_avoided": round(v["kg_avoided"], 3)} for k, v in sorted(by_option.items())},
    }
