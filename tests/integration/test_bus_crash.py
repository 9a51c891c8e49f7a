"""SIGKILL of the API process, the relay and a subscriber at random moments while orders flow
(PostgreSQL, separate processes): afterwards every acknowledged order is there, every committed
change has its events exactly once, and the subscriber applied each event exactly once, in
order per order."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import make_pg_engine
from tests.plugins.probe_subscriber import probe_meta

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("crash")]
ROOT = Path(__file__).parents[2]
KEY = "crash-admin-key"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """One OrderHub process we can kill and start again."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "orderhub", *self.args], env=self.env, stdout=log, stderr=log
            )

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def _order(rng: random.Random) -> dict[str, Any]:
    return {
        "external_ref": f"CR-{uuid.uuid4().hex[:12]}",
        "currency": "EUR",
        "customer": {"email": f"c{rng.randrange(50)}@crash.example"},
        "shipping_address": {"city": "Kassel", "country": "DE"},
        "lines": [{"sku": f"SKU-{rng.randrange(5)}", "quantity": 1, "unit_price": "9.99"}],
        "payment_status": "paid",
    }


def test_kill_9_of_api_relay_and_subscriber_loses_nothing_and_applies_once(pg_admin_url: str, tmp_path: Path) -> None:
    engine = make_pg_engine(pg_admin_url)
    probe_meta.create_all(engine)
    port = _free_port()
    env = {
        **os.environ,
        "ORDERHUB_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "ORDERHUB_BOOTSTRAP_ADMIN_KEY": KEY,
        "ORDERHUB_PLUGINS": "tests.plugins.probe_subscriber",
        "ORDERHUB_BUS_POLL_S": "0.01",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
    }
    api = Proc("api", ["serve", "--port", str(port)], {**env, "ORDERHUB_RUN_BUS": "false"}, tmp_path / "api.log")
    relay = Proc("relay", ["bus", "--no-subscribers"], env, tmp_path / "relay.log")
    sub = Proc("subscriber", ["bus", "--no-relay", "--subscriber", "probe"], env, tmp_path / "sub.log")
    procs = [api, relay, sub]
    for p in procs:
        p.start()
    url = f"http://127.0.0.1:{port}"
    acknowledged: set[str] = set()
    stop = threading.Event()
    rng = random.Random(20261126)

    def client(i: int) -> None:
        local = random.Random(i)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5) as http:
            while not stop.is_set():
                body, key = _order(local), uuid.uuid4().hex
                order_id = None
                while order_id is None and not stop.is_set():  # retry the same request until acknowledged
                    try:
                        r = http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": key})
                        if r.status_code in (200, 201):
                            order_id = r.json()["id"]
                    except httpx.TransportError:
                        time.sleep(0.05)
                if order_id is None:
                    return
                acknowledged.add(order_id)
                try:  # a second change of the order: its events must follow the first ones
                    http.post(f"/api/v1/orders/{order_id}/hold", json={"reason": "crash test"})
                except httpx.TransportError:
                    pass

    clients = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for the API to come up
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        for t in clients:
            t.start()
        kills = 0
        # 20 s of kills, longer on a slow (or busy) machine until enough orders went through
        # to mean something (at most 90 s)
        chaos_until, hard_stop = time.monotonic() + 20, time.monotonic() + 90
        while time.monotonic() < chaos_until or (len(acknowledged) < 60 and time.monotonic() < hard_stop):
            time.sleep(rng.uniform(0.3, 1.5))
            victim = rng.choice(procs)
            victim.kill()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.5))
            victim.start()
        stop.set()
        for t in clients:
            t.join(30)
        # everything settles once the processes run undisturbed (leases of the dead run out)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                pending = conn.execute(sa.text("SELECT count(*) FROM bus_pending")).scalar_one()
                applied = conn.execute(sa.text("SELECT count(*) FROM probe_applied")).scalar_one()
                total = conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one()
            if pending == 0 and applied >= total:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for p in procs:
            p.stop()

    with engine.connect() as conn:
        orders = {r[0] for r in conn.execute(sa.text("SELECT id FROM orders"))}
        captured = dict(
            conn.execute(
                sa.text("SELECT aggregate_id, count(*) FROM outbox WHERE type = 'order.captured' GROUP BY aggregate_id")
            ).all()
        )
        unpublished = conn.execute(sa.text("SELECT count(*) FROM bus_pending")).scalar_one()
        twice = conn.execute(
            sa.text("SELECT count(*) FROM (SELECT event_id FROM probe_applied GROUP BY event_id HAVING count(*) > 1) x")
        ).scalar_one()
        missing = conn.execute(
            sa.text(
                "SELECT count(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM probe_applied p WHERE p.event_id = o.id)"
            )
        ).scalar_one()
        out_of_order = conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT p.aggregate_id, o.seq, lag(o.seq) OVER (PARTITION BY p.aggregate_id ORDER BY p.n) AS prev"
                " FROM probe_applied p JOIN outbox o ON o.id = p.event_id) x WHERE prev > seq"
            )
        ).scalar_one()
        holds = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE payload->>'to' = 'on_hold'")).scalar_one()
    engine.dispose()
    assert kills >= 10
    assert len(acknowledged) > 50, "too few orders went through to mean anything"
    assert acknowledged <= orders, f"lost acknowledged orders: {sorted(acknowledged - orders)[:5]}"
    assert set(captured) == orders and set(captured.values()) == {1}, "one order.captured per order"
    assert holds > 0
    assert unpublished == 0
    assert missing == 0, "an event the subscriber never applied"
    assert twice == 0, "an event applied twice"
    assert out_of_order == 0, "an order's events applied out of commit order"
