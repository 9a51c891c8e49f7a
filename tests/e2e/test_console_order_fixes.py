"""Issue 16's order bugs seen in the console: no bare "Move → allocated", and an address edit
that keeps the region and the pin."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_console import ADMIN, login, post_order

pytestmark = pytest.mark.browser


def test_paid_order_page_offers_no_move_to_allocated_and_address_edit_keeps_region(page, live):
    address = {"name": "Ann Lee", "line1": "Markt 1", "city": "Leipzig", "region": "SN", "country": "DE"}
    order = post_order(live, shipping_address={**address, "lat": 51.34, "lon": 12.38})
    login(page, live)
    page.goto(f"{live.url}/console/orders/{order['id']}")
    expect(page.get_by_test_id("order-status")).to_have_text("paid")
    expect(page.get_by_label("next status")).to_have_count(0)  # only hold and cancel remain
    page.click("text=Change address")
    page.get_by_label("street").fill("Markt 2")
    page.click("text=Save address")
    expect(page.get_by_test_id("ship-to")).to_contain_text("Markt 2")
    expect(page.get_by_test_id("ship-to")).to_contain_text("SN")
    api = httpx.get(f"{live.url}/api/v1/orders/{order['id']}", headers=ADMIN).json()
    a = api["shipping_address"]
    assert (a["line1"], a["region"], a["lat"], a["lon"]) == ("Markt 2", "SN", 51.34, 12.38)
    assert api["status"] == "paid" and api["fulfilment_orders"] == []
