"""The console in real Chromium: login, dashboard, orders, detail, edit, cancel, dead letters."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser
ADMIN = {"Authorization": "Bearer live-admin-key"}


def login(page, live, email="operator@shop.test", password="secret-pw"):
    page.goto(f"{live.url}/console")
    expect(page).to_have_url(f"{live.url}/login?next=/console")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def post_order(live, **over):
    body = {
        "currency": "EUR",
        "external_ref": over.pop("ref", "W-1"),
        "customer": {"email": "ann@example.com", "name": "Ann Lee", "tier": "vip"},
        "shipping_address": {"name": "Ann Lee", "line1": "Karl-Marx-Allee 1", "city": "Berlin", "country": "DE"},
        "lines": [
            {"sku": "MUG-1", "quantity": 2, "unit_price": "8.50"},
            {"sku": "TEA-9", "quantity": 1, "unit_price": "4.00"},
        ],
        "payment_status": "paid",
    }
    body.update(over)
    r = httpx.post(f"{live.url}/api/v1/orders", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


def test_wrong_password_is_refused(page, live):
    page.goto(f"{live.url}/login")
    page.fill("#email", "operator@shop.test")
    page.fill("#password", "nope")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")


def test_dashboard_counts_update_live(page, live):
    post_order(live, ref="A")
    login(page, live)
    expect(page.get_by_test_id("kpi-total")).to_have_text("1")
    post_order(live, ref="B", channel="shopify")
    expect(page.get_by_test_id("kpi-total")).to_have_text("2", timeout=12_000)  # polled every 5 s
    expect(page.locator("[data-channel=shopify] .n")).to_have_text("1")
    page.screenshot(path=str(live_artifact("dashboard.png")))


def test_orders_list_filters_and_opens_detail(page, live):
    first = post_order(live, ref="W-100")
    post_order(live, ref="W-200", payment_status="pending")
    login(page, live)
    page.click("text=Orders")
    table = page.get_by_test_id("orders-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    page.select_option("select[name=status]", "awaiting_payment")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("W-200")
    page.select_option("select[name=status]", "")
    page.fill("input[name=q]", "w-100")
    expect(table.locator("tbody tr")).to_have_count(1)
    table.get_by_role("link", name="W-100").click()  # the order number leads; it opens the order
    expect(page).to_have_url(f"{live.url}/console/orders/{first['id']}")
    expect(page.get_by_test_id("order-status")).to_have_text("paid")
    expect(page.get_by_test_id("order-total")).to_contain_text("21.00 EUR")
    expect(page.get_by_test_id("timeline")).to_contain_text("Captured from web as W-100: 2 lines, 21.00 EUR")


def test_operator_edits_and_cancels_an_order(page, live):
    order = post_order(live)
    login(page, live)
    page.goto(f"{live.url}/console/orders/{order['id']}")
    page.get_by_label("quantity MUG-1").fill("3")
    page.locator("tr[data-line='MUG-1'] button", has_text="Set").click()
    expect(page.get_by_role("status")).to_have_text("Quantity changed")
    expect(page.get_by_test_id("order-total")).to_contain_text("29.50 EUR")
    page.click("text=Change address")
    page.get_by_label("city").fill("Potsdam")
    page.click("text=Save address")
    expect(page.get_by_test_id("ship-to")).to_contain_text("Potsdam")
    page.once("dialog", lambda d: d.accept())
    page.get_by_label("cancel reason").fill("customer called")
    page.click("button:has-text('Cancel order')")
    expect(page.get_by_test_id("order-status")).to_have_text("cancelled")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("customer called")
    expect(timeline).to_contain_text("user:operator@shop.test")
    api = httpx.get(f"{live.url}/api/v1/orders/{order['id']}", headers=ADMIN).json()
    assert api["status"] == "cancelled" and api["shipping_address"]["city"] == "Potsdam"
    assert [e["type"] for e in api["events"]].count("order.edited") == 2


def test_illegal_move_shows_allowed_next_states(page, live):
    order = post_order(live, payment_status="pending")
    login(page, live)
    page.goto(f"{live.url}/console/orders/{order['id']}")
    page.get_by_label("hold reason").fill("fraud check")
    page.click("button:has-text('Hold')")
    expect(page.get_by_test_id("order-status")).to_have_text("on_hold")
    page.click("button:has-text('Release hold')")
    expect(page.get_by_test_id("order-status")).to_have_text("awaiting_payment")


def test_viewer_sees_no_actions(page, live):
    order = post_order(live)
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/orders/{order['id']}")
    expect(page.get_by_test_id("order-status")).to_have_text("paid")
    expect(page.locator("button:has-text('Cancel order')")).to_have_count(0)
    expect(page.locator("text=Add line")).to_have_count(0)


def test_dead_letter_fixed_and_replayed_in_the_console(page, live):
    payload = json.loads((FIXTURES / "woocommerce_order.json").read_text())
    payload["line_items"][0]["sku"] = ""
    r = httpx.post(f"{live.url}/api/v1/channels/woocommerce/orders", json=payload, headers=ADMIN)
    assert r.status_code == 422
    login(page, live)
    expect(page.locator(".kpi", has_text="dead letters pending")).to_contain_text("1")
    page.click("text=Dead letters")
    page.get_by_test_id("dead-letters").get_by_role("link", name=r.json()["dead_letter_id"]).click()
    expect(page.get_by_test_id("dead-letter-error")).to_contain_text("/line_items/0/sku")
    fixed = page.get_by_label("payload").input_value().replace('"sku": ""', '"sku": "KITCH-POUR-01"')
    page.get_by_label("payload").fill(fixed)
    page.click("button:has-text('Replay')")
    expect(page.get_by_role("status")).to_contain_text("Replayed")
    expect(page.get_by_test_id("order-status")).to_have_text("paid")
    assert httpx.get(f"{live.url}/api/v1/dead-letters", headers=ADMIN).json()["items"] == []


def live_artifact(name: str):
    from pathlib import Path

    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out / name


def test_inventory_page_shows_positions_holds_with_countdown_and_ledger(page, live):
    node = {"id": "DC-K", "name": "DC Kassel", "type": "distribution_centre", "lat": 51.31, "lon": 9.49, "region": "HE"}
    assert httpx.post(f"{live.url}/api/v1/nodes", json=node, headers=ADMIN).status_code == 201
    httpx.put(f"{live.url}/api/v1/inventory/DC-K/MUG-1", json={"on_hand": 12}, headers=ADMIN)
    order = post_order(live, payment_status="pending", lines=[{"sku": "MUG-1", "quantity": 5, "unit_price": "8.50"}])
    cart = httpx.post(f"{live.url}/api/v1/carts/web-77/holds", json={"sku": "MUG-1", "quantity": 2}, headers=ADMIN)
    assert cart.status_code == 201
    login(page, live)
    page.click("text=Inventory")
    page.get_by_label("SKU").fill("MUG-1")
    page.click("button:has-text('Show')")
    expect(page.get_by_test_id("total-atp")).to_have_text("5")
    expect(page.locator("[data-node=DC-K] .atp")).to_have_text("5")
    holds = page.get_by_test_id("holds")
    expect(holds).to_contain_text(order["id"])
    expect(holds.get_by_test_id("order-number")).to_have_text("W-1")  # named by the channel's number
    expect(holds).to_contain_text("cart web-77")
    expect(page.get_by_test_id("cart-holds")).to_contain_text("2 units held for 1 cart ")
    expect(holds.locator("[data-expires]").first).to_have_text(re.compile(r"^(1[45]|29|30)m \d+s$"))
    expect(page.get_by_test_id("ledger")).to_contain_text("reserved")
    page.click("text=Nodes")
    expect(page.get_by_test_id("node-map").locator("circle")).to_have_count(1)
    page.get_by_test_id("nodes").get_by_role("link", name="DC-K").click()
    expect(page.get_by_test_id("node-atp")).to_have_text("5")
    page.screenshot(path=str(live_artifact("node.png")))


def test_carbon_factors_page_and_order_footprint(page, live):
    node = {"id": "DC-K", "name": "DC Kassel", "type": "distribution_centre", "lat": 51.31, "lon": 9.49, "region": "HE"}
    httpx.post(f"{live.url}/api/v1/nodes", json=node, headers=ADMIN)
    httpx.put(f"{live.url}/api/v1/inventory/DC-K/MUG-1", json={"on_hand": 12}, headers=ADMIN)
    order = post_order(
        live,
        shipping_address={"city": "Berlin", "country": "DE", "lat": 52.52, "lon": 13.40},
        lines=[{"sku": "MUG-1", "quantity": 2, "unit_price": "8.50"}],
    )
    login(page, live)
    page.click("text=Carbon")
    expect(page.get_by_test_id("factors")).to_contain_text("GLEC Framework v3.0")
    expect(page.locator("[data-factor='road.artic.le40t.diesel@EU'] .n")).to_have_text("95.0")
    expect(page.locator("[data-factor='road.artic.avg.diesel@GB'] .n")).to_have_text("97.5")  # DESNZ 2026 + WTT
    expect(page.get_by_test_id("older-factors")).to_contain_text("Annex 7 Table 7e")
    page.goto(f"{live.url}/console/orders/{order['id']}")
    footprint = httpx.get(f"{live.url}/api/v1/orders/{order['id']}/footprint", headers=ADMIN).json()
    expect(page.get_by_test_id("footprint-kg")).to_have_text(f"{footprint['kg_co2e']:.2f} kg CO2e")
    expect(page.get_by_test_id("sourcing")).to_contain_text("chosen")
    expect(page.get_by_test_id("sourcing")).to_contain_text("DC-K")
    page.click("text=How it was counted")
    counted = page.locator("details", has_text="How it was counted")
    expect(counted).to_contain_text("round.delivery.urban.van.diesel")
    expect(counted).to_contain_text("road.artic.le40t.diesel")


def test_carbon_dashboard_charts_the_period(page, live):
    node = {"id": "DC-K", "name": "DC Kassel", "type": "distribution_centre", "lat": 51.31, "lon": 9.49, "region": "HE"}
    httpx.post(f"{live.url}/api/v1/nodes", json=node, headers=ADMIN)
    httpx.put(f"{live.url}/api/v1/inventory/DC-K/MUG-1", json={"on_hand": 12}, headers=ADMIN)
    post_order(
        live,
        shipping_address={"city": "Berlin", "country": "DE", "lat": 52.52, "lon": 13.40},
        lines=[{"sku": "MUG-1", "quantity": 2, "unit_price": "8.50"}],
    )
    login(page, live)
    page.click("text=Carbon")
    expect(page.get_by_test_id("carbon-total")).not_to_have_text("0.0")
    expect(page.get_by_test_id("carbon-chart").locator("rect")).to_have_count(90)  # 30 days × 3 parts
    expect(page.locator("[data-node='DC-K']")).to_be_visible()
    page.screenshot(path=str(live_artifact("carbon.png")), full_page=True)


def sourcing_page_with_one_order(page, live, **node_fields) -> None:
    """DC Kassel with 12 mugs, one order from Berlin, and an editor on the sourcing page."""
    node = {"id": "DC-K", "name": "DC Kassel", "type": "distribution_centre", "lat": 51.31, "lon": 9.49, "region": "HE"}
    httpx.post(f"{live.url}/api/v1/nodes", json={**node, **node_fields}, headers=ADMIN)
    httpx.put(f"{live.url}/api/v1/inventory/DC-K/MUG-1", json={"on_hand": 12}, headers=ADMIN)
    post_order(
        live,
        shipping_address={"city": "Berlin", "country": "DE", "lat": 52.52, "lon": 13.40},
        lines=[{"sku": "MUG-1", "quantity": 1, "unit_price": "8.50"}],
    )
    login(page, live, email="editor@shop.test")
    page.click("text=Sourcing")


def test_sourcing_page_switches_to_shadow_and_shows_the_board(page, live):
    sourcing_page_with_one_order(page, live, daily_capacity=10)
    expect(page.get_by_test_id("shadow-orders")).to_have_text("1")
    expect(page.locator("[data-testid=dispatch] tr[data-node=DC-K]")).to_contain_text("1")
    expect(page.get_by_test_id("sourcing-map").locator("circle")).to_have_count(2)  # one node, one destination
    page.get_by_label("mode").select_option("shadow")
    page.click("button:has-text('Save')")
    expect(page.get_by_role("status")).to_have_text("Optimiser mode: shadow")
    assert (
        httpx.get(
            f"{live.url}/api/v1/sourcing/shadow-report",
            params={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
            headers=ADMIN,
        ).json()["orders"]
        == 1
    )


def test_sourcing_page_sets_strategy_and_condition_and_reoptimises_with_progress(page, live):
    sourcing_page_with_one_order(page, live)
    page.get_by_label("strategy for").fill("shopify")
    page.get_by_label("strategy", exact=True).select_option("greenest")
    page.click("button:has-text('Choose')")
    expect(page.get_by_role("status")).to_have_text("channel shopify: greenest")
    page.get_by_label("condition kind").select_option("outage")
    page.get_by_label("condition target").fill("DC-K")
    page.get_by_label("condition reason").fill("storm")
    page.click("button:has-text('Set')")
    expect(page.get_by_test_id("conditions")).to_contain_text("storm")
    page.click("button:has-text('Re-optimise the backlog')")
    expect(page.get_by_test_id("reopt-done")).to_contain_text("1 orders examined", timeout=15_000)


def test_operator_pins_an_order_to_another_node_with_a_reason(page, live):
    for node in (
        {"id": "DC-K", "name": "DC Kassel", "type": "distribution_centre", "lat": 51.31, "lon": 9.49, "region": "HE"},
        {"id": "DC-H", "name": "DC Hamburg", "type": "distribution_centre", "lat": 53.49, "lon": 10.13, "region": "HH"},
    ):
        httpx.post(f"{live.url}/api/v1/nodes", json=node, headers=ADMIN)
        httpx.put(f"{live.url}/api/v1/inventory/{node['id']}/MUG-1", json={"on_hand": 5}, headers=ADMIN)
    order = post_order(
        live,
        shipping_address={"city": "Kassel", "country": "DE", "lat": 51.3, "lon": 9.5},
        lines=[{"sku": "MUG-1", "quantity": 2, "unit_price": "8.50"}],
    )
    login(page, live)
    page.goto(f"{live.url}/console/orders/{order['id']}")
    page.get_by_label("pin node").select_option("DC-H")
    page.get_by_label("pin reason").fill("Kassel short of staff")
    page.click("button:has-text('Pin')")
    expect(page.get_by_role("status")).to_have_text("Fulfilment pinned to DC-H")
    expect(page.get_by_test_id("order-status")).to_have_text("allocated")
    expect(page.get_by_test_id("timeline")).to_contain_text("Kassel short of staff")
    atp = httpx.get(f"{live.url}/api/v1/atp", params={"sku": "MUG-1"}, headers=ADMIN).json()
    assert {n["node_id"]: n["allocated"] for n in atp["nodes"]} == {"DC-H": 2, "DC-K": 0}


def test_every_console_page_works_under_the_content_security_policy_and_logout_ends_it(page, live):
    post_order(live, ref="CSP-1")
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, live)
    for name in ("Orders", "Inventory", "Nodes", "Sourcing", "Carbon", "Dead letters", "Events", "Webhooks", "Jobs"):
        page.click(f"header nav >> text={name}")
        expect(page.locator("header nav a.active")).to_have_text(name)
    page.select_option("select[name=status]", "failed")  # submits its form (console.js)
    expect(page).to_have_url(f"{live.url}/console/jobs?status=failed")
    page.click("text=Dashboard")
    expect(page.get_by_test_id("kpi-total")).to_have_text("1")
    assert refused == []
    page.click("button:has-text('Log out')")
    expect(page).to_have_url(f"{live.url}/login")
    page.goto(f"{live.url}/console")
    expect(page).to_have_url(f"{live.url}/login?next=/console")
