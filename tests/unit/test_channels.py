"""Channel adapters map real payloads, as the platforms document them, to the canonical order."""

import copy
import json

import pytest

from orderhub.core.errors import InvalidInput
from orderhub.orders.channels import pos, shopify, social, woocommerce
from tests.conftest import FIXTURES


def load(name):
    return json.loads((FIXTURES / name).read_text())


def test_shopify_order_maps_lines_totals_address_and_customer():
    result = shopify.normalize(load("shopify_order.json"))
    o = result.order
    assert (o.channel, o.external_ref, o.currency) == ("shopify", "5820392881281", "EUR")
    assert [(li.sku, li.quantity, li.unit_price) for li in o.lines] == [
        ("SHOE-TRAIL-42-BLU", 1, "199.00"),
        ("SOCK-MERINO-M", 2, "24.50"),
    ]
    assert (o.shipping_total, o.discount_total, o.tax_total) == ("10.00", "5.00", "0.00")
    assert o.payment_status.value == "paid"
    assert o.shipping_address.lat == 53.5627 and o.shipping_address.lon == 9.9646
    assert o.shipping_address.country == "DE" and o.shipping_address.city == "Hamburg"
    assert o.customer.email == "lena.vogel@example.com" and o.customer.tier.value == "vip"
    assert o.tags == ["newsletter", "gift"]  # totals agree with Shopify's: no mismatch tag
    assert result.cancel_reason is None


def test_shopify_cancelled_order_is_flagged_for_cancellation():
    payload = load("shopify_order.json")
    payload["cancelled_at"] = "2026-11-20T11:00:00-05:00"
    payload["cancel_reason"] = "customer"
    assert shopify.normalize(payload).cancel_reason == "customer"


def test_woocommerce_order_maps_unit_price_before_coupon_and_totals():
    o = woocommerce.normalize(load("woocommerce_order.json")).order
    assert (o.channel, o.external_ref) == ("woocommerce", "7311")
    assert [(li.sku, li.quantity, li.unit_price) for li in o.lines] == [
        ("KITCH-POUR-01", 2, "15.00"),
        ("KITCH-FILT-100", 1, "12.50"),
    ]
    assert (o.shipping_total, o.discount_total) == ("4.90", "5.00")
    assert o.payment_status.value == "paid"
    assert o.customer.email == "jonas.becker@example.org"
    assert o.shipping_address.city == "Köln"
    assert "total_mismatch" not in o.tags
    assert o.placed_at is not None and o.placed_at.utcoffset().total_seconds() == 0


def test_pos_sale_taken_at_the_till():
    o = pos.normalize(load("pos_sale.json")).order
    assert o.external_ref == "ST-MUC-01/R-2026-004711"
    assert o.delivery_method.value == "in_store" and o.pickup_node_id == "ST-MUC-01"
    assert o.customer.tier.value == "gold"
    assert [(li.sku, li.quantity) for li in o.lines] == [("JACKET-RAIN-M", 1), ("CAP-WOOL", 2)]


def test_social_order_amounts_are_minor_units():
    o = social.normalize(load("social_order.json")).order
    assert o.external_ref == "livestream/LS2611220193847"
    assert [(li.sku, li.unit_price) for li in o.lines] == [("BOTTLE-STEEL-750", "24.90"), ("TOWEL-QUICKDRY", "19.90")]
    assert o.discount_total == "5.00"
    assert o.shipping_address.lat == 52.5106
    assert "room:room-7781" in o.tags


@pytest.mark.parametrize(
    ("adapter", "fixture", "mutate", "pointer"),
    [
        (shopify, "shopify_order.json", lambda p: p["line_items"][1].pop("sku"), "/line_items/1/sku"),
        (shopify, "shopify_order.json", lambda p: p["line_items"][0].update(quantity=0), "/line_items/0/quantity"),
        (shopify, "shopify_order.json", lambda p: p.update(currency="EURO"), "/currency"),
        (shopify, "shopify_order.json", lambda p: p["line_items"][0].update(price="12,5x"), "/line_items/0/price"),
        (woocommerce, "woocommerce_order.json", lambda p: p["line_items"][0].update(sku=""), "/line_items/0/sku"),
        (
            woocommerce,
            "woocommerce_order.json",
            lambda p: p["line_items"][1].update(quantity=-1),
            "/line_items/1/quantity",
        ),
        (pos, "pos_sale.json", lambda p: p["lines"][0].update(unit_price="free"), "/lines/0/unit_price"),
        (social, "social_order.json", lambda p: p["items"][0].update(price_minor="24.90"), "/items/0/price_minor"),
    ],
)
def test_bad_native_payload_points_at_the_field(adapter, fixture, mutate, pointer):
    payload = copy.deepcopy(load(fixture))
    mutate(payload)
    with pytest.raises(InvalidInput) as err:
        adapter.normalize(payload)
    assert pointer in [e["pointer"] for e in err.value.errors]


def test_each_channel_says_how_the_customer_paid():
    assert shopify.normalize(load("shopify_order.json")).order.payment_method == "shopify_payments"
    assert woocommerce.normalize(load("woocommerce_order.json")).order.payment_method == "Credit Card (Stripe)"
    assert pos.normalize(load("pos_sale.json")).order.payment_method == "card"
    assert social.normalize(load("social_order.json")).order.payment_method == ""  # it does not say
