"""Capture on a real database (SQLite and PostgreSQL): once, all or nothing, nothing lost."""

import json

import pytest
import sqlalchemy as sa

from orderhub.core.errors import Conflict, InvalidInput, MalformedPayload
from orderhub.orders import capture, service
from tests.conftest import FIXTURES, put_stock


def body(**over):
    doc = {
        "currency": "EUR",
        "external_ref": "W-1001",
        "customer": {"email": "Ann@Example.com", "name": "Ann", "tier": "vip"},
        "shipping_address": {"city": "Berlin", "country": "DE", "lat": 52.52, "lon": 13.40},
        "lines": [
            {"sku": "A", "quantity": 2, "unit_price": "10.00"},
            {"sku": "B", "quantity": 1, "unit_price": "5.50"},
        ],
        "shipping_total": "4.95",
        "payment_status": "paid",
    }
    doc.update(over)
    return json.dumps(doc).encode()


def count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_capture_writes_order_lines_events_and_outbox_in_one_go(engine):
    put_stock(engine, {("DC-1", "A"): 5, ("DC-1", "B"): 5})
    result = capture.receive(engine, adapter="canonical", body=body(), actor="test")
    assert result.created
    view = service.get(engine, order_id=result.order_id)
    order = view.order
    assert order.status.value == "paid"
    assert order.total.to_decimal_string() == "30.45"
    assert order.customer.email == "ann@example.com" and order.customer.id.startswith("cus_")
    assert [e["type"] for e in view.events] == [
        "order.captured",
        "order.status_changed",
        "order.stock_reserved",
        "order.sourced",
    ]
    assert count(engine, "outbox") == 4
    assert count(engine, "order_lines") == 2


def test_same_channel_order_twice_is_one_order(engine):
    put_stock(engine, {("DC-1", "A"): 5, ("DC-1", "B"): 5})
    first = capture.receive(engine, adapter="canonical", body=body(), actor="test")
    second = capture.receive(engine, adapter="canonical", body=body(), actor="test")
    assert second.order_id == first.order_id and not second.created
    assert count(engine, "orders") == 1
    assert count(engine, "outbox") == 4
    assert count(engine, "reservations") == 2


def test_idempotency_key_same_body_same_order_other_body_conflict(engine):
    doc = body(external_ref="")
    a = capture.receive(engine, adapter="canonical", body=doc, actor="t", idempotency_key="k1", principal_id="u1")
    b = capture.receive(engine, adapter="canonical", body=doc, actor="t", idempotency_key="k1", principal_id="u1")
    assert a.order_id == b.order_id and not b.created
    with pytest.raises(Conflict) as err:
        capture.receive(
            engine,
            adapter="canonical",
            body=body(external_ref="", notes="other"),
            actor="t",
            idempotency_key="k1",
            principal_id="u1",
        )
    assert err.value.code == "idempotency_key_reused"
    # the same key from another caller is another request
    c = capture.receive(engine, adapter="canonical", body=doc, actor="t", idempotency_key="k1", principal_id="u2")
    assert c.created and c.order_id != a.order_id
    assert count(engine, "orders") == 2


@pytest.mark.parametrize(
    ("doc", "pointer"),
    [
        (body(lines=[{"quantity": 1, "unit_price": "1.00"}]), "/lines/0/sku"),
        (body(lines=[{"sku": "A", "quantity": 0, "unit_price": "1.00"}]), "/lines/0/quantity"),
        (body(currency="EUX"), "/currency"),
        (body(lines=[{"sku": "A", "quantity": 1, "unit_price": "ten"}]), "/lines/0/unit_price"),
        (body(lines=[{"sku": "A", "quantity": 1, "unit_price": "1.005"}]), "/lines/0/unit_price"),
    ],
)
def test_bad_input_names_the_field_stores_no_order_and_keeps_a_dead_letter(engine, doc, pointer):
    with pytest.raises(InvalidInput) as err:
        capture.receive(engine, adapter="canonical", body=doc, actor="test")
    assert pointer in [e["pointer"] for e in err.value.errors]
    assert count(engine, "orders") == 0 and count(engine, "order_lines") == 0 and count(engine, "outbox") == 0
    letters, _ = capture.get_dead_letters(engine)
    assert [d["id"] for d in letters] == [err.value.fields["dead_letter_id"]]
    assert capture.get_dead_letter(engine, letter_id=letters[0]["id"])["payload"] == doc.decode()


def test_malformed_json_is_kept_verbatim(engine):
    with pytest.raises(MalformedPayload):
        capture.receive(engine, adapter="shopify", body=b'{"id": 1, ', actor="test")
    [listed], _ = capture.get_dead_letters(engine)
    letter = capture.get_dead_letter(engine, letter_id=listed["id"])
    assert letter["payload"] == '{"id": 1, ' and letter["adapter"] == "shopify"
    assert count(engine, "orders") == 0


def test_dead_letter_replay_with_a_corrected_payload_captures_once(engine):
    bad = json.loads((FIXTURES / "shopify_order.json").read_text())
    del bad["line_items"][0]["sku"]
    with pytest.raises(InvalidInput) as err:
        capture.receive(engine, adapter="shopify", body=json.dumps(bad).encode(), actor="webhook")
    letter_id = err.value.fields["dead_letter_id"]

    with pytest.raises(InvalidInput):  # replaying unchanged fails again and counts the attempt
        capture.replay_dead_letter(engine, letter_id=letter_id, actor="staff")
    assert capture.get_dead_letter(engine, letter_id=letter_id)["attempts"] == 2

    bad["line_items"][0]["sku"] = "SHOE-TRAIL-42-BLU"
    result = capture.replay_dead_letter(engine, letter_id=letter_id, actor="staff", payload=json.dumps(bad))
    assert result.created
    letter = capture.get_dead_letter(engine, letter_id=letter_id)
    assert (letter["status"], letter["order_id"], letter["resolved_by"]) == ("replayed", result.order_id, "staff")
    with pytest.raises(Conflict):
        capture.replay_dead_letter(engine, letter_id=letter_id, actor="staff")
    assert count(engine, "orders") == 1


def test_a_crash_mid_capture_leaves_nothing_behind(engine, monkeypatch):
    from orderhub.bus import service as bus

    def explode(conn, events):
        raise RuntimeError("power cut")

    monkeypatch.setattr(bus, "publish", explode)
    with pytest.raises(RuntimeError):
        capture.receive(engine, adapter="canonical", body=body(), actor="test")
    for table in ("orders", "order_lines", "customers", "outbox", "order_tags"):
        assert count(engine, table) == 0, table


def test_channel_cancelled_order_is_captured_as_cancelled(engine):
    payload = json.loads((FIXTURES / "woocommerce_order.json").read_text())
    payload["status"] = "cancelled"
    result = capture.receive(engine, adapter="woocommerce", body=json.dumps(payload).encode(), actor="webhook")
    order = service.get(engine, order_id=result.order_id).order
    assert order.status.value == "cancelled"
    assert all(line.open_quantity == 0 for line in order.lines)


def test_pos_sale_taken_at_the_till_is_delivered_on_capture(engine):
    result = capture.receive(engine, adapter="pos", body=(FIXTURES / "pos_sale.json").read_bytes(), actor="pos")
    view = service.get(engine, order_id=result.order_id)
    assert view.order.status.value == "delivered"
    assert [e["data"].get("to") for e in view.events if e["type"] == "order.status_changed"] == ["paid", "delivered"]
