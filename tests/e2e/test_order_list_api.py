"""``GET /api/v1/orders`` by order number, view, sort and total, and ``GET /api/v1/orders.csv``,
over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest


def post(client, ref, *, channel="web", price="10.00", paid=False, tags=()):
    body = {
        "channel": channel,
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": "ann@example.com", "name": "Ann Lee"},
        "shipping_address": {"city": "Berlin", "country": "DE"},
        "lines": [{"sku": "MUG-1", "quantity": 1, "unit_price": price}],
        "payment_status": "paid" if paid else "pending",
        "tags": list(tags),
    }
    r = client.post("/api/v1/orders", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def placed(client):
    return {
        ref: post(client, ref, channel=ch, price=p, paid=paid)
        for ref, ch, p, paid in [
            ("1001", "web", "12.00", False),
            ("1002", "shopify", "7.50", True),
            ("1010", "web", "40.00", True),
            ("2001", "pos", "3.00", False),
        ]
    }


def test_search_by_order_number_exact_prefix_or_id_with_the_total(client, placed):
    def refs(**params):
        r = client.get("/api/v1/orders", params={**params, "total": "true"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(body["items"])
        return sorted(i["external_ref"] for i in body["items"])

    assert refs(number="1002") == ["1002"]
    assert refs(number="100*") == ["1001", "1002"]
    assert refs(number=placed["2001"]) == ["2001"]
    assert refs(number="#1010") == ["1010"]
    assert refs(number="9*") == []
    assert refs(view="awaiting_payment") == ["1001", "2001"]
    assert refs(view="unfulfilled", channel="web") == ["1010"]
    assert "total" not in client.get("/api/v1/orders").json()


def test_sort_and_cursor_pages(client, placed):
    first = client.get("/api/v1/orders", params={"sort": "-total", "limit": 3}).json()
    assert [i["total"] for i in first["items"]] == ["40.00", "12.00", "7.50"]
    rest = client.get("/api/v1/orders", params={"sort": "-total", "limit": 3, "cursor": first["next_cursor"]}).json()
    assert [i["external_ref"] for i in rest["items"]] == ["2001"] and rest["next_cursor"] is None
    by_number = client.get("/api/v1/orders", params={"sort": "number"}).json()["items"]
    assert [i["external_ref"] for i in by_number] == ["1001", "1002", "1010", "2001"]
    foreign = client.get("/api/v1/orders", params={"sort": "total", "cursor": first["next_cursor"]})
    assert foreign.status_code == 422
    assert foreign.headers["content-type"] == "application/problem+json"
    assert foreign.json()["errors"][0]["parameter"] == "cursor"


def test_bad_sort_and_view_are_problems_naming_the_parameter(client, placed):
    for params, name in [({"sort": "price"}, "sort"), ({"view": "urgent"}, "view")]:
        r = client.get("/api/v1/orders", params=params)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert name in str(r.json()["errors"])
        r = client.get("/api/v1/orders.csv", params=params)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_csv_export_of_a_view_in_its_sort(client, placed, key_for):
    r = client.get("/api/v1/orders.csv", params={"view": "unfulfilled", "sort": "total"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="orders-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["order_number"], x["channel"], x["total"], x["status"]) for x in rows] == [
        ("1002", "shopify", "7.50", "paid"),
        ("1010", "web", "40.00", "paid"),
    ]
    assert rows[0]["order_id"] == placed["1002"]
    everything = client.get("/api/v1/orders.csv").text.splitlines()
    assert len(everything) == 1 + 4 and everything[0].startswith("order_number,channel,order_id,placed_at")
    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    assert client.get("/api/v1/orders.csv", headers=viewer).status_code == 200
    assert client.get("/api/v1/orders.csv", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_bulk_actions_answer_each_orders_outcome_and_need_an_operator(client, placed, key_for):
    ids = [placed["1001"], placed["1002"], "ord_nope"]
    r = client.post("/api/v1/orders/bulk", json={"action": "hold", "order_ids": ids, "reason": "stock count"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["action"], body["done"], body["refused"]) == ("hold", 2, 1)
    assert [(x["order_number"], x["outcome"], x["status"]) for x in body["results"]] == [
        ("1001", "done", "on_hold"),
        ("1002", "done", "on_hold"),
        ("", "refused", ""),
    ]
    assert body["results"][2]["detail"] == "no order ord_nope"
    cancelled = client.post("/api/v1/orders/bulk", json={"action": "cancel", "order_ids": [placed["1001"]]}).json()
    assert cancelled["results"][0]["status"] == "cancelled"
    again = client.post("/api/v1/orders/bulk", json={"action": "release", "order_ids": [placed["1001"]]}).json()
    assert again["refused"] == 1 and "allowed next: refunded" in again["results"][0]["detail"]
    assert client.get(f"/api/v1/orders/{placed['1002']}").json()["status"] == "on_hold"

    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    denied = client.post(
        "/api/v1/orders/bulk", json={"action": "cancel", "order_ids": [placed["1002"]]}, headers=viewer
    )
    assert denied.status_code == 403 and denied.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/orders/{placed['1002']}").json()["status"] == "on_hold"  # nothing changed
    bad = client.post("/api/v1/orders/bulk", json={"action": "ship", "order_ids": [placed["1002"]]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/action"
    assert client.post("/api/v1/orders/bulk", json={"action": "hold", "order_ids": []}).status_code == 422
