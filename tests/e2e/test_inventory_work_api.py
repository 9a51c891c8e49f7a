"""Stock work and stock lists over HTTP, on SQLite and PostgreSQL: adjust, transfer and receive
(editor and up, problem+json naming the field), the product list, a node's positions, alerts."""

from __future__ import annotations

NODES = [
    {"id": "DC-K", "name": "DC Kassel", "type": "distribution_centre", "lat": 51.31, "lon": 9.49, "region": "HE"},
    {"id": "ST-F", "name": "Store Frankfurt", "type": "store", "lat": 50.11, "lon": 8.68, "region": "HE"},
]


def _setup(client):
    for n in NODES:
        assert client.post("/api/v1/nodes", json=n).status_code == 201
    client.post("/api/v1/items", json={"sku": "MUG-1", "name": "Blue mug", "category": "kitchen"})
    client.post("/api/v1/items", json={"sku": "TEA-9", "name": "Green tea", "category": "food"})
    client.put("/api/v1/inventory/DC-K/MUG-1", json={"on_hand": 20})
    client.put("/api/v1/inventory/ST-F/TEA-9", json={"on_hand": 3})


def _order(client, qty):
    body = {
        "currency": "EUR",
        "external_ref": f"W-{qty}",
        "customer": {"email": "ann@example.com"},
        "shipping_address": {"city": "Kassel", "country": "DE", "lat": 51.3, "lon": 9.5},
        "lines": [{"sku": "MUG-1", "quantity": qty, "unit_price": "8.50"}],
        "payment_status": "paid",
    }
    assert client.post("/api/v1/orders", json=body).status_code == 201


def test_adjust_transfer_and_receive_write_the_ledger_and_refuse_held_units(client):
    _setup(client)
    _order(client, 15)  # 15 of DC-K's 20 mugs are now held
    r = client.post(
        "/api/v1/inventory/adjustments", json={"node_id": "DC-K", "sku": "MUG-1", "delta": -2, "reason": "broken"}
    )
    assert r.status_code == 201 and (r.json()["on_hand"], r.json()["atp"], r.json()["reason"]) == (18, 3, "adjusted")
    refused = client.post(
        "/api/v1/inventory/transfers",
        json={"from_node_id": "DC-K", "to_node_id": "ST-F", "sku": "MUG-1", "quantity": 4, "reason": "rebalance"},
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["code"], problem["errors"][0]["pointer"], problem["available"], problem["held"]) == (
        "below_held", "/quantity", 3, 15,
    )  # fmt: skip
    moved = client.post(
        "/api/v1/inventory/transfers",
        json={"from_node_id": "DC-K", "to_node_id": "ST-F", "sku": "MUG-1", "quantity": 3, "reason": "rebalance"},
    )
    assert moved.status_code == 201
    assert (moved.json()["from"]["on_hand"], moved.json()["to"]["on_hand"]) == (15, 3)
    got = client.post(
        "/api/v1/inventory/receipts", json={"node_id": "ST-F", "sku": "TEA-9", "quantity": 7, "reference": "DN-1"}
    )
    assert got.status_code == 201 and (got.json()["on_hand"], got.json()["state"]) == (10, "ok")
    ledger = client.get("/api/v1/inventory/MUG-1").json()["ledger"]
    assert [(x["node_id"], x["reason"], x["d_on_hand"]) for x in ledger[:3]] == [
        ("ST-F", "transfer_in", 3),
        ("DC-K", "transfer_out", -3),
        ("DC-K", "adjusted", -2),
    ]
    assert client.get("/api/v1/inventory-ledger-check").json() == {"differences": []}


def test_stock_work_is_for_editors_and_bad_fields_are_named(client, key_for):
    _setup(client)
    body = {"node_id": "DC-K", "sku": "MUG-1", "delta": 1, "reason": "found"}
    for role in ("viewer", "operator"):
        denied = client.post(
            "/api/v1/inventory/adjustments", json=body, headers={"Authorization": f"Bearer {key_for(role)}"}
        )
        assert denied.status_code == 403
    assert (
        client.post(
            "/api/v1/inventory/adjustments", json=body, headers={"Authorization": f"Bearer {key_for('editor')}"}
        ).status_code
        == 201
    )
    cases = [
        ("/api/v1/inventory/adjustments", {**body, "node_id": "NOPE"}, "/node_id"),
        ("/api/v1/inventory/adjustments", {**body, "quantity": 3}, "/quantity"),
        ("/api/v1/inventory/adjustments", {**body, "reason": ""}, "/reason"),
        ("/api/v1/inventory/transfers", {"from_node_id": "DC-K", "to_node_id": "DC-K", "sku": "MUG-1", "quantity": 1, "reason": "x"}, "/to_node_id"),
        ("/api/v1/inventory/receipts", {"node_id": "DC-K", "sku": "MUG-1", "quantity": 0, "reference": "x"}, "/quantity"),
    ]  # fmt: skip
    for path, sent, pointer in cases:
        r = client.post(path, json=sent)
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == pointer, (path, sent, r.text)
    assert client.get("/api/v1/inventory/MUG-1").json()["ledger"][0]["reference"] == "found"  # only the editor's
    assert client.get("/api/v1/inventory-ledger-check").json() == {"differences": []}


def test_product_list_node_positions_and_alerts(client):
    _setup(client)
    products = client.get("/api/v1/inventory-products").json()
    assert [(p["sku"], p["name"], p["on_hand"], p["state"]) for p in products["items"]] == [
        ("MUG-1", "Blue mug", 20, "ok"),
        ("TEA-9", "Green tea", 3, "low"),
    ]
    assert products["counts"] == {"out": 0, "low": 1, "ok": 1} and products["total"] == 2
    low = client.get("/api/v1/inventory-products", params={"state": "low", "sort": "atp", "desc": True}).json()
    assert [p["sku"] for p in low["items"]] == ["TEA-9"]
    assert client.get("/api/v1/inventory-products", params={"sort": "price"}).status_code == 422
    at = client.get("/api/v1/nodes/ST-F/positions").json()
    assert [(p["sku"], p["name"], p["threshold"], p["state"]) for p in at["items"]] == [
        ("TEA-9", "Green tea", 5, "low")
    ]
    assert client.get("/api/v1/nodes/NOPE/positions").status_code == 404
    alerts = {a["node_id"]: (a["low"], a["out"]) for a in client.get("/api/v1/inventory-alerts").json()["items"]}
    assert alerts == {"DC-K": (0, 0), "ST-F": (1, 0)}
