"""A node's pick list through the service layer, on SQLite and PostgreSQL: what is on it and
in which order the database ranks it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from orderhub.core.clock import utcnow
from orderhub.core.errors import NotFound
from orderhub.orders import capture, service
from tests.conftest import put_stock

BASE = (utcnow() - timedelta(days=3)).replace(microsecond=0)


def paid_order(engine, ref, *, hours=0.0, priority=0, promise_days=None, tier="standard"):  # type: ignore[no-untyped-def]
    """A paid order placed ``hours`` after ``BASE``: 2 × A-1 (Mug) and 1 × B-2 (Tea)."""
    doc = {
        "channel": "web",
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": f"{ref.lower()}@example.com", "tier": tier},
        "shipping_address": {"city": "Leipzig", "postal_code": "04109", "country": "DE"},
        "lines": [
            {"sku": "A-1", "name": "Mug", "quantity": 2, "unit_price": "10.00"},
            {"sku": "B-2", "name": "Tea", "quantity": 1, "unit_price": "5.00"},
        ],
        "payment_status": "paid",
        "placed_at": (BASE + timedelta(hours=hours)).isoformat(),
        "priority": priority,
        "promise_days": promise_days,
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def released(engine, ref, *, node="DC-1", **kw):  # type: ignore[no-untyped-def]
    oid = paid_order(engine, ref, **kw)
    lines = service.get(engine, order_id=oid).order.lines
    service.allocate(engine, order_id=oid, actor="t", assignments={node: {line.id: line.quantity for line in lines}})
    service.transition(engine, order_id=oid, to="released", actor="t")
    return oid


def refs(pick_list):  # type: ignore[no-untyped-def]
    return [item.external_ref for item in pick_list.items]


@pytest.fixture
def stocked(engine):  # type: ignore[no-untyped-def]
    put_stock(engine, {(n, s): 100 for n in ("DC-1", "ST-9") for s in ("A-1", "B-2")})
    return engine


def test_pick_list_ranks_by_priority_then_promise_then_age(stocked):
    engine = stocked
    released(engine, "LATE-PROMISE", hours=0, promise_days=5)  # promised BASE + 5 d
    released(engine, "URGENT", hours=1, priority=5, tier="gold")  # highest priority, no promise
    released(engine, "SOON", hours=2, promise_days=2)  # promised BASE + 2 d 2 h
    released(engine, "OLDEST-NO-PROMISE", hours=-24)  # oldest of all, but no promise: after the promises
    released(engine, "SOONEST", hours=24, promise_days=1)  # promised BASE + 2 d: newer than SOON, promised earlier
    released(engine, "LOW", hours=-48, priority=-1, promise_days=1)  # oldest, earliest promise, lowest priority
    twin_a = released(engine, "TWIN-A", hours=30, promise_days=3)  # same promise and age as TWIN-B:
    twin_b = released(engine, "TWIN-B", hours=30, promise_days=3)  # the fulfilment order id decides

    got = service.get_pick_list(engine, node_id="DC-1")

    fo_of = {oid: service.get(engine, order_id=oid).order.fulfilment_orders[0].id for oid in (twin_a, twin_b)}
    twins = [ref for _, ref in sorted([(fo_of[twin_a], "TWIN-A"), (fo_of[twin_b], "TWIN-B")])]
    assert refs(got) == ["URGENT", "SOONEST", "SOON", *twins, "LATE-PROMISE", "OLDEST-NO-PROMISE", "LOW"]
    assert [item.rank for item in got.items] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert got.has_more is False and got.node_id == "DC-1"
    first, soonest = got.items[0], got.items[1]
    assert (first.channel, first.customer_tier, first.priority, first.promised_by) == ("web", "gold", 5, None)
    assert first.created_at == BASE + timedelta(hours=1)
    assert first.order_status == "released"
    assert [(line.sku, line.name, line.quantity) for line in first.lines] == [("A-1", "Mug", 2), ("B-2", "Tea", 1)]
    assert abs(first.age_seconds - (utcnow() - first.created_at).total_seconds()) < 60
    assert soonest.promised_by == BASE + timedelta(hours=48)


def test_limit_keeps_the_first_and_says_more_wait(stocked):
    released(stocked, "P1", priority=1)
    released(stocked, "P3", priority=3)
    released(stocked, "P2", priority=2)
    got = service.get_pick_list(stocked, node_id="DC-1", limit=2)
    assert refs(got) == ["P3", "P2"] and got.has_more is True
    assert service.get_pick_list(stocked, node_id="DC-1", limit=3).has_more is False


def test_only_released_work_still_to_pick_at_this_node_is_listed(stocked):
    engine = stocked
    released(engine, "ON-LIST")
    unreleased = paid_order(engine, "ALLOCATED", priority=9)
    lines = service.get(engine, order_id=unreleased).order.lines
    service.allocate(engine, order_id=unreleased, actor="t", assignments={"DC-1": {x.id: x.quantity for x in lines}})
    held = released(engine, "HELD", priority=9)
    service.hold(engine, order_id=held, actor="t", reason="address check")
    released(engine, "OTHER-NODE", node="ST-9", priority=9)
    picked = released(engine, "PICKED", priority=9)
    service.transition(engine, order_id=picked, to="picked", actor="t")
    shipped = released(engine, "SHIPPED", priority=9)
    service.transition(engine, order_id=shipped, to="shipped", actor="t")
    cancelled = released(engine, "CANCELLED", priority=9)
    service.cancel(engine, order_id=cancelled, actor="t", reason="customer")

    assert refs(service.get_pick_list(engine, node_id="DC-1")) == ["ON-LIST"]
    assert refs(service.get_pick_list(engine, node_id="ST-9")) == ["OTHER-NODE"]
    assert service.get(engine, order_id=held).order.status == "on_hold"  # held from released: off the list


def test_a_split_order_stays_on_the_list_of_the_node_that_has_not_shipped(stocked):
    engine = stocked
    oid = paid_order(engine, "SPLIT", priority=2)
    mug, tea = service.get(engine, order_id=oid).order.lines
    service.allocate(engine, order_id=oid, actor="t", assignments={"DC-1": {mug.id: 2}, "ST-9": {tea.id: 1}})
    service.transition(engine, order_id=oid, to="released", actor="t")
    service.record_shipment(engine, order_id=oid, actor="wms", lines={tea.id: 1})  # ST-9 shipped its part

    dc = service.get_pick_list(engine, node_id="DC-1")
    assert refs(dc) == ["SPLIT"]
    assert dc.items[0].order_status == "partially_shipped"
    assert [(line.sku, line.quantity) for line in dc.items[0].lines] == [("A-1", 2)]
    assert refs(service.get_pick_list(engine, node_id="ST-9")) == []

    service.record_delivery(engine, order_id=oid, actor="carrier", lines={tea.id: 1})  # … and it arrived
    assert [(x.external_ref, x.order_status) for x in service.get_pick_list(engine, node_id="DC-1").items] == [
        ("SPLIT", "partially_delivered")
    ]
    service.record_shipment(engine, order_id=oid, actor="wms", lines={mug.id: 2})  # DC-1 shipped too
    assert service.get(engine, order_id=oid).order.status == "partially_delivered"
    assert refs(service.get_pick_list(engine, node_id="DC-1")) == []


def test_a_line_split_between_nodes_lists_each_nodes_share(stocked):
    engine = stocked
    oid = paid_order(engine, "SHARE")
    mug, tea = service.get(engine, order_id=oid).order.lines
    service.allocate(engine, order_id=oid, actor="t", assignments={"DC-1": {mug.id: 1, tea.id: 1}, "ST-9": {mug.id: 1}})
    service.transition(engine, order_id=oid, to="released", actor="t")
    dc, st = (service.get_pick_list(engine, node_id=n).items[0] for n in ("DC-1", "ST-9"))
    assert [(line.sku, line.quantity) for line in dc.lines] == [("A-1", 1), ("B-2", 1)]
    assert [(line.sku, line.quantity) for line in st.lines] == [("A-1", 1)]


def test_an_unknown_node_is_not_found(engine):
    with pytest.raises(NotFound) as err:
        service.get_pick_list(engine, node_id="NOPE")
    assert err.value.code == "node_not_found"
