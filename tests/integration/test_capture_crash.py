"""SIGKILL of the API process (PostgreSQL) while concurrent clients capture paid orders that
reserve scarce stock, each retrying its request with the same Idempotency-Key until it has an
answer: afterwards every acknowledged order is there once, no stock is oversold, and every
position agrees with its ledger. Bounded: about 15 s of chaos, ~30 s in all."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from bench.capture import ADMIN_KEY
from bench.inventory import flash_order, stock_world

from tests.conftest import make_pg_engine
from tests.integration.test_bus_crash import ROOT, Proc, _free_port

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("crash")]
SKUS = ["CRASH-1", "CRASH-2", "CRASH-3"]
ON_HAND = 10  # per SKU at each of bench.inventory's three DCs: 90 units, sold out during the run
CLIENTS = 8
CHAOS_S = 15.0


def _wait_healthy(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not come up in {timeout_s} s")


class Shoppers:
    """``CLIENTS`` threads capturing one-unit orders; each request is retried unchanged (same
    body, same Idempotency-Key) until the server answers it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.acknowledged: dict[str, str] = {}  # external_ref -> order id
        self.refused = 0  # 409: out of stock (on_shortage=reject)
        self.replayed = 0  # an acknowledged retry of a request whose first answer was lost
        self.server_errors: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._shop, args=(i,)) for i in range(CLIENTS)]

    def _shop(self, i: int) -> None:
        rng = random.Random(i)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=5) as http:
            while not self.stop.is_set():
                ref = f"CR-{i}-{uuid.uuid4().hex[:10]}"
                body, key = flash_order(ref, rng.choice(SKUS)), uuid.uuid4().hex
                while True:  # retry the same request until it is answered
                    try:
                        r = http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": key})
                    except httpx.TransportError:
                        if self.stop.is_set():
                            return
                        time.sleep(0.05)
                        continue
                    self._record(ref, r)
                    break

    def _record(self, ref: str, r: httpx.Response) -> None:
        with self.lock:
            if r.status_code in (200, 201):
                self.acknowledged[ref] = r.json()["id"]
                self.replayed += r.headers.get("Idempotent-Replayed") == "true"
            elif r.status_code == 409:
                self.refused += 1
            elif r.status_code >= 500:
                self.server_errors.append(f"{r.status_code} {r.text[:200]}")

    def __enter__(self) -> Shoppers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


def test_kill_9_under_concurrent_captures_with_stock_loses_nothing_duplicates_nothing_oversells_nothing(
    pg_admin_url: str, tmp_path: Path
) -> None:
    engine = make_pg_engine(pg_admin_url)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ORDERHUB_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "ORDERHUB_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "ORDERHUB_RUN_BUS": "false",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
    }
    api = Proc("api", ["serve", "--port", str(port)], env, tmp_path / "api.log")
    rng = random.Random(20261126)
    kills = 0
    try:
        api.start()
        _wait_healthy(url)
        stock_world(url, skus=SKUS, on_hand=ON_HAND)
        with Shoppers(url) as shoppers:
            # CHAOS_S of kills, longer on a slow (or busy) machine until enough orders went
            # through to mean something (at most three times as long)
            chaos_until, hard_stop = time.monotonic() + CHAOS_S, time.monotonic() + 3 * CHAOS_S
            while time.monotonic() < chaos_until or (len(shoppers.acknowledged) < 60 and time.monotonic() < hard_stop):
                time.sleep(rng.uniform(1.0, 2.5))  # a restart takes ~1.5 s: let captures flow between kills
                api.kill()
                kills += 1
                time.sleep(rng.uniform(0.0, 0.3))
                api.start()
            _wait_healthy(url)
            time.sleep(0.5)  # the last requests are answered by a server that stays up
        check = httpx.get(f"{url}/api/v1/inventory-ledger-check", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    finally:
        api.stop()

    with engine.connect() as conn:
        orders = dict(conn.execute(sa.text("SELECT external_ref, id FROM orders")).all())
        per_ref = conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT external_ref FROM orders GROUP BY external_ref HAVING count(*) > 1) x"
            )
        ).scalar_one()
        units = conn.execute(sa.text("SELECT coalesce(sum(quantity), 0) FROM order_lines")).scalar_one()
        held = conn.execute(sa.text("SELECT coalesce(sum(reserved + allocated), 0) FROM stock_positions")).scalar_one()
        oversold = conn.execute(
            sa.text(
                "SELECT count(*) FROM stock_positions WHERE on_hand < 0 OR reserved < 0 OR allocated < 0 OR reserved + allocated > on_hand"
            )
        ).scalar_one()
    engine.dispose()
    acked = shoppers.acknowledged
    assert kills >= 5
    assert shoppers.server_errors == []
    assert len(acked) >= 50, "too few orders went through to mean anything"
    assert shoppers.refused > 0, "the stock never ran out: nothing tested against overselling"
    assert all(orders.get(ref) == order_id for ref, order_id in acked.items()), "an acknowledged order is lost"
    assert per_ref == 0, "an order captured twice"
    assert oversold == 0
    assert held == units <= len(SKUS) * 3 * ON_HAND, "every unit ordered is held, once, within the stock"
    assert check.status_code == 200 and check.json() == {"differences": []}
