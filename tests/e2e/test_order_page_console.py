"""The order page in real Chromium: timeline in words, allocation through sourcing, fulfilment
orders with SKUs and names, returns as RMAs received anywhere, refunds, payments, comments —
and what a viewer sees of it."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from orderhub.inventory import service as inventory
from tests.conftest import position, put_stock
from tests.e2e.test_console import ADMIN, login, post_order

pytestmark = pytest.mark.browser


def world(engine) -> None:
    caps = inventory.Capability
    inventory.save_nodes(
        engine,
        nodes=[
            inventory.Node(
                id="DC-BER",
                name="Berlin DC",
                type=inventory.NodeType.distribution_centre,
                lat=52.4,
                lon=13.5,
                region="BE",
                city="Berlin",
                capabilities=[caps.ships, caps.returns],
            ),
            inventory.Node(
                id="ST-MUC",
                name="Munich store",
                type=inventory.NodeType.store,
                lat=48.14,
                lon=11.58,
                region="BY",
                city="München",
                capabilities=list(caps),
            ),
        ],
    )
    put_stock(engine, {("DC-BER", "MUG-1"): 10, ("DC-BER", "TEA-9"): 10})
    inventory.save_items(
        engine,
        items=[
            inventory.Item("MUG-1", "Coffee mug", "kitchen", 400, 850, 300),
            inventory.Item("TEA-9", "Green tea", "food", 100, 400, 100),
        ],
    )


def move(live, oid, *statuses):
    for to in statuses:
        r = httpx.post(f"{live.url}/api/v1/orders/{oid}/transitions", json={"to": to}, headers=ADMIN)
        assert r.status_code == 200, r.text


def flash(page):
    return page.locator(".flash").last


def test_operator_allocates_via_sourcing_takes_a_return_anywhere_refunds_and_comments(page, live):
    world(live.engine)
    order = post_order(live, payment_method="card")
    oid = order["id"]
    page.on("dialog", lambda d: d.accept())
    login(page, live)
    page.goto(f"{live.url}/console/orders/{oid}")

    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Paid 21.00 EUR by card (payment received by the channel)")
    expect(timeline).to_contain_text("Stock held: 2 × MUG-1, 1 × TEA-9 at Berlin DC")
    sentences = timeline.locator(".t").all_inner_texts()
    assert sentences and not [t for t in sentences if "order." in t or "{" in t or "\\u" in t]
    expect(page.get_by_test_id("payment-method")).to_have_text("card")
    expect(page.get_by_test_id("pay-captured")).to_have_text("21.00 EUR")
    expect(page.get_by_test_id("pay-balance")).to_have_text("0.00 EUR")

    allocation = page.get_by_test_id("allocation")
    expect(allocation).to_contain_text("where its stock is held: Berlin DC")
    allocation.get_by_role("button", name="Allocate via sourcing").click()
    expect(flash(page)).to_have_text("Allocated to DC-BER")
    expect(page.get_by_test_id("order-status")).to_have_text("allocated")
    fos = page.get_by_test_id("fulfilment-orders")
    expect(fos).to_contain_text("Berlin DC")
    expect(fos).to_contain_text("2 × MUG-1 Coffee mug")
    expect(fos).to_contain_text("1 × TEA-9 Green tea")
    expect(timeline).to_contain_text("Allocated to Berlin DC")
    expect(page.locator("tr[data-line=MUG-1]")).to_contain_text("Coffee mug")  # the item master's name

    move(live, oid, "released", "shipped", "delivered")
    page.reload()
    expect(page.get_by_test_id("order-status")).to_have_text("delivered")
    expect(page.get_by_label("next status")).to_have_count(0)  # returns go through the RMA forms
    expect(page.get_by_role("heading", name="Actions")).to_have_count(0)  # nothing left to move, hold or cancel

    returns = page.get_by_test_id("returns")
    returns.get_by_label("return units MUG-1").fill("1")
    returns.get_by_label("return reason").fill("too small")
    returns.get_by_label("stated condition").fill("unopened")
    returns.get_by_role("button", name="Authorise return").click()
    expect(flash(page)).to_contain_text("authorised")
    expect(page.get_by_test_id("order-status")).to_have_text("return_requested")
    rma = page.get_by_test_id("rma")
    expect(rma.get_by_test_id("rma-status")).to_have_text("requested")
    expect(rma).to_contain_text("customer says: unopened")

    rma.get_by_label("received at").select_option("ST-MUC")
    rma.get_by_label("condition on receipt").select_option("resellable")
    rma.get_by_role("button", name="Receive").click()
    expect(rma.get_by_test_id("rma-status")).to_have_text("received")
    expect(rma).to_contain_text("Received at Munich store (resellable, back in stock)")
    expect(page.get_by_test_id("order-status")).to_have_text("delivered")  # the rest stays with the customer
    assert position(live.engine, "ST-MUC", "MUG-1").on_hand == 1

    rma.get_by_role("button", name="Refund this return").click()
    expect(flash(page)).to_contain_text("Refunded 8.50 EUR for return")
    expect(page.get_by_test_id("pay-refunded")).to_have_text("8.50 EUR")
    expect(page.get_by_test_id("rma")).to_contain_text("refunded")
    expect(timeline).to_contain_text("Refunded 8.50 EUR for 1 × MUG-1 (return")
    expect(timeline).to_contain_text("Return received at Munich store")

    page.get_by_text("Record a refund").click()
    page.get_by_label("refund amount").fill("100")
    page.get_by_role("button", name="Record refund").click()
    expect(flash(page)).to_contain_text("at most 12.50 EUR can be refunded")
    expect(page.get_by_test_id("pay-refunded")).to_have_text("8.50 EUR")
    page.get_by_text("Record a refund").click()
    page.get_by_label("refund amount").fill("4.00")
    page.get_by_label("refund units TEA-9").fill("1")
    page.get_by_label("refund reason").fill("tea arrived late")
    page.get_by_role("button", name="Record refund").click()
    expect(flash(page)).to_have_text("Refunded 4.00 EUR")
    expect(page.get_by_test_id("pay-refunded")).to_have_text("12.50 EUR")
    expect(page.get_by_test_id("refunds")).to_contain_text("1 × TEA-9")
    expect(page.get_by_test_id("pay-balance")).to_have_text("0.00 EUR")

    page.get_by_label("comment").fill("Customer called: keeps the tea")
    page.get_by_role("button", name="Add comment").click()
    first = page.get_by_test_id("timeline").locator("li").first
    expect(first).to_contain_text("Customer called: keeps the tea")
    expect(first).to_contain_text("user:operator@shop.test")
    detail = page.get_by_test_id("timeline").locator("li", has_text="Refunded 8.50 EUR").locator("details")
    detail.locator("summary").click()
    expect(detail.locator("pre")).to_contain_text('"type": "order.refund_recorded"')
    expect(detail.locator("pre")).to_contain_text('"amount": "8.50"')

    api = httpx.get(f"{live.url}/api/v1/orders/{oid}/comments", headers=ADMIN).json()["items"]
    assert [c["text"] for c in api] == ["Customer called: keeps the tea"]


def test_viewer_sees_payments_returns_and_comments_but_no_forms(page, live):
    world(live.engine)
    oid = post_order(live, payment_method="card")["id"]
    httpx.post(f"{live.url}/api/v1/orders/{oid}/comments", json={"text": "VIP: handle with care"}, headers=ADMIN)
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/orders/{oid}")
    expect(page.get_by_test_id("comment")).to_contain_text("VIP: handle with care")
    expect(page.get_by_test_id("pay-captured")).to_have_text("21.00 EUR")
    expect(page.get_by_label("comment")).to_have_count(0)
    expect(page.get_by_test_id("allocation")).to_have_count(0)
    expect(page.get_by_text("Record a refund")).to_have_count(0)
