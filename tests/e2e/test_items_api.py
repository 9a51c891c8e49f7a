"""/api/v1/items over HTTP: create, replace, read, search, CSV import, Shopify products, review list."""

from tests.conftest import FIXTURES

MUG = {"sku": "MUG-1", "name": "Mug", "category": "kitchen", "weight_g": 350, "cost": "2.10", "price": "8.50"}


def test_post_get_put_an_item(client):
    r = client.post("/api/v1/items", json=MUG)
    assert r.status_code == 201
    assert r.json() == {
        **MUG,
        "length_mm": None,
        "width_mm": None,
        "height_mm": None,
        "currency": "EUR",
        "barcode": "",
        "co2e_kg_per_unit": None,
        "needs_review": False,
    }
    again = client.post("/api/v1/items", json=MUG)
    assert again.status_code == 409 and again.json()["code"] == "item_exists"
    r = client.put("/api/v1/items/MUG-1", json={**MUG, "sku": "", "name": "Big mug", "length_mm": 120})
    assert r.status_code == 200 and (r.json()["name"], r.json()["length_mm"]) == ("Big mug", 120)
    assert client.get("/api/v1/items/MUG-1").json()["name"] == "Big mug"
    assert client.get("/api/v1/items/NOPE").status_code == 404
    assert [i["sku"] for i in client.get("/api/v1/items", params={"q": "big"}).json()["items"]] == ["MUG-1"]


def test_bad_item_fields_are_422_with_pointers_and_nothing_written(client):
    r = client.post("/api/v1/items", json={**MUG, "price": "8,50"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/price"
    r = client.post("/api/v1/items", json={**MUG, "weight_g": -1})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/weight_g"
    assert client.get("/api/v1/items").json()["items"] == []


def test_csv_import_all_or_nothing(client):
    head = "sku,name,weight_g,price\n"
    ok = client.post(
        "/api/v1/items/import",
        content=head + "A-1,Apple,100,1.00\nB-2,Pear,120,1.20\n",
        headers={"content-type": "text/csv"},
    )
    assert ok.status_code == 200 and ok.json() == {"imported": 2, "skus": ["A-1", "B-2"]}
    bad = client.post(
        "/api/v1/items/import",
        content=head + "C-3,Plum,90,1.00\nD-4,Fig,lots,1.00\n",
        headers={"content-type": "text/csv"},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"pointer": "/line/3/weight_g", "detail": "a whole number from 1 to 10000000"}]
    assert [i["sku"] for i in client.get("/api/v1/items").json()["items"]] == ["A-1", "B-2"]


def test_shopify_product_makes_an_item_per_variant(client):
    r = client.post(
        "/api/v1/items/shopify",
        content=(FIXTURES / "shopify_product.json").read_bytes(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200
    assert [(i["sku"], i["weight_g"], i["price"]) for i in r.json()["items"]] == [
        ("SHOE-TRAIL-42-BLU", 820, "129.00"),
        ("SHOE-TRAIL-43-BLU", 862, "129.00"),
    ]


def test_order_for_an_unknown_sku_lists_a_placeholder_for_review(client):
    order = {
        "currency": "EUR",
        "customer": {"email": "web@example.com"},
        "lines": [{"sku": "NEW-7", "quantity": 1, "unit_price": "3.00", "name": "Mystery box"}],
    }
    assert client.post("/api/v1/orders", json=order).status_code == 201
    review = client.get("/api/v1/items", params={"needs_review": "true"}).json()["items"]
    assert [(i["sku"], i["name"], i["weight_g"], i["needs_review"]) for i in review] == [
        ("NEW-7", "Mystery box", None, True)
    ]
    client.put("/api/v1/items/NEW-7", json={"name": "Mystery box", "weight_g": 400}).raise_for_status()
    assert client.get("/api/v1/items", params={"needs_review": "true"}).json()["items"] == []
