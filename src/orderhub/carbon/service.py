"""Carbon use cases: the factor database, shipment and order footprints, carbon's projection
of orders (kept current by a hook inside every order change), greener delivery options."""

from __future__ import annotations

import hashlib
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.carbon import factors as tables
from orderhub.carbon import footprints, store
from orderhub.carbon import options as options_mod
from orderhub.carbon.factors import PARCEL, FactorSet, region_of
from orderhub.carbon.footprints import UNKNOWN_WEIGHT_G, ItemQty, OrderFootprint, ShipmentSpec
from orderhub.carbon.model import (
    DataQuality,
    Factor,
    FactorKind,
    Footprint,
    Hub,
    Leg,
    OrderFacts,
    RoundShare,
    ShipmentFootprint,
    great_circle_km,
)
from orderhub.carbon.network import Areas, Origin, ParcelModel, ParcelNetwork
from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.inventory import service as inventory
from orderhub.platform.db import unit_of_work

__all__ = [
    "PARCEL",
    "UNKNOWN_WEIGHT_G",
    "DataQuality",
    "Factor",
    "FactorKind",
    "FactorSet",
    "Footprint",
    "Hub",
    "ItemQty",
    "Leg",
    "OrderFacts",
    "OrderFootprint",
    "Origin",
    "ParcelModel",
    "ParcelNetwork",
    "ShipmentFootprint",
    "ShipmentSpec",
    "get_factor_set",
    "great_circle_km",
    "load_factors",
    "order_footprint",
    "region_of",
]

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
    invalidate(engine)
    return len(rows)


def invalidate(engine: Engine) -> None:
    """Forget the cached factor set after a table changed."""
    _cache.pop(engine, None)


def factor_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every factor known, with its provenance, for the console and the API; ``current`` marks
    the one the choice rule uses for its key, region and carrier (an older edition is not)."""
    fs = get_factor_set(engine)
    chosen = {
        id(fs.get(f.kind, f.key, carrier=f.carrier, region=f.region)) for f in fs.rows if f.region not in ("", "global")
    } | {id(fs.get(f.kind, f.key, carrier=f.carrier)) for f in fs.rows}
    return [{**f.as_dict(), "unit": f.unit, "wtt": f.wtt, "current": id(f) in chosen} for f in fs.rows]


def order_footprint(
    engine: Engine, *, shipments: list[ShipmentSpec], items: list[ItemQty], road_factor: float | None = None
) -> OrderFootprint:
    """An order's footprint: its shipments (allocated by mass), its products and packaging,
    itemised with the data quality of each part; what had no factor is listed as missing."""
    return footprints.calculate(get_factor_set(engine), shipments=shipments, items=items, road_factor=road_factor)


# -- carbon's projection of orders, and the footprints of orders ------------------------------
#: How carbon reads the parcels shipped with tracking (order id → its parcels' ``carrier``,
#: ``service`` and ``lines``) on a connection: tracking's reader, plugged in by ``wiring``
#: (carbon does not import tracking). Unplugged: carriers unknown, the default rounds apply.
ShippedReader = Callable[[Any, list[str]], dict[str, list[dict[str, Any]]]]
_shipped: list[ShippedReader] = []


def read_shipped_parcels_with(reader: ShippedReader | None) -> None:
    """Plug in (or with None, unplug) the reader of shipped parcels: an order's parcel then
    takes the round figure its carrier recorded for the service that carried it."""
    _shipped.clear()
    if reader is not None:
        _shipped.append(reader)


def shipped_parcels(conn: Any, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    return _shipped[0](conn, order_ids) if _shipped and order_ids else {}


#: The last node set's ``Areas``, by the identity of its node objects (held here, so no id is
#: reused while cached): capture asks per order, on the node objects inventory keeps cached.
_areas: list[tuple[tuple[int, ...], list[Any], Areas]] = []


def areas_of(nodes: Any) -> Areas:
    """Urban or rural for delivery addresses, from the network's nodes (``network.Areas``)."""
    nodes = list(nodes)
    key = tuple(map(id, nodes))
    cached = _areas[0] if _areas else None
    if cached is not None and cached[0] == key:
        return cached[2]
    built = Areas.of_nodes(nodes)
    _areas[:] = [(key, nodes, built)]
    return built


