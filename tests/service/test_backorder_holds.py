"""Backorders of unpaid orders: the stock they get when it arrives is under the presale lock."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from orderhub.core.clock import utcnow
from orderhub.inventory import adjustments
from orderhub.inventory import service as inventory
from orderhub.orders import service
from tests.conftest import position, put_stock
from tests.service.test_inventory import order


def receive(engine, sku: str, quantity: int) -> None:
    supply = adjustments.add_supply(engine, node_id="DC-1", sku=sku, quantity=quantity, expected_at=utcnow())
    adjustments.receive_supply(engine, supply_id=supply, actor="wms")


def test_an_unpaid_backorder_gets_the_channels_deadline_when_stock_arrives_and_expires(engine):
    put_stock(engine, {("DC-1", "A"): 0})
    inventory.set_policy(engine, channel="web", reservation_ttl_s=600, buffer_pct=0)
    unpaid = order(engine, lines=[("A", 2)], ref="u1")
    before = utcnow()
    receive(engine, "A", 2)
    [hold] = service.get_stock(engine, order_id=unpaid)["holds"]
    assert hold["quantity"] == 2 and hold["expires_at"] is not None
    assert before + timedelta(seconds=599) <= hold["expires_at"] <= utcnow() + timedelta(seconds=601)
    assert tuple(position(engine, "DC-1", "A")) == (2, 2, 0)
    with engine.begin() as conn:  # the deadline passes
        conn.execute(
            sa.text("UPDATE reservations SET expires_at = :t WHERE order_id = :o"),
            {"t": utcnow() - timedelta(seconds=1), "o": unpaid},
        )
    assert service.expire_unpaid(engine) == [unpaid]
    assert service.get(engine, order_id=unpaid).order.status.value == "cancelled"
    assert tuple(position(engine, "DC-1", "A")) == (2, 0, 0)
    assert inventory.check_ledger(engine) == []


def test_a_backorder_paid_before_the_stock_arrives_holds_it_without_a_deadline(engine):
    put_stock(engine, {("DC-1", "A"): 0})
    inventory.set_policy(engine, channel="web", reservation_ttl_s=600, buffer_pct=0)
    oid = order(engine, lines=[("A", 1)], ref="p1")
    service.mark_paid(engine, order_id=oid, actor="psp")
    receive(engine, "A", 1)
    [hold] = service.get_stock(engine, order_id=oid)["holds"]
    assert hold["quantity"] == 1 and hold["expires_at"] is None
    assert service.expire_unpaid(engine) == []
    assert tuple(position(engine, "DC-1", "A")) == (1, 1, 0)
