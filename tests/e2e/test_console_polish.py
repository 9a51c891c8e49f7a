"""Issue 16 polish outside the order page: offline API docs, a favicon, pages titled by what
went wrong (404 "Not found", 403 "Not allowed"), dead-letter actions only for the roles that may
use them, with a confirmation before a discard."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_console import login

pytestmark = pytest.mark.browser


def test_api_docs_render_from_vendored_swagger_ui_with_no_outside_request(page, live):
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live.url}/api/docs")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "OrderHub", timeout=30_000
    )  # Swagger UI renders the spec in the browser
    expect(page.get_by_role("link", name="/healthz", exact=True)).to_be_visible()  # the spec rendered
    assert [u for u in requested if not u.startswith(live.url)] == []
    assert errors == []


def test_favicon_and_swagger_licence_are_served(live):
    icon = httpx.get(f"{live.url}/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")
    licence = httpx.get(f"{live.url}/static/swagger-ui/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text


def test_missing_order_page_is_titled_not_found_and_a_refused_form_not_allowed(page, live):
    login(page, live)
    r = page.goto(f"{live.url}/console/orders/ord_missing")
    assert r is not None and r.status == 404
    expect(page).to_have_title("Not found · OrderHub")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    refused = page.request.post(f"{live.url}/console/orders/ord_missing/cancel", form={"reason": "x"})
    assert refused.status == 403
    assert (
        "<title>Not allowed · OrderHub</title>" in refused.text()
        and "application/problem+json" not in refused.headers["content-type"]
    )


def test_dead_letter_actions_only_for_operators_and_discard_asks_first(page, live):
    import json

    from tests.conftest import FIXTURES
    from tests.e2e.test_console import ADMIN

    payload = json.loads((FIXTURES / "woocommerce_order.json").read_text())
    payload["line_items"][0]["sku"] = ""
    r = httpx.post(f"{live.url}/api/v1/channels/woocommerce/orders", json=payload, headers=ADMIN)
    assert r.status_code == 422
    letter = f"{live.url}/console/dead-letters/{r.json()['dead_letter_id']}"

    login(page, live, email="viewer@shop.test")
    page.goto(letter)
    expect(page.get_by_test_id("dead-letter-error")).to_contain_text("/line_items/0/sku")
    expect(page.get_by_role("button", name="Replay")).to_have_count(0)
    expect(page.get_by_role("button", name="Discard")).to_have_count(0)

    page.context.clear_cookies()
    login(page, live)  # the operator
    page.goto(letter)
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Discard").click()
    expect(page.get_by_role("button", name="Discard")).to_be_visible()  # dismissed: nothing happened
    assert asked == ["Discard this payload? It will not become an order."]
    assert httpx.get(f"{live.url}/api/v1/dead-letters", headers=ADMIN).json()["items"][0]["status"] == "pending"
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Discard").click()
    expect(page.get_by_role("button", name="Discard")).to_have_count(0)
    discarded = httpx.get(f"{live.url}/api/v1/dead-letters?status=discarded", headers=ADMIN).json()["items"]
    assert [d["status"] for d in discarded] == ["discarded"]


def test_a_bad_query_value_gets_a_page_that_says_which_value_and_what_it_should_be(page, live):
    login(page, live)
    r = page.goto(f"{live.url}/console/sourcing?days=abc")
    assert r is not None and r.status == 422
    expect(page).to_have_title("Not valid · OrderHub")
    expect(page.locator(".card p")).to_have_text("days should be a whole number")
    page.goto(f"{live.url}/console/sourcing?days=99999999999999999999")
    expect(page.locator(".card p")).to_have_text("days should be at most 730")
    expect(page.get_by_role("link", name="Orders")).to_be_visible()  # the console around it, not a bare error
    api = httpx.get(f"{live.url}/api/v1/orders?limit=abc", headers={"Authorization": "Bearer live-admin-key"})
    assert api.status_code == 422 and api.headers["content-type"].startswith("application/problem+json")
