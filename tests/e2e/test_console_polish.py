"""Issue 16 polish outside the order page: offline API docs, a favicon, pages titled by what
went wrong (404 "Not found", 403 "Not allowed")."""

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
