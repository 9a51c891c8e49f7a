"""bench/inventory: order placement with stock holds (S1), a flash sale on one SKU (S3) and
bulk stock ingestion, each next to raw SQL doing the same writes in the same run.

    python -m bench.inventory [--orders 3000] [--clients 4,8,16,32] [--rounds 2] [--workers 2] [--only s1,s3,ingest]

S1  capture + hold of 3-line orders through ``POST /api/v1/orders`` at each client count of the
    sweep; the figure is taken with as many clients as the server has request handlers (every
    handler busy; more clients only queue). Baseline: psycopg doing the same rows in one transaction per order: customer upsert,
    order, 3 lines, 3 outbox events, positions locked, one guarded update, 3 holds, 3 ledger
    rows. Also counts the SQL statements one capture issues.
S3  64 clients buy one unit each of one SKU with 1,000 in stock (orders that cannot be served
    are refused); exactly 1,000 must sell. Baseline: 64 threads running the bare guarded
    ``UPDATE … SET reserved = reserved + 1 WHERE free >= 1`` until it matches no row.
INGEST  position updates/s through ``POST /api/v1/inventory/positions`` (batches of 10,000
    changed rows) vs a raw ``INSERT … ON CONFLICT DO UPDATE`` of the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa

from bench.capture import ADMIN_KEY, drive_api
from bench.common import Databases, percentile, process_cpu_seconds, server
from orderhub.core.ids import new_id
from orderhub.platform.settings import Settings

SKUS = [f"SKU-{i:04d}" for i in range(300)]
DCS = [("DC-N", 53.49, 10.13, "HH"), ("DC-C", 50.87, 9.71, "HE"), ("DC-S", 49.41, 11.04, "BY")]
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}


def stock_world(url: str, *, skus: list[str], on_hand: int) -> None:
    """Three DCs with ``on_hand`` of every SKU, loaded through the API like a WMS would."""
    for node_id, lat, lon, region in DCS:
        r = httpx.post(
            f"{url}/api/v1/nodes",
            json={
                "id": node_id,
                "name": node_id,
                "type": "distribution_centre",
                "lat": lat,
                "lon": lon,
                "region": region,
            },
            headers=HEADERS,
        )
        r.raise_for_status()
    rows = [{"node_id": n[0], "sku": s, "on_hand": on_hand} for n in DCS for s in skus]
    if not rows:
        return
    httpx.post(
        f"{url}/api/v1/inventory/positions",
        json={"source": "bench", "sequence": 1, "rows": rows},
        headers=HEADERS,
        timeout=120,
    ).raise_for_status()


def s1_order(rng: random.Random) -> dict[str, Any]:
    return {
        "external_ref": f"S1-{uuid.uuid4().hex[:12]}",
        "currency": "EUR",
        "customer": {"email": f"c{rng.randrange(500)}@bench.example", "name": "Bench"},
        "shipping_address": {
            "city": "Kassel",
            "country": "DE",
            "lat": 51.31 + rng.uniform(-2, 2),
            "lon": 9.49 + rng.uniform(-2, 2),
        },
        "lines": [{"sku": s, "quantity": rng.randint(1, 3), "unit_price": "9.99"} for s in rng.sample(SKUS, 3)],
        "payment_status": "paid",
    }


# -- raw SQL: the same writes as a capture with holds -----------------------------------------
def raw_capture_pg(conn: Any, o: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO customers (id, email, name, tier, external_id, phone, created_at) VALUES (%s,%s,%s,'standard','','',%s) "
            "ON CONFLICT (email) DO UPDATE SET name = excluded.name RETURNING id",
            (new_id("cus"), o["customer"]["email"], "Bench", now),
        )
        cid = cur.fetchone()[0]
        oid = new_id("ord")
        cur.execute(
            "INSERT INTO orders (id, channel, external_ref, status, payment_status, delivery_method, pickup_node_id, currency, "
            "customer_id, customer_email, customer_tier, customer, shipping_address, subtotal_minor, shipping_minor, "
            "discount_minor, tax_minor, total_minor, priority, notes, tags, search_text, created_at, updated_at, version) "
            "VALUES (%s,'web',%s,'paid','paid','ship','','EUR',%s,%s,'standard',%s,%s,100,0,0,0,100,0,'','[]',%s,%s,%s,1)",
            (
                oid,
                o["external_ref"],
                cid,
                o["customer"]["email"],
                json.dumps(o["customer"]),
                json.dumps(o["shipping_address"]),
                oid,
                now,
                now,
            ),
        )
        lines = [(new_id("ol"), oid, i, li["sku"], li["quantity"], 999) for i, li in enumerate(o["lines"])]
        cur.executemany(
            "INSERT INTO order_lines (id, order_id, position, sku, name, external_line_id, quantity, unit_price_minor) VALUES (%s,%s,%s,%s,'','',%s,%s)",
            lines,
        )
        skus = sorted(li["sku"] for li in o["lines"])
        cur.execute(
            "SELECT node_id, sku, on_hand - reserved - allocated - safety_stock FROM stock_positions "
            "WHERE sku = ANY(%s) AND on_hand - reserved - allocated - safety_stock > 0 ORDER BY node_id, sku FOR UPDATE",
            (skus,),
        )
        free = {(n, s): a for n, s, a in cur.fetchall()}
        moves = []
        for li in o["lines"]:
            node = next(n for (n, s), a in sorted(free.items()) if s == li["sku"] and a >= li["quantity"])
            moves.append((node, li["sku"], li["quantity"]))
        values = ", ".join(["(%s, %s, %s::int)"] * len(moves))
        cur.execute(
            "UPDATE stock_positions p SET reserved = p.reserved + v.q FROM (VALUES " + values + ") v(n, s, q) "
            "WHERE p.node_id = v.n AND p.sku = v.s AND p.on_hand - p.reserved - p.allocated - p.safety_stock >= v.q "
            "RETURNING p.node_id, p.sku, p.on_hand, p.reserved, p.allocated",
            [x for m in moves for x in m],
        )
        after = {(r[0], r[1]): r for r in cur.fetchall()}
        cur.executemany(
            "INSERT INTO reservations (id, order_id, line_id, sku, node_id, quantity, status, channel, created_at) "
            "VALUES (%s,%s,%s,%s,%s,%s,'active','web',%s)",
            [(new_id("res"), oid, lines[i][0], m[1], m[0], m[2], now) for i, m in enumerate(moves)],
        )
        cur.executemany(
            "INSERT INTO inventory_ledger (node_id, sku, reason, d_on_hand, d_reserved, d_allocated, on_hand_after, "
            "reserved_after, allocated_after, source, reference, at) VALUES (%s,%s,'reserved',0,%s,0,%s,%s,%s,%s,%s,%s)",
            [(m[0], m[1], m[2], *after[(m[0], m[1])][2:], f"order:{oid}", oid, now) for m in moves],
        )
        cur.executemany(
            "INSERT INTO outbox (id, aggregate_type, aggregate_id, type, actor, payload, occurred_at) VALUES (%s,'order',%s,%s,'bench',%s,%s)",
            [
                (new_id("evt"), oid, t, json.dumps({"n": 1}), now)
                for t in ("order.captured", "order.status_changed", "order.stock_reserved")
            ],
        )


def pg_connect(url: str) -> Any:
    import psycopg

    u = sa.engine.make_url(url)
    return psycopg.connect(dbname=u.database, user=u.username, host=u.query.get("host"), port=u.port)


def run_raw(url: str, orders: list[dict[str, Any]], concurrency: int) -> float:
    chunks = [orders[i::concurrency] for i in range(concurrency)]

    def work(chunk: list[dict[str, Any]]) -> None:
        with pg_connect(url) as conn:
            for o in chunk:
                raw_capture_pg(conn, o)

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(orders) / (time.perf_counter() - start)


def seed_raw_world(url: str, *, skus: list[str], on_hand: int) -> None:
    with pg_connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO stock_positions (node_id, sku, on_hand) VALUES (%s, %s, %s)",
            [(n[0], s, on_hand) for n in DCS for s in skus],
        )


def s1(dbs: Databases, n: int, sweep: list[int], workers: int, rounds: int = 2) -> None:
    """Drive the API and the raw script at each client count. The server runs ``workers`` ×
    ``worker_threads`` request handlers at once: with that many clients every handler is always
    busy (saturated by construction), and more clients only queue in front of them (Little's
    law) — the sweep shows the rate staying flat while latency grows. The figure reported is
    taken at that client count, fixed before the run, next to the best raw rate of the sweep;
    each count's figures pool ``rounds`` interleaved rounds."""
    at = workers * Settings().worker_threads
    sweep = sorted(set(sweep) | {at})
    rng = random.Random(1)
    raw_url = dbs.postgres()
    seed_raw_world(raw_url, skus=SKUS, on_hand=10**6)
    raw = {c: run_raw(raw_url, [s1_order(rng) for _ in range(n)], c) for c in sweep}
    spent = {c: [0.0, 0.0] for c in sweep}  # elapsed, CPU seconds
    lats: dict[int, list[float]] = {c: [] for c in sweep}
    with server(dbs.postgres(), admin_key=ADMIN_KEY, workers=workers) as (url, pid):
        stock_world(url, skus=SKUS, on_hand=10**6)
        asyncio.run(drive_api(url, [s1_order(rng) for _ in range(200)], max(sweep)))
        for _ in range(rounds):
            for c in sweep:
                cpu0 = process_cpu_seconds(pid)
                elapsed, lat = asyncio.run(drive_api(url, [s1_order(rng) for _ in range(n)], c))
                spent[c][0] += elapsed
                spent[c][1] += process_cpu_seconds(pid) - cpu0
                lats[c] += lat
    per_point = n * rounds
    api = {c: (per_point / spent[c][0], lats[c], spent[c][1]) for c in sweep}
    stmts = count_statements(dbs.postgres(), [s1_order(rng) for _ in range(60)])
    for c in sweep:
        rate, lat, cpu = api[c]
        print(
            f"  {c:3d} clients: API {rate:.0f} orders/s, p50 {percentile(lat, 50) * 1000:.1f} ms, "
            f"p99 {percentile(lat, 99) * 1000:.1f} ms, CPU {cpu / per_point * 1000:.2f} ms/order | raw SQL {raw[c]:.0f} orders/s"
        )
    rate, lat, cpu = api[at]
    raw_best = max(raw.values())
    print(
        f"S1 order placement (PostgreSQL, 3 lines, {workers} API process(es), {at} clients = every handler busy): "
        f"{rate:.0f} orders/s, p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms "
        f"(goal < 100), CPU {cpu / per_point * 1000:.2f} ms/order, {stmts:.1f} SQL statements/order (goal ≤ 8) | "
        f"raw SQL best {raw_best:.0f} orders/s | ratio {rate / raw_best:.2f} (goal ≥ 0.3)"
    )


