"""The demo world: a German omnichannel retailer with three DCs, twenty stores, 300 SKUs,
thousands of customers and two years of daily orders across five channels.

Deterministic for a given seed (ids included), so forecasts, screenshots and simulations on the
demo are reproducible. Seasonality: weekly per channel (stores shut on Sunday), yearly per
category (apparel peaks in autumn, outdoor in summer, gifts in December), growth of ~20 % a
year, and promotion spikes (Black Friday, Cyber Monday, Singles' Day live sale, spring and
summer sales).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from orderhub.carbon import service as carbon
from orderhub.core.errors import InvalidInput
from orderhub.core.events import DomainEvent
from orderhub.core.geo import GeoPoint
from orderhub.core.ids import new_id
from orderhub.demo import world
from orderhub.demo.lifecycle import walk_to
from orderhub.forecast import service as forecast
from orderhub.inventory import adjustments
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from orderhub.orders import service as orders
from orderhub.orders.canonical import OrderCreate
from orderhub.platform.auth import service as auth
from orderhub.platform.auth.model import Principal
from orderhub.rules import service as rules
from orderhub.rules import templates as rules_templates
from orderhub.wiring import wire

DEMO_ADMIN_KEY = "demo-admin-key"
BASE_ORDERS_PER_DAY = 40
BATCH = 4000


def _ids(rng: random.Random, prefix: str, *, when: datetime) -> str:
    return new_id(prefix, millis=int(when.timestamp() * 1000), rand=rng.getrandbits(80))


@dataclass(frozen=True, slots=True)
class Customer:
    email: str
    name: str
    tier: str
    city: str
    region: str
    lat: float
    lon: float


def build_nodes() -> list[inventory.Node]:
    nodes = [
        inventory.Node(
            id=i,
            name=n,
            type=inventory.NodeType.distribution_centre,
            lat=lat,
            lon=lon,
            region=r,
            city=c,
            capabilities=[inventory.Capability.ships, inventory.Capability.returns],
            daily_capacity=cap,
        )
        for i, n, c, r, lat, lon, cap in world.DCS
    ]
    by_city = {c[0]: c for c in world.CITIES}
    for city in world.STORE_CITIES:
        _, region, lat, lon, pop = by_city[city]
        nodes.append(
            inventory.Node(
                id=store_id(city),
                name=f"Store {city}",
                type=inventory.NodeType.store,
                lat=lat + 0.004,
                lon=lon - 0.006,
                region=region,
                city=city,
                capabilities=list(inventory.Capability),
                daily_capacity=60 + pop // 40,
            )
        )
    return nodes


def store_id(city: str) -> str:
    """``ST-MUENCH`` for München: the city's first six letters, umlauts spelt out."""
    slug = city.upper().replace("Ü", "UE").replace("Ö", "OE").replace("Ä", "AE").replace("ß", "SS")
    return "ST-" + "".join(ch for ch in slug if ch.isalpha())[:6]