def area_on(conn: Any, destination: tuple[float, float] | None) -> str:
    """The round type (``urban`` / ``rural``) of a delivery address, on the caller's connection."""
    return areas_of(inventory.nodes_by_id(conn).values())(destination)


def record_order(conn: Connection, facts: dict[str, Any]) -> None:
    """Keep carbon's row of an order current, in the order change's own transaction (one
    statement; a second marks its day's roll-up out of date when the order is from a past
    day). ``facts`` is what the order hands its hooks (``Order.as_facts``)."""
    order = OrderFacts.from_facts(facts)
    store.upsert_orders(conn, [order])
    day = as_utc(order.created_at).date()
    if day < utcnow().date():
        store.touch_days(conn, [day.isoformat()])


def record_orders(engine: Engine, facts: list[dict[str, Any]]) -> int:
    """Bulk path for orders written without an order change (imported history): their rows,
    inserted or replaced in one transaction, their days' roll-ups marked out of date.
    Idempotent. Returns how many."""
    rows = [OrderFacts.from_facts(f) for f in facts]
    with unit_of_work(engine) as conn:
        store.upsert_orders(conn, rows)
        store.touch_days(conn, [as_utc(o.created_at).date().isoformat() for o in rows])
    return len(rows)


def get_order_footprint(engine: Engine, *, order_id: str) -> OrderFootprint:
    """The order's carbon footprint: one parcel per node that holds or ships its lines (the
    nearest shipping node when none does yet) through the parcel network, the shares of real
    rounds recorded for its items instead of the default round share, products and packaging
    by SKU or category. 404 ``order_not_found`` if carbon has no such order."""
    with unit_of_work(engine, write=False) as conn:
        order = store.get_order(conn, order_id)
        recorded = recorded_shares(conn, [order_id])
        shipped = shipped_parcels(conn, [order_id])
    if order is None:
        raise NotFound(f"no order {order_id}", code="order_not_found", order_id=order_id)
    items = inventory.get_items(engine, skus=[line.sku for line in order.lines])
    nodes = {n.id: n for n in inventory.get_all_nodes(engine)}
    holds = inventory.get_holds(engine, order_ids=[order_id]).get(order_id, [])
    return footprints.of_order(
        get_factor_set(engine), order, holds, items, nodes, recorded.get(order_id), carried=shipped.get(order_id)
    )


def get_footprints(
    engine: Engine, *, start: datetime, end: datetime, customer: str | None = None, limit: int | None = 20000
) -> list[tuple[OrderFacts, OrderFootprint]]:
    """Footprints of the orders created in a period (for reports and exports), computed in bulk
    (at most ``limit`` orders, oldest first; None: all)."""
    with unit_of_work(engine, write=False) as conn:
        batch = store.orders_between(conn, start=as_utc(start), end=as_utc(end), customer=customer, limit=limit)
        recorded = recorded_shares(conn, [o.order_id for o in batch])
        shipped = shipped_parcels(conn, [o.order_id for o in batch])
    items = {i.sku: i for i in inventory.get_all_items(engine)}
    nodes = {n.id: n for n in inventory.get_all_nodes(engine)}
    holds = inventory.get_holds(engine, order_ids=[o.order_id for o in batch])
    fs = get_factor_set(engine)
    nearest, areas = footprints.NearestShipping(nodes), areas_of(nodes.values())
    return [
        (
            o,
            footprints.of_order(
                fs,
                o,
                holds.get(o.order_id, []),
                items,
                nodes,
                recorded.get(o.order_id),
                nearest=nearest,
                areas=areas,
                carried=shipped.get(o.order_id),
            ),
        )
        for o in batch
    ]


def recorded_shares(conn: Any, order_ids: list[str]) -> dict[str, dict[str, list[RoundShare]]]:
    """What recorded rounds allocated to each order's items, by round kind, as round shares
    a footprint uses instead of the default."""
    out: dict[str, dict[str, list[RoundShare]]] = {}
    for r in store.round_shares_of(conn, order_ids):
        f = Factor(
            FactorKind.round,
            f"round:{r['round_id']}",
            r["kg"],
            f"recorded round {r['round_id']} ({r['carrier'] or 'own'}, allocated by {r['method']})",
            r["recorded_at"].date().isoformat(),
            quality=DataQuality(r["quality"]),
            ttw=r["ttw_kg"],
            carrier=r["carrier"],
        )
        out.setdefault(r["order_id"], {}).setdefault(r["kind"], []).append(RoundShare(f))
    return out


