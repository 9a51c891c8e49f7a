"""A node's pick list in the console, in real Chromium: reached from the node's page, the
order with the higher picking priority first."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from orderhub.orders import service
from tests.conftest import put_stock
from tests.e2e.test_console import ADMIN, login

pytestmark = pytest.mark.browser


def released(live, ref: str) -> str:  # type: ignore[no-untyped-def]
    body = {
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": f"{ref.lower()}@example.com", "name": "Ann Lee"},
        "shipping_address": {"city": "Berlin", "country": "DE"},
        "lines": [
            {"sku": "MUG-1", "quantity": 2, "unit_price": "8.50"},
            {"sku": "TEA-9", "quantity": 1, "unit_price": "4.00"},
        ],
        "payment_status": "paid",
    }
    order = httpx.post(f"{live.url}/api/v1/orders", json=body, headers=ADMIN).json()
    lines = [{"line_id": x["id"], "quantity": x["quantity"]} for x in order["lines"]]
    httpx.post(
        f"{live.url}/api/v1/orders/{order['id']}/allocation",
        json={"fulfilment_orders": [{"node_id": "DC-1", "lines": lines}]},
        headers=ADMIN,
    ).raise_for_status()
    httpx.post(
        f"{live.url}/api/v1/orders/{order['id']}/transitions", json={"to": "released"}, headers=ADMIN
    ).raise_for_status()
    return str(order["id"])


def set_priority(live, order_id: str, priority: int) -> None:  # type: ignore[no-untyped-def]
    """Through the order's unit of work (no route sets a priority after capture: rules do)."""
    service.change(live.engine, order_id, actor="test", action=lambda _conn, order: order.set_priority(priority))


def test_the_pick_list_shows_the_higher_priority_first(page, live):  # type: ignore[no-untyped-def]
    put_stock(live.engine, {("DC-1", "MUG-1"): 20, ("DC-1", "TEA-9"): 20})
    older = released(live, "PICK-OLD")
    newer = released(live, "PICK-NEW")
    set_priority(live, older, 1)
    set_priority(live, newer, 7)  # newer, but more urgent: picked first

    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/nodes/DC-1")
    page.get_by_test_id("pick-list-link").click()
    expect(page).to_have_url(f"{live.url}/console/nodes/DC-1/pick-list")
    rows = page.get_by_test_id("pick-list").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-order", newer)
    expect(rows.nth(1)).to_have_attribute("data-order", older)
    first = rows.nth(0).locator("td")
    expect(first.nth(0)).to_have_text("1")
    expect(first.nth(1)).to_contain_text("PICK-NEW")
    expect(first.nth(1)).to_contain_text(newer)
    expect(first.nth(3)).to_have_text("7")
    expect(first.nth(4)).to_have_text("—")
    expect(first.nth(5).locator("div")).to_have_text(["MUG-1 × 2", "TEA-9 × 1"])
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("1")