def count_statements(url: str, orders: list[dict[str, Any]]) -> float:
    from orderhub.inventory import service as inventory
    from orderhub.orders import capture
    from orderhub.platform.db import create_db_engine
    from orderhub.wiring import wire

    wire()  # as the app does: the capture counted includes the hooks other contexts register
    engine = create_db_engine(url)
    inventory.save_nodes(
        engine,
        nodes=[
            inventory.Node(
                id=n,
                name=n,
                type=inventory.NodeType.distribution_centre,
                lat=lat,
                lon=lon,
                region=r,
                capabilities=[inventory.Capability.ships],
            )
            for n, lat, lon, r in DCS
        ],
    )
    inventory.ingest(
        engine,
        source="bench",
        sequence=1,
        mode="snapshot",
        rows=[inventory.StockRow(n[0], s, on_hand=10**6) for n in DCS for s in SKUS],
    )
    capture.receive(engine, adapter="canonical", body=json.dumps(orders[0]).encode(), actor="bench")  # warm caches
    counter = {"n": 0}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        counter["n"] += 1

    for o in orders[1:]:
        capture.receive(engine, adapter="canonical", body=json.dumps(o).encode(), actor="bench")
    engine.dispose()
    return counter["n"] / (len(orders) - 1)


# -- S3 flash sale ----------------------------------------------------------------------------
async def until_sold_out(
    url: str, clients: int, attempts: int, request: Callable[[int], tuple[str, dict[str, Any]]]
) -> tuple[float, list[int], int, list[float]]:
    """``clients`` shoppers each post ``request(i)`` for i = 0, 1, … until their first 409.
    Returns the elapsed time, the i that got 201, the refusals and the latencies."""
    bought: list[int] = []
    refused = 0
    lat: list[float] = []
    counter = iter(range(attempts))
    async with aiohttp.ClientSession(
        base_url=url, headers=HEADERS, connector=aiohttp.TCPConnector(limit=clients)
    ) as client:

        async def shopper() -> None:
            nonlocal refused
            for i in counter:
                path, body = request(i)
                t0 = time.perf_counter()
                async with client.post(path, json=body) as r:
                    text = await r.text()
                lat.append(time.perf_counter() - t0)
                if r.status == 201:
                    bought.append(i)
                elif r.status == 409:
                    refused += 1
                    return
                else:
                    raise RuntimeError(f"{r.status} {text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(shopper() for _ in range(clients)))
        return time.perf_counter() - start, bought, refused, lat


def flash_order(ref: str, sku: str, cart_id: str | None = None) -> dict[str, Any]:
    return {
        "external_ref": ref,
        "currency": "EUR",
        "customer": {"email": f"{ref.lower()}@x.de"},
        "shipping_address": {"lat": 50.9, "lon": 9.7},
        "payment_status": "paid",
        "on_shortage": "reject",
        "cart_id": cart_id,
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "49.00"}],
    }


