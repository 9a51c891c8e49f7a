"""Rules written in the console acting where the warehouse and the order page show it, in
real Chromium: picking priority on a node's pick list, the presale lock's countdown and its
expiry, the sourcing strategy a rule chose (and the next version's)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from orderhub.core.clock import utcnow
from orderhub.orders import service as orders
from tests.conftest import position, put_stock
from tests.e2e.rules_steps import (
    EDITOR,
    capture,
    cell,
    create_set,
    fallbacks,
    login_as,
    order_json,
    patient_rules,  # noqa: F401  (a fixture: the pytestmark uses it)
    person,
    publish,
    save_and_submit,
)
from tests.e2e.test_console import ADMIN

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("patient_rules")]
BERLIN = {"name": "Ann Lee", "line1": "Karl-Marx-Allee 1", "postal_code": "10178", "city": "Berlin", "country": "DE",
          "lat": 52.52, "lon": 13.43}  # fmt: skip


def released(live: Any, ref: str, **over: Any) -> str:
    """A paid order allocated to DC-1 and released to the warehouse, over HTTP."""
    order = capture(live, ref, **over)
    lines = [{"line_id": x["id"], "quantity": x["quantity"]} for x in order["lines"]]
    httpx.post(
        f"{live.url}/api/v1/orders/{order['id']}/allocation",
        json={"fulfilment_orders": [{"node_id": "DC-1", "lines": lines}]},
        headers=ADMIN,
    ).raise_for_status()
    httpx.post(
        f"{live.url}/api/v1/orders/{order['id']}/transitions", json={"to": "released"}, headers=ADMIN
    ).raise_for_status()
    return str(order["id"])


def test_c_a_picking_priority_table_ranks_the_pick_list_by_its_scores(page, live):  # type: ignore[no-untyped-def]
    put_stock(live.engine, {("DC-1", "MUG-1"): 20, ("DC-1", "TEA-9"): 20})
    pia = person(live, "publisher", "pia")
    login_as(page, live, EDITOR)
    set_id = create_set(page, live, "Pick priority", template="picking-priority")
    expect(cell(page, "row 1 tier")).to_have_value("vip")
    cell(page, "row 1 priority").fill("60")
    save_and_submit(page)
    login_as(page, live, pia)
    publish(page, live, set_id, 1)

    older = released(live, "PICK-SOON", promise_days=2)  # promised in 48 h: row 4, 20 points
    newer = released(live, "PICK-VIP", customer={"email": "v@example.com", "name": "Vic", "tier": "vip"})  # 60
    scores = (order_json(live, older)["priority"], order_json(live, newer)["priority"])
    assert scores == (20, 60), fallbacks(live)  # a rule set aside would score 0
    page.goto(f"{live.url}/console/nodes/DC-1/pick-list")
    rows = page.get_by_test_id("pick-list").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-order", newer)  # newer, but the higher score
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("60")
    expect(rows.nth(1)).to_have_attribute("data-order", older)
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("20")
    page.goto(f"{live.url}/console/orders/{older}")
    decided = page.get_by_test_id("order-decisions").locator("tr[data-hook='order.before_release']")
    expect(decided).to_contain_text("Pick priority v1")
    expect(decided).to_contain_text("priority 20")


def test_d_a_presale_lock_per_channel_shows_its_countdown_and_releases_the_stock_when_it_runs_out(page, live):  # type: ignore[no-untyped-def]
    put_stock(live.engine, {("DC-1", "MUG-1"): 20, ("DC-1", "TEA-9"): 20})
    pia = person(live, "publisher", "pia")
    login_as(page, live, EDITOR)
    set_id = create_set(page, live, "Web presale lock", template="presale-lock")
    expect(cell(page, "row 2 channel")).to_have_value("shopify, woocommerce")
    cell(page, "row 2 channel").fill("web")
    cell(page, "row 2 lock_minutes").fill("1")
    save_and_submit(page)
    login_as(page, live, pia)
    publish(page, live, set_id, 1)

    order = capture(live, "PRE-1", payment_status="pending")
    assert order["status"] == "awaiting_payment"
    assert position(live.engine, "DC-1", "MUG-1") == (20, 2, 0)  # (on hand, reserved, allocated)
    page.goto(f"{live.url}/console/orders/{order['id']}")
    held = page.get_by_test_id("stock-held")
    expect(held).to_contain_text("(in 1 min)")
    reserved = next(e for e in order_json(live, order["id"])["events"] if e["type"] == "order.stock_reserved")
    expect(held.locator("b")).to_have_text(reserved["data"]["expires_at"][11:16])
    decided = page.get_by_test_id("order-decisions").locator("tr[data-hook='reservation.created']")
    expect(decided).to_contain_text("Web presale lock v1")
    expect(decided).to_contain_text("lock_minutes 1")

    assert orders.expire_unpaid(live.engine, now=utcnow() + timedelta(seconds=30)) == []  # not yet
    assert orders.expire_unpaid(live.engine, now=utcnow() + timedelta(minutes=2)) == [order["id"]]
    page.reload()
    expect(page.get_by_test_id("order-status")).to_have_text("cancelled")
    expect(page.get_by_test_id("stock-held")).to_have_count(0)
    assert position(live.engine, "DC-1", "MUG-1") == (20, 0, 0)
    holds = httpx.get(f"{live.url}/api/v1/orders/{order['id']}/stock", headers=ADMIN).json()["holds"]
    assert sorted((h["sku"], h["status"]) for h in holds) == [("MUG-1", "expired"), ("TEA-9", "expired")]


def test_e_a_sourcing_policy_chooses_the_strategy_and_its_next_version_takes_over(page, live):  # type: ignore[no-untyped-def]
    put_stock(live.engine, {("DC-1", "MUG-1"): 20, ("DC-1", "TEA-9"): 20})
    pia = person(live, "publisher", "pia")
    login_as(page, live, EDITOR)
    set_id = create_set(page, live, "Sourcing by channel", template="sourcing-policy")
    expect(cell(page, "row 2 channel")).to_have_value("web")
    expect(cell(page, "row 2 strategy")).to_have_value("greenest")
    save_and_submit(page)
    login_as(page, live, pia)
    publish(page, live, set_id, 1)

    first = capture(live, "SRC-1", shipping_address=BERLIN)
    page.goto(f"{live.url}/console/orders/{first['id']}")
    expect(page.get_by_test_id("sourcing-strategy")).to_have_text("greenest")
    expect(page.get_by_test_id("strategy-by")).to_have_text("rules:Sourcing by channel@v1")

    login_as(page, live, EDITOR, to=f"/console/rules/{set_id}")
    expect(page.get_by_test_id("draft-state")).to_contain_text("saving opens v2, starting from this copy of v1")
    cell(page, "row 2 strategy").fill("fastest")
    save_and_submit(page, number=2, why="web customers want it sooner")
    login_as(page, live, pia)
    publish(page, live, set_id, 2)
    page.get_by_role("button", name="Compare").click()  # v1 → v2, the default pair
    diff = page.get_by_test_id("diff")
    expect(diff.locator("li[data-row='r2']")).to_contain_text("→ strategy greenest → fastest")
    expect(diff.locator("li")).to_have_count(1)

    second = capture(live, "SRC-2", shipping_address=BERLIN)
    page.goto(f"{live.url}/console/orders/{second['id']}")
    expect(page.get_by_test_id("sourcing-strategy")).to_have_text("fastest")
    expect(page.get_by_test_id("strategy-by")).to_have_text("rules:Sourcing by channel@v2")
    page.goto(f"{live.url}/console/orders/{first['id']}")
    expect(page.get_by_test_id("sourcing-strategy")).to_have_text("greenest")  # decided once, kept
