"""``/api/v1/customers`` and ``/api/v1/exceptions`` over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from orderhub.core.clock import utcnow
from orderhub.orders.store import orders
from tests.conftest import put_stock


def post(client, ref, *, email, name, price="10.00", **over):
    body = {
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": email, "name": name, **over.pop("customer", {})},
        "shipping_address": {"city": "Berlin", "country": "DE"},
        "lines": [{"sku": over.pop("sku", "MUG-1"), "quantity": 1, "unit_price": price}],
        "payment_status": "paid",
        **over,
    }
    r = client.post("/api/v1/orders", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_customers_are_searched_sorted_paged_and_opened_by_id_or_email(client, engine):
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    ann = post(client, "A-1", email="ann@example.com", name="Ann Lee", price="1234.50", customer={"tier": "vip"})
    post(client, "B-1", email="bob@example.com", name="Bob Stone", price="20.00", customer={"external_id": "LOY-9"})
    post(client, "B-2", email="bob@example.com", name="Bob Stone", price="5.00")

    listed = client.get("/api/v1/customers", params={"sort": "lifetime_value"}).json()
    assert (listed["total"], listed["currency"], listed["sort"]) == (2, "EUR", "lifetime_value")
    assert [(c["email"], c["orders"], c["lifetime_value"]) for c in listed["items"]] == [
        ("ann@example.com", 1, {"EUR": "1234.50"}),
        ("bob@example.com", 2, {"EUR": "25.00"}),
    ]
    assert [c["email"] for c in client.get("/api/v1/customers", params={"sort": "orders"}).json()["items"]] == [
        "bob@example.com",
        "ann@example.com",
    ]
    found = client.get("/api/v1/customers", params={"q": "loy-9"}).json()
    assert found["total"] == 1 and found["items"][0]["name"] == "Bob Stone"
    second = client.get("/api/v1/customers", params={"sort": "name", "limit": 1, "offset": 1}).json()
    assert second["total"] == 2 and [c["name"] for c in second["items"]] == ["Bob Stone"]

    cid = ann["customer"]["id"]
    one = client.get(f"/api/v1/customers/{cid}").json()
    assert one == client.get("/api/v1/customers/ann@example.com").json()
    assert (one["tier"], one["orders_total"], one["lifetime_value"]) == ("vip", 1, {"EUR": "1234.50"})
    assert [o["id"] for o in one["orders"]] == [ann["id"]] and one["returns"] == []
    assert one["points"] == {"balance": 0, "entries": []}

    missing = client.get("/api/v1/customers/cus_nobody")
    assert missing.status_code == 404 and missing.json()["code"] == "customer_not_found"
    bad = client.get("/api/v1/customers", params={"sort": "age"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert "sort" in bad.text
    assert client.get("/api/v1/customers", params={"currency": "eur"}).status_code == 422


def test_exceptions_summary_and_lists_count_ageing_late_backorders_and_dead_letters(client, engine):
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    now = utcnow()
    late = post(
        client,
        "L-1",
        email="l@example.com",
        name="Lou",
        promise_days=1,
        placed_at=(now - timedelta(days=3)).isoformat(),
    )
    waiting = post(client, "W-1", email="w@example.com", name="Wim", sku="NONE-1")
    stuck = post(client, "S-1", email="s@example.com", name="Sam")
    with engine.begin() as conn:  # four days pass for one order in its status
        conn.execute(sa.update(orders).where(orders.c.id == stuck["id"]).values(status_since=now - timedelta(days=4)))
    assert client.post("/api/v1/orders", json={"currency": "EUR"}).status_code == 422  # kept as a dead letter

    summary = client.get("/api/v1/exceptions/summary").json()
    assert summary == {
        "ageing": 1,
        "late": 1,
        "late_unshipped": 1,
        "backorders": 1,
        "backordered_orders": 1,
        "dead_letters": 1,
        "ageing_after_hours": 24,
    }
    ageing = client.get("/api/v1/exceptions/ageing", params={"status": stuck["status"], "bucket": "gt_3d"}).json()
    assert [b["key"] for b in ageing["buckets"]] == ["lt_1h", "1_4h", "4_24h", "1_3d", "gt_3d"]
    row = next(s for s in ageing["states"] if s["status"] == stuck["status"])
    assert row["counts"]["gt_3d"] == 1 and row["total"] == 3  # all three orders are in that status
    assert ageing["total"] == 1 and [o["id"] for o in ageing["items"]] == [stuck["id"]]
    assert ageing["items"][0]["seconds_in_status"] >= 4 * 86400

    late_list = client.get("/api/v1/exceptions/late").json()
    assert late_list["total"] == 1 and late_list["items"][0]["id"] == late["id"]
    assert late_list["items"][0]["promised_by"].startswith((now - timedelta(days=2)).date().isoformat())
    backorders = client.get("/api/v1/exceptions/backorders").json()
    assert backorders["total"] == 1
    assert (backorders["items"][0]["order_id"], backorders["items"][0]["sku"]) == (waiting["id"], "NONE-1")

    bad = client.get("/api/v1/exceptions/ageing", params={"status": "delivered"})
    assert bad.status_code == 422 and "status" in bad.text
    assert client.get("/api/v1/exceptions/late", params={"limit": 0}).status_code == 422
