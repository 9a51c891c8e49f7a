"""Partition fuzzing with real processes (docs/edge.md §8): an ``orderhub serve`` hub and three
``orderhub edge`` gateways on loopback, each gateway behind a TCP proxy that the schedule cuts
(open connections reset, new ones refused) and heals, gateways and the hub killed with SIGKILL
and started again, while clerks sell, take returns and book stock moves at the tills over HTTP.
Afterwards, with every link healed and every gateway synced: no position oversold, each
gateway's figures the hub's, every till sale at the hub exactly once (and every sale a clerk
was told about is one of them), the ledger and the units conserved.

``ORDERHUB_EDGE_PROCESS_SEEDS`` (default ``1,2``) chooses the schedules; each takes ~30-40 s."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from bench.edge_procs import KEY, Proc, TcpProxy, seed_hub, start_gateway, start_hub

from orderhub.edge import gateway_store as gs
from orderhub.inventory import service as inventory
from orderhub.platform.db import create_db_engine, unit_of_work

pytestmark = pytest.mark.xdist_group("edge-processes")
SEEDS = [int(s) for s in os.environ.get("ORDERHUB_EDGE_PROCESS_SEEDS", "1,2").split(",") if s.strip()]
STORES = ["ST-A", "ST-B", "ST-C"]
SKUS = {"MUG-1": 1, "TEE-2": 1}
STORE_STOCK, DC_STOCK = 20, 10
CHAOS_S = 10.0
POLICY = {"slow_share": 0.5, "beyond": "refuse", "cover_hours": 8.0, "min_units": 2}


class Clerks:
    """One thread per till: sales (and now and then a return or a stock move) over HTTP."""

    def __init__(self, urls: dict[str, str], seed: int) -> None:
        self.urls, self.seed = urls, seed
        self.stop = threading.Event()
        self.told: dict[str, set[str]] = {s: set() for s in urls}  # sales the clerk saw recorded
        self.outcomes: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, args=(s,), daemon=True) for s in urls]

    def _work(self, store: str) -> None:
        rng = random.Random(f"{self.seed}-{store}")
        while not self.stop.is_set():
            try:
                with httpx.Client(base_url=self.urls[store], timeout=3) as c:
                    self._one(store, c, rng)
            except httpx.HTTPError:
                with self.lock:
                    self.outcomes["till unreachable"] += 1
            time.sleep(rng.uniform(0.03, 0.12))

    def _one(self, store: str, c: httpx.Client, rng: random.Random) -> None:
        roll = rng.random()
        if roll < 0.85:
            r = c.post("/api/v1/till/sales", json={"lines": {rng.choice(list(SKUS)): rng.randint(1, 2)}})
            with self.lock:
                self.outcomes[f"sale {r.status_code}"] += 1
                if r.status_code == 201:
                    self.told[store].add(r.json()["sale_id"])
        elif roll < 0.92 and self.told[store]:
            sale = rng.choice(sorted(self.told[store]))
            r = c.post("/api/v1/till/returns", json={"sale_id": sale, "lines": {"MUG-1": 1}})
            with self.lock:
                self.outcomes[f"return {r.status_code}"] += 1
        else:
            r = c.post("/api/v1/till/adjustments", json={"sku": rng.choice(list(SKUS)), "delta": rng.choice([-1, 2])})
            with self.lock:
                self.outcomes[f"adjust {r.status_code}"] += 1

    def __enter__(self) -> Clerks:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)


def _converged(hub_url: str, urls: dict[str, str]) -> bool:
    for url in urls.values():
        with httpx.Client(base_url=url, timeout=3) as c:
            v = c.get("/api/v1/till").json()
            if not v["online"] or v["backlog"]:
                return False
            c.post("/api/v1/till/sync", json={})  # one more pull: the figures after the last push
    return True


@pytest.mark.parametrize("seed", SEEDS)
def test_processes_behind_cut_links_and_sigkill_keep_every_invariant(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    hub, hub_url = start_hub(tmp_path)
    procs: dict[str, Proc] = {}
    proxies: dict[str, TcpProxy] = {}
    kills = Counter[str]()
    try:
        seed_hub(hub_url, stores=STORES, skus=SKUS, store_stock=STORE_STOCK, dc_stock=DC_STOCK, policy=POLICY)
        hub_port = int(hub_url.rsplit(":", 1)[1])
        urls = {}
        for store in STORES:
            proxies[store] = TcpProxy(hub_port)
            procs[store], urls[store] = start_gateway(tmp_path, store, f"http://127.0.0.1:{proxies[store].port}")
        with Clerks(urls, seed) as clerks:
            until = time.monotonic() + CHAOS_S
            while time.monotonic() < until:
                time.sleep(rng.uniform(0.3, 1.0))
                store, roll = rng.choice(STORES), rng.random()
                if roll < 0.45:
                    (proxies[store].cut if proxies[store].is_up else proxies[store].heal)()
                    kills["cut/heal"] += 1
                elif roll < 0.8:
                    procs[store].kill()
                    kills["gateway"] += 1
                    time.sleep(rng.uniform(0.0, 0.5))
                    procs[store].start()
                else:
                    hub.kill()
                    kills["hub"] += 1
                    time.sleep(rng.uniform(0.0, 0.5))
                    hub.start()
        for store in STORES:
            proxies[store].heal()
        hub.wait_healthy()
        for p in procs.values():
            p.wait_healthy()
        deadline = time.monotonic() + 60
        while not _converged(hub_url, urls):
            assert time.monotonic() < deadline, "the gateways did not converge within 60 s of the links healing"
            time.sleep(0.5)
        ledger = httpx.get(
            f"{hub_url}/api/v1/inventory-ledger-check", headers={"Authorization": f"Bearer {KEY}"}
        ).json()
    finally:
        for p in procs.values():
            p.stop()
        hub.stop()
        for proxy in proxies.values():
            proxy.close()
    print(f"seed {seed}: {dict(kills)}; clerks {dict(clerks.outcomes)}")
    assert kills["gateway"] + kills["hub"] >= 3 and kills["cut/heal"] >= 2, kills
    assert clerks.outcomes["sale 201"] >= 15, clerks.outcomes
    assert ledger == {"differences": []}
    _check_files(tmp_path, clerks)


def _check_files(workdir: Path, clerks: Clerks) -> None:
    hub = create_db_engine(f"sqlite:///{workdir / 'hub.db'}")
    try:
        with hub.connect() as conn:
            oversold = conn.execute(
                sa.text("SELECT count(*) FROM stock_positions WHERE reserved + allocated > on_hand OR on_hand < 0")
            ).scalar_one()
            pos = Counter(conn.execute(sa.text("SELECT external_ref FROM orders WHERE channel = 'pos'")).scalars())
            bad = list(
                conn.execute(
                    sa.text("SELECT kind FROM edge_conflicts WHERE kind IN ('sale_beyond_escrow', 'event_refused')")
                ).scalars()
            )
            on_hand = dict(conn.execute(sa.text("SELECT sku, sum(on_hand) FROM stock_positions GROUP BY sku")).all())
            applied = dict(conn.execute(sa.text("SELECT store_id, applied_seq FROM edge_gateways")).all())
        assert oversold == 0 and bad == []
        assert inventory.check_ledger(hub) == []
        expected = {sku: DC_STOCK + STORE_STOCK * len(STORES) for sku in SKUS}
        for store in STORES:
            gw = create_db_engine(f"sqlite:///{workdir / f'{store}.db'}")
            try:
                with unit_of_work(gw, write=False) as conn:
                    st, figures = gs.get_state(conn), gs.figures(conn)
                    events = list(conn.execute(sa.select(gs.outbox)))
            finally:
                gw.dispose()
            n = len(events)
            assert int(st.applied_seq) == int(st.acked_seq) == n == applied[store], (store, n, st.applied_seq)
            with unit_of_work(hub, write=False) as conn:
                at_hub = {
                    r.sku: r for r in inventory.store_stock(conn, node_id=store, holder=inventory.escrow_holder(store))
                }
            for sku, f in figures.items():
                assert (f.on_hand, f.escrow) == (at_hub[sku].on_hand, at_hub[sku].escrow), (store, sku)
            sold = {e.data["sale_id"] for e in events if e.type == "till.sale"}
            assert clerks.told[store] <= sold  # nothing a clerk was told about was lost
            assert all(pos[f"{store}/{s}"] == 1 for s in sold)  # each at the hub exactly once
            assert {r for r in pos if r.startswith(f"{store}/")} == {f"{store}/{s}" for s in sold}
            for e in events:
                if e.type == "till.sale":
                    for li in e.data["lines"]:
                        expected[li["sku"]] -= li["qty"]
                elif e.type == "till.return":
                    for li in e.data["lines"]:
                        expected[li["sku"]] += li["qty"]
                elif e.type == "stock.adjusted":
                    expected[e.data["sku"]] += e.data["delta"]
        assert {s: on_hand[s] for s in SKUS} == expected
    finally:
        hub.dispose()
