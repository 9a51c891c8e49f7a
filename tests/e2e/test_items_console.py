"""The Items console page: search, the needs-review list, and completing a placeholder."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_console import ADMIN, login, post_order

pytestmark = pytest.mark.browser


def test_operator_completes_a_placeholder_item_from_the_review_list(page, live):
    httpx.post(f"{live.url}/api/v1/items", json={"sku": "MUG-1", "name": "Mug", "weight_g": 350}, headers=ADMIN)
    post_order(live, lines=[{"sku": "NEW-7", "quantity": 1, "unit_price": "3.00", "name": "Mystery box"}])
    login(page, live)
    page.goto(f"{live.url}/console/items?review=1")
    rows = page.get_by_test_id("items").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("NEW-7")
    expect(rows.first).to_contain_text("unknown")
    page.get_by_role("link", name="NEW-7").click()
    expect(page.get_by_test_id("item-summary")).to_contain_text("weight unknown")
    page.get_by_label("item weight (g)").fill("420")
    page.get_by_label("item category").fill("gifts")
    page.click("button:has-text('Save item')")
    expect(page.get_by_role("status")).to_have_text("Item NEW-7 saved")
    expect(page.get_by_test_id("item-summary")).to_contain_text("420 g")
    expect(page.get_by_test_id("needs-review")).to_have_count(0)
    page.goto(f"{live.url}/console/items?review=1")
    expect(page.get_by_test_id("items")).to_contain_text("No items match.")
    page.goto(f"{live.url}/console/items?q=mug")
    expect(page.get_by_test_id("items").locator("tbody tr")).to_have_count(1)
    api = httpx.get(f"{live.url}/api/v1/items/NEW-7", headers=ADMIN).json()
    assert (api["weight_g"], api["category"], api["needs_review"]) == (420, "gifts", False)


def test_viewer_sees_items_but_no_edit_form(page, live):
    httpx.post(f"{live.url}/api/v1/items", json={"sku": "MUG-1", "name": "Mug"}, headers=ADMIN)
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/items/MUG-1")
    expect(page.get_by_test_id("item-summary")).to_contain_text("weight unknown")
    expect(page.locator("button:has-text('Save item')")).to_have_count(0)
    r = page.goto(f"{live.url}/console/items/NOPE")
    assert r is not None and r.status == 404
    expect(page).to_have_title("Not found · OrderHub")
