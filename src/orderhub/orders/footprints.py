"""Carbon footprints of orders: one order in detail, a period in bulk, and the figures the
console charts and the disclosure exports are made of."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from orderhub.carbon import service as carbon
from orderhub.core.clock import as_utc, utcnow
from orderhub.inventory import service as inventory
from orderhub.orders import store
from orderhub.orders.model import Order
from orderhub.orders.service import get, get_stock
from orderhub.platform.db import unit_of_work

#: Weight assumed for a SKU missing from the item master (and said so in the footprint).
UNKNOWN_WEIGHT_G = 500


def get_footprint(engine: Engine, *, order_id: str) -> carbon.OrderFootprint:
    """The order's carbon footprint: one parcel per node that holds or ships its lines (the
    nearest shipping node when none does yet), products and packaging by SKU or category."""
    order = get(engine, order_id=order_id).order
    items = inventory.get_items(engine, skus=[line.sku for line in order.lines])
    nodes = {n.id: n for n in inventory.get_all_nodes(engine)}
    return _footprint(engine, order, get_stock(engine, order_id=order_id)["holds"], items, nodes)


def get_footprints(
    engine: Engine, *, start: datetime, end: datetime, customer: str | None = None, limit: int = 20000
) -> list[tuple[Order, carbon.OrderFootprint]]:
    """Footprints of the orders created in a period (for reports and exports), computed in bulk."""
    with unit_of_work(engine, write=False) as conn:
        batch = store.orders_between(conn, start=as_utc(start), end=as_utc(end), customer=customer, limit=limit)
    items = {i.sku: i for i in inventory.get_all_items(engine)}
    nodes = {n.id: n for n in inventory.get_all_nodes(engine)}
    holds = inventory.get_holds(engine, order_ids=[o.id for o in batch])
    return [(o, _footprint(engine, o, holds.get(o.id, []), items, nodes)) for o in batch]


def _footprint(
    engine: Engine, order: Order, holds_: list[dict[str, Any]], items: dict[str, Any], nodes: dict[str, Any]
) -> carbon.OrderFootprint:
    line_of = {line.id: line for line in order.lines}
    by_node: dict[str, dict[str, int]] = {}
    for h in holds_:
        if h["status"] in ("active", "allocated", "fulfilled") and h["node_id"] in nodes:
            by_node.setdefault(h["node_id"], {}).setdefault(h["line_id"], 0)
            by_node[h["node_id"]][h["line_id"]] += h["quantity"]
    a = order.shipping_address
    destination = (a.lat, a.lon) if a.lat is not None and a.lon is not None else None
    in_store = order.delivery_method.value == "in_store"
    missing: list[str] = []
    if not by_node and destination and not in_store:
        shipping = [n for n in nodes.values() if n.can(inventory.Capability.ships)]
        if shipping:
            near = min(shipping, key=lambda n: carbon.great_circle_km(n.lat, n.lon, *destination))
            by_node[near.id] = {line.id: line.open_quantity for line in order.lines if line.open_quantity}
            missing.append(f"origin estimated: nearest shipping node {near.id} (the order holds no stock)")
    if destination is None and not in_store:
        missing.append("no coordinates for the shipping address: transport not counted")

    def item_qty(sku: str, qty: int) -> carbon.ItemQty:
        item = items.get(sku)
        if item is None:
            missing.append(f"item master has no {sku}: {UNKNOWN_WEIGHT_G} g assumed")
            return carbon.ItemQty(sku, "unknown", UNKNOWN_WEIGHT_G, qty)
        return carbon.ItemQty(sku, item.category, item.weight_g, qty)

    specs = []
    if destination is not None and not in_store:
        for node_id, lines in sorted(by_node.items()):
            node = nodes[node_id]
            parcel = [item_qty(line_of[lid].sku, qty) for lid, qty in lines.items() if lid in line_of]
            specs.append(
                carbon.ShipmentSpec(
                    origin=node_id, origin_at=(node.lat, node.lon), destination=destination, items=parcel
                )
            )
    products = [item_qty(line.sku, line.open_quantity) for line in order.lines if line.open_quantity]
    result = carbon.order_footprint(engine, shipments=specs, items=products)
    result.missing = sorted(set(result.missing + missing))
    return result


def carbon_dashboard(engine: Engine, *, days: int = 30) -> dict[str, Any]:
    """kg CO2e of the orders of the last ``days``: per day (transport / products / packaging),
    per channel, per shipping node, per transport operation category and per product category."""
    end = utcnow()
    start = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = get_footprints(engine, start=start, end=end)
    items = {i.sku: i.category for i in inventory.get_all_items(engine)}
    per_day: dict[str, list[float]] = {
        (start + timedelta(days=i)).date().isoformat(): [0.0, 0.0, 0.0] for i in range(days)
    }
    by: dict[str, dict[str, float]] = {k: defaultdict(float) for k in ("channel", "node", "mode", "category")}
    quality: dict[str, int] = defaultdict(int)
    for order, fp in rows:
        day = per_day.setdefault(order.created_at.date().isoformat(), [0.0, 0.0, 0.0])
        f = fp.footprint
        day[0] += f.by("transport")
        day[1] += f.by("product")
        day[2] += f.by("packaging")
        by["channel"][order.channel] += f.kg
        for origin, sf, share in fp.shipments:
            by["node"][origin] += share
            total = sf.kg or 1.0
            for leg in sf.legs:
                by["mode"][leg.factor.key] += share * leg.kg / total
        for part in f.parts:
            if part.what.startswith("product:"):
                by["category"][items.get(part.what.removeprefix("product:"), "unknown")] += part.kg
        quality[min((p.quality for p in f.parts), key=lambda q: q.rank, default=carbon.DataQuality.default).value] += 1
    return {
        "orders": len(rows),
        "kg_total": sum(fp.footprint.kg for _, fp in rows),
        "per_day": [(d, v) for d, v in sorted(per_day.items())],
        "by": {k: dict(sorted(v.items(), key=lambda kv: -kv[1])) for k, v in by.items()},
        "quality": dict(quality),
    }


def ileap_document(
    engine: Engine, rows: list[tuple[Order, carbon.OrderFootprint]], *, start: datetime, end: datetime
) -> dict[str, Any]:
    """A disclosure close to the iLEAP data model (PACT extension for logistics emissions):
    shipment footprints made of transport chain elements, plus order totals, method, factors."""
    used: set[str] = set()
    shipments = []
    for order, fp in rows:
        for origin, sf, share in fp.shipments:
            ratio = share / sf.kg if sf.kg else 0.0
            tces = []
            for i, leg in enumerate(sf.legs):
                used.add(leg.factor.key)
                tces.append(
                    {
                        "tceId": f"{order.id}/{origin}/{i}",
                        "mode": leg.factor.key.split(".")[0].capitalize(),
                        "transportOperationCategory": leg.factor.key,
                        "mass": {"value": round(leg.mass_kg, 3), "unit": "kg"},
                        "distance": {"value": round(leg.distance_km, 1), "unit": "km", "dataSource": "Simulated"},
                        "transportActivity": {"value": round(leg.tkm, 5), "unit": "tkm"},
                        "co2eWTW": {"value": round(leg.kg * ratio, 5), "unit": "kg"},
                        "co2eTTW": {
                            "value": round((leg.ttw_kg or 0.0) * ratio, 5) if leg.ttw_kg is not None else None,
                            "unit": "kg",
                        },
                        "dataQuality": leg.factor.quality.value,
                    }
                )
            shipments.append({"shipmentId": f"{order.id}/{origin}", "orderId": order.id, "tces": tces})
        for p in fp.footprint.parts:
            if not p.what.startswith("transport"):
                used.add(p.detail.rsplit("(", 1)[-1].rstrip(")"))
    factors = [f for f in carbon.factor_rows(engine) if f["key"] in used]
    return {
        "specVersion": "orderhub-ileap-0.1",
        "period": {"from": as_utc(start).isoformat(), "to": as_utc(end).isoformat()},
        "method": {
            "standard": "EN ISO 14083:2023",
            "framework": "GLEC Framework",
            "scope": "well-to-wheel",
            "allocation": "mass",
            "distance": "great-circle distance × road factor (shortest feasible distance stand-in)",
        },
        "orderFootprints": [
            {
                "orderId": o.id,
                "createdAt": o.created_at.isoformat(),
                "channel": o.channel,
                "customer": o.customer.email,
                **{k: v for k, v in fp.as_dict(detail=False).items() if k != "method"},
            }
            for o, fp in rows
        ],
        "shipmentFootprints": shipments,
        "factors": factors,
    }
