"""Footprints of orders, computed from carbon's own projection of orders (``OrderFacts``),
the stock they hold and the item master: one order in detail, a period in bulk, the figures
the console charts, and the iLEAP-style disclosure. No I/O: ``service`` reads and calls these."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from orderhub.carbon.factors import DEFAULT_REGION, PARCEL, FactorSet, region_of
from orderhub.carbon.model import (
    DataQuality,
    FactorKind,
    Footprint,
    OrderFacts,
    Part,
    RoundShare,
    ShipmentFootprint,
    allocate_by_mass,
    great_circle_km,
)
from orderhub.carbon.network import URBAN, Areas
from orderhub.inventory import service as inventory

#: Weight assumed for a SKU missing from the item master (and said so in the footprint).
UNKNOWN_WEIGHT_G = 500
#: Holds that put an order's units at a node (and so in a parcel from it).
HOLDING = ("active", "allocated", "fulfilled")
METHOD = (
    "ISO 14083 / GLEC v3 parcel network: hub visits per tonne, linehaul tonne-km × WTW intensity, "
    "a share per item of the collection and delivery rounds; allocation by mass"
)


@dataclass(frozen=True, slots=True)
class ItemQty:
    sku: str
    category: str
    weight_g: int
    quantity: int
    own_kg: float | None = None  # the item master's own figure per unit (the supplier's), if stated


@dataclass(frozen=True, slots=True)
class ShipmentSpec:
    """A parcel from a node to a destination with the items of one order in it."""

    origin: str
    origin_at: tuple[float, float]
    destination: tuple[float, float]
    items: list[ItemQty]
    carrier: str = ""
    shared_mass_kg: float = 0.0  # other orders' goods in the same parcel (allocation by mass)
    origin_type: str = "distribution_centre"  # the node's type: its hub default, collected or not
    region: str = DEFAULT_REGION  # the factor region of the route (EU, GB)
    area: str = URBAN  # the delivery address's round type: urban or rural
    service: str = ""  # the carrier's service that took the parcel, when known (its own round figure)
    #: what recorded rounds allocated to this parcel, by round kind (``delivery``, ``collection``):
    #: they replace the network's default share for that kind
    recorded: dict[str, tuple[RoundShare, ...]] = field(default_factory=dict)


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
            "method": METHOD,
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
                    "hubs": [
                        {"factor": h.factor.key, "mass_kg": round(h.mass_kg, 3), "kg_co2e": round(h.kg, 4)}
                        for h in sf.hubs
                    ],
                    "rounds": [
                        {"factor": r.factor.key, "share": r.share, "kg_co2e": round(r.kg, 4), "source": r.factor.source}
                        for r in sf.rounds
                    ],
                }
                for origin, sf, share in self.shipments
            ]
            out["missing"] = self.missing
        return out


def calculate(
    fs: FactorSet, *, shipments: list[ShipmentSpec], items: list[ItemQty], road_factor: float | None = None
) -> OrderFootprint:
    """An order's footprint: its parcels through the parcel network (allocated by mass), its
    products and packaging, itemised with the data quality of each part; what had no factor is
    listed as missing."""
    result = OrderFootprint(footprint=Footprint())
    parts: list[Part] = []
    per_parcel = fs.get(FactorKind.packaging, PARCEL)
    for spec in shipments:
        mass = sum(i.weight_g * i.quantity for i in spec.items) / 1000.0
        network = fs.network(spec.region, spec.carrier, area=spec.area, service=spec.service)
        if road_factor is not None:
            network = replace(network, road_factor=road_factor)
        road = great_circle_km(*spec.origin_at, *spec.destination) * network.road_factor
        sf = network.parcel(road, mass + spec.shared_mass_kg, fs.origin(spec.origin, spec.origin_type))
        if spec.recorded:
            defaults = {"delivery": network.delivery, "collection": network.collection}
            kept = tuple(
                r for r in sf.rounds if not any(r.factor is defaults[k] for k in spec.recorded if k in defaults)
            )
            sf = replace(sf, rounds=kept + tuple(r for shares in spec.recorded.values() for r in shares))
        share = allocate_by_mass(sf.kg, {"order": mass, "others": spec.shared_mass_kg})["order"]
        result.shipments.append((spec.origin, sf, share))
        parts.append(Part(f"transport:{spec.origin}", share, sf.quality, f"{road:.0f} km by road, {mass:.2f} kg"))
        if per_parcel is not None:
            parts.append(Part("packaging:parcel", per_parcel.value, per_parcel.quality, f"1 parcel ({per_parcel.key})"))
    for item in items:
        for kind in (FactorKind.product, FactorKind.packaging):
            if kind == FactorKind.product and item.own_kg is not None and fs.get(kind, f"sku:{item.sku}") is None:
                # the supplier's figure for this very product beats its category's average
                detail = f"{item.quantity} × {item.own_kg} kg (item master: the supplier's figure)"
                parts.append(Part(f"product:{item.sku}", item.own_kg * item.quantity, DataQuality.primary, detail))
                continue
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


def of_order(
    fs: FactorSet,
    order: OrderFacts,
    holds: list[dict[str, Any]],
    items: dict[str, Any],
    nodes: dict[str, Any],
    recorded: dict[str, list[RoundShare]] | None = None,
    *,
    nearest: NearestShipping | None = None,
    areas: Areas | None = None,
    carried: list[dict[str, Any]] | None = None,
) -> OrderFootprint:
    """The order's footprint: one parcel per node that holds or ships its lines (the nearest
    shipping node when none does yet), products and packaging by SKU or category. ``recorded``
    are the shares real rounds allocated to the order's items, by round kind: they replace the
    default share of the order's parcels one for one (the last parcel takes any extra). The
    delivery round is the address's area's (``areas``: urban or rural); ``carried`` are the
    parcels shipped with tracking (``carrier``, ``service``, ``lines``): a node's parcel takes
    the carrier and service of the shipped parcel holding its lines, so a carrier's own figure
    for that service applies."""
    line_of = {line.line_id: line for line in order.lines}
    by_node: dict[str, dict[str, int]] = {}
    for h in holds:
        if h["status"] in HOLDING and h["node_id"] in nodes:
            by_node.setdefault(h["node_id"], {}).setdefault(h["line_id"], 0)
            by_node[h["node_id"]][h["line_id"]] += h["quantity"]
    destination = order.destination
    missing: list[str] = []
    if not by_node and destination and not order.is_in_store:
        near = (nearest or NearestShipping(nodes))(destination)
        if near is not None:
            by_node[near.id] = {line.line_id: line.quantity for line in order.lines if line.quantity}
            missing.append(f"origin estimated: nearest shipping node {near.id} (the order holds no stock)")
    if destination is None and not order.is_in_store:
        missing.append("no coordinates for the shipping address: transport not counted")

    def item_qty(sku: str, qty: int) -> ItemQty:
        item = items.get(sku)
        if item is None:
            missing.append(f"item master has no {sku}: {UNKNOWN_WEIGHT_G} g assumed")
            return ItemQty(sku, "unknown", UNKNOWN_WEIGHT_G, qty)
        if item.weight_g is None:
            missing.append(f"weight of {sku} unknown (item awaiting review): {UNKNOWN_WEIGHT_G} g assumed")
            return ItemQty(sku, item.category, UNKNOWN_WEIGHT_G, qty, item.co2e_kg_per_unit)
        return ItemQty(sku, item.category, item.weight_g, qty, item.co2e_kg_per_unit)

    specs = []
    if destination is not None and not order.is_in_store:
        region = region_of(order.country)
        area = (areas or Areas.of_nodes(nodes.values()))(destination)
        parcels = sorted(by_node.items())
        for i, (node_id, lines) in enumerate(parcels):
            node = nodes[node_id]
            parcel = [item_qty(line_of[lid].sku, qty) for lid, qty in lines.items() if lid in line_of]
            mine = {kind: _spread(shares, i, len(parcels)) for kind, shares in (recorded or {}).items()}
            carrier, service = _carrier_of(carried or [], lines)
            specs.append(
                ShipmentSpec(
                    origin=node_id,
                    origin_at=(node.lat, node.lon),
                    destination=destination,
                    items=parcel,
                    origin_type=node.type.value,
                    region=region,
                    area=area,
                    carrier=carrier,
                    service=service,
                    recorded={kind: shares for kind, shares in mine.items() if shares},
                )
            )
    products = [item_qty(line.sku, line.quantity) for line in order.lines if line.quantity]
    result = calculate(fs, shipments=specs, items=products)
    result.missing = sorted(set(result.missing + missing))
    return result


class NearestShipping:
    """The shipping node nearest a destination, for orders that hold no stock yet: the nodes'
    coordinates prepared once, each destination's answer remembered (a period's orders go to
    the same addresses again and again)."""

    def __init__(self, nodes: dict[str, Any]) -> None:
        self._nodes = sorted(
            (
                (n.id, n, math.radians(n.lat), math.radians(n.lon), math.cos(math.radians(n.lat)))
                for n in nodes.values()
                if n.can(inventory.Capability.ships)
            ),
            key=lambda t: t[0],
        )
        self._seen: dict[tuple[float, float], Any] = {}

    def __call__(self, destination: tuple[float, float]) -> Any:
        hit = self._seen.get(destination, self)
        if hit is not self:
            return hit
        p2, l2 = math.radians(destination[0]), math.radians(destination[1])
        c2 = math.cos(p2)
        best, best_h = None, 2.0
        for _, node, p1, l1, c1 in self._nodes:  # haversine's h is monotone in the distance
            h = math.sin((p2 - p1) / 2) ** 2 + c1 * c2 * math.sin((l2 - l1) / 2) ** 2
            if h < best_h:
                best, best_h = node, h
        self._seen[destination] = best
        return best


def _carrier_of(carried: list[dict[str, Any]], lines: dict[str, int]) -> tuple[str, str]:
    """The carrier and service of the shipped parcel that holds most of a node's lines (ties:
    the first shipped); none shipped yet: unknown."""
    best, best_n = ("", ""), 0
    for parcel in carried:
        n = sum(1 for line_id in parcel.get("lines") or {} if line_id in lines)
        if n > best_n:
            best, best_n = (str(parcel.get("carrier") or ""), str(parcel.get("service") or "")), n
    return best


def _spread(shares: list[RoundShare], i: int, parcels: int) -> tuple[RoundShare, ...]:
    """Parcel ``i``'s recorded shares: one per parcel in order, the last parcel takes the rest."""
    return tuple(shares[i:] if i == parcels - 1 else shares[i : i + 1])