def get_dashboard(engine: Engine, *, days: int = 30) -> dict[str, Any]:
    """kg CO2e of the orders of the last ``days`` (up to two years): per day (transport /
    products / packaging), per channel, per shipping node, per transport chain element and per
    product category. Past days come from their roll-ups (rebuilt first where an order of the
    day changed or the factors did); today is counted live."""
    days = max(1, min(days, MAX_DASHBOARD_DAYS))
    end = utcnow()
    start = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    today = end.replace(hour=0, minute=0, second=0, microsecond=0)
    period = [(start + timedelta(days=i)).date().isoformat() for i in range(days)]
    past = [d for d in period if d < today.date().isoformat()]
    refresh_rollups(engine, days=past)
    with unit_of_work(engine, write=False) as conn:
        totals = store.totals_between(conn, period[0], past[-1]) if past else {}
    categories = {i.sku: i.category for i in inventory.get_all_items(engine)}
    live = get_footprints(engine, start=today, end=end + timedelta(seconds=1), limit=None)
    totals.update(footprints.day_totals(live, categories=categories))
    return footprints.dashboard_from_totals(totals, start=start, days=days)


#: The longest period the console's carbon page shows.
MAX_DASHBOARD_DAYS = 730
#: Days rebuilt per transaction when roll-ups are out of date.
ROLLUP_CHUNK_DAYS = 31


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def footprint_inputs(items: list[Any], nodes: list[Any]) -> dict[str, str]:
    """What footprints read besides orders and factors, a fingerprint per item (category,
    weight, own figure) and per node (type, place, whether it ships)."""
    out = {f"item:{i.sku}": _fingerprint(i.category, i.weight_g, i.co2e_kg_per_unit) for i in items}
    out.update(
        {f"node:{n.id}": _fingerprint(n.type.value, n.lat, n.lon, n.can(inventory.Capability.ships)) for n in nodes}
    )
    return out


def mark_changed_inputs(engine: Engine) -> int:
    """Mark out of date the past days whose footprints an item or node change touched: an
    item's category, weight or own figure → the days with an order of that SKU; a node's type
    or place (or a node added or gone: the urban areas and nearest nodes move) → every day;
    nothing recorded yet → every day. Returns how many days were marked."""
    now = footprint_inputs(inventory.get_all_items(engine), inventory.get_all_nodes(engine))
    with unit_of_work(engine, write=False) as conn:
        if store.input_fingerprints(conn) == now:
            return 0
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    with unit_of_work(engine) as conn:
        before = store.input_fingerprints(conn)
        changed = {k: v for k, v in now.items() if before.get(k) != v}
        gone = [k for k in before if k not in now]
        moved = [k for k in [*changed, *gone] if not k.startswith("item:")]
        if not before or moved:
            touched = set(store.rolled_up_days(conn))
        else:
            skus = {k.removeprefix("item:") for k in [*changed, *gone]}
            touched = store.days_with_skus(conn, skus, before=today) if skus else set()
        store.touch_days(conn, sorted(touched))
        store.save_input_fingerprints(conn, changed, gone)
    return len(touched)