def build_items(rng: random.Random) -> list[inventory.Item]:
    items = []
    for category, (share, (wmin, wmax), (pmin, pmax), margin, _, names) in world.CATEGORIES.items():
        count = max(10, round(300 * share))
        for n in range(count):
            base = names[n % len(names)]
            variant = world.VARIANTS[(n // len(names)) % len(world.VARIANTS)]
            price = round(math.exp(rng.uniform(math.log(pmin), math.log(pmax))), 0) - 0.01
            items.append(
                inventory.Item(
                    sku=f"{category[:3].upper()}-{n + 1:03d}",
                    name=f"{base} {variant}",
                    category=category,
                    weight_g=int(rng.uniform(wmin, wmax)),
                    price_minor=round(price * 100),
                    cost_minor=round(price * 100 * (1 - margin * rng.uniform(0.8, 1.2))),
                )
            )
    return items


def build_customers(rng: random.Random, count: int) -> list[Customer]:
    weights = [c[4] for c in world.CITIES]
    out = []
    for i in range(count):
        city, region, lat, lon, _ = rng.choices(world.CITIES, weights)[0]
        first, last = rng.choice(world.FIRST_NAMES), rng.choice(world.LAST_NAMES)
        tier = rng.choices(["standard", "silver", "gold", "vip"], [75, 15, 7, 3])[0]
        out.append(
            Customer(
                email=f"{first}.{last}.{i}@example.de".lower().replace("ü", "ue").replace("ö", "oe"),
                name=f"{first} {last}",
                tier=tier,
                city=city,
                region=region,
                lat=round(lat + rng.gauss(0, 0.04), 5),
                lon=round(lon + rng.gauss(0, 0.06), 5),
            )
        )
    return out


def black_friday(year: int) -> date:
    nov1 = date(year, 11, 1)
    first_friday = nov1 + timedelta(days=(4 - nov1.weekday()) % 7)
    return first_friday + timedelta(weeks=3)


def day_factor(day: date, channel: str, start: date) -> float:
    """Expected orders of a channel on a day relative to the base rate."""
    years = (day - start).days / 365.0
    growth = 1.0 + 0.2 * years
    doy = day.timetuple().tm_yday
    yearly = 1.0 + 0.22 * math.cos(2 * math.pi * (doy - 355) / 365.0)
    if day.month == 12 and day.day <= 22:
        yearly *= 1.35
    promo = 1.0
    bf = black_friday(day.year)
    if day == bf:
        promo = 4.0
    elif day == bf + timedelta(days=3):
        promo = 3.0 if channel != "pos" else 1.0
    elif bf - timedelta(days=4) <= day < bf:
        promo = 1.4
    for month, dom, _name, mult, channels in world.PROMOTIONS:
        if (day.month, day.day) == (month, dom) and (channels is None or channel in channels):
            promo *= mult
    return growth * yearly * world.WEEKDAY[channel][day.weekday()] * promo


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Generator:
    """Makes canonical orders for the demo world, day by day."""

    def __init__(
        self, rng: random.Random, items: list[inventory.Item], customers: list[Customer], nodes: list[inventory.Node]
    ):
        self.rng = rng
        self.items_by_cat: dict[str, list[inventory.Item]] = {}
        for item in items:
            self.items_by_cat.setdefault(item.category, []).append(item)
        self.customers = customers
        self.stores = [n for n in nodes if n.type == inventory.NodeType.store]
        self.dcs = [n for n in nodes if n.type == inventory.NodeType.distribution_centre]
        self.seq = 100000

    def pick_items(self, day: date, n: int) -> list[inventory.Item]:
        cats = list(world.CATEGORIES)
        weights = [
            world.CATEGORIES[c][0] * (1 + 0.5 * math.cos(2 * math.pi * (day.month - world.CATEGORIES[c][4]) / 12))
            for c in cats
        ]
        chosen = []
        for _ in range(n):
            pool = self.items_by_cat[self.rng.choices(cats, weights)[0]]
            rank = min(int(self.rng.paretovariate(1.1)) - 1, len(pool) - 1)  # Zipf-like popularity
            chosen.append(pool[rank])
        return list({i.sku: i for i in chosen}.values())

    def nearest(self, nodes: list[inventory.Node], lat: float, lon: float) -> inventory.Node:
        here = GeoPoint(lat, lon)
        return min(nodes, key=lambda n: here.distance_km(GeoPoint(n.lat, n.lon)))

    def order(self, day: date, channel: str) -> tuple[OrderCreate, str]:
        rng = self.rng
        self.seq += 1
        hour = rng.choices(
            range(24), [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 6, 7, 8, 9, 9, 8, 5, 3]
        )[0]
        placed = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=UTC)
        cust = rng.choice(self.customers)
        n_lines = rng.choices([1, 2, 3, 4], [55, 28, 12, 5])[0]
        picked = [(i, rng.choices([1, 2, 3, 4], [72, 19, 6, 3])[0]) for i in self.pick_items(day, n_lines)]
        lines = [
            {"sku": i.sku, "name": i.name, "quantity": q, "unit_price": f"{i.price_minor / 100:.2f}"} for i, q in picked
        ]
        subtotal = sum(i.price_minor * q for i, q in picked) / 100
        doc: dict[str, Any] = {
            "channel": channel,
            "external_ref": f"{channel[:2].upper()}-{self.seq}",
            "currency": "EUR",
            "placed_at": placed.isoformat(),
            "customer": {"email": cust.email, "name": cust.name, "tier": cust.tier},
            "shipping_address": {
                "name": cust.name,
                "line1": f"Hauptstraße {self.seq % 180 + 1}",
                "city": cust.city,
                "region": cust.region,
                "country": "DE",
                "postal_code": f"{10000 + self.seq % 89999}",
                "lat": cust.lat,
                "lon": cust.lon,
            },
            "lines": lines,
            "shipping_total": "0.00" if subtotal >= 50 else "4.95",
            "payment_status": "paid" if rng.random() < 0.9 else "pending",
            "tags": [],
        }
        node = self.nearest(self.dcs, cust.lat, cust.lon).id
        if channel == "pos":
            store = self.nearest(self.stores, cust.lat, cust.lon)
            doc.update(payment_status="paid", shipping_total="0.00", tags=[f"store:{store.id}"])
            mode = rng.choices(["in_store", "pickup", "ship"], [85, 5, 10])[0]
            doc["delivery_method"] = mode
            if mode != "ship":
                doc["pickup_node_id"] = store.id
            node = store.id if mode != "ship" else node
        elif channel == "social":
            doc["tags"] = ["platform:livestream" if rng.random() < 0.6 else "platform:mini_program"]
        if subtotal > 400:
            doc["tags"].append("high_value")
        return OrderCreate.model_validate(doc), node


#: The bulk-loaded history stops this many days before today: every order in it is closed.
#: Open orders (paid, allocated, released, on their way) come from the simulator, which puts
#: them through the hub for real — captured, sourced, held, released, tracked.
HISTORY_ENDS_DAYS_AGO = 3


def final_status(rng: random.Random, age_days: float) -> str:
    """Where a bulk-loaded order stands: closed, as orders of that age are."""
    return rng.choices(["delivered", "cancelled", "refunded", "returned"], [93, 3, 3, 1])[0]


def seed_stock(engine: Engine, rng: random.Random, nodes: list[inventory.Node], items: list[inventory.Item]) -> str:
    """Stock as the WMS and store systems report it, some purchase orders on the way, and the
    channel policies: marketplaces see 90 % of ATP, livestream orders hold stock 15 minutes."""
    rows = []
    for item in items:
        rank = int(item.sku[-3:])
        for node in nodes:
            if node.type == inventory.NodeType.distribution_centre:
                rows.append(
                    inventory.StockRow(node.id, item.sku, on_hand=rng.randint(0, 600 // rank + 40), safety_stock=5)
                )
            elif rng.random() < 0.6:
                rows.append(
                    inventory.StockRow(node.id, item.sku, on_hand=rng.randint(0, 30 // rank + 6), safety_stock=1)
                )
    inventory.ingest(engine, source="demo-wms", sequence=1, mode="snapshot", rows=rows)
    now = datetime.now(UTC)
    dcs = [n.id for n in nodes if n.type == inventory.NodeType.distribution_centre]
    for item in rng.sample(items, 40):
        adjustments.add_supply(
            engine,
            node_id=rng.choice(dcs),
            sku=item.sku,
            quantity=rng.choice([50, 100, 200]),
            expected_at=now + timedelta(days=rng.randint(1, 21)),
            reference=f"PO-{rng.randint(10000, 99999)}",
        )
    for channel in ("shopify", "woocommerce"):
        inventory.set_policy(engine, channel=channel, reservation_ttl_s=3600, buffer_pct=10)
    inventory.set_policy(engine, channel="web", reservation_ttl_s=30 * 60, buffer_pct=0)
    inventory.set_policy(engine, channel="social", reservation_ttl_s=15 * 60, buffer_pct=0)
    return f"stock: {len(rows)} positions reported, 40 purchase orders on the way, channel policies set"


#: Product factors for the demo world, from published, cited tables (``data/product_factors.csv``:
#: ADEME Impact CO2, Agribalyse, Boavizta, Poore & Nemecek). A demo product takes the closest item
#: of the table by its name; else its category takes the median item of the source's items of that
#: kind. Categories no cited table covers (kitchen, beauty, home, outdoor, toys; most gadgets) get
#: no factor: their footprints list the product factor as missing rather than make one up. No
#: packaging or hub figures are loaded: rounds and hubs come with the shipped GLEC defaults.
PRODUCT_TABLE = Path(__file__).parent / "data" / "product_factors.csv"
PRODUCT_PROXIES = {
    "Rain jacket": "ademe:coat",
    "Down vest": "ademe:coat",
    "Merino shirt": "ademe:sweater-wool",
    "Chino": "ademe:jeans",
    "Trail shoe": "ademe:shoes-sport",
    "Running shoe": "ademe:shoes-sport",
    "Sneaker": "ademe:shoes-fabric",
    "Hiking boot": "ademe:shoes-leather",
    "E-reader": "ademe:tablet",
}
#: the median of the source's items of the kind: ADEME's seven garments (5.2 … 85.8 kg) and
#: three kinds of shoes (13.4 … 18.7 kg)
CATEGORY_PROXIES = {"apparel": "ademe:shirt-cotton", "footwear": "ademe:shoes-fabric"}


def demo_factors(items: list[inventory.Item]) -> str:
    """The demo's product factor table (CSV) for these items, every row citing its source."""
    table = {r["ref"]: r for r in csv.DictReader(PRODUCT_TABLE.read_text().splitlines())}

    def row(key: str, ref: str, why: str) -> list[str]:
        t = table[ref]
        return ["product", key, t["kg_co2e"], t["source"], t["edition"], "default", f"{why}: {t['item']} ({ref})"]

    rows = [row(f"category:{cat}", ref, "category median item") for cat, ref in sorted(CATEGORY_PROXIES.items())]
    for item in items:
        ref = PRODUCT_PROXIES.get(item.name.rsplit(" ", 1)[0])
        if ref is not None:
            rows.append(row(f"sku:{item.sku}", ref, "closest item"))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["kind", "key", "value", "source", "edition", "quality", "note"])
    w.writerows(rows)
    return out.getvalue()


SAMPLES = Path(__file__).parent / "samples"
SAMPLE_ADAPTERS = {
    "shopify_order": "shopify",
    "woocommerce_order": "woocommerce",
    "pos_sale": "pos",
    "social_order": "social",
}


def capture_samples(engine: Engine) -> str:
    """Send one real payload per channel through capture, and two broken ones that land in the
    dead-letter list, so the console shows every path."""
    captured = 0
    for name, adapter in SAMPLE_ADAPTERS.items():
        body = (SAMPLES / f"{name}.json").read_bytes()
        captured += capture.receive(engine, adapter=adapter, body=body, actor=f"channel:{adapter}").created
    broken = json.loads((SAMPLES / "shopify_order.json").read_text())
    broken["id"] += 1
    broken["line_items"][1]["sku"] = ""
    woo = json.loads((SAMPLES / "woocommerce_order.json").read_text())
    woo["id"] += 1
    woo["currency"] = "EU"
    letters = 0
    for adapter, payload in (("shopify", broken), ("woocommerce", woo)):
        try:
            capture.receive(
                engine, adapter=adapter, body=json.dumps(payload, indent=2).encode(), actor=f"channel:{adapter}"
            )
        except InvalidInput:
            letters += 1
    return f"live channel samples: {captured} captured, {letters} dead letters to replay"


def import_history(engine: Engine, batch: list[Any]) -> int:
    """Past orders in bulk: the order tables (no order change runs, so no hook does), then
    carbon's projection of them and forecast's daily demand (the import publishes no events,
    so neither would hear of them from the bus)."""
    n = orders.import_history(engine, orders=batch, actor="demo:history")
    carbon.record_orders(engine, [order.as_facts() for order in batch])
    forecast.record_orders(
        engine,
        [
            DomainEvent(
                type=change.type,
                aggregate_type="order",
                aggregate_id=order.id,
                data=change.data,
                occurred_at=order.created_at,
            )
            for order in batch
            for change in order.changes
            if forecast.DEMAND.handles(change.type)
        ],
    )
    return n


#: templates the demo publishes (written by the editor, published by the publisher) and the one
#: it leaves in review (an approval flow would hold the simulator's orders for a person)
DEMO_RULES = ("capture-checks", "exception-tags", "picking-priority", "sourcing-policy")
DEMO_RULES_IN_REVIEW = ("regional-approval",)


def seed_rules(engine: Engine, *, author: Principal, publisher: Principal) -> None:
    """Rule sets from the template library, as business users would start."""
    for key in (*DEMO_RULES, *DEMO_RULES_IN_REVIEW):
        template = rules_templates.get(key)
        created = rules.create(
            engine, who=author, name=template["name"], template=key, why="demo: from the template library"
        )
        rules.submit(engine, who=author, set_id=created["id"], number=1, why="ready for review")
        if key in DEMO_RULES:
            rules.publish(engine, who=publisher, set_id=created["id"], number=1, why="reviewed for the demo")


def seed(
    engine: Engine,
    *,
    days: int = 730,
    seed: int = 7,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Load the demo world once (a second call finds it and does nothing). ``progress`` hears
    each step and, every 30 days of history, how far the orders have got."""
    say = progress or (lambda _: None)
    wire()
    if any(u["email"] == "admin@demo.orderhub" for u in auth.list_users(engine)):
        return "demo data already loaded"
    rng = random.Random(seed)
    admin = auth.create_user(engine, email="admin@demo.orderhub", name="Ada Admin", role="admin", password="demo")
    auth.create_api_key(engine, user_id=admin.user_id, name="demo", key=DEMO_ADMIN_KEY)
    people = {
        role: auth.create_user(engine, email=f"{role}@demo.orderhub", name=role.title(), role=role, password="demo")
        for role in ("operator", "editor", "publisher", "viewer")
    }
    say("demo: users, rules, nodes, items and customers …")
    seed_rules(engine, author=people["editor"], publisher=people["publisher"])
    nodes = build_nodes()
    items = build_items(rng)
    inventory.save_nodes(engine, nodes=nodes)
    inventory.save_items(engine, items=items)
    customers = build_customers(rng, 6000)
    start_ts = datetime(2020, 1, 1, tzinfo=UTC)
    orders.import_customers(
        engine,
        customers=[
            {
                "id": _ids(rng, "cus", when=start_ts),
                "email": c.email,
                "name": c.name,
                "tier": c.tier,
                "external_id": "",
                "phone": "",
                "created_at": start_ts,
            }
            for c in customers
        ],
    )
    gen = Generator(rng, items, customers, nodes)
    today = today or datetime.now(UTC).date()
    start = today - timedelta(days=days)
    now = datetime.now(UTC)
    batch: list[Any] = []
    total = 0
    for offset in range(days + 1):
        day = start + timedelta(days=offset)
        if offset % 30 == 0:
            say(f"demo: order history {offset}/{days} days, {total + len(batch):,} orders")
        for channel, share in world.CHANNELS.items():
            for _ in range(poisson(rng, BASE_ORDERS_PER_DAY * share * day_factor(day, channel, start))):
                data, node = gen.order(day, channel)
                if data.placed_at and data.placed_at > now - timedelta(days=HISTORY_ENDS_DAYS_AGO):
                    continue
                order = capture.build_order(data)
                order.id = _ids(rng, "ord", when=order.created_at)
                for line in order.lines:
                    line.id = _ids(rng, "ol", when=order.created_at)
                capture.start_lifecycle(order)
                if order.status.value != "delivered":
                    age = (now - order.created_at).total_seconds() / 86400
                    walk_to(order, final_status(rng, age), node=node, new_id=partial(_ids, rng, when=order.created_at))
                batch.append(order)
                if len(batch) >= BATCH:
                    total += import_history(engine, batch)
                    batch = []
    if batch:
        total += import_history(engine, batch)
    say(f"demo: order history done ({total:,} orders); stock, carbon factors, channel samples …")
    stocked = seed_stock(engine, rng, nodes, items)
    carbon.load_factors(engine, text=demo_factors(items), fmt="csv", actor="demo")
    live = capture_samples(engine)
    past = [(start + timedelta(days=i)).isoformat() for i in range(days + 1)]
    say("demo: carbon roll-ups …")
    carbon.refresh_rollups(engine, days=[d for d in past if d < datetime.now(UTC).date().isoformat()])
    return (
        f"{live}\n{stocked}\ndemo loaded: {len(nodes)} nodes ({len(world.DCS)} DCs, {len(world.STORE_CITIES)} stores), "
        f"{len(items)} SKUs, {len(customers)} customers, {total} orders over {days} days"
    )
