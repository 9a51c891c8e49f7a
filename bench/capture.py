"""bench/capture: orders captured per second through the HTTP API, on SQLite and PostgreSQL,
next to raw SQL doing the same writes (one transaction per order) in the same run.

    python -m bench.capture [--orders 3000] [--concurrency 16] [--backends sqlite,postgres]

The API side is ``orderhub serve`` in its own process, loaded by an asyncio client on the
other core: each order is a canonical 3-line paid order with a unique external reference, for
SKUs no node stocks (so it is captured and backordered; ``bench/inventory`` S1 measures
capture with stock holds). The raw side writes the very same rows with the bare DB-API driver
from as many threads: customer upsert, order, 3 lines, the stock look-up (locking on
PostgreSQL), 3 backorder rows and 4 outbox events. It also counts the SQL statements one
capture issues.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bench.common import Databases, percentile, process_cpu_seconds, server
from orderhub.core.ids import new_id

ADMIN_KEY = "bench-admin-key"
SKUS = [f"SKU-{i:04d}" for i in range(300)]


def make_order(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "channel": "web",
        "external_ref": f"B-{i}-{uuid.uuid4().hex[:8]}",
        "currency": "EUR",
        "customer": {"email": f"c{rng.randrange(500)}@bench.example", "name": "Bench Customer"},
        "shipping_address": {
            "line1": "Hauptstraße 1",
            "city": "Kassel",
            "postal_code": "34117",
            "country": "DE",
            "lat": 51.31,
            "lon": 9.49,
        },
        "lines": [
            {"sku": sku, "quantity": rng.randint(1, 3), "unit_price": f"{rng.randint(100, 9999) / 100:.2f}"}
            for sku in rng.sample(SKUS, 3)
        ],
        "shipping_total": "4.95",
        "payment_status": "paid",
    }


# -- the API side ---------------------------------------------------------------------------
async def drive_api(url: str, orders: list[dict[str, Any]], concurrency: int) -> tuple[float, list[float]]:
    """POST every order with ``concurrency`` clients on keep-alive connections. The load
    generator is aiohttp: httpx's async client spends ~3 ms of CPU per request here, which made
    earlier runs measure the client rather than the server."""
    latencies: list[float] = []
    pending = iter(orders)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with aiohttp.ClientSession(
        base_url=url, headers=headers, connector=aiohttp.TCPConnector(limit=concurrency)
    ) as client:

        async def worker() -> None:
            for body in pending:
                t0 = time.perf_counter()
                async with client.post("/api/v1/orders", json=body) as r:
                    text = await r.text()
                latencies.append(time.perf_counter() - t0)
                if r.status != 201:
                    raise RuntimeError(f"capture failed: {r.status} {text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


def run_api(
    database_url: str, orders: list[dict[str, Any]], warmup: list[dict[str, Any]], concurrency: int
) -> dict[str, float]:
    with server(database_url, admin_key=ADMIN_KEY) as (url, pid):
        asyncio.run(drive_api(url, warmup, concurrency))
        cpu0 = process_cpu_seconds(pid)
        elapsed, lat = asyncio.run(drive_api(url, orders, concurrency))
        cpu = process_cpu_seconds(pid) - cpu0
    return {
        "rate": len(orders) / elapsed,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "cpu_ms": cpu / len(orders) * 1000,
    }


# -- the raw SQL side -----------------------------------------------------------------------
ORDER_COLS = (
    "id, channel, external_ref, status, payment_status, delivery_method, pickup_node_id, currency, customer_id, "
    "customer_email, customer_tier, customer, shipping_address, billing_address, subtotal_minor, shipping_minor, "
    "discount_minor, tax_minor, total_minor, priority, notes, tags, held_from, search_text, created_at, updated_at, version"
)


def raw_rows(
    o: dict[str, Any], customer_id: str
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    now = datetime.now(UTC).replace(tzinfo=None)
    oid = new_id("ord")
    lines = [
        (new_id("ol"), oid, i, li["sku"], "", "", li["quantity"], round(float(li["unit_price"]) * 100))
        for i, li in enumerate(o["lines"])
    ]
    subtotal = sum(line[6] * line[7] for line in lines)
    customer = json.dumps(
        {
            "id": customer_id,
            "email": o["customer"]["email"],
            "name": o["customer"]["name"],
            "tier": "standard",
            "external_id": "",
            "phone": "",
        }
    )
    order = (
        oid,
        "web",
        o["external_ref"],
        "paid",
        "paid",
        "ship",
        "",
        "EUR",
        customer_id,
        o["customer"]["email"],
        "standard",
        customer,
        json.dumps(o["shipping_address"]),
        None,
        subtotal,
        495,
        0,
        0,
        subtotal + 495,
        0,
        "",
        "[]",
        None,
        f"{oid} {o['external_ref']} {o['customer']['email']}",
        now,
        now,
        1,
    )
    types = ("order.captured", "order.status_changed", "order.stock_reserved", "order.backordered")
    outbox = [(new_id("evt"), "order", oid, t, "user:bench", json.dumps({"n": 1}), now) for t in types]
    backorders = [(new_id("bo"), oid, line[0], line[3], line[6], "waiting", "web", now) for line in lines]
    return order, lines, backorders, outbox


def raw_sqlite_worker(path: str, orders: list[dict[str, Any]]) -> None:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    for o in orders:
        conn.execute("BEGIN IMMEDIATE")
        cid = conn.execute(
            "INSERT INTO customers (id, email, name, tier, external_id, phone, created_at) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT (email) DO UPDATE SET name = excluded.name RETURNING id",
            (
                new_id("cus"),
                o["customer"]["email"],
                o["customer"]["name"],
                "standard",
                "",
                "",
                datetime.now(UTC).replace(tzinfo=None),
            ),
        ).fetchone()[0]
        order, lines, backorders, outbox = raw_rows(o, cid)
        conn.execute(f"INSERT INTO orders ({ORDER_COLS}) VALUES ({','.join('?' * 27)})", order)
        conn.executemany(
            "INSERT INTO order_lines (id, order_id, position, sku, name, external_line_id, quantity, unit_price_minor) VALUES (?,?,?,?,?,?,?,?)",
            lines,
        )
        skus = [li["sku"] for li in o["lines"]]
        conn.execute(
            "SELECT * FROM stock_positions WHERE sku IN (?,?,?) AND on_hand - reserved - allocated - safety_stock > 0 ORDER BY node_id, sku",
            skus,
        ).fetchall()
        conn.executemany(
            "INSERT INTO backorders (id, order_id, line_id, sku, quantity, status, channel, created_at) VALUES (?,?,?,?,?,?,?,?)",
            backorders,
        )
        conn.executemany(
            "INSERT INTO outbox (id, aggregate_type, aggregate_id, type, actor, payload, occurred_at) VALUES (?,?,?,?,?,?,?)",
            outbox,
        )
        conn.execute("COMMIT")
    conn.close()


def raw_pg_worker(url: str, orders: list[dict[str, Any]]) -> None:
    import psycopg

    u = sa.engine.make_url(url)
    with psycopg.connect(dbname=u.database, user=u.username, host=u.query.get("host"), port=u.port) as conn:
        for o in orders:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO customers (id, email, name, tier, external_id, phone, created_at) VALUES (%s,%s,%s,%s,%s,%s,now()) "
                    "ON CONFLICT (email) DO UPDATE SET name = excluded.name RETURNING id",
                    (new_id("cus"), o["customer"]["email"], o["customer"]["name"], "standard", "", ""),
                )
                cid = cur.fetchone()[0]  # type: ignore[index]
                order, lines, backorders, outbox = raw_rows(o, cid)
                now = datetime.now(UTC)
                order = (*order[:24], now, now, 1)
                cur.execute(f"INSERT INTO orders ({ORDER_COLS}) VALUES ({','.join(['%s'] * 27)})", order)
                cur.executemany(
                    "INSERT INTO order_lines (id, order_id, position, sku, name, external_line_id, quantity, unit_price_minor) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                    lines,
                )
                cur.execute(
                    "SELECT * FROM stock_positions WHERE sku = ANY(%s) AND on_hand - reserved - allocated - safety_stock > 0 "
                    "ORDER BY node_id, sku FOR UPDATE",
                    ([li["sku"] for li in o["lines"]],),
                )
                cur.fetchall()
                cur.executemany(
                    "INSERT INTO backorders (id, order_id, line_id, sku, quantity, status, channel, created_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                    [(*b[:7], now) for b in backorders],
                )
                cur.executemany(
                    "INSERT INTO outbox (id, aggregate_type, aggregate_id, type, actor, payload, occurred_at) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                    [(*e[:6], now) for e in outbox],
                )


def run_raw(database_url: str, orders: list[dict[str, Any]], concurrency: int) -> dict[str, float]:
    if database_url.startswith("sqlite"):
        target, worker = database_url.removeprefix("sqlite:///"), raw_sqlite_worker
    else:
        target, worker = database_url, raw_pg_worker
    chunks = [orders[i::concurrency] for i in range(concurrency)]
    threads = [threading.Thread(target=worker, args=(target, chunk)) for chunk in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rate": len(orders) / (time.perf_counter() - start)}


# -- statements per order -------------------------------------------------------------------
def count_statements(database_url: str, orders: list[dict[str, Any]]) -> tuple[float, float]:
    """SQL statements per capture (service call), and per ``POST /api/v1/orders`` request."""
    from fastapi.testclient import TestClient

    from orderhub.app import create_app
    from orderhub.orders import capture
    from orderhub.platform.db import create_db_engine
    from orderhub.platform.settings import Settings
    from orderhub.wiring import wire

    wire()  # as the app does: the capture counted includes the hooks other contexts register
    engine = create_db_engine(database_url)
    counter = {"n": 0}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        counter["n"] += 1

    half = len(orders) // 2
    for o in orders[:half]:
        capture.receive(engine, adapter="canonical", body=json.dumps(o).encode(), actor="bench")
    per_capture = counter["n"] / half
    app = create_app(Settings(bootstrap_admin_key=ADMIN_KEY), engine=engine)
    with TestClient(app) as client:
        client.post("/api/v1/orders", json=orders[half], headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        counter["n"] = 0
        for o in orders[half + 1 :]:
            client.post("/api/v1/orders", json=o, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        per_request = counter["n"] / (len(orders) - half - 1)
    engine.dispose()
    return per_capture, per_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    rng = random.Random(1)
    workdir = Path(tempfile.mkdtemp(prefix="orderhub-bench-"))
    dbs = Databases(workdir)
    print(f"bench/capture: {args.orders} orders of 3 lines, concurrency {args.concurrency}, {workdir}")
    print(
        f"{'backend':10} {'API orders/s':>13} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/order':>13} {'raw SQL orders/s':>17} {'ratio':>7} {'stmts/capture':>14} {'stmts/request':>14}"
    )
    for backend in args.backends.split(","):
        make_db = dbs.sqlite if backend == "sqlite" else dbs.postgres
        warmup = [make_order(i, rng) for i in range(200)]
        orders = [make_order(i, rng) for i in range(args.orders)]
        raw = run_raw(make_db(), [make_order(i, rng) for i in range(args.orders)], args.concurrency)
        api = run_api(make_db(), orders, warmup, args.concurrency)
        per_capture, per_request = count_statements(make_db(), [make_order(i, rng) for i in range(100)])
        print(
            f"{backend:10} {api['rate']:13.0f} {api['p50_ms']:8.1f} {api['p99_ms']:8.1f} {api['cpu_ms']:13.2f} "
            f"{raw['rate']:17.0f} {api['rate'] / raw['rate']:7.2f} {per_capture:14.1f} {per_request:14.1f}"
        )


if __name__ == "__main__":
    main()
