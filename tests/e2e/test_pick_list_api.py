"""``GET /api/v1/nodes/{node_id}/pick-list`` over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import put_stock


def released(client: TestClient, ref: str, *, priority: int, promise_days: int | None = None) -> dict[str, Any]:
    body = {
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": f"{ref.lower()}@example.com", "tier": "vip"},
        "shipping_address": {"city": "Berlin", "country": "DE"},
        "lines": [{"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "8.50"}],
        "payment_status": "paid",
        "priority": priority,
        "promise_days": promise_days,
    }
    order = client.post("/api/v1/orders", json=body).json()
    lines = [{"line_id": x["id"], "quantity": x["quantity"]} for x in order["lines"]]
    client.post(
        f"/api/v1/orders/{order['id']}/allocation", json={"fulfilment_orders": [{"node_id": "DC-1", "lines": lines}]}
    ).raise_for_status()
    client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": "released"}).raise_for_status()
    return dict(client.get(f"/api/v1/orders/{order['id']}").json())


def test_a_viewer_reads_the_node_s_pick_list_highest_priority_first(client, key_for, engine):  # type: ignore[no-untyped-def]
    put_stock(engine, {("DC-1", "MUG-1"): 20})
    low = released(client, "LOW-1", priority=1, promise_days=2)
    high = released(client, "HIGH-1", priority=4)
    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}

    r = client.get("/api/v1/nodes/DC-1/pick-list", headers=viewer)

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["node_id"], body["count"], body["has_more"]) == ("DC-1", 2, False)
    assert [x["external_ref"] for x in body["items"]] == ["HIGH-1", "LOW-1"]
    first = body["items"][0]
    assert isinstance(first.pop("age_seconds"), int)
    assert first == {
        "rank": 1,
        "fulfilment_order_id": high["fulfilment_orders"][0]["id"],
        "order_id": high["id"],
        "external_ref": "HIGH-1",
        "channel": "web",
        "customer_tier": "vip",
        "priority": 4,
        "promised_by": None,
        "created_at": high["created_at"],
        "order_status": "released",
        "lines": [{"line_id": high["lines"][0]["id"], "sku": "MUG-1", "name": "Mug", "quantity": 2}],
    }
    second = body["items"][1]
    assert (second["rank"], second["order_id"], second["priority"]) == (2, low["id"], 1)
    promised = datetime.fromisoformat(second["promised_by"]) - datetime.fromisoformat(second["created_at"])
    assert promised == timedelta(days=2)

    page = client.get("/api/v1/nodes/DC-1/pick-list", params={"limit": 1}).json()
    assert ([x["external_ref"] for x in page["items"]], page["count"], page["has_more"]) == (["HIGH-1"], 1, True)


def test_bad_limits_and_unknown_nodes_are_problems(client):  # type: ignore[no-untyped-def]
    put_stock(client.app.state.engine, {("DC-1", "MUG-1"): 1})
    for params in ({"limit": 0}, {"limit": 501}):
        r = client.get("/api/v1/nodes/DC-1/pick-list", params=params)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert client.get(f"/api/v1/nodes/{'N' * 41}/pick-list").status_code == 422
    missing = client.get("/api/v1/nodes/NOPE/pick-list")
    assert missing.status_code == 404 and missing.json()["code"] == "node_not_found"
    assert client.get("/api/v1/nodes/DC-1/pick-list", headers={"Authorization": ""}).status_code == 401
    assert client.get("/api/v1/nodes/DC-1/pick-list").json() == {
        "node_id": "DC-1",
        "items": [],
        "count": 0,
        "has_more": False,
    }
