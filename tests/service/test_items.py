"""The item master: create, replace, CSV import all or nothing, Shopify products, placeholders."""

import json

import pytest

from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from tests.conftest import FIXTURES

CSV = (
    "sku,name,category,weight_g,length_mm,width_mm,height_mm,cost,price,currency,barcode,co2e_kg_per_unit\n"
    "MUG-1,Mug,kitchen,350,90,90,110,2.10,8.50,EUR,4006381333931,0.9\n"
    "TEA-9,Green tea,food,120,,,,1.00,4.00,EUR,,\n"
)


def test_create_then_read_back_every_field(engine):
    item = inventory.item_from_fields({"sku": "MUG-1", "name": "Mug", "weight_g": "350", "price": "8.50"})
    inventory.create_item(engine, item=item)
    got = inventory.get_item(engine, sku="MUG-1")
    assert (got.name, got.weight_g, got.price_minor, got.cost_minor, got.needs_review) == ("Mug", 350, 850, 0, False)
    with pytest.raises(Conflict) as err:
        inventory.create_item(engine, item=item)
    assert err.value.code == "item_exists"
    with pytest.raises(NotFound):
        inventory.get_item(engine, sku="NOPE")


def test_csv_import_writes_every_row(engine):
    items = inventory.import_csv(engine, text=CSV)
    assert [i.sku for i in items] == ["MUG-1", "TEA-9"]
    mug = inventory.get_item(engine, sku="MUG-1")
    assert (mug.length_mm, mug.barcode, mug.co2e_kg_per_unit, mug.cost_minor) == (90, "4006381333931", 0.9, 210)
    assert inventory.get_item(engine, sku="TEA-9").length_mm is None


def test_csv_import_with_bad_rows_names_line_and_field_and_writes_nothing(engine):
    bad = CSV + "BAD-1,,x,heavy,,,,1.00,abc,EUR,,\nMUG-1,Mug again,,,,,,,,,,\n"
    with pytest.raises(InvalidInput) as err:
        inventory.import_csv(engine, text=bad)
    assert [e["pointer"] for e in err.value.errors] == [
        "/line/4/name",
        "/line/4/weight_g",
        "/line/4/price",
        "/line/5/sku",
    ]
    assert inventory.get_item_list(engine) == []


def test_shopify_product_becomes_one_item_per_variant(engine):
    product = json.loads((FIXTURES / "shopify_product.json").read_text())
    items = inventory.items_from_shopify_product(product)
    assert [(i.sku, i.name, i.category, i.weight_g, i.price_minor) for i in items] == [
        ("SHOE-TRAIL-42-BLU", "Trail Runner 42 / Blue", "shoes", 820, 12900),
        ("SHOE-TRAIL-43-BLU", "Trail Runner 43 / Blue", "shoes", 862, 12900),
    ]
    product["product"]["variants"][1]["sku"] = ""
    with pytest.raises(InvalidInput) as err:
        inventory.items_from_shopify_product(product)
    assert err.value.errors == [{"pointer": "/product/variants/1/sku", "detail": "a variant needs a SKU"}]


def test_unknown_sku_at_capture_becomes_a_placeholder_awaiting_review_with_unknown_weight(engine):
    inventory.put_items(engine, items=[inventory.item_from_fields({"sku": "MUG-1", "name": "Mug", "weight_g": "350"})])
    doc = {
        "channel": "web",
        "currency": "EUR",
        "customer": {"email": "ann@example.com"},
        "shipping_address": {"city": "Leipzig", "country": "DE"},
        "lines": [
            {"sku": "MUG-1", "quantity": 1, "unit_price": "8.50"},
            {"sku": "NEW-7", "quantity": 1, "unit_price": "3.00", "name": "Mystery box"},
        ],
    }
    capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test")
    review = inventory.get_item_list(engine, needs_review=True)
    assert [(i.sku, i.name, i.weight_g, i.needs_review) for i in review] == [("NEW-7", "Mystery box", None, True)]
    assert inventory.get_item(engine, sku="MUG-1").weight_g == 350  # a known item is untouched
    assert inventory.shipping_weight_g(inventory.get_items(engine, skus=["NEW-7"]), "NEW-7") == 500
