"""Two API processes on one SQLite database; the one holding the timers lease is killed with
SIGKILL just before an unpaid order's presale lock runs out: the other process releases the
hold within about a second of the deadline (the lease it waits for is short)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from orderhub.core.clock import utcnow
from orderhub.platform.db import create_db_engine
from tests.conftest import put_stock
from tests.integration.test_bus_crash import ROOT, _free_port

pytestmark = pytest.mark.xdist_group("crash")
KEY = "takeover-key"


def _start(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ORDERHUB_DATABASE_URL": url,
        "ORDERHUB_BOOTSTRAP_ADMIN_KEY": KEY,
        "PYTHONPATH": str(ROOT / "src"),
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orderhub", "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start; see {log}")


def test_the_surviving_process_releases_a_lapsed_hold_within_about_a_second(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "takeover.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = create_db_engine(url)
    put_stock(engine, {("DC-1", "MUG-1"): 5})
    ports = [_free_port(), _free_port()]
    procs = [_start(url, port, tmp_path / f"api{i}.log") for i, port in enumerate(ports)]
    try:
        order = httpx.post(
            f"http://127.0.0.1:{ports[0]}/api/v1/orders",
            headers={"Authorization": f"Bearer {KEY}"},
            json={
                "currency": "EUR",
                "customer": {"email": "ann@example.com"},
                "shipping_address": {"city": "Kassel", "country": "DE"},
                "lines": [{"sku": "MUG-1", "quantity": 2, "unit_price": "9.99"}],
                "payment_status": "pending",
            },
            timeout=10,
        ).json()
        deadline = utcnow() + timedelta(seconds=2)
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE reservations SET expires_at = :t WHERE order_id = :o"),
                {"t": deadline.replace(tzinfo=None), "o": order["id"]},
            )
            holder = conn.execute(sa.text("SELECT holder FROM leases WHERE name = 'timers'")).scalar_one()
        victim = next(p for p in procs if f":{p.pid}:" in holder)
        time.sleep(max(0.0, (deadline - utcnow()).total_seconds() - 0.2))
        victim.send_signal(signal.SIGKILL)  # the lease holder dies 0.2 s before the deadline
        victim.wait(10)
        while True:
            with engine.connect() as conn:
                status = conn.execute(
                    sa.text("SELECT status FROM orders WHERE id = :o"), {"o": order["id"]}
                ).scalar_one()
            if status == "cancelled" or utcnow() > deadline + timedelta(seconds=10):
                break
            time.sleep(0.05)
        late = (utcnow() - deadline).total_seconds()
        with engine.connect() as conn:
            reserved = conn.execute(sa.text("SELECT reserved FROM stock_positions WHERE sku = 'MUG-1'")).scalar_one()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        engine.dispose()
    assert status == "cancelled"
    assert reserved == 0
    assert late < 1.5, f"released {late:.2f} s after the deadline"
