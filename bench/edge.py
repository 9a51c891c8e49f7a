"""The edge benchmark (docs/edge.md §9): ``python -m bench.edge [--schedules N] [--workers W]``.

1. **Partition fuzzing**: N (10,000) seeded in-process schedules (``bench.edge_fuzz``) on W
   processes; every violation is printed; the share of till sales that needed no round trip.
2. **A busy store, in process**: a store with 20 SKUs sells ≈ 3,000 till lines in an hour online
   (central channels buying its hot SKUs meanwhile), then ≈ 3,000 lines in an hour offline.
   Figures: the share of sales that needed no round trip to the hub, and the time to converge
   once the link returns (push + pull), in events/s — against the same hour's sales captured
   one by one at the hub (the POS channel, in process: the baseline of a store without a
   gateway, which needs the hub for every sale).
3. **The same catch-up with real processes**: ``orderhub serve`` and ``orderhub edge`` on
   loopback, the gateway behind a TCP proxy cut for the offline hour; converge time and
   events/s over HTTP — against posting the same sales one by one to the hub's POS channel.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.edge_fuzz import run_schedule
from bench.edge_procs import KEY, TcpProxy, start_gateway, start_hub
from bench.edge_world import Link, LocalHub, SimClock, SkewedClock, Slots, make_templates
from orderhub.core.clock import SystemClock, utcnow
from orderhub.edge import gateway_store as gs
from orderhub.edge import service as edge
from orderhub.edge import store as edge_store
from orderhub.edge.gateway import Gateway
from orderhub.edge.model import BeyondEscrow
from orderhub.inventory import service as inventory
from orderhub.migrations import upgrade
from orderhub.orders import capture
from orderhub.platform.db import create_db_engine, unit_of_work
from orderhub.wiring import wire

STORE, DC = "ST-A", "DC-1"
SKUS = [f"SKU-{i:02d}" for i in range(20)]
HOT = SKUS[-5:]  # the store's slowest sellers are the web's hits: central channels compete for them
WEIGHTS = [1 / (i + 1) ** 0.5 for i in range(len(SKUS))]  # the store's own long tail
ON_HAND, LINES, HOUR_S = 1000, 3000, 3600
HOT_PER_DAY = 72  # web orders per hot SKU over the last day: 3 an hour, above the policy's 2


# -- 1. partition fuzzing -------------------------------------------------------------------------
_SLOTS: Slots | None = None


def _fuzz_chunk(seeds: list[int]) -> dict[str, Any]:
    logging.disable(logging.WARNING)
    wire()
    global _SLOTS
    if _SLOTS is None:  # once per worker process: the templates and the engines are reused
        workdir = Path(tempfile.mkdtemp(prefix="edge-fuzz-"))
        _SLOTS = Slots(workdir / "slots", make_templates(workdir / "templates"))
    slots = _SLOTS
    out: dict[str, Any] = {"n": 0, "bad": [], "ops": Counter(), "sales": 0, "direct": 0, "cpu": 0.0}
    started = time.process_time()
    for seed in seeds:
        report = run_schedule(seed, slots)
        out["n"] += 1
        out["ops"].update(report.ops)
        out["sales"] += report.sales
        out["direct"] += report.sales_without_round_trip
        if report.violations:
            out["bad"].append((seed, report.violations[:5]))
    out["cpu"] = time.process_time() - started
    return out


def fuzz(schedules: int, workers: int, first: int = 0) -> None:
    """Seeds ``first`` .. ``first + schedules - 1`` (a long run can be finished in parts)."""
    started = time.perf_counter()
    size = 100  # a progress line per chunk: a long run shows how far it got
    end = first + schedules
    chunks = [list(range(i, min(i + size, end))) for i in range(first, end, size)]
    total: dict[str, Any] = {"n": 0, "bad": [], "ops": Counter(), "sales": 0, "direct": 0, "cpu": 0.0}
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_fuzz_chunk, chunks):
            print(
                f"   {total['n'] + part['n']} schedules, {len(total['bad']) + len(part['bad'])} with violations, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
            total["n"] += part["n"]
            total["bad"] += part["bad"]
            total["ops"].update(part["ops"])
            total["sales"] += part["sales"]
            total["direct"] += part["direct"]
            total["cpu"] += part["cpu"]
    wall = time.perf_counter() - started
    ops = total["ops"]
    print(
        f"\n1. partition fuzzing: {total['n']} schedules (seeds {first}–{end - 1}) in {wall:.0f} s on {workers} processes "
        f"({total['cpu'] / max(1, total['n']) * 1000:.0f} ms CPU per schedule)"
    )
    print(f"   violations: {len(total['bad'])}" + "".join(f"\n   seed {s}: {v}" for s, v in total["bad"][:20]))
    print(
        f"   did: {ops['sale']} sales ({ops['refused:beyond_escrow']} refused beyond the escrow), {ops['hand_over']} hand-overs, "
        f"{ops['cut']} cuts, {ops['restart_gateway']} gateway and {ops['restart_hub']} hub restarts, "
        f"{ops['cancel']} cancellations, {ops['reassign']} reassignments, {ops['clock_jump']} clock jumps"
    )
    print(
        f"   till sales that needed no round trip (adversarial schedules): {total['direct'] / max(1, total['sales']):.1%}"
    )


# -- 2. a busy store, in process -------------------------------------------------------------------
def _busy_hub(path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    nodes = [
        inventory.Node(
            id=n,
            name=n,
            type=inventory.NodeType.store if n == STORE else inventory.NodeType.distribution_centre,
            lat=lat,
            lon=lon,
            region="DE",
            capabilities=list(inventory.Capability),
        )
        for n, lat, lon in ((STORE, 52.5, 13.4), (DC, 50.1, 8.7))
    ]
    inventory.save_nodes(engine, nodes=nodes)
    inventory.save_items(
        engine, items=[inventory.Item(s, s, "bench", 300, 1000 + i * 100, 500) for i, s in enumerate(SKUS)]
    )
    rows = [inventory.StockRow(n, s, on_hand=ON_HAND if n == STORE else 5000) for n in (STORE, DC) for s in SKUS]
    inventory.ingest(engine, source="setup", sequence=1, mode="snapshot", rows=rows)
    edge.register(engine, store_id=STORE)
    # the store's own sales of the 23 hours before (its rate, which sizes the escrow of hot SKUs)
    total = sum(WEIGHTS)
    with unit_of_work(engine) as conn:
        conn.execute(
            edge_store.sales.insert(),
            [
                {"store_id": STORE, "sku": s, "quantity": round(LINES * w / total), "at": utcnow() - timedelta(hours=h)}
                for h in range(1, 24)
                for s, w in zip(SKUS, WEIGHTS, strict=True)
            ],
        )
    engine.dispose()


def _receipts(rng: random.Random, lines: int) -> list[dict[str, int]]:
    out, n = [], 0
    while n < lines:
        k = min(rng.choice([1, 1, 2, 2, 3]), lines - n)
        receipt: dict[str, int] = {}
        for sku in rng.choices(SKUS, weights=WEIGHTS, k=k):
            receipt[sku] = receipt.get(sku, 0) + 1
        out.append(receipt)
        n += k
    return out


def _web_order(hub: Any, rng: random.Random, i: int) -> None:
    """A web shopper buys one of the hot SKUs (shipped from the DC)."""
    doc = {
        "channel": "web",
        "external_ref": f"B-{i}",
        "currency": "EUR",
        "customer": {"email": f"b{i}@bench.test"},
        "shipping_address": {"city": "X", "country": "DE", "lat": 50.1, "lon": 8.7},
        "lines": [{"sku": rng.choice(HOT), "quantity": 1, "unit_price": "10.00"}],
        "payment_status": "paid",
    }
    capture.receive(hub, adapter="canonical", body=json.dumps(doc).encode(), actor="bench")


def busy_store() -> None:
    logging.disable(logging.WARNING)
    wire()
    workdir = Path(tempfile.mkdtemp(prefix="edge-busy-"))
    _busy_hub(workdir / "hub.db")
    hub = create_db_engine(f"sqlite:///{workdir / 'hub.db'}")
    gw_engine = create_db_engine(f"sqlite:///{workdir / 'gw.db'}")
    upgrade(gw_engine)
    sim, rng = SimClock(), random.Random(17)
    edge.use_clock(sim)
    link = Link(hub, random.Random(1))
    gw = Gateway(gw_engine, STORE, LocalHub(link), SkewedClock(sim))
    gw.setup()
    for i in range(HOT_PER_DAY * len(HOT)):  # the central channels' last day
        _web_order(hub, rng, i)
    gw.sync()
    online = _receipts(rng, LINES)
    direct = refused = 0
    for i, receipt in enumerate(online):
        sim.advance(HOUR_S / len(online))
        try:
            direct += not gw.sell(receipt).round_trip
        except BeyondEscrow:
            refused += 1
        if i % 4 == 3:  # the gateway syncs every second or so
            gw.sync()
        if i % 5 == 4:
            _web_order(hub, rng, 10_000 + i)
    gw.sync()
    link.up = False
    offline = _receipts(rng, LINES)
    refused_offline, lines_offline = 0, 0
    for receipt in offline:
        sim.advance(HOUR_S / len(offline))
        try:
            gw.sell(receipt)
            lines_offline += sum(receipt.values())
        except BeyondEscrow:
            refused_offline += 1
    with unit_of_work(gw_engine, write=False) as conn:
        waiting = gs.count_pending(conn, int(gs.get_state(conn).acked_seq))
    link.up = True
    started, cpu = time.perf_counter(), time.process_time()
    while not gw.sync() or _pending(gw_engine):
        pass
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    base, base_cpu = _baseline_in_process(workdir, offline)
    hot = edge.get(hub, store_id=STORE)["escrow"]
    print(f"\n2. a busy store, in process (SQLite; {len(SKUS)} SKUs, {ON_HAND} units each, default policy)")
    print(
        f"   online hour: {len(online)} receipts ({LINES} lines); {direct / len(online):.1%} needed no round trip "
        f"to the hub, {refused} refused"
    )
    print(
        f"   offline hour: {len(offline) - refused_offline} receipts sold ({lines_offline} lines), {refused_offline} refused "
        f"beyond the escrow; {waiting} events waiting"
    )
    print(
        "   escrow after it (hot SKUs, the web's hits): "
        + ", ".join(f"{e['sku']} {e['escrow']} of {e['on_hand']}" for e in hot if e["sku"] in HOT)
    )
    print(
        f"   converged {took:.2f} s after the link returned: {waiting / took:.0f} events/s, "
        f"{cpu / waiting * 1000:.1f} ms CPU per event (hub and gateway together)"
    )
    print(
        f"   baseline, the same sales captured one by one at the hub: {len(offline) / base:.0f} sales/s, "
        f"{base_cpu / len(offline) * 1000:.1f} ms CPU per sale; ratio {waiting / took / (len(offline) / base):.2f} "
        f"(by CPU {base_cpu / len(offline) / (cpu / waiting):.2f})"
    )
    edge.use_clock(SystemClock())
    hub.dispose()
    gw_engine.dispose()


def _pending(engine: Any) -> int:
    with unit_of_work(engine, write=False) as conn:
        return gs.count_pending(conn, int(gs.get_state(conn).applied_seq))


def _baseline_in_process(workdir: Path, receipts: list[dict[str, int]]) -> tuple[float, float]:
    """Seconds and CPU seconds to capture ``receipts`` one by one through the POS channel."""
    _busy_hub(workdir / "base.db")
    hub = create_db_engine(f"sqlite:///{workdir / 'base.db'}")
    started, cpu = time.perf_counter(), time.process_time()
    for i, receipt in enumerate(receipts):
        capture.receive(hub, adapter="pos", body=json.dumps(_pos(i, receipt)).encode(), actor="bench")
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    hub.dispose()
    return took, cpu


def _pos(i: int, receipt: dict[str, int]) -> dict[str, Any]:
    return {
        "store_id": STORE,
        "sale_id": f"BASE-{i}",
        "currency": "EUR",
        "handover": "taken",
        "lines": [{"sku": s, "qty": q, "unit_price": "10.00"} for s, q in receipt.items()],
    }


# -- 3. the same catch-up, with real processes ----------------------------------------------------------
def processes() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="edge-procs-"))
    hub, hub_url = start_hub(workdir)
    admin = {"Authorization": f"Bearer {KEY}"}
    proxy = gateway = None
    try:
        with httpx.Client(base_url=hub_url, headers=admin, timeout=60) as c:
            for n, kind, lat in ((STORE, "store", 52.5), (DC, "distribution_centre", 50.1)):
                c.post(
                    "/api/v1/nodes",
                    json={
                        "id": n,
                        "name": n,
                        "type": kind,
                        "lat": lat,
                        "lon": 10.0,
                        "region": "DE",
                        "capabilities": ["ships", "pickup", "returns"],
                    },
                ).raise_for_status()
            rows = [{"node_id": n, "sku": s, "on_hand": ON_HAND} for n in (STORE, DC) for s in SKUS]
            c.post(
                "/api/v1/inventory/positions", json={"source": "setup", "sequence": 1, "mode": "snapshot", "rows": rows}
            ).raise_for_status()
            c.post("/api/v1/edge/gateways", json={"store_id": STORE}).raise_for_status()
            proxy = TcpProxy(int(hub_url.rsplit(":", 1)[1]))
            gateway, till = start_gateway(workdir, STORE, f"http://127.0.0.1:{proxy.port}")
            with httpx.Client(base_url=till, timeout=30) as t:
                while not t.get("/api/v1/till").json()["online"]:
                    time.sleep(0.1)
                proxy.cut()
                receipts = _receipts(random.Random(5), LINES)
                started = time.perf_counter()
                sold = sum(t.post("/api/v1/till/sales", json={"lines": r}).status_code == 201 for r in receipts)
                record = time.perf_counter() - started
                n = t.get("/api/v1/till").json()["backlog"]
                proxy.heal()
                started = time.perf_counter()
                while c.get(f"/api/v1/edge/gateways/{STORE}").json()["applied_seq"] < n:
                    time.sleep(0.05)
                took = time.perf_counter() - started
            started = time.perf_counter()
            for i, r in enumerate(receipts):
                c.post("/api/v1/channels/pos/orders", json=_pos(i, r)).raise_for_status()
            base = len(receipts) / (time.perf_counter() - started)
    finally:
        if gateway is not None:
            gateway.stop()
        if proxy is not None:
            proxy.close()
        hub.stop()
    print("\n3. the same offline hour with real processes (orderhub serve + orderhub edge on SQLite, HTTP on loopback)")
    print(
        f"   the till recorded {sold} of {len(receipts)} receipts offline in {record:.1f} s ({sold / record:.0f}/s, no hub)"
    )
    print(
        f"   caught up {n} events {took:.2f} s after the link returned: {n / took:.0f} events/s "
        f"(baseline: the same sales posted one by one to the hub's POS channel, {base:.0f} sales/s; ratio {n / took / base:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--first", type=int, default=0, help="the first seed (to finish a long run in parts)")
    parser.add_argument("--skip", action="append", default=[], choices=["fuzz", "busy", "processes"])
    args = parser.parse_args()
    if "busy" not in args.skip:
        busy_store()
    if "processes" not in args.skip:
        processes()
    if "fuzz" not in args.skip:
        fuzz(args.schedules, args.workers, args.first)


if __name__ == "__main__":
    main()
