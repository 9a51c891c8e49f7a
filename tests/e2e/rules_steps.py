"""Steps the rules console tests share: people with roles, logging in as one of them, and the
clicks of the rules pages (create a rule set, type in the table editor, save, submit, publish).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from orderhub.platform.auth import service as auth
from orderhub.rules import logs
from orderhub.rules import service as rules
from orderhub.rules.engine import REGISTRY
from tests.e2e.test_console import ADMIN

PASSWORD = "secret-pw"
EDITOR = "editor@shop.test"  # made by the live fixture, as are operator@ and viewer@


@pytest.fixture
def patient_rules(live: Any) -> Iterator[Any]:
    """The live server with a generous rule time budget. The budget (50 ms) counts the
    evaluation's CPU time, so descheduling on a busy machine no longer sets a table aside;
    these tests are about the console, not the budget (tests/service covers the fallback),
    so they do not depend on it at all."""
    before = REGISTRY.budget_ms
    rules.set_budget(5_000.0)
    yield live
    rules.set_budget(before)


def fallbacks(live: Any) -> list[tuple[Any, str]]:
    """Rule versions set aside so far (version, why): the message when an outcome is missing."""
    return [(a["version"], a["why"]) for a in logs.get_audit(live.engine, action="fallback")]


def person(live: Any, role: str, name: str) -> str:
    """A console user with ``role``; returns the e-mail to log in with."""
    email = f"{name}@shop.test"
    auth.create_user(live.engine, email=email, name=name.title(), role=role, password=PASSWORD)
    return email


def login_as(page: Page, live: Any, email: str, to: str = "/console/rules") -> None:
    """A fresh session for ``email`` (the previous user's cookie is gone), landing on ``to``."""
    page.context.clear_cookies()
    page.goto(f"{live.url}/login?next={to}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live.url}{to}")


def said(page: Page, text: str) -> None:
    """The page shows a confirmation flash containing ``text``."""
    expect(page.locator(".flash.ok")).to_contain_text(text)


def create_set(page: Page, live: Any, name: str, *, template: str = "", hook: str = "") -> str:
    """From /console/rules: a new rule set (from a template's "Use this template" button, or
    an empty table at ``hook``); returns its id, with its page open."""
    page.goto(f"{live.url}/console/rules")
    if template:
        page.locator(f"tr[data-template='{template}']").get_by_role("link", name=re.compile("Use the template")).click()
        expect(page.get_by_label("Start from")).to_have_value(template)
    else:
        page.get_by_label("Hook (an empty table)").select_option(hook)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create").click()
    said(page, f"Rule set {name} created")
    return page.url.rsplit("/", 1)[1]


def cell(page: Page, label: str) -> Any:
    """A table editor input by its label: ``row 1 region``, ``row 2 tag``, ``default priority``."""
    return page.get_by_label(label, exact=True)


def add_column(page: Page, kind: str, name: str, position: int) -> None:
    """Add a condition (``kind`` "condition") or outcome column; it becomes column ``position``."""
    page.get_by_label(f"new {kind} column").select_option(name)
    page.get_by_role("button", name=f"Add {kind} column").click()
    expect(page.get_by_label(f"{kind} column {position}", exact=True)).to_have_value(name)


def add_row(page: Page, number: int) -> None:
    """Add a row at the bottom; it becomes row ``number``."""
    page.get_by_role("button", name="Add row").click()
    expect(page.get_by_label(f"remove row {number}")).to_be_visible()


def save_and_submit(page: Page, number: int = 1, why: str = "") -> None:
    if why:
        page.get_by_label("why", exact=True).fill(why)
    page.get_by_role("button", name="Save draft").click()
    said(page, f"Draft v{number} saved")
    page.get_by_role("button", name="Submit for review").click()
    said(page, f"v{number} sent for review")


def publish(page: Page, live: Any, set_id: str, number: int) -> None:
    """As the logged-in publisher: open the set and publish version ``number`` now."""
    page.goto(f"{live.url}/console/rules/{set_id}")
    page.get_by_role("button", name=f"Publish v{number}").click()
    said(page, f"v{number} published: in force now")
    expect(page.get_by_test_id("in-force")).to_have_text(f"v{number} in force")


def capture(live: Any, ref: str, **over: Any) -> dict[str, Any]:
    """An order captured over the HTTP API (``over`` replaces top-level fields)."""
    body: dict[str, Any] = {
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": f"{ref.lower()}@example.com", "name": "Ann Lee"},
        "shipping_address": {
            "name": "Ann Lee",
            "line1": "Karl-Marx-Allee 1",
            "postal_code": "10178",
            "city": "Berlin",
            "region": "BE",
            "country": "DE",
        },
        "lines": [
            {"sku": "MUG-1", "quantity": 2, "unit_price": "8.50"},
            {"sku": "TEA-9", "quantity": 1, "unit_price": "4.00"},
        ],
        "payment_status": "paid",
        **over,
    }
    r = httpx.post(f"{live.url}/api/v1/orders", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()
    return order


def order_json(live: Any, order_id: str) -> dict[str, Any]:
    r = httpx.get(f"{live.url}/api/v1/orders/{order_id}", headers=ADMIN)
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data
