"""Lifecycle, editing and search through the service layer on a real database."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.orders import capture, service
from tests.conftest import put_stock


def new_order(engine, *, ref="W-1", paid=False, placed_at=None, tags=(), email="ann@example.com", channel="web"):
    doc = {
        "channel": channel,
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": email, "name": "Ann Lee"},
        "shipping_address": {"city": "Leipzig", "postal_code": "04109", "country": "DE"},
        "lines": [
            {"sku": "A-1", "quantity": 2, "unit_price": "10.00"},
            {"sku": "B-2", "quantity": 1, "unit_price": "5.00"},
        ],
        "payment_status": "paid" if paid else "pending",
        "tags": list(tags),
    }
    if placed_at:
        doc["placed_at"] = placed_at.isoformat()
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def test_illegal_transition_is_conflict_and_writes_nothing(engine):
    oid = new_order(engine)
    before = service.get(engine, order_id=oid)
    with pytest.raises(Conflict) as err:
        service.transition(engine, order_id=oid, to="shipped", actor="user:x")
    assert err.value.fields["current_status"] == "awaiting_payment"
    assert err.value.fields["allowed_next"] == ["paid", "on_hold", "cancelled"]
    after = service.get(engine, order_id=oid)
    assert after.order.version == before.order.version
    assert len(after.events) == len(before.events)


def test_edit_before_release_recomputes_totals_and_logs_who_changed_what(engine):
    oid = new_order(engine, paid=True)
    service.add_line(engine, order_id=oid, actor="user:ops@x", sku="C-3", quantity=3, unit_price="1.50")
    service.change_line_quantity(
        engine,
        order_id=oid,
        actor="user:ops@x",
        line_id=service.get(engine, order_id=oid).order.lines[0].id,
        quantity=1,
    )
    service.change_address(engine, order_id=oid, actor="user:ops@x", address={"city": "Dresden", "country": "DE"})
    view = service.get(engine, order_id=oid)
    assert view.order.total.to_decimal_string() == "19.50"
    assert view.order.shipping_address.city == "Dresden"
    edits = [e for e in view.events if e["type"] == "order.edited"]
    assert [e["data"]["field"] for e in edits] == ["lines", "quantity", "shipping_address"]
    assert {e["actor"] for e in edits} == {"user:ops@x"}
    assert edits[2]["data"]["before"]["city"] == "Leipzig"


def test_edit_after_release_is_refused(engine):
    put_stock(engine, {("DC-1", "A-1"): 10, ("DC-1", "B-2"): 10})
    oid = new_order(engine, paid=True)
    order = service.get(engine, order_id=oid).order
    service.allocate(
        engine, order_id=oid, actor="t", assignments={"DC-1": {line.id: line.quantity for line in order.lines}}
    )
    service.transition(engine, order_id=oid, to="released", actor="t")
    with pytest.raises(Conflict) as err:
        service.cancel_line(engine, order_id=oid, actor="t", line_id=order.lines[0].id)
    assert err.value.code == "not_editable"


def test_split_into_fulfilment_orders_then_partial_shipment(engine):
    put_stock(engine, {("DC-1", "A-1"): 10, ("DC-1", "B-2"): 10, ("ST-9", "B-2"): 1})
    oid = new_order(engine, paid=True)
    a, b = service.get(engine, order_id=oid).order.lines
    order = service.allocate(engine, order_id=oid, actor="t", assignments={"DC-1": {a.id: 2}, "ST-9": {b.id: 1}})
    assert sorted(f.node_id for f in order.fulfilment_orders) == ["DC-1", "ST-9"]
    service.transition(engine, order_id=oid, to="released", actor="t")
    order = service.record_shipment(engine, order_id=oid, actor="wms", lines={a.id: 2})
    assert order.status.value == "partially_shipped"
    stored = service.get(engine, order_id=oid).order
    assert [f.node_id for f in stored.fulfilment_orders] == ["DC-1", "ST-9"]
    assert stored.lines[0].quantity_shipped == 2 and stored.lines[1].quantity_shipped == 0


def test_unknown_order_is_not_found(engine):
    with pytest.raises(NotFound):
        service.get(engine, order_id="ord_nope")


def test_search_filters_and_cursor_pagination(engine):
    base = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ids = [
        new_order(
            engine,
            ref=f"W-{i}",
            placed_at=base + timedelta(hours=i),
            tags=("gift",) if i % 2 else (),
            email=f"c{i % 3}@x.de",
        )
        for i in range(7)
    ]
    page1 = service.get_all(engine, limit=3)
    page2 = service.get_all(engine, limit=3, cursor=page1.next_cursor)
    page3 = service.get_all(engine, limit=3, cursor=page2.next_cursor)
    got = [r["id"] for r in page1.items + page2.items + page3.items]
    assert got == list(reversed(ids)) and page3.next_cursor is None
    assert {r["id"] for r in service.get_all(engine, tag="gift").items} == {ids[i] for i in (1, 3, 5)}
    assert {r["id"] for r in service.get_all(engine, customer="c0@x.de").items} == {ids[0], ids[3], ids[6]}
    window = service.get_all(engine, created_from=base + timedelta(hours=2), created_to=base + timedelta(hours=4))
    assert [r["id"] for r in window.items] == [ids[3], ids[2]]
    assert [r["id"] for r in service.get_all(engine, text="w-5").items] == [ids[5]]
    assert len(service.get_all(engine, text="b-2").items) == 7  # by SKU
    assert service.get_all(engine, status=["paid"]).items == []
    with pytest.raises(InvalidInput):
        service.get_all(engine, status=["bogus"])
    with pytest.raises(InvalidInput):
        service.get_all(engine, cursor="not-a-cursor")


def test_dashboard_counts(engine):
    new_order(engine, ref="a")
    new_order(engine, ref="b", paid=True, channel="shopify")
    dash = service.get_dashboard(engine)
    assert dash.by_status == {"awaiting_payment": 1, "paid": 1}
    assert dash.by_channel == {"web": 1, "shopify": 1}
    assert dash.total == 2
    assert sum(n for _, n in dash.per_day) == 2 and len(dash.per_day) == 30
