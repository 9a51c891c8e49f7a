"""Customers (search, sort, lifetime value, returns, points) and exceptions (time in status,
late against promise, backorders, dead letters) through the service layer, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from orderhub.carbon import store as carbon_store
from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.orders import capture, customers, exceptions, payments, service
from orderhub.platform.db import unit_of_work
from tests.conftest import put_stock


def order(engine, ref, *, email="ann@example.com", name="Ann Lee", paid=True, total="10.00", **over):
    doc = {
        "currency": over.pop("currency", "EUR"),
        "external_ref": ref,
        "customer": {"email": email, "name": name, **over.pop("customer", {})},
        "shipping_address": {"city": "Leipzig", "postal_code": "04109", "country": "DE"},
        "lines": [{"sku": over.pop("sku", "A-1"), "quantity": 1, "unit_price": total}],
        "payment_status": "paid" if paid else "pending",
        **over,
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def status_since(engine, order_id):
    with engine.connect() as conn:
        from orderhub.orders.store import orders

        return conn.execute(orders.select().where(orders.c.id == order_id)).one().status_since


# -- customers ------------------------------------------------------------------------------
def test_customer_list_searches_name_email_and_loyalty_id_and_sorts_by_value_and_last_order(engine):
    put_stock(engine, {("DC-1", "A-1"): 100})
    t0 = utcnow() - timedelta(days=10)
    order(engine, "A1", email="ann@example.com", name="Ann Lee", total="30.00", placed_at=t0.isoformat())
    order(
        engine,
        "A2",
        email="ann@example.com",
        name="Ann Lee",
        total="12.50",
        placed_at=(t0 + timedelta(days=1)).isoformat(),
    )
    order(
        engine,
        "B1",
        email="bob@example.com",
        name="Bob Stone",
        total="99.00",
        placed_at=(t0 + timedelta(days=2)).isoformat(),
        customer={"external_id": "LOY-77"},
    )
    order(
        engine,
        "C1",
        email="cy@example.com",
        name="Cy Park",
        total="500.00",
        paid=False,
        placed_at=(t0 + timedelta(days=3)).isoformat(),
    )
    order(
        engine,
        "D1",
        email="ann@example.com",
        name="Ann Lee",
        total="7.00",
        currency="GBP",
        placed_at=(t0 + timedelta(days=4)).isoformat(),
    )

    by_value = customers.get_all(engine, sort="lifetime_value")
    assert by_value.currency == "EUR" and by_value.total == 3
    assert [c["email"] for c in by_value.items] == ["bob@example.com", "ann@example.com", "cy@example.com"]
    ann = by_value.items[1]
    assert ann["orders"] == 3 and ann["lifetime_value"] == {"EUR": "42.50", "GBP": "7.00"}
    assert by_value.items[2]["lifetime_value"] == {}  # unpaid orders are worth nothing yet

    by_last = customers.get_all(engine, sort="last_order")
    assert [c["email"] for c in by_last.items] == ["ann@example.com", "cy@example.com", "bob@example.com"]
    in_gbp = customers.get_all(engine, sort="lifetime_value", currency="GBP")
    assert in_gbp.items[0]["email"] == "ann@example.com"

    assert [c["email"] for c in customers.get_all(engine, q="STONE").items] == ["bob@example.com"]
    assert [c["email"] for c in customers.get_all(engine, q="loy-7").items] == ["bob@example.com"]
    assert [c["email"] for c in customers.get_all(engine, q="cy@").items] == ["cy@example.com"]
    assert customers.get_all(engine, q="100%").total == 0  # a wildcard is a character, not a pattern

    page2 = customers.get_all(engine, sort="name", limit=2, offset=2)
    assert page2.total == 3 and [c["name"] for c in page2.items] == ["Cy Park"]
    with pytest.raises(InvalidInput) as bad:
        customers.get_all(engine, sort="age")
    assert bad.value.errors == [{"parameter": "sort", "detail": "one of last_order, lifetime_value, orders, name"}]


def test_customer_page_has_orders_returns_value_points_and_first_and_last_order(engine):
    put_stock(engine, {("DC-1", "A-1"): 100})
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    first = order(engine, "R1", total="40.00", placed_at=t0.isoformat())
    kept = order(engine, "R2", total="15.00", placed_at=(t0 + timedelta(days=5)).isoformat())
    for oid in (first, kept):
        o = service.get(engine, order_id=oid).order
        service.allocate(engine, order_id=oid, actor="t", assignments={"DC-1": {o.lines[0].id: 1}})
        service.transition(engine, order_id=oid, to="released", actor="t")
        service.record_shipment(engine, order_id=oid, actor="t", lines={o.lines[0].id: 1})
        service.record_delivery(engine, order_id=oid, actor="t", lines={o.lines[0].id: 1})
    line = service.get(engine, order_id=first).order.lines[0].id
    service.receive_return(engine, order_id=first, actor="t", node_id="DC-1", lines={line: 1})
    with unit_of_work(engine) as conn:
        carbon_store.add_points(
            conn, customer_email="ann@example.com", points=40, reason="green", order_id=kept, at=utcnow()
        )

    by_email = customers.get(engine, customer="Ann@Example.com")
    by_id = customers.get(engine, customer=by_email["id"])
    assert by_id == by_email
    assert by_email["orders_total"] == 2 and [o["id"] for o in by_email["orders"]] == [kept, first]
    assert [o["id"] for o in by_email["returns"]] == [first]
    assert by_email["returns"][0]["status"] == "returned"
    assert by_email["first_order_at"] == t0.isoformat()
    assert by_email["last_order_at"] == (t0 + timedelta(days=5)).isoformat()
    assert by_email["lifetime_value"] == {"EUR": "55.00"}
    assert by_email["points"]["balance"] == 40 and by_email["points"]["entries"][0]["order_id"] == kept
    assert by_email["tier"] == "standard"

    payments.refund(engine, order_id=first, actor="t", amount="12.50", reason="one unit came back")
    assert customers.get(engine, customer="ann@example.com")["lifetime_value"] == {"EUR": "42.50"}
    listed = customers.get_all(engine, q="ann", sort="lifetime_value")
    assert [c["lifetime_value"] for c in listed.items] == [{"EUR": "42.50"}]
    with pytest.raises(NotFound):
        customers.get(engine, customer="cus_nobody")


# -- exceptions -----------------------------------------------------------------------------
def test_time_in_status_restarts_only_when_the_status_changes(engine):
    put_stock(engine, {("DC-1", "A-1"): 100})
    oid = order(engine, "S1")
    captured = status_since(engine, oid)
    service.set_tags(engine, order_id=oid, actor="t", tags=["gift"])  # same status: the clock runs on
    assert status_since(engine, oid) == captured
    service.hold(engine, order_id=oid, actor="t", reason="check address")
    held = status_since(engine, oid)
    assert held > captured

    now = utcnow()
    rows = {r["status"]: r for r in exceptions.get_ageing(engine, now=now + timedelta(hours=2))}
    assert rows["on_hold"]["counts"] == {"lt_1h": 0, "1_4h": 1, "4_24h": 0, "1_3d": 0, "gt_3d": 0}
    assert rows["paid"]["total"] == 0 and next(iter(rows)) == "created"
    later = {r["status"]: r for r in exceptions.get_ageing(engine, now=now + timedelta(days=4))}
    assert later["on_hold"]["counts"]["gt_3d"] == 1
    listed = exceptions.get_ageing_orders(engine, status="on_hold", bucket="1_4h", now=now + timedelta(hours=2))
    assert listed.total == 1 and listed.items[0]["id"] == oid and listed.items[0]["external_ref"] == "S1"
    assert 7200 <= listed.items[0]["seconds_in_status"] < 7300
    assert (
        exceptions.get_ageing_orders(engine, status="on_hold", bucket="4_24h", now=now + timedelta(hours=2)).total == 0
    )
    assert exceptions.get_summary(engine, now=now + timedelta(hours=2)).ageing == 0
    assert exceptions.get_summary(engine, now=now + timedelta(hours=25)).ageing == 1
    with pytest.raises(InvalidInput) as bad:
        exceptions.get_ageing_orders(engine, status="delivered")
    assert bad.value.errors[0]["parameter"] == "status"


def test_late_orders_are_past_their_promise_and_not_delivered_most_overdue_first(engine):
    put_stock(engine, {("DC-1", "A-1"): 100})
    now = utcnow()
    late2 = order(engine, "L2", promise_days=2, placed_at=(now - timedelta(days=3)).isoformat())
    late1 = order(engine, "L1", promise_days=1, placed_at=(now - timedelta(days=3)).isoformat())
    order(engine, "OK", promise_days=5, placed_at=(now - timedelta(days=3)).isoformat())
    order(engine, "NP", placed_at=(now - timedelta(days=30)).isoformat())  # no promise: never late
    gone = order(engine, "X", promise_days=1, placed_at=(now - timedelta(days=3)).isoformat())
    service.cancel(engine, order_id=gone, actor="t", reason="customer")

    late = exceptions.get_late(engine, now=now)
    assert late.total == 2 and [o["id"] for o in late.items] == [late1, late2]
    assert 2 * 86400 - 60 <= late.items[0]["seconds_late"] <= 2 * 86400 + 60
    summary = exceptions.get_summary(engine, now=now)
    assert (summary.late, summary.late_unshipped) == (2, 2)
    assert exceptions.get_late(engine, now=now - timedelta(days=2, minutes=1)).total == 0


def test_backorders_and_dead_letters_are_counted_and_listed(engine):
    oid = order(engine, "B1", sku="NONE-1")  # no stock anywhere: the line waits
    with pytest.raises(InvalidInput):
        capture.receive(engine, adapter="canonical", body=b'{"currency": "EUR"}', actor="test")
    listed = exceptions.get_backorders(engine)
    assert listed.total == 1
    [line] = listed.items
    assert (line["order_id"], line["sku"], line["quantity"], line["external_ref"]) == (oid, "NONE-1", 1, "B1")
    summary = exceptions.get_summary(engine)
    assert (summary.backorders, summary.backordered_orders, summary.dead_letters) == (1, 1, 1)
    assert (summary.late, summary.ageing) == (0, 0)


def test_migration_0017_back_fills_time_in_status_from_the_last_status_change(engine):
    from alembic import command
    from alembic.script import ScriptDirectory

    from orderhub.migrations import alembic_config, upgrade
    from orderhub.orders.store import orders

    put_stock(engine, {("DC-1", "A-1"): 100})
    held = order(engine, "M1")
    service.hold(engine, order_id=held, actor="t", reason="check")
    plain = order(engine, "M2")
    view = service.get(engine, order_id=held)
    last_change = max(e["occurred_at"] for e in view.events if e["type"] == "order.status_changed")
    config = alembic_config(engine)
    before = ScriptDirectory.from_config(config).get_revision("0017").down_revision
    command.downgrade(config, str(before))
    with engine.connect() as conn:
        assert "status_since" not in {c["name"] for c in sa.inspect(conn).get_columns("orders")}
    upgrade(engine)
    with engine.connect() as conn:
        since = dict(conn.execute(sa.select(orders.c.id, orders.c.status_since)).all())
    assert since[held] == last_change
    plain_events = service.get(engine, order_id=plain).events
    changes = [e["occurred_at"] for e in plain_events if e["type"] == "order.status_changed"]
    assert since[plain] == (max(changes) if changes else service.get(engine, order_id=plain).order.created_at)
