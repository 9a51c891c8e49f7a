"""Cart holds over HTTP: hold, repeat, sold out, release, bad input; a flash sale against the
running server whose admission queue writes concurrent holds together."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import put_stock, run_async


def test_hold_repeat_sold_out_release_and_order(client, engine, key_for):
    put_stock(engine, {("DC-1", "HOT"): 3})
    r = client.post("/api/v1/carts/cart-1/holds", json={"sku": "HOT", "quantity": 2})
    assert r.status_code == 201, r.text
    hold = r.json()
    assert hold["node_id"] == "DC-1" and hold["quantity"] == 2 and hold["status"] == "active" and hold["expires_at"]
    again = client.post("/api/v1/carts/cart-1/holds", json={"sku": "HOT", "quantity": 2})
    assert again.status_code == 200 and again.json()["id"] == hold["id"]
    short = client.post("/api/v1/carts/cart-2/holds", json={"sku": "HOT", "quantity": 2})
    assert short.status_code == 409 and short.headers["content-type"].startswith("application/problem+json")
    assert short.json()["code"] == "out_of_stock" and short.json()["available"] == 1
    listed = client.get("/api/v1/carts/cart-1/holds").json()["holds"]
    assert [h["id"] for h in listed] == [hold["id"]]
    order = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "a@b.de"},
            "payment_status": "paid",
            "cart_id": "cart-1",
            "lines": [{"sku": "HOT", "quantity": 2, "unit_price": "10.00"}],
        },
    )
    assert order.status_code == 201
    assert client.get("/api/v1/carts/cart-1/holds").json()["holds"][0]["order_id"] == order.json()["id"]
    assert client.post("/api/v1/carts/cart-3/holds", json={"sku": "HOT"}).status_code == 201
    assert client.delete("/api/v1/carts/cart-3/holds/HOT").json() == {"released": 1}
    assert client.delete("/api/v1/carts/cart-3/holds").json() == {"released": 0}
    assert client.get("/api/v1/atp", params={"sku": "HOT"}).json()["total"] == 1


def test_bad_input_names_the_field_and_roles_apply(client, key_for):
    bad = client.post("/api/v1/carts/c/holds", json={"sku": "X", "quantity": 0})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/quantity"
    half = client.post("/api/v1/carts/c/holds", json={"sku": "X", "lat": 50.0})
    assert half.status_code == 422 and half.json()["errors"][0]["pointer"] == "/lon"
    assert client.post("/api/v1/carts/bad%20id/holds", json={"sku": "X"}).status_code == 422
    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    assert client.post("/api/v1/carts/c/holds", json={"sku": "X"}, headers=viewer).status_code == 403
    assert client.get("/api/v1/carts/c/holds", headers=viewer).status_code == 200


def test_flash_sale_on_the_running_server_sells_exactly_the_stock_in_few_transactions(live):
    put_stock(live.engine, {("DC-1", "HOT"): 40})

    async def sale() -> list[int]:
        headers = {"Authorization": "Bearer live-admin-key"}
        async with httpx.AsyncClient(base_url=live.url, headers=headers, timeout=30) as http:

            async def shopper(i: int) -> int:
                r = await http.post(f"/api/v1/carts/shopper-{i}/holds", json={"sku": "HOT"})
                return r.status_code

            return await asyncio.gather(*(shopper(i) for i in range(64)))

    codes = run_async(sale)
    assert sorted(set(codes)) == [201, 409] and codes.count(201) == 40
    atp = httpx.get(f"{live.url}/api/v1/atp", params={"sku": "HOT"}, headers={"Authorization": "Bearer live-admin-key"})
    assert atp.json()["total"] == 0
    ledger = httpx.get(f"{live.url}/api/v1/inventory-ledger-check", headers={"Authorization": "Bearer live-admin-key"})
    assert ledger.json()["differences"] == []
    assert live.server.config.app.state.cart_admission.batches <= 32  # group commit happened
