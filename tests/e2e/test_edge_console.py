"""The hub's console page of store gateways in Chromium: status, escrow per SKU, leases and
the conflicts with how each was resolved (docs/edge.md §7)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import put_stock
from tests.e2e.test_console import login

pytestmark = pytest.mark.browser
ADMIN = {"Authorization": "Bearer live-admin-key"}


def test_the_console_shows_each_gateway_with_its_escrow_and_its_conflicts(page, live) -> None:
    put_stock(live.engine, {("ST-9", "MUG-1"): 10, ("DC-1", "MUG-1"): 4})
    api = httpx.Client(base_url=f"{live.url}/api/v1/edge", headers=ADMIN, timeout=10)
    api.post("/gateways", json={"store_id": "ST-9", "name": "Store Nine"}).raise_for_status()
    api.post("/gateways/ST-9/pull", json={"backlog": 3}).raise_for_status()
    handover = {"order_id": "ord_unknown", "token": 1, "lines": [{"line_id": "l1", "sku": "MUG-1", "quantity": 1}]}
    event = {"event_id": "eev_c1", "seq": 1, "hlc": 1 << 60, "type": "pickup.handed_over", "data": handover}
    assert api.post("/gateways/ST-9/events", json={"events": [event]}).json()["results"][0]["outcome"] == "refused"

    login(page, live)
    page.click("text=Stores")
    expect(page.get_by_test_id("status-ST-9")).to_have_text("online")
    page.click("text=ST-9")
    escrow = page.get_by_test_id("escrow")
    expect(escrow).to_contain_text("MUG-1")
    expect(escrow.locator("tbody tr td").nth(4)).to_have_text("9")  # 10 granted, 1 handed over from it
    conflicts = page.get_by_test_id("conflicts")
    expect(conflicts).to_contain_text("handover_after_reassign")
    expect(conflicts).to_contain_text("was never leased to ST-9; the hand-over was not recorded")
    expect(page.get_by_test_id("events")).to_contain_text("refused")
    api.close()
    assert httpx.get(f"{live.url}/api/v1/edge/gateways", headers=ADMIN).json()["items"][0]["backlog"] == 3