#: (dimension, key) → [kg CO2e, orders] for one day: what the console's carbon page sums
DayTotals = dict[tuple[str, str], list[float]]


def day_totals(rows: list[tuple[OrderFacts, OrderFootprint]], *, categories: dict[str, str]) -> dict[str, DayTotals]:
    """The orders' footprints summed per day of creation: parts (transport / product /
    packaging), channel, shipping node, transport chain element, product category, data
    quality (orders counted) and the day's orders. Days add up: a period is the sum of its days."""
    out: dict[str, DayTotals] = {}
    for order, fp in rows:
        t = out.setdefault(order.created_at.date().isoformat(), {})

        def add(dim: str, key: str, kg: float, n: int = 0, t: DayTotals = t) -> None:
            cell = t.setdefault((dim, key), [0.0, 0])
            cell[0] += kg
            cell[1] += n

        f = fp.footprint
        add("part", "transport", f.by("transport"))
        add("part", "product", f.by("product"))
        add("part", "packaging", f.by("packaging"))
        add("orders", "all", f.kg, 1)
        add("channel", order.channel, f.kg, 1)
        for origin, sf, share in fp.shipments:
            add("node", origin, share, 1)
            total = sf.kg or 1.0
            for element in sf.elements:
                add("mode", element.factor.key, share * element.kg / total)
        for part in f.parts:
            if part.what.startswith("product:"):
                add("category", categories.get(part.what.removeprefix("product:"), "unknown"), part.kg)
        quality = min((p.quality for p in f.parts), key=lambda q: q.rank, default=DataQuality.default)
        add("quality", quality.value, 0.0, 1)
    return out


