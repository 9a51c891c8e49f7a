"""bench/tracking: from an inbound carrier event to the customer — how fast, and how many.

    python -m bench.tracking [--orders 60] [--seconds 15] [--only latency,ingest]

Everything runs on PostgreSQL with ``orderhub serve`` in its own process (the relay and the
subscribers in it), orders captured, allocated, released and shipped through the API first.

LATENCY  Signed EasyPost ``tracker.updated`` webhooks, one event each, at a steady rate of half
         the measured maximum; for each, the time from sending it to (a) the customer view
         holding it — the webhook's answer: the timeline is written before the 202, and a GET
         of the customer view after it is checked on a sample — and (b) its arrival on an open
         tracking page (``/track/{token}/live``, server-sent events; one open page per order).
         p50 / p99 with the embedded bus and with NATS JetStream. Baseline in the same run: a
         bare nats-py JetStream publish → push-consumer receive round trip on the same server.
MAX      the most single-event webhooks per second the server takes with 8 concurrent senders.
INGEST   tracking events per second through ``POST /api/v1/tracking/events`` (batches of 500,
         4 concurrent senders; each event a new timeline row with its outbox event), next to the
         raw SQL doing the same writes (the timeline rows and the outbox rows, batch by batch,
         with psycopg) in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.bus import nats_server
from bench.capture import ADMIN_KEY
from bench.common import Databases, percentile, server
from bench.inventory import DCS, pg_connect, stock_world
from orderhub.tracking.carriers import samples

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
SECRET = "bench-easypost-secret"
SENDERS = 8


def ship_orders(url: str, n: int) -> list[dict[str, str]]:
    """``n`` orders captured, allocated, released and shipped (one parcel each): their order
    id, tracking number and public token."""
    stock_world(url, skus=["TRK-SKU"], on_hand=100_000)
    out = []
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        for i in range(n):
            body = {
                "external_ref": f"TB-{i}",
                "currency": "EUR",
                "customer": {"email": f"t{i}@bench.example"},
                "shipping_address": {"city": "Kassel", "country": "DE", "lat": 51.3, "lon": 9.5},
                "lines": [{"sku": "TRK-SKU", "quantity": 1, "unit_price": "9.99"}],
                "payment_status": "paid",
            }
            order = http.post("/api/v1/orders", json=body).json()
            line = order["lines"][0]["id"]
            node = http.get(f"/api/v1/orders/{order['id']}/stock").json()
            node_id = next((h["node_id"] for h in node.get("holds", []) if h.get("node_id")), DCS[0][0])
            alloc = {"fulfilment_orders": [{"node_id": node_id, "lines": [{"line_id": line, "quantity": 1}]}]}
            http.post(f"/api/v1/orders/{order['id']}/allocation", json=alloc).raise_for_status()
            http.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": "released"}).raise_for_status()
            number = f"1ZBENCH{i:06d}"
            parcel = {"parcels": [{"carrier": "ups", "tracking_number": number, "lines": {line: 1}}]}
            http.post(f"/api/v1/orders/{order['id']}/parcels", json=parcel).raise_for_status()
            out.append({"order_id": order["id"], "number": number})
        for o in out:
            for _ in range(200):
                r = http.get(f"/api/v1/orders/{o['order_id']}/tracking", params={"view": "internal"})
                if r.status_code == 200:
                    o["token"] = r.json()["token"]
                    break
                time.sleep(0.05)
    return out


MARK = re.compile(r"bench-(\d+)", re.IGNORECASE)


def webhook(number: str, seq: int) -> bytes:
    """An EasyPost event with one scan, now; ``seq`` (in the place name) makes it new and lets
    the open page recognise it."""
    at = datetime.now(UTC)
    body = samples.easypost_event(
        number, "UPS", "in_transit", "arrived_at_facility", at, f"Scan {seq}", f"bench-{seq}", "DE"
    )
    return json.dumps(body).encode()


async def measure_max(url: str, parcels: list[dict[str, str]], seconds: float) -> float:
    """Webhooks/s with ``SENDERS`` concurrent senders, as fast as answered."""
    seq, done = 10_000_000, 0
    stop = time.perf_counter() + seconds

    async def sender(http: httpx.AsyncClient, k: int) -> None:
        nonlocal seq, done
        while time.perf_counter() < stop:
            seq += 1
            body = webhook(parcels[seq % len(parcels)]["number"], seq)
            r = await http.post(
                "/api/v1/tracking/carriers/easypost", content=body, headers=samples.sign_easypost(body, SECRET)
            )
            r.raise_for_status()
            done += 1

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        start = time.perf_counter()
        await asyncio.gather(*(sender(http, k) for k in range(SENDERS)))
        return done / (time.perf_counter() - start)


async def measure_latency(
    url: str, parcels: list[dict[str, str]], rate: float, seconds: float
) -> dict[str, list[float]]:
    """Open one tracking page per order, then send webhooks at ``rate``/s spread over the
    orders; per webhook: send → answer (customer view written) and send → on the open page."""
    sent: dict[str, float] = {}
    answered: list[float] = []
    on_page: list[float] = []
    ready = asyncio.Event()
    opened = 0

    async def page(o: dict[str, str]) -> None:
        nonlocal opened
        async with (
            httpx.AsyncClient(base_url=url, timeout=None) as http,
            http.stream("GET", f"/track/{o['token']}/live?lang=en") as stream,
        ):
            first = True
            async for line in stream.aiter_lines():
                if not line.startswith("data: "):
                    continue
                if first:
                    first, opened = False, opened + 1
                    if opened == len(parcels):
                        ready.set()
                    continue
                got = time.perf_counter()
                view = json.loads(line[6:])
                for m in view["milestones"][:5]:
                    found = MARK.search(m.get("location", ""))
                    if found and f"bench-{found.group(1)}" in sent:
                        on_page.append(got - sent.pop(f"bench-{found.group(1)}"))

    pages = [asyncio.create_task(page(o)) for o in parcels]
    await asyncio.wait_for(ready.wait(), 60)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        n = int(rate * seconds)
        start = time.perf_counter()
        checks = 0

        async def one(i: int) -> None:
            nonlocal checks
            o = parcels[i % len(parcels)]
            body = webhook(o["number"], i)
            headers = samples.sign_easypost(body, SECRET)
            t0 = time.perf_counter()
            sent[f"bench-{i}"] = t0
            r = await http.post("/api/v1/tracking/carriers/easypost", content=body, headers=headers)
            r.raise_for_status()
            answered.append(time.perf_counter() - t0)
            if i % 50 == 0:  # the customer view holds it once answered
                view = (await http.get(f"/api/v1/orders/{o['order_id']}/tracking", headers=HEADERS)).json()
                assert any(f"BENCH-{i}," in m.get("location", "").upper() for m in view["milestones"]), "not in view"
                checks += 1

        tasks = []
        for i in range(n):
            due = start + i / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        deadline = time.perf_counter() + 10
        while sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
    for p in pages:
        p.cancel()
    await asyncio.gather(*pages, return_exceptions=True)
    return {"answered": answered, "on_page": on_page, "missed": [float(len(sent))], "checks": [float(checks)]}


def bare_nats_round_trip(n: int, rate: float) -> list[float]:
    """JetStream publish → push-consumer receive, one message at a time at ``rate``/s."""
    import nats

    async def run(server_url: str) -> list[float]:
        nc = await nats.connect(server_url)
        js = nc.jetstream()
        await js.add_stream(name="RTT", subjects=["rtt.>"])
        times: list[float] = []
        got: asyncio.Queue[float] = asyncio.Queue()

        async def on_msg(msg: Any) -> None:
            await got.put(time.perf_counter())
            await msg.ack()

        await js.subscribe("rtt.>", cb=on_msg, durable="rtt")
        for i in range(n):
            t0 = time.perf_counter()
            await js.publish(f"rtt.{i % 50}", b'{"type":"tracking.updated"}' + b" " * 300)
            times.append(await asyncio.wait_for(got.get(), 5) - t0)
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - t0)))
        await nc.close()
        return times

    with nats_server() as server_url:
        return asyncio.run(run(server_url))


def ingest(url: str, parcels: list[dict[str, str]], total: int, batch: int = 500, senders: int = 4) -> float:
    """Tracking events/s through the own-format feed."""

    def events(k: int) -> list[dict[str, Any]]:
        at = datetime.now(UTC)
        return [
            {
                "id": f"ing-{k}-{j}",
                "tracking_number": parcels[(k * batch + j) % len(parcels)]["number"],
                "milestone": "in_transit",
                "occurred_at": (at + timedelta(milliseconds=j)).isoformat(),
                "location": "Hub Kassel",
            }
            for j in range(batch)
        ]

    bodies = [json.dumps({"events": events(k)}).encode() for k in range(total // batch)]
    recorded = 0
    lock = threading.Lock()

    def send(chunk: list[bytes]) -> None:
        nonlocal recorded
        with httpx.Client(base_url=url, headers={**HEADERS, "Content-Type": "application/json"}, timeout=60) as http:
            for body in chunk:
                r = http.post("/api/v1/tracking/events", content=body)
                r.raise_for_status()
                with lock:
                    recorded += r.json()["recorded"]

    threads = [threading.Thread(target=send, args=(bodies[i::senders],)) for i in range(senders)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return recorded / (time.perf_counter() - start)


RAW_EVENT = (
    "INSERT INTO tracking_events (order_id, parcel_id, fulfilment_order_id, source, key, milestone, occurred_at,"
    " received_at, description, location, country, detail) VALUES (%s, %s, '', 'raw', %s, 'in_transit', %s, %s, '', %s, '', '{}')"
    " ON CONFLICT (source, key) DO NOTHING"
)
RAW_OUTBOX = (
    "INSERT INTO outbox (id, aggregate_type, aggregate_id, type, actor, payload, occurred_at, version)"
    " VALUES (%s, 'tracking', %s, 'tracking.updated', 'raw', %s, %s, 1)"
)


def raw_ingest(url: str, parcels: list[dict[str, str]], total: int, batch: int = 500, senders: int = 4) -> float:
    """The same writes as raw SQL: per batch, the timeline rows and their outbox rows, one
    transaction (no parsing, no parcel lookup, no state update)."""
    import uuid

    with pg_connect(url) as conn:
        ids = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT tracking_number, order_id, id FROM tracking_parcels")}

    def work(k0: int) -> None:
        with pg_connect(url) as conn:
            for k in range(k0, total // batch, senders):
                now = datetime.now(UTC)
                rows, outbox = [], []
                for j in range(batch):
                    order_id, parcel_id = ids[parcels[(k * batch + j) % len(parcels)]["number"]]
                    rows.append((order_id, parcel_id, f"raw-{k}-{j}", now, now, "Hub Kassel"))
                    payload = json.dumps({"milestone": "in_transit", "parcel_id": parcel_id, "location": "Hub Kassel"})
                    outbox.append((f"evt_{uuid.uuid4().hex[:26]}", order_id, payload, now))
                with conn.cursor() as cur:
                    cur.executemany(RAW_EVENT, rows)
                    cur.executemany(RAW_OUTBOX, outbox)
                conn.commit()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(senders)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (total // batch * batch) / (time.perf_counter() - start)


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.1f} ms"


def run_backend(dbs: Databases, label: str, bus_url: str, orders: int, seconds: float) -> dict[str, Any]:
    url_db = dbs.postgres()
    env = {"ORDERHUB_EASYPOST_WEBHOOK_SECRET": SECRET, "ORDERHUB_BUS_URL": bus_url}
    with server(url_db, admin_key=ADMIN_KEY, env=env) as (url, _):
        parcels = ship_orders(url, orders)
        top = asyncio.run(measure_max(url, parcels, 8))
        rate = top / 2
        result = asyncio.run(measure_latency(url, parcels, rate, seconds))
    a, p = result["answered"], result["on_page"]
    print(
        f"{label}: max {top:,.0f} webhooks/s; at {rate:,.0f}/s for {seconds:.0f} s ({len(a):,} events, {len(parcels)} open pages):"
    )
    print(f"  to the customer view (answered)  p50 {ms(a, 50)}  p99 {ms(a, 99)}")
    print(
        f"  to the open page (SSE)           p50 {ms(p, 50)}  p99 {ms(p, 99)}  ({len(p):,} seen, {int(result['missed'][0])} missed)"
    )
    return {"max": top, "rate": rate, "answered": a, "on_page": p}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=60, help="orders shipped, one open tracking page each")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each latency run")
    parser.add_argument("--events", type=int, default=40_000, help="events for the ingest run")
    parser.add_argument("--only", default="latency,ingest")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        dbs = Databases(Path(tmp))
        if "latency" in only:
            embedded = run_backend(dbs, "embedded bus", "", args.orders, args.seconds)
            with nats_server() as nats_url:
                run_backend(dbs, "NATS JetStream", nats_url, args.orders, args.seconds)
            rtt = bare_nats_round_trip(int(embedded["rate"] * 5), embedded["rate"])
            print(f"baseline: bare JetStream publish → push consumer  p50 {ms(rtt, 50)}  p99 {ms(rtt, 99)}")
        if "ingest" in only:
            url_db = dbs.postgres()
            with server(url_db, admin_key=ADMIN_KEY, workers=2) as (url, _):
                parcels = ship_orders(url, 40)
                ours = ingest(url, parcels, args.events)
            raw = raw_ingest(url_db, parcels, args.events)
            print(
                f"ingest: {ours:,.0f} tracking events/s through the API (2 workers) vs raw SQL {raw:,.0f}/s: ratio {ours / raw:.2f}"
            )


if __name__ == "__main__":
    main()