def raw_hot_row(url: str, stock: int, clients: int) -> tuple[int, float]:
    """64 threads running the bare guarded UPDATE, one transaction each, until it matches no row."""
    with pg_connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO stock_positions (node_id, sku, on_hand) VALUES ('DC-C', 'HOT', %s)", (stock,))
    sold = [0]
    lock = threading.Lock()

    def buyer() -> None:
        with pg_connect(url) as conn:
            while True:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(
                        "UPDATE stock_positions SET reserved = reserved + 1 WHERE node_id = 'DC-C' AND sku = 'HOT' "
                        "AND on_hand - reserved - allocated - safety_stock >= 1"
                    )
                    if cur.rowcount != 1:
                        return
                with lock:
                    sold[0] += 1

    threads = [threading.Thread(target=buyer) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sold[0], sold[0] / (time.perf_counter() - t0)


def s3(dbs: Databases, stock: int = 1000, clients: int = 64, workers: int = 1) -> None:
    sold_raw, raw_rate = raw_hot_row(dbs.postgres(), stock, clients)
    with server(dbs.postgres(), admin_key=ADMIN_KEY, workers=workers) as (url, _pid):
        stock_world(url, skus=["HOT", "HOT-DIRECT"], on_hand=0)
        for sku in ("HOT", "HOT-DIRECT"):
            httpx.put(f"{url}/api/v1/inventory/DC-C/{sku}", json={"on_hand": stock}, headers=HEADERS).raise_for_status()
        elapsed, held, refused, lat = asyncio.run(
            until_sold_out(url, clients, stock * 3, lambda i: (f"/api/v1/carts/cart-{i}/holds", {"sku": "HOT"}))
        )
        carts = [f"cart-{i}" for i in held]
        # checkout: every cart that got a unit places its order, which takes the hold over
        orders = [flash_order(f"C-{c}", "HOT", cart_id=c) for c in carts]
        checkout_s, _ = asyncio.run(drive_api(url, orders, 16))
        atp = httpx.get(f"{url}/api/v1/atp", params={"sku": "HOT"}, headers=HEADERS).json()["total"]
        direct_s, direct, _, direct_lat = asyncio.run(
            until_sold_out(url, clients, stock * 3, lambda i: ("/api/v1/orders", flash_order(f"F-{i}", "HOT-DIRECT")))
        )
        direct_sold = len(direct)
        check = httpx.get(f"{url}/api/v1/inventory-ledger-check", headers=HEADERS).json()["differences"]
    rate = len(carts) / elapsed
    print(
        f"S3 flash sale (PostgreSQL, {clients} clients, stock {stock}, {workers} API process(es)): "
        f"cart holds {len(carts)} (raw {sold_raw}), refused {refused}, {rate:.0f} holds/s, "
        f"p99 {percentile(lat, 99) * 1000:.0f} ms; {len(orders)} orders took their holds over at "
        f"{len(orders) / checkout_s:.0f} orders/s; ATP after {atp}, ledger differences {len(check)} | "
        f"raw hot-row UPDATE {raw_rate:.0f}/s | ratio {rate / raw_rate:.2f} (goal ≥ 0.6) | "
        f"without the hold lane (POST /orders straight at the hot SKU): {direct_sold / direct_s:.0f} orders/s, "
        f"p99 {percentile(direct_lat, 99) * 1000:.0f} ms"
    )
    if len(carts) != stock or sold_raw != stock or direct_sold != stock or atp != 0 or check:
        raise SystemExit("S3 FAILED: oversold, undersold or ledger out of step")


# -- bulk ingestion ---------------------------------------------------------------------------
def ingest_rows(n_skus: int, value: int) -> list[dict[str, Any]]:
    return [{"node_id": n[0], "sku": f"ING-{i:06d}", "on_hand": value + (i % 7)} for n in DCS for i in range(n_skus)]


def ingest(dbs: Databases, n_skus: int = 20000, batch: int = 10000) -> None:
    rows1, rows2 = ingest_rows(n_skus, 100), ingest_rows(n_skus, 200)
    raw_url = dbs.postgres()
    upsert = (
        "INSERT INTO stock_positions (node_id, sku, on_hand, last_source, last_seq, reported_at) VALUES (%s,%s,%s,'raw',%s,now()) "
        "ON CONFLICT (node_id, sku) DO UPDATE SET on_hand = excluded.on_hand, last_seq = excluded.last_seq, reported_at = excluded.reported_at"
    )
    with pg_connect(raw_url) as conn:
        for seq, rows in ((1, rows1), (2, rows2)):
            t0 = time.perf_counter()
            for i in range(0, len(rows), batch):
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(upsert, [(r["node_id"], r["sku"], r["on_hand"], seq) for r in rows[i : i + batch]])
            raw_elapsed = time.perf_counter() - t0
    raw_rate = len(rows2) / raw_elapsed
    with server(dbs.postgres(), admin_key=ADMIN_KEY) as (url, _pid), httpx.Client(headers=HEADERS, timeout=300) as http:
        stock_world(url, skus=[], on_hand=0)
        for seq, rows in ((1, rows1), (2, rows2)):
            # the WMS has its report ready (as the raw side has its rows): encoding is not timed
            bodies = [
                json.dumps({"source": "wms", "sequence": seq * 1000 + i // batch, "rows": rows[i : i + batch]}).encode()
                for i in range(0, len(rows), batch)
            ]
            t0 = time.perf_counter()
            for body in bodies:
                r = http.post(
                    f"{url}/api/v1/inventory/positions", content=body, headers={"Content-Type": "application/json"}
                )
                r.raise_for_status()
            api_elapsed = time.perf_counter() - t0
        check = httpx.get(f"{url}/api/v1/inventory-ledger-check", headers=HEADERS, timeout=120).json()["differences"]
    rate = len(rows2) / api_elapsed
    print(
        f"INGEST bulk position updates (PostgreSQL, batches of {batch}): {rate:.0f} updates/s with ledger rows "
        f"(ledger differences {len(check)}) | raw INSERT … ON CONFLICT {raw_rate:.0f}/s | ratio {rate / raw_rate:.2f} "
        f"(goal ≥ 0.5 and ≥ 20,000/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--clients", default="4,8,16,32", help="S1 client counts to sweep")
    parser.add_argument("--rounds", type=int, default=2, help="S1 sweeps, interleaved and pooled")
    parser.add_argument("--only", default="s1,s3,ingest")
    parser.add_argument("--workers", type=int, default=2, help="API processes (orderhub serve --workers)")
    args = parser.parse_args()
    dbs = Databases(Path(tempfile.mkdtemp(prefix="orderhub-bench-")))
    parts = args.only.split(",")
    if "s1" in parts:
        s1(dbs, args.orders, [int(c) for c in args.clients.split(",")], args.workers, args.rounds)
    if "s3" in parts:
        s3(dbs, workers=args.workers)
    if "ingest" in parts:
        ingest(dbs)


if __name__ == "__main__":
    main()