def dashboard_from_totals(totals: dict[str, DayTotals], *, start: datetime, days: int) -> dict[str, Any]:
    """The console's figures for ``days`` days from ``start``, from the days' totals."""
    per_day: dict[str, list[float]] = {
        (start + timedelta(days=i)).date().isoformat(): [0.0, 0.0, 0.0] for i in range(days)
    }
    by: dict[str, dict[str, float]] = {k: defaultdict(float) for k in ("channel", "node", "mode", "category")}
    quality: dict[str, int] = defaultdict(int)
    orders, kg_total = 0, 0.0
    parts = {"transport": 0, "product": 1, "packaging": 2}
    for day, cells in totals.items():
        if day not in per_day:
            continue
        for (dim, key), (kg, n) in cells.items():
            if dim == "part":
                per_day[day][parts[key]] += kg
            elif dim == "orders":
                orders += int(n)
                kg_total += kg
            elif dim == "quality":
                quality[key] += int(n)
            else:
                by[dim][key] += kg
    return {
        "orders": orders,
        "kg_total": kg_total,
        "per_day": [(d, v) for d, v in sorted(per_day.items())],
        "by": {k: dict(sorted(v.items(), key=lambda kv: -kv[1])) for k, v in by.items()},
        "quality": dict(quality),
    }


