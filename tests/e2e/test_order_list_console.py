"""The orders list in real Chromium: the order number leads, the total, sortable columns with
numbered pages, search by number, built-in and saved views, bulk hold / release / cancel and
the CSV export; what a viewer does not see."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from orderhub.orders import browsing, capture, service
from orderhub.platform.auth import service as auth
from tests.e2e.test_console import login

pytestmark = pytest.mark.browser


def order(live, ref, *, channel="web", price="10.00", paid=False):  # type: ignore[no-untyped-def]
    """Captured through the service (quicker than HTTP for the fifty orders a page needs)."""
    doc = {
        "channel": channel,
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": "ann@example.com", "name": "Ann Lee"},
        "shipping_address": {"city": "Berlin", "country": "DE"},
        "lines": [{"sku": "MUG-1", "quantity": 1, "unit_price": price}],
        "payment_status": "paid" if paid else "pending",
    }
    return capture.receive(live.engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def viewer_id(live) -> str:  # type: ignore[no-untyped-def]
    return auth.authenticate_password(live.engine, email="viewer@shop.test", password="secret-pw").user_id


def rows(page):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("orders-table").locator("tbody tr")


def test_the_list_counts_sorts_and_pages_with_the_order_number_first(page, live):  # type: ignore[no-untyped-def]
    ids = [order(live, f"{1000 + i}", price=f"{i + 1}.00") for i in range(53)]
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/orders")
    expect(page.get_by_test_id("order-count")).to_have_text("53 orders")
    expect(rows(page)).to_have_count(50)
    first = rows(page).nth(0)
    expect(first.get_by_test_id("order-number")).to_have_text("1052")  # newest first
    expect(first.locator("td").nth(0)).to_contain_text(ids[52])  # the id, second and small
    pager = page.get_by_test_id("pager")
    expect(pager).to_contain_text("page 1 of 2")
    pager.get_by_role("link", name="Next ›").click()
    expect(rows(page)).to_have_count(3)
    expect(rows(page).nth(2).get_by_test_id("order-number")).to_have_text("1000")
    page.get_by_role("link", name="« First").click()
    expect(rows(page)).to_have_count(50)

    page.locator("a[data-sort=total]").click()  # the largest total first
    expect(page).to_have_url(re.compile(r"sort=-total"))
    expect(rows(page).nth(0)).to_contain_text("53.00 EUR")
    page.locator("a[data-sort=total]").click()  # and back the other way
    expect(page).to_have_url(re.compile(r"sort=total"))
    expect(rows(page).nth(0)).to_contain_text("1.00 EUR")
    page.get_by_test_id("pager").get_by_role("link", name="Last »").click()
    expect(rows(page)).to_have_count(3)
    expect(rows(page).nth(2)).to_contain_text("53.00 EUR")
    page.select_option("select[name=channel]", "shopify")  # a filter keeps the sort, starts at page 1
    expect(page.get_by_test_id("order-count")).to_have_text("0 orders")
    expect(page.get_by_test_id("pager")).to_have_count(0)
    assert "sort=total" in page.url


def test_an_order_number_opens_its_order_and_leads_its_page(page, live):  # type: ignore[no-untyped-def]
    wanted = order(live, "1001")
    order(live, "1002")
    order(live, "1001", channel="shopify")  # the same number in another channel
    till = order(live, "ST-1/77", channel="pos")
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/orders")
    page.fill("input[name=q]", "100")  # typing filters the rows, it does not jump
    expect(rows(page)).to_have_count(3)
    page.fill("input[name=q]", "1001*")  # a number prefix, exactly as the API's number=1001*
    expect(rows(page)).to_have_count(2)
    page.fill("input[name=q]", "T-1/*")
    expect(page.get_by_test_id("order-count")).to_have_text("0 orders")  # ST-1/77 does not start with T-1/
    page.fill("input[name=q]", "1002")
    page.press("input[name=q]", "Enter")  # exactly one order has that number: it opens
    expect(page.get_by_test_id("order-number")).to_have_text("1002")
    expect(page).to_have_title("Order 1002 · OrderHub")
    page.goto(f"{live.url}/console/orders?q=1001")  # two orders: the list shows both
    expect(rows(page)).to_have_count(2)
    page.goto(f"{live.url}/console/orders/by-number/web/1001")
    expect(page).to_have_url(f"{live.url}/console/orders/{wanted}")
    expect(page.get_by_test_id("order-id")).to_have_text(f"web · {wanted}")
    page.goto(f"{live.url}/console/orders/by-number/pos/ST-1/77")
    expect(page).to_have_url(f"{live.url}/console/orders/{till}")
    missing = page.goto(f"{live.url}/console/orders/by-number/pos/nope")
    assert missing is not None and missing.status == 404
    expect(page.get_by_text("no pos order nope")).to_be_visible()


def test_built_in_and_saved_views(page, live):  # type: ignore[no-untyped-def]
    held = order(live, "H-1", paid=True)
    service.hold(live.engine, order_id=held, actor="t", reason="fraud check")
    order(live, "U-1")
    order(live, "P-1", paid=True)
    login(page, live)
    page.goto(f"{live.url}/console/orders")
    expect(page.get_by_test_id("order-count")).to_have_text("3 orders")
    page.get_by_test_id("views").get_by_role("link", name="On hold").click()
    expect(page.get_by_test_id("order-count")).to_have_text("1 order")
    page.get_by_test_id("views").get_by_role("link", name="Awaiting payment").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).nth(0).get_by_test_id("order-number")).to_have_text("U-1")
    page.get_by_test_id("views").get_by_role("link", name="Unfulfilled").click()
    page.locator("a[data-sort=number]").click()
    expect(page).to_have_url(re.compile(r"view=unfulfilled&sort="))
    save = page.get_by_test_id("save-view")
    save.get_by_label("view name").fill("Paid by number")
    save.get_by_role("button", name="Save view").click()
    expect(page.get_by_role("status")).to_have_text("View “Paid by number” saved")
    page.get_by_test_id("views").get_by_role("link", name="All").click()
    expect(page.get_by_test_id("order-count")).to_have_text("3 orders")
    page.get_by_test_id("views").get_by_role("link", name="Paid by number").click()
    expect(page.get_by_test_id("order-count")).to_have_text("2 orders")  # paid, and held from paid
    expect(rows(page).nth(0).get_by_test_id("order-number")).to_have_text("H-1")
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_role("button", name="delete view Paid by number").click()
    expect(page.locator("[data-saved-view]")).to_have_count(1)  # dismissed: still there
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="delete view Paid by number").click()
    expect(page.get_by_role("status")).to_have_text("View deleted")
    expect(page.locator("[data-saved-view]")).to_have_count(0)


def test_bulk_actions_report_each_order_and_cancel_asks_first(page, live):  # type: ignore[no-untyped-def]
    a, b, done = order(live, "B-1"), order(live, "B-2", paid=True), order(live, "B-3")
    service.cancel(live.engine, order_id=done, actor="t", reason="x")
    login(page, live)
    page.goto(f"{live.url}/console/orders")
    for oid in (a, b, done):
        page.locator(f"tr[data-order='{oid}'] input[name=order_id]").check()
    page.get_by_label("bulk reason").fill("address check")
    page.get_by_test_id("bulk-actions").get_by_role("button", name="Hold", exact=True).click()
    result = page.get_by_test_id("bulk-result")
    expect(result.get_by_role("heading")).to_have_text("Hold: 2 done, 1 refused")
    expect(result.locator(f"tr[data-bulk-order='{done}']")).to_contain_text("refused")
    expect(result.locator(f"tr[data-bulk-order='{done}']")).to_contain_text("allowed next: refunded")
    expect(page.locator(f"tr[data-order='{a}'] .badge.on_hold")).to_be_visible()  # the rows were read again
    assert service.get(live.engine, order_id=b).order.status.value == "on_hold"
    assert service.get(live.engine, order_id=a).events[-1]["data"]["reason"] == "address check"

    page.get_by_test_id("orders-table").locator("input[data-select-all]").check()
    page.get_by_test_id("bulk-actions").get_by_role("button", name="Release hold").click()
    expect(result.get_by_role("heading")).to_have_text("Release: 2 done, 1 refused")
    # the rows were read again: b's status is paid again (its payment badge said paid all along)
    expect(page.locator(f"tr[data-order='{b}'] td[data-col=status]")).to_have_text("paid")
    expect(page.locator(f"tr[data-order='{a}'] .badge.on_hold")).to_have_count(0)

    page.locator(f"tr[data-order='{a}'] input[name=order_id]").check()
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_test_id("bulk-actions").get_by_role("button", name="Cancel orders").click()
    expect(result.get_by_role("heading")).to_have_text("Release: 2 done, 1 refused")  # nothing sent
    assert service.get(live.engine, order_id=a).order.status.value == "awaiting_payment"
    page.once("dialog", lambda d: d.accept())
    page.get_by_test_id("bulk-actions").get_by_role("button", name="Cancel orders").click()
    expect(result.get_by_role("heading")).to_have_text("Cancel: 1 done, 0 refused")
    assert service.get(live.engine, order_id=a).order.status.value == "cancelled"
    assert service.get(live.engine, order_id=b).order.status.value == "paid"


def test_a_viewer_reads_and_exports_but_has_no_actions(page, live):  # type: ignore[no-untyped-def]
    first = order(live, "V-1", price="12.50")
    order(live, "V-2", channel="shopify")
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/orders?channel=web")
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_test_id("bulk-actions")).to_have_count(0)
    expect(page.locator("input[name=order_id]")).to_have_count(0)
    expect(page.get_by_test_id("save-view")).to_have_count(0)
    with page.expect_download() as info:
        page.get_by_test_id("export").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [(r["order_number"], r["channel"], r["total"]) for r in exported] == [("V-1", "web", "12.50")]
    refused = page.request.post(f"{live.url}/console/orders/bulk", form={"action": "cancel", "order_id": "x"})
    assert refused.status == 403  # no CSRF token from a page: refused before the role is even read
    token = json.loads(page.locator("body").get_attribute("hx-headers") or "{}")["X-CSRF-Token"]
    forged = page.request.post(
        f"{live.url}/console/orders/bulk",
        form={"action": "cancel", "order_id": first},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert forged.status == 200 and "this needs the operator role; you have viewer" in forged.text()
    assert service.get(live.engine, order_id=first).order.status.value == "awaiting_payment"  # untouched
    saved = page.request.post(
        f"{live.url}/console/orders/views", form={"name": "mine", "query": "view=late"}, headers={"X-CSRF-Token": token}
    )
    assert saved.ok and browsing.get_views(live.engine, user_id=viewer_id(live)) == []


def test_a_replayed_dead_letter_names_its_order_by_number(page, live):  # type: ignore[no-untyped-def]
    from orderhub.orders import capture as captured
    from tests.conftest import FIXTURES

    refused = page.request.post(
        f"{live.url}/api/v1/channels/shopify/orders",
        data='{"id": 1}',
        headers={"Authorization": "Bearer live-admin-key"},
    )
    assert refused.status == 422
    [letter], _ = captured.get_dead_letters(live.engine, status="pending", limit=5)
    fixed = (FIXTURES / "shopify_order.json").read_text()
    order_id = captured.replay_dead_letter(live.engine, letter_id=letter["id"], actor="t", payload=fixed).order_id
    number = service.get(live.engine, order_id=order_id).order.external_ref
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/dead-letters?status=replayed")
    table = page.get_by_test_id("dead-letters")
    expect(table.get_by_test_id("order-number")).to_have_text(number)
    expect(table.get_by_test_id("order-id")).to_have_text(f"shopify · {order_id}")
    page.goto(f"{live.url}/console/dead-letters/{letter['id']}")
    expect(page.get_by_test_id("became-order")).to_have_text(f"Became order {number} (shopify · {order_id}).")