def refresh_rollups(engine: Engine, *, days: list[str]) -> int:
    """Rebuild the roll-ups of the given past days that are out of date (an order of the day
    changed since, or the factor set did, or an item or node it read: ``mark_changed_inputs``),
    a month per transaction. Returns how many days."""
    if not days:
        return 0
    mark_changed_inputs(engine)
    fs = get_factor_set(engine)
    with unit_of_work(engine, write=False) as conn:
        states = store.day_states(conn, min(days), max(days))
    stale = sorted(d for d in days if d not in states or states[d][1] != states[d][0] or states[d][2] != fs.version)
    if not stale:
        return 0
    categories = {i.sku: i.category for i in inventory.get_all_items(engine)}
    for i in range(0, len(stale), ROLLUP_CHUNK_DAYS):
        chunk = stale[i : i + ROLLUP_CHUNK_DAYS]
        with unit_of_work(engine, write=False) as conn:  # generations first: a later change stays stale
            generations = {d: states.get(d, (0, None, ""))[0] for d in chunk}
            generations.update({d: g for d, (g, _, _) in store.day_states(conn, chunk[0], chunk[-1]).items()})
        first = datetime.fromisoformat(chunk[0]).replace(tzinfo=UTC)
        last = datetime.fromisoformat(chunk[-1]).replace(tzinfo=UTC) + timedelta(days=1)
        rows = get_footprints(engine, start=first, end=last, limit=None)
        totals = footprints.day_totals(
            [(o, fp) for o, fp in rows if o.created_at.date().isoformat() in generations], categories=categories
        )
        with unit_of_work(engine) as conn:
            store.save_day_totals(conn, totals, generations, version=fs.version, at=utcnow())
    return len(stale)


def get_disclosure(engine: Engine, *, start: datetime, end: datetime, customer: str | None = None) -> dict[str, Any]:
    """The period's footprints as an iLEAP-style document (shipment footprints made of
    transport chain elements, order totals, method, the factors used)."""
    rows = get_footprints(engine, start=start, end=end, customer=customer)
    return footprints.ileap_document(rows, factor_rows=factor_rows(engine), start=as_utc(start), end=as_utc(end))


# -- delivery options, choices and points -----------------------------------------------------
#: The currency of the item master's prices.
CATALOGUE_CURRENCY = "EUR"
#: The delivery fees in force per currency: the shipped table with ``ORDERHUB_DELIVERY_FEES``
#: applied over it (``set_delivery_fees``, from wiring at start-up).
_fees: dict[str, tuple[Decimal, Decimal]] = dict(options_mod.FEES)


def set_delivery_fees(text: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Apply ``CUR:fee/free-from`` entries over the shipped fee table (``""``: the shipped
    table). Raises ``ValueError`` on a malformed entry, changing nothing."""
    parsed = options_mod.parse_fees(text)
    _fees.clear()
    _fees.update(options_mod.FEES)
    _fees.update(parsed)
    return dict(_fees)


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
    currency: str = CATALOGUE_CURRENCY,
    subtotal: Decimal | None = None,
    country: str = "",
) -> list[options_mod.Option]:
    """Standard, consolidated and wait-for-the-run options for a basket, priced in its
    ``currency``, dated and with kg CO2e each (the parcel network every figure uses), from live
    ATP (the channel's buffer applied). ``subtotal`` is the basket's value in that currency;
    without it the item master's prices count when the currency is the catalogue's."""
    items = inventory.get_items(engine, skus=[line.sku for line in lines])
    every = inventory.get_all_nodes(engine)
    nodes = {n.id: n for n in every if n.can(inventory.Capability.ships)}
    atp: dict[str, dict[str, int]] = {node_id: {} for node_id in nodes}
    for line in lines:
        for n in inventory.get_atp(engine, sku=line.sku, channel=channel)["nodes"]:
            if n.node_id in atp:
                atp[n.node_id][line.sku] = n.atp
    fs = get_factor_set(engine)
    stocked = [
        options_mod.Stocked(nid, nodes[nid].lat, nodes[nid].lon, atp[nid], origin=fs.origin(nid, nodes[nid].type.value))
        for nid in sorted(nodes)
    ]
    basket = [
        options_mod.BasketLine(line.sku, line.quantity, inventory.shipping_weight_g(items, line.sku)) for line in lines
    ]
    if subtotal is None:
        subtotal = (
            sum(
                (Decimal(items[x.sku].price_minor) / 100 * x.quantity for x in lines if x.sku in items),
                Decimal(0),
            )
            if currency == CATALOGUE_CURRENCY
            else Decimal(0)
        )
    per_parcel = fs.get(FactorKind.packaging, PARCEL)
    result = options_mod.build_options(
        fs.network(region_of(country), area=areas_of(every)(destination)),
        stocked,
        basket,
        destination,
        today=today or utcnow().date(),
        subtotal=subtotal,
        parcel_kg=per_parcel.value if per_parcel else 0.0,
        currency=currency,
        fees=_fees,
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
