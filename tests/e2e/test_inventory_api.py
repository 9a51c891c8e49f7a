"""Inventory over HTTP: nodes, bulk positions, counts, ATP, policies, and the presale lock
released by the running app within a second of its deadline."""

from __future__ import annotations

import time
from datetime import datetime

NODE = {"id": "DC-X", "name": "DC Kassel", "type": "distribution_centre", "lat": 51.31, "lon": 9.49, "region": "HE"}


def test_nodes_create_list_and_validate(client, key_for):
    r = client.post("/api/v1/nodes", json=NODE)
    assert r.status_code == 201 and r.json()["capabilities"] == ["ships"]
    assert [n["id"] for n in client.get("/api/v1/nodes").json()["items"]] == ["DC-X"]
    bad = client.post("/api/v1/nodes", json={**NODE, "lat": 123})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/lat"
    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    assert client.post("/api/v1/nodes", json=NODE, headers=viewer).status_code == 403


def test_bulk_positions_count_and_atp_with_freshness(client):
    client.post("/api/v1/nodes", json=NODE)
    client.post("/api/v1/nodes", json={**NODE, "id": "ST-Y", "type": "store", "lat": 48.1, "lon": 11.6, "region": "BY"})
    rows = [{"node_id": "DC-X", "sku": f"S{i}", "on_hand": i} for i in range(1, 2001)]
    r = client.post("/api/v1/inventory/positions", json={"source": "wms-x", "sequence": 1, "rows": rows})
    assert r.status_code == 200 and r.json()["applied"] == 2000
    again = client.post("/api/v1/inventory/positions", json={"source": "wms-x", "sequence": 1, "rows": rows})
    assert again.json()["replayed"] is True
    r = client.post(
        "/api/v1/inventory/positions",
        json={"source": "wms-x", "sequence": 2, "rows": [*rows[:10], {"node_id": "DC-X", "sku": "S1", "on_hand": 50}]},
    )
    assert r.json() == {"rows": 11, "applied": 1, "unchanged": 10, "stale": 0, "shortages": 0, "replayed": False}
    assert client.put("/api/v1/inventory/ST-Y/S1", json={"on_hand": 5}).status_code == 200
    atp = client.get("/api/v1/atp", params={"sku": "S1", "lat": 48.0, "lon": 11.5}).json()
    assert [(n["node_id"], n["atp"]) for n in atp["nodes"]] == [("ST-Y", 5), ("DC-X", 50)]
    assert atp["total"] == 55 and atp["regions"] == {"BY": 5, "HE": 50}
    assert all(n["age_s"] is not None and n["age_s"] < 60 for n in atp["nodes"])
    bad = client.post(
        "/api/v1/inventory/positions",
        json={"source": "wms-x", "sequence": 3, "rows": [{"node_id": "DC-X", "sku": "S1"}]},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/rows/0/on_hand"
    assert client.get("/api/v1/inventory-ledger-check").json() == {"differences": []}


def test_presale_lock_is_released_by_the_app_within_a_second(client):
    client.post("/api/v1/nodes", json=NODE)
    client.put("/api/v1/inventory/DC-X/PRE", json={"on_hand": 3})
    assert client.put("/api/v1/inventory-policies", json={"channel": "web", "reservation_ttl_s": 1}).status_code == 200
    order = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "p@x.de"},
            "lines": [{"sku": "PRE", "quantity": 2, "unit_price": "5.00"}],
        },
    ).json()
    held = client.get(f"/api/v1/orders/{order['id']}/stock").json()["holds"]
    deadline = held[0]["expires_at"]
    assert client.get("/api/v1/atp", params={"sku": "PRE"}).json()["total"] == 1
    started = time.monotonic()
    while client.get(f"/api/v1/orders/{order['id']}").json()["status"] != "cancelled":
        assert time.monotonic() - started < 5, "the lock was never released"
        time.sleep(0.05)
    assert client.get("/api/v1/atp", params={"sku": "PRE"}).json()["total"] == 3
    events = client.get(f"/api/v1/orders/{order['id']}").json()["events"]
    cancelled = [e for e in events if e["type"] == "order.status_changed" and e["data"]["to"] == "cancelled"]
    late = (datetime.fromisoformat(cancelled[0]["occurred_at"]) - datetime.fromisoformat(deadline)).total_seconds()
    assert 0 <= late < 1.0, late


def test_order_stock_and_hold_extension(client):
    client.post("/api/v1/nodes", json=NODE)
    client.put("/api/v1/inventory/DC-X/EXT", json={"on_hand": 3})
    oid = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "e@x.de"},
            "lines": [{"sku": "EXT", "quantity": 1, "unit_price": "5.00"}],
        },
    ).json()["id"]
    r = client.post(f"/api/v1/orders/{oid}/hold-extension", json={"minutes": 20})
    assert r.status_code == 200
    assert client.get(f"/api/v1/orders/{oid}/stock").json()["holds"][0]["expires_at"] == r.json()["expires_at"]
    client.post(f"/api/v1/orders/{oid}/payment")
    r = client.post(f"/api/v1/orders/{oid}/hold-extension", json={"minutes": 20})
    assert r.status_code == 409 and r.json()["code"] == "not_unpaid"
    out = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "f@x.de"},
            "on_shortage": "reject",
            "lines": [{"sku": "EXT", "quantity": 3, "unit_price": "5.00"}],
        },
    )
    assert out.status_code == 409 and out.json()["code"] == "out_of_stock" and out.json()["available"] == 2


def test_node_calendar_and_cutoff_round_trip(client):
    r = client.post("/api/v1/nodes", json={**NODE, "closed_dates": ["2026-12-25"], "cutoff_hour_utc": 16})
    assert r.status_code == 201 and r.json()["closed_dates"] == ["2026-12-25"] and r.json()["cutoff_hour_utc"] == 16
    bad = client.post("/api/v1/nodes", json={**NODE, "cutoff_hour_utc": 24})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/cutoff_hour_utc"
