"""The public tracking page and the order page's tracking card in real Chromium: an event
posted to the API appears on an open page without reload; the console ships with tracking."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import put_stock
from tests.e2e.test_console import login

pytestmark = pytest.mark.browser
ADMIN = {"Authorization": "Bearer live-admin-key"}


def released(live, ref: str, *, country: str = "DE", skus: tuple[str, ...] = ("MUG-1",)):  # type: ignore[no-untyped-def]
    put_stock(live.engine, {("DC-1", sku): 20 for sku in skus})
    body = {
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": "ann@example.com", "name": "Ann Lee"},
        "shipping_address": {
            "name": "Ann Lee",
            "line1": "Karl-Marx-Allee 1",
            "city": "Berlin",
            "country": country,
            "lat": 52.52,
            "lon": 13.43,
        },
        "lines": [{"sku": sku, "quantity": 2, "unit_price": "8.50"} for sku in skus],
        "payment_status": "paid",
        "promise_days": 2,
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
    return order


def tracking(live, order_id: str, view: str = "internal"):  # type: ignore[no-untyped-def]
    for _ in range(100):
        r = httpx.get(f"{live.url}/api/v1/orders/{order_id}/tracking", params={"view": view}, headers=ADMIN)
        if r.status_code == 200:
            return r.json()
        time.sleep(0.05)
    raise AssertionError("tracking never saw the order")


def test_the_public_page_updates_live_without_reload(page, live):  # type: ignore[no-untyped-def]
    order = released(live, "LIVE-1")
    line = order["lines"][0]["id"]
    httpx.post(
        f"{live.url}/api/v1/orders/{order['id']}/parcels",
        json={"parcels": [{"carrier": "dhl", "tracking_number": "JJD42", "lines": {line: 2}}]},
        headers=ADMIN,
    ).raise_for_status()
    token = tracking(live, order["id"])["token"]

    page.goto(f"{live.url}/track/{token}")  # no login
    expect(page.get_by_test_id("status")).to_have_text(
        "Zugestellt" if False else "An den Paketdienst übergeben"
    )  # a DE address reads German
    expect(page.get_by_test_id("live")).to_contain_text("Live")
    page.evaluate("window.__marker = 1")  # gone if the page reloads

    at = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    sent = httpx.post(
        f"{live.url}/api/v1/tracking/events",
        json={
            "events": [
                {
                    "id": "p1",
                    "tracking_number": "JJD42",
                    "milestone": "out_for_delivery",
                    "occurred_at": at,
                    "position": {"lat": 52.50, "lon": 13.40},
                }
            ]
        },
        headers=ADMIN,
    )
    assert sent.status_code == 202, sent.text
    expect(page.get_by_test_id("status")).to_have_text("In Zustellung", timeout=5000)
    expect(page.get_by_test_id("history")).to_contain_text("In Zustellung")
    expect(page.locator("#map circle[data-kind=pos]")).to_have_count(1)
    assert page.evaluate("window.__marker") == 1

    page.goto(f"{live.url}/track/{token}?lang=en")
    expect(page.get_by_test_id("status")).to_have_text("Out for delivery")
    assert page.goto(f"{live.url}/track/not-a-token").status == 404


def test_an_operator_ships_with_tracking_from_the_order_page(page, live):  # type: ignore[no-untyped-def]
    order = released(live, "LIVE-2", country="GB")
    tracking(live, order["id"])
    login(page, live)
    page.goto(f"{live.url}/console/orders/{order['id']}")
    card = page.get_by_test_id("tracking")
    expect(card).to_contain_text("Order placed")
    expect(card).to_contain_text("Sent to the warehouse")
    card.locator("summary", has_text="Ship with tracking").click()
    card.get_by_label("carrier").select_option("dpd")
    card.get_by_label("tracking number").fill("DPD-555")
    card.locator("button", has_text="Ship parcel").click()
    expect(page.get_by_test_id("order-status")).to_have_text("shipped")
    parcels = page.get_by_test_id("parcels")
    expect(parcels).to_contain_text("DPD-555")
    assert "tracking.dpd.de" in (parcels.locator("a").first.get_attribute("href") or "")
    expect(page.get_by_test_id("tracking-timeline")).to_contain_text("Handed to the carrier")
    page.get_by_text("Internal detail").click()
    expect(page.get_by_test_id("tracking-internal")).to_contain_text("oms")


def test_a_two_line_order_page_loads_its_tracking_card_and_ships_both_lines(page, live):  # type: ignore[no-untyped-def]
    order = released(live, "LIVE-3", skus=("MUG-1", "TEA-9"))
    refused: list[str] = []
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    login(page, live)
    page.goto(f"{live.url}/console/orders/{order['id']}")
    card = page.get_by_test_id("tracking")
    expect(card).to_contain_text("Order placed")
    card.locator("summary", has_text="Ship with tracking").click()
    ids = [line["id"] for line in order["lines"]]
    assert card.get_by_label("parcel lines").input_value().splitlines() == [f"{i}=2" for i in ids]
    card.get_by_label("carrier").select_option("dhl")
    card.get_by_label("tracking number").fill("DHL-777")
    card.locator("button", has_text="Ship parcel").click()
    expect(page.get_by_test_id("order-status")).to_have_text("shipped")
    assert refused == []
