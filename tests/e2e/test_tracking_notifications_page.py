"""The console's Notifications page in real Chromium: a shipped order's mail in the outbox,
readable in full, and its notification's status."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_console import login
from tests.e2e.test_tracking_pages import ADMIN, released, tracking

pytestmark = pytest.mark.browser


def test_the_console_lists_the_outbox_and_what_was_sent(page, live):  # type: ignore[no-untyped-def]
    order = released(live, "NOTE-1")
    line = order["lines"][0]["id"]
    httpx.post(
        f"{live.url}/api/v1/orders/{order['id']}/parcels",
        json={"parcels": [{"carrier": "dhl", "tracking_number": "JJD-NOTE-1", "lines": {line: 2}}]},
        headers=ADMIN,
    ).raise_for_status()
    token = tracking(live, order["id"])["token"]

    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/tracking/notifications")
    outbox = page.get_by_test_id("mail-outbox")
    subject = "An den Paketdienst übergeben – Ihre Bestellung NOTE-1"
    for _ in range(50):  # the subscriber runs a moment after the shipment commits
        if outbox.get_by_text(subject).count():
            break
        page.wait_for_timeout(100)
        page.reload()
    expect(outbox).to_contain_text("ann@example.com")
    outbox.locator("summary", has_text=subject).click()
    expect(outbox.locator("pre")).to_contain_text(f"http://127.0.0.1:8000/track/{token}")
    sent = page.get_by_test_id("notifications")
    expect(sent).to_contain_text("handed_to_carrier")
    expect(sent.locator(".badge")).to_have_text("sent")
    expect(sent.get_by_test_id("order-number")).to_have_text("NOTE-1")  # the order number leads
    expect(outbox.get_by_test_id("order-number")).to_have_text("NOTE-1")

    page.fill("input[name=order_id]", "ord_nobody")
    page.locator("button", has_text="Filter").click()
    expect(page.get_by_test_id("mail-outbox")).to_contain_text("The outbox is empty.")
