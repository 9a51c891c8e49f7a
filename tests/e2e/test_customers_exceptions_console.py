"""Issue 16 in Chromium: the customer list and page, the exceptions page and its counts on the
dashboard, and dashboard charts with axes, thousands separators and a log scale."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from orderhub.core.clock import utcnow
from orderhub.orders.store import orders
from tests.e2e.test_console import ADMIN, login, post_order

pytestmark = pytest.mark.browser


def watch(page):
    """Collect JavaScript errors and failed requests while a test walks the console."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(  # an aborted request is a search superseded by the next keystroke (htmx drops the older)
        "requestfailed",
        lambda r: problems.append(f"failed {r.url} ({r.failure})") if "ERR_ABORTED" not in (r.failure or "") else None,
    )
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


def test_customer_list_searches_sorts_and_opens_a_customer_with_orders_value_and_links(page, live):
    ann = post_order(live, ref="ANN-1")  # 21.00 EUR, vip
    big = {"sku": "MUG-1", "quantity": 1, "unit_price": "1234.50"}
    post_order(live, ref="BOB-1", customer={"email": "bob@example.com", "name": "Bob Stone"}, lines=[big])
    problems = watch(page)
    login(page, live, email="viewer@shop.test")
    page.click("header nav >> text=Customers")
    expect(page.locator("header nav a.active")).to_have_text("Customers")
    expect(page.get_by_test_id("customer-count")).to_have_text("2 customers")
    page.select_option("select[name=sort]", "lifetime_value")
    expect(page.locator("[data-testid=customers-table] tbody tr").first).to_have_attribute(
        "data-customer", "bob@example.com"
    )
    expect(page.locator("tr[data-customer='bob@example.com'] [data-testid=customer-value]")).to_have_text(
        "1,234.50 EUR"
    )
    page.get_by_label("search customers").fill("ann lee")
    expect(page.get_by_test_id("customer-count")).to_have_text("1 customer")
    expect(page).to_have_url(re.compile(r"q=ann"))
    page.click("text=Ann Lee")
    expect(page.get_by_test_id("customer-name")).to_contain_text("Ann Lee")
    expect(page.get_by_test_id("customer-tier")).to_have_text("vip")
    expect(page.get_by_test_id("customer-orders")).to_have_text("1")
    expect(page.get_by_test_id("customer-ltv")).to_have_text("21.00 EUR")
    expect(page.get_by_test_id("customer-points")).to_have_text("0")
    expect(page.get_by_test_id("returns-table")).to_contain_text("No returns.")
    assert problems == []  # (the order page is another test's: its own requests are not checked here)
    page.click(f"[data-testid=customer-orders-table] a[href='/console/orders/{ann['id']}']")
    expect(page.get_by_test_id("order-status")).to_be_visible()
    page.get_by_test_id("customer-link").click()  # the order page links back to its customer
    expect(page.get_by_test_id("customer-name")).to_contain_text("Ann Lee")
    r = page.goto(f"{live.url}/console/customers/cus_nobody")
    assert r is not None and r.status == 404
    expect(page).to_have_title("Not found · OrderHub")


def test_exceptions_counted_on_the_dashboard_and_listed_by_tab(page, live):
    now = utcnow()
    late = post_order(live, ref="LATE-1", promise_days=1, placed_at=(now - timedelta(days=3)).isoformat())
    stuck = post_order(live, ref="STUCK-1")
    with live.engine.begin() as conn:  # four days pass for one order in its status
        conn.execute(sa.update(orders).where(orders.c.id == stuck["id"]).values(status_since=now - timedelta(days=4)))
    assert httpx.post(f"{live.url}/api/v1/orders", json={"currency": "EUR"}, headers=ADMIN).status_code == 422
    backorders = httpx.get(f"{live.url}/api/v1/exceptions/summary", headers=ADMIN).json()["backorders"]
    assert backorders == 4  # no stock anywhere: both lines of both orders wait
    problems = watch(page)
    login(page, live, email="viewer@shop.test")
    expect(page.get_by_test_id("exc-ageing")).to_have_text("1")
    expect(page.get_by_test_id("exc-late")).to_have_text("1")
    expect(page.get_by_test_id("exc-backorders")).to_have_text("4")
    expect(page.get_by_test_id("exc-dead-letters")).to_have_text("1")

    page.get_by_test_id("exc-late").click()
    expect(page.locator("nav.tabs a.active")).to_have_attribute("data-tab", "late")
    expect(page.locator("[data-testid=late-table] tbody tr")).to_have_count(1)
    expect(page.locator(f"[data-testid=late-table] tr[data-order='{late['id']}']")).to_contain_text("LATE-1")
    expect(page.locator(f"[data-testid=late-table] tr[data-order='{late['id']}']")).to_contain_text("2 d 0 h")

    page.click("header nav >> text=Exceptions")
    expect(page.locator("header nav a.active")).to_have_text("Exceptions")
    expect(page.locator("nav.tabs a.active")).to_have_attribute("data-tab", "ageing")
    expect(page.get_by_test_id("count-late")).to_have_text("1")
    cell = page.locator("[data-testid=ageing-table] tr[data-status=paid] td[data-bucket=gt_3d] a")
    expect(cell).to_have_text("1")
    expect(page.locator("[data-testid=ageing-table] tr[data-status=paid] td[data-bucket=lt_1h]")).to_have_text("1")
    cell.click()
    rows = page.locator("[data-testid=ageing-orders] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("STUCK-1")
    expect(rows.first).to_contain_text("4 d 0 h")

    page.click("nav.tabs >> text=Backorders")
    expect(page.locator("[data-testid=backorders-table] tbody tr")).to_have_count(4)
    expect(page.locator("[data-testid=backorders-table]")).to_contain_text("TEA-9")
    page.click("nav.tabs >> text=Dead letters")
    expect(page.get_by_test_id("dead-letter-count")).to_contain_text("1 channel payload")
    page.click("text=Open the dead letters")
    expect(page.locator("header nav a.active")).to_have_text("Dead letters")

    page.goto(f"{live.url}/console/exceptions?tab=ageing&status=delivered")
    expect(page.get_by_role("alert")).to_contain_text("status: one of created")
    assert problems == []


def test_dashboard_charts_have_axes_value_labels_and_show_a_small_state_next_to_a_large_one(page, live):
    for i in range(12):
        post_order(live, ref=f"P-{i}")  # 12 paid
    held = post_order(live, ref="H-1")
    httpx.post(f"{live.url}/api/v1/orders/{held['id']}/hold", json={"reason": "check"}, headers=ADMIN)
    login(page, live)
    status = page.get_by_test_id("chart-status")
    expect(status.locator("[data-status=paid] .n")).to_have_text("12")
    expect(status.locator("[data-status=on_hold] .n")).to_have_text("1")
    expect(status.locator(".c-tick")).to_have_text(["1", "10", "100"])  # labelled decades of the log scale
    small = status.locator("[data-status=on_hold] rect").bounding_box()
    large = status.locator("[data-status=paid] rect").bounding_box()
    assert small is not None and large is not None
    assert 2 <= small["width"] < large["width"]  # a single order still draws a bar
    expect(status.locator("[data-status=delivered]")).to_have_count(0)  # zero states are left out
    days = page.get_by_test_id("chart-days")
    expect(days.locator(".c-tick").first).to_have_text("0")
    expect(days.locator("rect.c-fill")).to_have_count(30)
    expect(days).to_contain_text("13 orders")
    status.locator("[data-status=on_hold] a").click()
    expect(page).to_have_url(f"{live.url}/console/orders?status=on_hold")
