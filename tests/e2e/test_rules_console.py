"""The rules console in real Chromium: a rule set written in the table editor by an editor,
published by someone else, acting on orders captured over HTTP — an approval decided in the
inbox, exception tags that filter the order list — and rollback, simulation and what a
viewer may do."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from orderhub.platform.auth import service as auth
from orderhub.rules import service as rules
from tests.e2e.rules_steps import (
    EDITOR,
    add_column,
    add_row,
    capture,
    cell,
    create_set,
    fallbacks,
    login_as,
    order_json,
    patient_rules,  # noqa: F401  (a fixture: the pytestmark uses it)
    person,
    publish,
    said,
    save_and_submit,
)
from tests.e2e.test_console import ADMIN

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("patient_rules")]


def test_a_regional_approval_from_a_template_holds_the_order_until_a_second_publisher_approves(page, live):  # type: ignore[no-untyped-def]
    pia, paul = person(live, "publisher", "pia"), person(live, "publisher", "paul")
    login_as(page, live, EDITOR)
    set_id = create_set(page, live, "Large Berlin web orders", template="regional-approval")
    expect(cell(page, "row 1 region")).to_have_value("BY")
    expect(cell(page, "row 1 approval")).to_have_value("regional-manager")
    cell(page, "row 1 region").fill("BE")
    cell(page, "row 1 total").fill("> 20")
    expect(cell(page, "row 1 channel")).to_have_value("web")
    save_and_submit(page, why="Berlin pilot: a manager looks at large web orders")
    # the author is no publisher: no Publish button, and a publish posted anyway is refused
    expect(page.get_by_role("button", name="Publish v1")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.input_value()
    refused = page.request.post(f"{live.url}/console/rules/{set_id}/versions/1/publish", form={"csrf_token": token})
    assert "this needs the publisher role; you have editor" in refused.text()
    assert rules.get(live.engine, set_id)["in_force"] is None

    login_as(page, live, pia)
    publish(page, live, set_id, 1)
    held = capture(live, "BE-1")  # web, Berlin (BE), 21.00 EUR
    other = capture(live, "BY-1", shipping_address={"city": "München", "region": "BY", "country": "DE"})
    assert order_json(live, held["id"])["status"] == "on_hold"
    assert order_json(live, other["id"])["status"] == "paid"  # another region: no rule, no hold

    login_as(page, live, paul, to="/console/approvals")
    rows = page.get_by_test_id("approvals").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-order", held["id"])
    expect(rows.first).to_contain_text("BE-1")
    expect(rows.first).to_contain_text("Regional manager approves")
    page.get_by_label("note on BE-1").fill("known customer")
    page.get_by_role("button", name="approve BE-1").click()
    said(page, f"Order {held['id']} approved")
    expect(page.get_by_test_id("approvals").locator("tbody tr")).to_have_text(["Nothing waits for you."])
    assert order_json(live, held["id"])["status"] == "paid"  # back where it was before the hold

    page.get_by_role("link", name="Approved").click()
    history = page.get_by_test_id("approval-history")
    expect(history).to_contain_text("user:paul@shop.test · approved: known customer")
    page.goto(f"{live.url}/console/orders/{held['id']}")
    expect(page.get_by_test_id("order-status")).to_have_text("paid")
    card = page.get_by_test_id("order-rules")
    expect(card.get_by_test_id("order-approvals")).to_contain_text("approved")
    expect(card.get_by_test_id("order-decisions")).to_contain_text("Large Berlin web orders v1")
    expect(card.get_by_test_id("order-decisions")).to_contain_text("approval regional-manager")


def test_b_exception_tags_typed_in_an_empty_table_tag_orders_and_filter_the_order_list(page, live):  # type: ignore[no-untyped-def]
    pia = person(live, "publisher", "pia")
    login_as(page, live, EDITOR)
    set_id = create_set(page, live, "Capture checks", hook="order.captured")
    page.get_by_label("Hit policy").select_option("collect")
    add_column(page, "condition", "address_complete", 1)
    add_column(page, "condition", "total", 2)
    add_column(page, "outcome", "tag", 1)
    add_row(page, 1)
    add_row(page, 2)
    cell(page, "row 1 address_complete").fill("no")
    cell(page, "row 1 tag").fill("address-incomplete")
    cell(page, "row 2 total").fill("lots")
    cell(page, "row 2 tag").fill("big-basket")
    page.get_by_role("button", name="Save draft").click()
    # refused: the problem is shown at the cell it is about, and what was typed is kept
    expect(page.locator("#err-row-1-when-1")).to_contain_text("'lots' is not a number condition")
    expect(cell(page, "row 2 total")).to_have_attribute("aria-invalid", "true")
    expect(cell(page, "row 1 tag")).to_have_value("address-incomplete")
    assert rules.get_version(live.engine, set_id=set_id, number=1)["content"]["rows"] == []  # nothing saved
    cell(page, "row 2 total").fill("> 100")
    save_and_submit(page)

    login_as(page, live, pia)
    publish(page, live, set_id, 1)
    plain = capture(live, "T-PLAIN")  # full address, 21.00
    no_street = {"city": "Berlin", "country": "DE"}
    incomplete = capture(live, "T-ADDR", shipping_address=no_street)
    big_lines = [{"sku": "MUG-1", "quantity": 20, "unit_price": "8.50"}]
    big = capture(live, "T-BIG", lines=big_lines)
    both = capture(live, "T-BOTH", lines=big_lines, shipping_address=no_street)

    assert incomplete["tags"] == ["address-incomplete"], fallbacks(live)
    page.goto(f"{live.url}/console/orders")
    tags = {
        o["id"]: page.locator(f"tr[data-order='{o['id']}'] [data-testid=order-tags]")
        for o in (plain, incomplete, big, both)
    }
    expect(tags[plain["id"]]).to_have_text("")
    expect(tags[incomplete["id"]]).to_have_text("address-incomplete")
    expect(tags[big["id"]]).to_have_text("big-basket")
    expect(tags[both["id"]]).to_have_text("address-incomplete big-basket")
    tags[incomplete["id"]].get_by_role("link", name="address-incomplete").click()  # the list's tag filter
    rows = page.get_by_test_id("orders-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    assert sorted(rows.nth(i).get_attribute("data-order") for i in range(2)) == sorted([incomplete["id"], both["id"]])
    page.goto(f"{live.url}/console/orders?tag=big-basket")
    expect(rows).to_have_count(2)
    assert sorted(rows.nth(i).get_attribute("data-order") for i in range(2)) == sorted([big["id"], both["id"]])


def _live_set(live, content: dict, hook: str, name: str):  # type: ignore[no-untyped-def]
    """A rule set written by the editor and published by someone else, through the service
    (the console steps for that are what the tests above click through). Returns its id and
    the editor and the publisher, to write more versions."""
    ed = auth.authenticate_password(live.engine, email=EDITOR, password="secret-pw")
    boss = auth.create_user(live.engine, email="boss@shop.test", name="Boss", role="publisher")
    set_id = str(rules.create(live.engine, who=ed, name=name, hook=hook, content=content)["id"])
    rules.submit(live.engine, who=ed, set_id=set_id, number=1)
    rules.publish(live.engine, who=boss, set_id=set_id, number=1)
    return set_id, ed, boss


def _next_version(live, set_id: str, ed, boss, content: dict, *, publish: bool = True) -> None:  # type: ignore[no-untyped-def]
    number = rules.save_draft(live.engine, who=ed, set_id=set_id, content=content)["number"]
    rules.submit(live.engine, who=ed, set_id=set_id, number=number)
    if publish:
        rules.publish(live.engine, who=boss, set_id=set_id, number=number)


TAGS = {
    "hit_policy": "collect",
    "inputs": ["channel"],
    "outputs": ["tag"],
    "rows": [{"id": "r1", "when": ["shopify"], "then": ["marketplace"], "note": ""}],
}


def test_rollback_from_the_console_restores_the_previous_behaviour_in_one_step(page, live):  # type: ignore[no-untyped-def]
    set_id, ed, boss = _live_set(live, TAGS, "order.captured", "Channel tags")
    v2 = {**TAGS, "rows": [{"id": "r1", "when": ["shopify"], "then": ["everything-odd"], "note": ""}]}
    _next_version(live, set_id, ed, boss, v2)
    assert capture(live, "S-1", channel="shopify")["tags"] == ["everything-odd"]

    login_as(page, live, person(live, "publisher", "paul"), to=f"/console/rules/{set_id}")
    expect(page.get_by_test_id("in-force")).to_have_text("v2 in force")
    page.get_by_label("why roll back to v1").fill("v2 tags the wrong thing")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Roll back to v1").click()
    said(page, "Rolled back: v3, a copy of v1, is in force now")
    expect(page.get_by_test_id("in-force")).to_have_text("v3 in force")
    v3 = page.get_by_test_id("versions").locator("tr[data-version='3']")
    expect(v3).to_contain_text("copy of v1")
    expect(v3).to_contain_text("v2 tags the wrong thing")
    assert capture(live, "S-2", channel="shopify")["tags"] == ["marketplace"]  # v1's behaviour, at once
    page.get_by_label("compare from").select_option("1")
    page.get_by_label("compare to").select_option("3")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_test_id("diff")).to_contain_text("The two versions are the same.")
    page.goto(f"{live.url}/console/rules/audit?set_id={set_id}")
    expect(page.get_by_test_id("rules-audit").locator("tbody tr").first).to_contain_text("rolled back")


def test_a_simulation_started_in_the_console_shows_its_counts_and_the_changed_orders(page, live):  # type: ignore[no-untyped-def]
    for i in range(50):
        capture(live, f"SIM-{i:02d}", channel="shopify" if i % 2 else "web")
    set_id, ed, _ = _live_set(live, TAGS, "order.captured", "Channel tags")
    web_too = {**TAGS, "rows": [*TAGS["rows"], {"id": "r2", "when": ["web"], "then": ["own-shop"], "note": ""}]}
    rules.save_draft(live.engine, who=ed, set_id=set_id, content=web_too)

    login_as(page, live, EDITOR, to=f"/console/rules/{set_id}")
    page.get_by_label("version to simulate").select_option("2")
    expect(page.get_by_label("orders to replay")).to_have_value("1000")
    page.get_by_role("button", name="Simulate").click()
    done = page.get_by_test_id("simulation-done")
    expect(done).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("simulated-orders")).to_have_text("50")
    counts = page.get_by_test_id("simulation-counts")
    expect(counts.locator("[data-count=tagged] td")).to_have_text("25 → 50")
    expect(counts.locator("[data-count=changed] td")).to_have_text("25")
    expect(counts.locator("[data-count=held] td")).to_have_text("0 → 0")
    expect(counts.locator("[data-count=errors] td")).to_have_text("0")
    changes = page.get_by_test_id("simulation-changes").locator("tbody tr")
    expect(changes).to_have_count(25)
    expect(changes.first).to_contain_text("tags own-shop")
    expect(changes.first.get_by_role("link")).to_have_attribute(
        "href", f"/console/orders/{changes.first.get_attribute('data-order')}"
    )
    assert all(
        o["tags"] == []
        for o in httpx.get(f"{live.url}/api/v1/orders?channel=web&limit=50", headers=ADMIN).json()["items"]
    )


def test_a_viewer_sees_the_rules_but_no_button_that_changes_them(page, live):  # type: ignore[no-untyped-def]
    set_id, ed, boss = _live_set(live, TAGS, "order.captured", "Channel tags")
    _next_version(live, set_id, ed, boss, TAGS)
    _next_version(live, set_id, ed, boss, TAGS, publish=False)  # v3 waits for review

    login_as(page, live, "viewer@shop.test")
    listed = page.get_by_test_id("rule-sets").locator(f"tr[data-set='{set_id}'] td")
    expect(listed).to_have_text(["Channel tags", "all orders", "v2", "v3 in review by user:editor@shop.test", ""])
    expect(page.get_by_test_id("rule-templates")).to_contain_text("Regional approval of large orders")
    expect(page.get_by_test_id("rule-set-create")).to_have_count(0)
    expect(page.get_by_role("link", name="Use this template")).to_have_count(0)
    page.get_by_role("link", name="Channel tags").click()
    expect(page.get_by_test_id("table-view")).to_contain_text("marketplace")
    expect(page.get_by_test_id("review-3")).to_contain_text("v3 waits for review")
    for name in (
        "Save draft",
        "Submit for review",
        "Publish v3",
        "Reject v3",
        "Roll back to v1",
        "Simulate",
        "Add row",
    ):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_test_id("rule-editor")).to_have_count(0)
