"""A store gateway started as the README says (``orderhub edge --hub URL --store ST-X``) sells
offline in its till page in Chromium while the hub is stopped, and the sale reaches the hub
exactly once when the hub returns (docs/edge.md §6)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from bench.edge_procs import KEY, seed_hub, start_gateway, start_hub
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("crash")]  # process suites run one at a time


def test_the_till_sells_offline_and_the_sale_reaches_the_hub_once_it_returns(page, tmp_path: Path) -> None:
    hub, hub_url = start_hub(tmp_path)
    gateway = None
    try:
        seed_hub(hub_url, stores=["ST-X"], skus={"MUG-1": 1}, store_stock=5, dc_stock=5, policy={"slow_share": 1.0})
        gateway, till = start_gateway(tmp_path, "ST-X", hub_url)
        page.goto(f"{till}/till")
        expect(page.get_by_test_id("till-status")).to_have_text("online", timeout=15_000)
        expect(page.get_by_test_id("sellable-MUG-1")).to_have_text("5")

        hub.stop()  # the hub goes away
        expect(page.get_by_test_id("till-status")).to_have_text("offline", timeout=15_000)
        expect(page.get_by_test_id("offline-note")).to_be_visible()
        page.get_by_test_id("sale-sku").fill("MUG-1")
        page.get_by_test_id("sale-qty").fill("2")
        page.get_by_test_id("sell").click()
        flash = page.get_by_test_id("flash-ok")
        expect(flash).to_contain_text("Sold 2 × MUG-1")
        sale_id = re.search(r"receipt (r_\w+)", flash.inner_text()).group(1)
        expect(page.get_by_test_id(f"synced-{sale_id}")).to_have_text("waiting")
        expect(page.get_by_test_id("sellable-MUG-1")).to_have_text("3")
        page.get_by_test_id("sale-sku").fill("MUG-1")
        page.get_by_test_id("sale-qty").fill("4")
        page.get_by_test_id("sell").click()
        expect(page.get_by_test_id("flash-error")).to_have_text(
            "Only 3 of MUG-1 may be sold while the hub is unreachable (the store's allotment), 4 asked."
        )

        hub.start()  # the hub returns: the gateway syncs by itself
        hub.wait_healthy()
        expect(page.get_by_test_id("till-status")).to_have_text("online", timeout=20_000)
        expect(page.get_by_test_id(f"synced-{sale_id}")).to_have_text("yes", timeout=20_000)
        admin = {"Authorization": f"Bearer {KEY}"}
        found = httpx.get(f"{hub_url}/api/v1/orders", params={"q": f"ST-X/{sale_id}"}, headers=admin).json()["items"]
        assert [(o["external_ref"], o["channel"], o["status"]) for o in found] == [
            (f"ST-X/{sale_id}", "pos", "delivered")
        ]
        status = httpx.get(f"{hub_url}/api/v1/edge/gateways/ST-X", headers=admin).json()
        assert status["applied_seq"] == 1 and status["escrow"][0]["on_hand"] == 3
    finally:
        if gateway is not None:
            gateway.stop()
        hub.stop()
