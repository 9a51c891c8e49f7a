"""The HTTP API: auth, roles, channel webhooks with signatures, problem+json errors."""

import base64
import hashlib
import hmac
import json

import pytest
import sqlalchemy as sa

from tests.conftest import FIXTURES

SHOPIFY_SECRET = "shpss_test_secret"
WC_SECRET = "wc_test_secret"


def sign(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def rows(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


ORDER = {
    "currency": "EUR",
    "customer": {"email": "web@example.com"},
    "lines": [{"sku": "A", "quantity": 1, "unit_price": "12.00"}],
}


def test_healthz_is_public_everything_else_needs_a_key(client):
    assert client.get("/healthz", headers={"Authorization": ""}).status_code == 200
    del client.headers["Authorization"]
    r = client.get("/api/v1/orders")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/orders", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_viewer_reads_but_cannot_change(client, key_for, engine):
    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    assert client.get("/api/v1/orders", headers=viewer).status_code == 200
    r = client.post("/api/v1/orders", json=ORDER, headers=viewer)
    assert r.status_code == 403 and r.json()["code"] == "role_required"
    assert rows(engine, "orders") == 0
    oid = client.post("/api/v1/orders", json=ORDER).json()["id"]
    r = client.post(f"/api/v1/orders/{oid}/cancel", json={"reason": "x"}, headers=viewer)
    assert r.status_code == 403
    assert client.get(f"/api/v1/orders/{oid}").json()["status"] == "awaiting_payment"


def test_capture_and_read_back_with_events(client):
    r = client.post("/api/v1/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
    assert r.status_code == 201
    order = r.json()
    assert r.headers["location"] == f"/api/v1/orders/{order['id']}"
    assert order["total"] == "12.00" and order["lines"][0]["status"] == "open"
    again = client.post("/api/v1/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == order["id"]
    other = client.post("/api/v1/orders", json={**ORDER, "notes": "x"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    detail = client.get(f"/api/v1/orders/{order['id']}").json()
    assert [e["type"] for e in detail["events"]] == [
        "order.captured",
        "order.status_changed",
        "order.stock_reserved",
        "order.backordered",  # no stock anywhere yet: the order waits
    ]


def test_illegal_transition_is_409_problem_with_allowed_next(client):
    oid = client.post("/api/v1/orders", json=ORDER).json()["id"]
    r = client.post(f"/api/v1/orders/{oid}/transitions", json={"to": "delivered"})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    p = r.json()
    assert (p["current_status"], p["allowed_next"]) == ("awaiting_payment", ["paid", "on_hold", "cancelled"])


@pytest.mark.parametrize(
    ("raw", "status", "pointer"),
    [
        (b"{not json", 400, ""),
        (json.dumps({**ORDER, "lines": [{"quantity": 1, "unit_price": "1"}]}).encode(), 422, "/lines/0/sku"),
        (
            json.dumps({**ORDER, "lines": [{"sku": "A", "quantity": -2, "unit_price": "1"}]}).encode(),
            422,
            "/lines/0/quantity",
        ),
        (json.dumps({**ORDER, "currency": "ABC"}).encode(), 422, "/currency"),
        (
            json.dumps({**ORDER, "lines": [{"sku": "A", "quantity": 1, "unit_price": "1,00"}]}).encode(),
            422,
            "/lines/0/unit_price",
        ),
    ],
)
def test_bad_input_problem_points_at_field_and_is_dead_lettered(client, engine, raw, status, pointer):
    r = client.post("/api/v1/orders", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in problem["errors"]]
    assert rows(engine, "orders") == 0
    letter = client.get(f"/api/v1/dead-letters/{problem['dead_letter_id']}").json()
    assert letter["payload"] == raw.decode() and letter["status"] == "pending"


def test_shopify_webhook_signed_captured_once_on_redelivery(client, engine):
    raw = (FIXTURES / "shopify_order.json").read_bytes()
    headers = {
        "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, raw),
        "Authorization": "",
        "Content-Type": "application/json",
    }
    first = client.post("/api/v1/channels/shopify/orders", content=raw, headers=headers)
    assert first.status_code == 201, first.text
    o = first.json()
    assert (o["channel"], o["external_ref"], o["status"], o["total"]) == ("shopify", "5820392881281", "paid", "253.00")
    events = client.get(f"/api/v1/orders/{o['id']}").json()["events"]
    assert {e["actor"] for e in events} == {"channel:shopify"}
    retry = client.post("/api/v1/channels/shopify/orders", content=raw, headers=headers)
    assert retry.status_code == 200 and retry.json()["id"] == o["id"]
    assert rows(engine, "orders") == 1


def test_bad_signature_is_401_and_stores_nothing(client, engine):
    raw = (FIXTURES / "shopify_order.json").read_bytes()
    r = client.post(
        "/api/v1/channels/shopify/orders",
        content=raw,
        headers={"X-Shopify-Hmac-Sha256": sign("wrong", raw), "Authorization": ""},
    )
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    raw_wc = (FIXTURES / "woocommerce_order.json").read_bytes()
    tampered = raw_wc.replace(b'"42.40"', b'"0.01"')
    r = client.post(
        "/api/v1/channels/woocommerce/orders",
        content=tampered,
        headers={"X-WC-Webhook-Signature": sign(WC_SECRET, raw_wc), "Authorization": ""},
    )
    assert r.status_code == 401
    assert rows(engine, "orders") == 0 and rows(engine, "dead_letters") == 0


def test_unsigned_channel_post_needs_an_operator_key(client, key_for):
    raw = (FIXTURES / "woocommerce_order.json").read_bytes()
    r = client.post("/api/v1/channels/woocommerce/orders", content=raw, headers={"Authorization": ""})
    assert r.status_code == 401
    r = client.post(
        "/api/v1/channels/woocommerce/orders", content=raw, headers={"Authorization": f"Bearer {key_for('viewer')}"}
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/channels/woocommerce/orders", content=raw, headers={"Authorization": f"Bearer {key_for('operator')}"}
    )
    assert r.status_code == 201 and r.json()["total"] == "42.40"


def test_every_adapter_captures_its_fixture(client):
    for adapter, fixture in [
        ("woocommerce", "woocommerce_order.json"),
        ("pos", "pos_sale.json"),
        ("social", "social_order.json"),
    ]:
        r = client.post(f"/api/v1/channels/{adapter}/orders", content=(FIXTURES / fixture).read_bytes())
        assert r.status_code == 201, (adapter, r.text)
        assert r.json()["channel"] == adapter
    assert client.post("/api/v1/channels/amazon/orders", content=b"{}").status_code == 404


def test_bad_channel_payload_dead_letter_then_replay_over_http(client):
    payload = json.loads((FIXTURES / "social_order.json").read_text())
    payload["items"][1]["count"] = 0
    r = client.post("/api/v1/channels/social/orders", json=payload)
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/items/1/count"
    letter_id = r.json()["dead_letter_id"]
    assert [d["id"] for d in client.get("/api/v1/dead-letters").json()["items"]] == [letter_id]
    payload["items"][1]["count"] = 1
    replay = client.post(f"/api/v1/dead-letters/{letter_id}/replay", json={"payload": json.dumps(payload)})
    assert replay.status_code == 201 and replay.json()["channel"] == "social"
    assert client.get("/api/v1/dead-letters").json()["items"] == []


def test_edit_endpoints_and_list_filters(client):
    oid = client.post("/api/v1/orders", json={**ORDER, "payment_status": "paid", "tags": ["gift"]}).json()["id"]
    r = client.post(f"/api/v1/orders/{oid}/lines", json={"sku": "B", "quantity": 2, "unit_price": "3.25"})
    assert r.status_code == 201 and r.json()["total"] == "18.50"
    line_b = r.json()["lines"][1]["id"]
    r = client.post(f"/api/v1/orders/{oid}/lines/{line_b}/cancel", json={"quantity": 1})
    assert r.json()["total"] == "15.25"
    r = client.patch(f"/api/v1/orders/{oid}", json={"shipping_address": {"city": "Bonn", "country": "DE"}})
    assert r.json()["shipping_address"]["city"] == "Bonn"
    assert [i["id"] for i in client.get("/api/v1/orders", params={"tag": "gift"}).json()["items"]] == [oid]
    assert client.get("/api/v1/orders", params={"status": "paid", "channel": "web"}).json()["items"][0]["id"] == oid
    r = client.get("/api/v1/orders", params={"status": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["parameter"] == "status"


def test_openapi_documents_the_canonical_order(client):
    spec = client.get("/openapi.json").json()
    assert "OrderCreate" in spec["components"]["schemas"]
    assert spec["paths"]["/api/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrderCreate"
    }


def test_bare_move_to_allocated_is_409_naming_the_allocation_route(client):
    oid = client.post("/api/v1/orders", json={**ORDER, "payment_status": "paid"}).json()["id"]
    r = client.post(f"/api/v1/orders/{oid}/transitions", json={"to": "allocated"})
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    p = r.json()
    assert p["code"] == "allocation_required"
    assert p["allocation_route"] == f"/api/v1/orders/{oid}/allocation"
    order = client.get(f"/api/v1/orders/{oid}").json()
    assert order["status"] == "paid" and order["fulfilment_orders"] == []
    assert order["allowed_moves"] == ["on_hold", "cancelled"]


def test_patching_an_address_keeps_unsent_fields_and_refuses_an_empty_city(client):
    address = {"city": "Leipzig", "postal_code": "04109", "region": "SN", "country": "DE", "lat": 51.3, "lon": 12.4}
    oid = client.post("/api/v1/orders", json={**ORDER, "shipping_address": address}).json()["id"]
    r = client.patch(f"/api/v1/orders/{oid}", json={"shipping_address": {"line1": "Markt 2"}})
    assert r.status_code == 200
    assert r.json()["shipping_address"] == {**address, "name": "", "line1": "Markt 2", "line2": "", "phone": ""}
    r = client.patch(f"/api/v1/orders/{oid}", json={"shipping_address": {"city": ""}})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/shipping_address/city"
    assert client.get(f"/api/v1/orders/{oid}").json()["shipping_address"]["city"] == "Leipzig"