def dashboard(
    rows: list[tuple[OrderFacts, OrderFootprint]], *, categories: dict[str, str], start: datetime, days: int
) -> dict[str, Any]:
    """kg CO2e of the orders given: per day from ``start`` (transport / products / packaging),
    per channel, per shipping node, per transport operation category and per product category."""
    return dashboard_from_totals(day_totals(rows, categories=categories), start=start, days=days)


def ileap_document(
    rows: list[tuple[OrderFacts, OrderFootprint]], *, factor_rows: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, Any]:
    """A disclosure close to the iLEAP data model (PACT extension for logistics emissions):
    shipment footprints made of transport chain elements, plus order totals, method, factors.
    ``start`` and ``end`` are UTC."""
    used: set[str] = set()
    shipments = []
    for order, fp in rows:
        for origin, sf, share in fp.shipments:
            ratio = share / sf.kg if sf.kg else 0.0
            tces = []
            for i, element in enumerate(sf.elements):
                used.add(element.factor.key)
                tces.append(_tce(f"{order.order_id}/{origin}/{i}", element, ratio))
            shipments.append({"shipmentId": f"{order.order_id}/{origin}", "orderId": order.order_id, "tces": tces})
        for p in fp.footprint.parts:
            if not p.what.startswith("transport"):
                used.add(p.detail.rsplit("(", 1)[-1].rstrip(")"))
    return {
        "specVersion": "orderhub-ileap-0.1",
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "method": {
            "standard": "EN ISO 14083:2023",
            "framework": "GLEC Framework",
            "scope": "well-to-wheel",
            "allocation": "mass between orders; rounds per item (untracked) or by t·km (tracked)",
            "distance": "great-circle distance × road factor (shortest feasible distance stand-in)",
        },
        "orderFootprints": [
            {
                "orderId": o.order_id,
                "createdAt": o.created_at.isoformat(),
                "channel": o.channel,
                "customer": o.customer_email,
                **{k: v for k, v in fp.as_dict(detail=False).items() if k != "method"},
            }
            for o, fp in rows
        ],
        "shipmentFootprints": shipments,
        "factors": [f for f in factor_rows if f["key"] in used],
    }


def _tce(tce_id: str, element: Any, ratio: float) -> dict[str, Any]:
    """One transport chain element in the iLEAP shape: a leg (TOC), a hub visit (HOC) or a
    round share."""
    ttw = element.ttw_kg
    out: dict[str, Any] = {
        "tceId": tce_id,
        "co2eWTW": {"value": round(element.kg * ratio, 5), "unit": "kg"},
        "co2eTTW": {"value": round(ttw * ratio, 5) if ttw is not None else None, "unit": "kg"},
        "dataQuality": element.factor.quality.value,
    }
    key = element.factor.key
    if hasattr(element, "distance_km"):
        return {
            **out,
            "type": "transport",
            "mode": key.split(".")[0].capitalize(),
            "transportOperationCategory": key,
            "mass": {"value": round(element.mass_kg, 3), "unit": "kg"},
            "distance": {"value": round(element.distance_km, 1), "unit": "km", "dataSource": "Simulated"},
            "transportActivity": {"value": round(element.tkm, 5), "unit": "tkm"},
        }
    if hasattr(element, "mass_kg"):
        return {
            **out,
            "type": "hub",
            "hubOperationCategory": key,
            "mass": {"value": round(element.mass_kg, 3), "unit": "kg"},
        }
    return {**out, "type": "round", "mode": "Road", "roundCategory": key, "itemShare": element.share}
