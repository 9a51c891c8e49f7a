"""Concurrency on real databases: redelivered webhooks racing, edits racing."""

from __future__ import annotations

import json
import threading

import sqlalchemy as sa

from orderhub.core.errors import Conflict
from orderhub.orders import capture, service
from tests.conftest import FIXTURES


def run_together(n: int, fn) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_the_same_webhook_delivered_eight_times_at_once_makes_one_order(engine):
    raw = (FIXTURES / "shopify_order.json").read_bytes()
    results = run_together(8, lambda i: capture.receive(engine, adapter="shopify", body=raw, actor="webhook"))
    assert all(isinstance(r, capture.Captured) for r in results), results
    assert len({r.order_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one() == 1
        assert (
            conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one() == 4
        )  # captured, paid, held, backordered


def test_the_same_idempotency_key_racing_makes_one_order(engine):
    doc = json.dumps(
        {
            "currency": "EUR",
            "customer": {"email": "x@y.z"},
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}],
        }
    )
    results = run_together(
        6,
        lambda i: capture.receive(
            engine, adapter="canonical", body=doc.encode(), actor="t", idempotency_key="race", principal_id="u"
        ),
    )
    assert len({r.order_id for r in results}) == 1 and sum(r.created for r in results) == 1


def test_concurrent_edits_serialise_and_lose_nothing(engine):
    doc = {
        "currency": "EUR",
        "external_ref": "E-1",
        "customer": {"email": "x@y.z"},
        "payment_status": "paid",
        "lines": [{"sku": f"S{i}", "quantity": 5, "unit_price": "1.00"} for i in range(6)],
    }
    oid = capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="t").order_id
    lines = service.get(engine, order_id=oid).order.lines

    def edit(i: int):
        for _ in range(20):  # a stale save is refused; the caller reloads and retries
            try:
                return service.cancel_line(engine, order_id=oid, actor=f"u{i}", line_id=lines[i].id, quantity=1)
            except Conflict as exc:
                if exc.code != "stale_order":
                    raise
        raise AssertionError("never got through")

    results = run_together(6, edit)
    assert not [r for r in results if isinstance(r, Exception)], results
    order = service.get(engine, order_id=oid)
    assert [line.quantity_cancelled for line in order.order.lines] == [1] * 6
    assert len([e for e in order.events if e["type"] == "order.line_cancelled"]) == 6
    assert order.order.total.to_decimal_string() == "24.00"


def test_processes_starting_together_create_one_bootstrap_admin(engine):
    """`serve --workers N` starts N processes on one database; each makes sure the bootstrap
    key exists. Racing, none may fail its start-up, and there is one admin with the key."""
    from orderhub.platform.auth import service as auth

    results = run_together(6, lambda _: auth.ensure_bootstrap_admin(engine, "boot-key-123"))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert auth.authenticate_key(engine, "boot-key-123").role.name == "admin"
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM users WHERE email = 'bootstrap-admin@orderhub.local'")
            ).scalar_one()
            == 1
        )
        assert conn.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one() == 1
