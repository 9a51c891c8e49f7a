"""Payments, refunds, returns (RMAs) and comments over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.conftest import position, put_stock


def delivered(client, engine):
    put_stock(engine, {("DC-1", "A"): 5, ("DC-1", "B"): 5, ("ST-9", "A"): 0})
    order = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "r@x.de"},
            "payment_status": "paid",
            "payment_method": "paypal",
            "shipping_address": {"city": "Berlin", "country": "DE"},
            "lines": [
                {"sku": "A", "quantity": 2, "unit_price": "20.00"},
                {"sku": "B", "quantity": 1, "unit_price": "9.90"},
            ],
        },
    ).json()
    lines = {x["sku"]: x["id"] for x in order["lines"]}
    client.post(
        f"/api/v1/orders/{order['id']}/allocation",
        json={
            "fulfilment_orders": [
                {
                    "node_id": "DC-1",
                    "lines": [{"line_id": lines["A"], "quantity": 2}, {"line_id": lines["B"], "quantity": 1}],
                }
            ]
        },
    ).raise_for_status()
    for to in ("released", "shipped", "delivered"):
        client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": to}).raise_for_status()
    return order["id"], lines


def test_payments_and_a_refund_over_http_with_problems_naming_the_field(client, engine):
    oid, lines = delivered(client, engine)
    p = client.get(f"/api/v1/orders/{oid}/payments").json()
    assert (p["method"], p["captured"], p["refundable"], p["balance"]) == ("paypal", "49.90", "49.90", "0.00")
    too_much = client.post(f"/api/v1/orders/{oid}/refunds", json={"amount": "49.91"})
    assert too_much.status_code == 422
    assert too_much.headers["content-type"].startswith("application/problem+json")
    assert too_much.json()["code"] == "refund_exceeds_captured"
    assert too_much.json()["errors"][0]["pointer"] == "/amount"
    bad_line = client.post(
        f"/api/v1/orders/{oid}/refunds", json={"amount": "1.00", "lines": [{"line_id": lines["B"], "quantity": 2}]}
    )
    assert bad_line.status_code == 422 and bad_line.json()["errors"][0]["pointer"] == "/lines/0/quantity"
    r = client.post(
        f"/api/v1/orders/{oid}/refunds",
        json={"amount": "9.90", "lines": [{"line_id": lines["B"], "quantity": 1}], "reason": "arrived late"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["amount"], body["reason"], body["payments"]["refunded"], body["payments"]["payment_status"]) == (
        "9.90",
        "arrived late",
        "9.90",
        "partially_refunded",
    )
    events = client.get(f"/api/v1/orders/{oid}").json()["events"]
    assert [e["data"]["amount"] for e in events if e["type"] == "order.refund_recorded"] == ["9.90"]
    assert client.get("/api/v1/orders/ord_nope/payments").status_code == 404


def test_an_rma_is_authorised_received_anywhere_and_refunded(client, engine):
    oid, lines = delivered(client, engine)
    r = client.post(
        f"/api/v1/orders/{oid}/returns",
        json={"lines": [{"line_id": lines["A"], "quantity": 2}], "reason": "too small", "condition": "unopened"},
    )
    assert r.status_code == 201, r.text
    rma = r.json()
    assert (rma["status"], rma["order_status"], rma["lines"][0]["sku"]) == ("requested", "return_requested", "A")
    assert r.headers["location"] == f"/api/v1/orders/{oid}/returns/{rma['id']}"
    early = client.post(f"/api/v1/orders/{oid}/returns/{rma['id']}/refund", json={})
    assert early.status_code == 409 and early.json()["code"] == "return_not_received"
    bad = client.post(f"/api/v1/orders/{oid}/returns/{rma['id']}/receive", json={"node_id": "DC-1", "condition": "new"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"].endswith("condition")
    got = client.post(
        f"/api/v1/orders/{oid}/returns/{rma['id']}/receive",
        json={"node_id": "ST-9", "condition": "resellable", "lines": [{"line_id": lines["A"], "quantity": 1}]},
    ).json()
    assert (got["status"], got["lines"][0]["received"]) == ("partially_received", 1)
    got = client.post(
        f"/api/v1/orders/{oid}/returns/{rma['id']}/receive", json={"node_id": "DC-1", "condition": "damaged"}
    ).json()
    assert (got["status"], got["order_status"]) == ("received", "delivered")  # B is still with the customer
    assert position(engine, "ST-9", "A").on_hand == 1 and position(engine, "DC-1", "A").on_hand == 3
    refund = client.post(f"/api/v1/orders/{oid}/returns/{rma['id']}/refund", json={"reason": "returned"})
    assert refund.status_code == 201 and refund.json()["amount"] == "40.00"
    assert refund.json()["return"]["refund_id"] == refund.json()["id"]
    listed = client.get(f"/api/v1/orders/{oid}/returns").json()["items"]
    assert [(x["id"], x["status"], len(x["receipts"])) for x in listed] == [(rma["id"], "received", 2)]
    bare = client.post(f"/api/v1/orders/{oid}/transitions", json={"to": "return_requested"})
    assert bare.status_code == 409 and bare.json()["code"] == "return_or_refund_required"


def test_comments_over_http_operators_write_viewers_read(client, engine, key_for):
    oid, _ = delivered(client, engine)
    r = client.post(f"/api/v1/orders/{oid}/comments", json={"text": "Called the customer"})
    assert r.status_code == 201 and r.json()["text"] == "Called the customer"
    assert r.json()["author"].startswith("user:")
    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    assert client.post(f"/api/v1/orders/{oid}/comments", json={"text": "hi"}, headers=viewer).status_code == 403
    items = client.get(f"/api/v1/orders/{oid}/comments", headers=viewer).json()["items"]
    assert [x["text"] for x in items] == ["Called the customer"]
    empty = client.post(f"/api/v1/orders/{oid}/comments", json={"text": ""})
    assert empty.status_code == 422 and empty.json()["errors"][0]["pointer"] == "/text"
    assert client.get("/api/v1/orders/ord_nope/comments").status_code == 404
