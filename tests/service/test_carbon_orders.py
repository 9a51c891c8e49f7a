"""Carbon's projection of orders (``carbon_orders``): written inside every order change by the
hook ``orderhub.wiring`` registers, in bulk for imported history; footprints read only it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from orderhub.carbon import service as carbon
from orderhub.carbon.store import orders as carbon_orders
from orderhub.core.errors import Conflict, NotFound
from orderhub.orders import capture, service
from orderhub.orders.canonical import OrderCreate


def _capture(engine, *, lat=52.52, lon=13.40):
    doc = {
        "currency": "EUR",
        "customer": {"email": "ann@example.com"},
        "shipping_address": {"city": "Berlin", "country": "DE", "lat": lat, "lon": lon},
        "lines": [
            {"sku": "A-1", "quantity": 2, "unit_price": "10.00"},
            {"sku": "B-2", "quantity": 1, "unit_price": "5.00"},
        ],
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def _row(engine, order_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(carbon_orders).where(carbon_orders.c.order_id == order_id)).mappings().first()


def test_capture_writes_the_projection_in_the_same_transaction(engine):
    oid = _capture(engine)
    order = service.get(engine, order_id=oid).order
    row = _row(engine, oid)
    assert (row["channel"], row["customer_email"], row["delivery_method"], row["country"]) == (
        "web",
        "ann@example.com",
        "ship",
        "DE",
    )
    assert (row["lat"], row["lon"], row["status"]) == (52.52, 13.40, "awaiting_payment")
    assert row["created_at"] == order.created_at
    assert row["lines"] == [
        {"line_id": order.lines[0].id, "sku": "A-1", "quantity": 2},
        {"line_id": order.lines[1].id, "sku": "B-2", "quantity": 1},
    ]


def test_a_change_updates_the_projection_and_a_refused_change_leaves_it_alone(engine):
    oid = _capture(engine)
    line = service.get(engine, order_id=oid).order.lines[0].id
    service.cancel_line(engine, order_id=oid, actor="test", line_id=line, quantity=1)
    service.transition(engine, order_id=oid, to="paid", actor="test")
    row = _row(engine, oid)
    assert row["status"] == "paid" and row["lines"][0]["quantity"] == 1
    with pytest.raises(Conflict):
        service.transition(engine, order_id=oid, to="delivered", actor="test")
    assert _row(engine, oid) == row


def test_imported_history_is_recorded_in_bulk_idempotently(engine):
    placed = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    order = capture.build_order(
        OrderCreate.model_validate(
            {
                "channel": "pos",
                "currency": "EUR",
                "customer": {"email": "bo@example.com"},
                "shipping_address": {"country": "DE"},
                "lines": [{"sku": "A-1", "quantity": 3, "unit_price": "1.00"}],
                "placed_at": placed.isoformat(),
            }
        )
    )
    capture.start_lifecycle(order)
    service.import_history(engine, orders=[order], actor="test")
    assert _row(engine, order.id) is None  # no order change ran, so no hook did
    facts = [order.as_facts()]
    assert carbon.record_orders(engine, facts) == carbon.record_orders(engine, facts) == 1
    row = _row(engine, order.id)
    assert row["created_at"] == placed and row["lat"] is None and row["lines"][0]["quantity"] == 3
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(carbon_orders)).scalar() == 1


def test_footprint_of_an_unknown_order_is_not_found(engine):
    with pytest.raises(NotFound) as err:
        carbon.get_order_footprint(engine, order_id="ord_missing")
    assert err.value.code == "order_not_found"
