"""No oversell under load, on SQLite and PostgreSQL: many clients, one hot SKU, random aborts;
multi-line orders over overlapping SKUs taken in different orders."""

from __future__ import annotations

import json
import random
import threading

import pytest
import sqlalchemy as sa

from orderhub.bus import service as bus
from orderhub.core.errors import Conflict
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from tests.conftest import put_stock
from tests.integration.test_concurrency import run_together

CLIENTS = 64


class ClientAbort(Exception):
    """A client that dies in the middle of its order (after stock was held, before commit)."""


def _doc(i: int, lines: list[tuple[str, int]]) -> bytes:
    return json.dumps(
        {
            "external_ref": f"flash-{i}",
            "currency": "EUR",
            "customer": {"email": f"c{i}@x.de"},
            "shipping_address": {"lat": 50.1, "lon": 8.7},
            "payment_status": "paid",
            "on_shortage": "reject",
            "lines": [{"sku": s, "quantity": q, "unit_price": "9.99"} for s, q in lines],
        }
    ).encode()


@pytest.fixture
def aborting(monkeypatch):
    """Makes the clients whose thread sets ``abort`` fail after their stock writes."""
    state = threading.local()
    real = bus.publish

    def publish(conn, events):
        if getattr(state, "abort", False):
            raise ClientAbort()
        return real(conn, events)

    monkeypatch.setattr(bus, "publish", publish)
    return state


def totals(engine, sku):
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT SUM(on_hand), SUM(reserved), SUM(allocated) FROM stock_positions WHERE sku = :s"),
            {"s": sku},
        ).one()


@pytest.mark.parametrize("stock", [20])
def test_64_clients_one_sku_exactly_n_sold_with_random_aborts(engine, aborting, stock):
    put_stock(engine, {("DC-1", "HOT"): stock})
    rng = random.Random(4)
    aborts = set(rng.sample(range(CLIENTS), 12))

    def client(i: int):
        aborting.abort = i in aborts
        return capture.receive(engine, adapter="canonical", body=_doc(i, [("HOT", 1)]), actor=f"c{i}")

    results = run_together(CLIENTS, client)
    sold = [r for r in results if isinstance(r, capture.Captured)]
    refused = [r for r in results if isinstance(r, Conflict)]
    aborted = [r for r in results if isinstance(r, ClientAbort)]
    assert aborted and {i for i, r in enumerate(results) if isinstance(r, ClientAbort)} <= aborts
    assert len(sold) == stock, [type(r).__name__ for r in results]  # aborted holds went back
    assert len(sold) + len(refused) + len(aborted) == CLIENTS
    assert all(r.code == "out_of_stock" for r in refused)
    assert tuple(totals(engine, "HOT")) == (stock, stock, 0)
    assert inventory.get_atp(engine, sku="HOT")["total"] == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one() == stock
        held = conn.execute(sa.text("SELECT SUM(quantity) FROM reservations WHERE status = 'active'")).scalar_one()
    assert held == stock
    assert inventory.check_ledger(engine) == []


def test_multi_line_orders_over_overlapping_skus_never_oversell_or_deadlock(engine):
    skus = ["A", "B", "C", "D"]
    put_stock(engine, {("DC-1", s): 15 for s in skus} | {("DC-2", s): 10 for s in skus})
    rng = random.Random(7)
    wanted = {}
    for i in range(48):
        picked = rng.sample(skus, rng.randint(2, 4))  # each order names its SKUs in its own order
        wanted[i] = [(s, rng.randint(1, 3)) for s in picked]

    results = run_together(
        48, lambda i: capture.receive(engine, adapter="canonical", body=_doc(i, wanted[i]), actor="c")
    )
    errors = [
        r for r in results if isinstance(r, Exception) and not (isinstance(r, Conflict) and r.code == "out_of_stock")
    ]
    assert errors == []  # no deadlock or lock error reached a client
    sold = {s: 0 for s in skus}
    for i, r in enumerate(results):
        if isinstance(r, capture.Captured):
            for s, q in wanted[i]:
                sold[s] += q
    for s in skus:
        on_hand, reserved, allocated = totals(engine, s)
        assert on_hand == 25 and reserved == sold[s] <= 25 and allocated == 0
    assert any(isinstance(r, capture.Captured) for r in results)
    assert inventory.check_ledger(engine) == []


def test_bulk_counts_arriving_during_checkout_never_oversell_or_deadlock(engine):
    """Orders over 60 SKUs race with bulk stock counts of the same positions (60 rows a batch:
    PostgreSQL applies each in one statement), some counting less than is already promised."""
    skus = [f"S{i:02d}" for i in range(60)]
    put_stock(engine, {("DC-1", s): 6 for s in skus})
    rng = random.Random(11)
    wanted = {i: [(s, rng.randint(1, 3)) for s in rng.sample(skus, 3)] for i in range(24)}
    counts = {
        i: [inventory.StockRow("DC-1", s, on_hand=rng.randint(0, 8)) for s in rng.sample(skus, 60)] for i in range(4)
    }

    def work(i: int):
        if i < 4:
            return inventory.ingest_and_serve(engine, source=f"wms{i}", sequence=1, mode="snapshot", rows=counts[i])
        return capture.receive(engine, adapter="canonical", body=_doc(i, wanted[i - 4]), actor="c")

    results = run_together(28, work)
    errors = [
        r for r in results if isinstance(r, Exception) and not (isinstance(r, Conflict) and r.code == "out_of_stock")
    ]
    assert errors == []  # no deadlock or lock error reached a client
    assert all(r.applied + r.unchanged == 60 for r in results[:4])
    with engine.connect() as conn:
        oversold = conn.execute(
            sa.text("SELECT count(*) FROM stock_positions WHERE reserved + allocated > on_hand")
        ).scalar_one()
    assert oversold == 0
    assert any(isinstance(r, capture.Captured) for r in results)
    assert inventory.check_ledger(engine) == []
