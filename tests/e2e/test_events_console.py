"""The console's Events page in real Chromium: subscribers' lag, a dead event, replay."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import Connection

from orderhub.bus import subscribers
from orderhub.core.events import DomainEvent
from tests.e2e.test_console import ADMIN, login, post_order

pytestmark = pytest.mark.browser


class Downstream:
    """A subscriber whose downstream system refuses until it is mended."""

    def __init__(self) -> None:
        self.up = False
        self.seen: list[str] = []

    def __call__(self, conn: Connection, event: DomainEvent) -> None:
        if not self.up:
            raise RuntimeError("warehouse system unreachable")
        self.seen.append(event.aggregate_id)


@pytest.fixture
def downstream() -> Iterator[Downstream]:
    d = Downstream()
    subscribers.register(
        subscribers.Subscriber(
            "wms-export",
            d,
            types=frozenset({"order.captured", "inventory.stock_moved"}),
            max_attempts=1,
            description="hands orders to the WMS",
        )
    )
    yield d
    subscribers.unregister("wms-export")


def test_an_operator_sees_a_dead_event_and_replays_it(downstream, page, live):  # type: ignore[no-untyped-def]
    order = post_order(live, ref="EV-1")
    login(page, live)
    page.click("nav >> text=Events")
    expect(page.get_by_test_id("subscribers")).to_contain_text("wms-export")
    expect(page.get_by_test_id("subscribers")).to_contain_text("hands orders to the WMS")
    page.reload()  # the subscriber works in the background: look again until its failure is there
    failures = page.get_by_test_id("failures")
    for _ in range(20):
        if order["id"] in failures.inner_text():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(failures).to_contain_text("warehouse system unreachable")
    expect(page.get_by_test_id("count-dead")).to_have_text("1")
    expect(page.get_by_test_id("catalogue")).to_contain_text("order.status_changed")

    page.click("button:has-text('Replay')")
    expect(page.get_by_role("status")).to_contain_text("the replay failed again")
    downstream.up = True
    page.click("button:has-text('Replay')")
    expect(page.get_by_role("status")).to_contain_text("applied by wms-export")
    expect(page.get_by_test_id("count-dead")).to_have_text("0")
    assert downstream.seen == [order["id"]]
    page.screenshot(path="/tmp/orderhub-events.png")


def test_a_viewer_sees_the_events_page_without_actions(downstream, page, live):  # type: ignore[no-untyped-def]
    post_order(live, ref="EV-2")
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/events")
    expect(page.get_by_role("heading", name="Events", exact=True)).to_be_visible()
    expect(page.locator("button:has-text('Replay')")).to_have_count(0)


def test_a_dead_stock_event_names_its_node_not_an_order(downstream, page, live):  # type: ignore[no-untyped-def]
    node = {"id": "DC-K", "name": "DC Kassel", "type": "distribution_centre", "lat": 51.31, "lon": 9.49, "region": "HE"}
    assert httpx.post(f"{live.url}/api/v1/nodes", json=node, headers=ADMIN).status_code == 201
    moved = {"node_id": "DC-K", "sku": "MUG-1", "delta": 4, "reason": "found a case"}
    assert httpx.post(f"{live.url}/api/v1/inventory/adjustments", json=moved, headers=ADMIN).status_code == 201
    login(page, live)
    page.goto(f"{live.url}/console/events")
    row = page.get_by_test_id("failures").locator("tr", has_text="inventory.stock_moved")
    for _ in range(20):
        if row.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(row.get_by_test_id("subject")).to_have_text("node DC-K")
    row.get_by_role("link", name="DC-K").click()
    expect(page).to_have_url(f"{live.url}/console/nodes/DC-K")
