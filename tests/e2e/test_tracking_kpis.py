"""The visibility KPIs from live data: the channel table, dwell, late and stuck orders — in the
API on both databases and on the console's Tracking page in Chromium."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy import Engine

from tests.conftest import put_stock
from tests.e2e.test_tracking_api import at, order_payload, released_order, status_of, wait_for


def deliver(client: TestClient, order: dict[str, Any], number: str, minutes: int) -> None:
    line = order["lines"][0]["id"]
    client.post(
        f"/api/v1/orders/{order['id']}/parcels",
        json={"parcels": [{"carrier": "dhl", "tracking_number": number, "lines": {line: 2}}]},
    ).raise_for_status()
    done = {"id": f"d-{number}", "tracking_number": number, "milestone": "delivered", "occurred_at": at(minutes)}
    assert client.post("/api/v1/tracking/events", json={"events": [done]}).status_code == 202
    wait_for(lambda: status_of(client, order["id"]) == "delivered")


def test_the_channel_table_and_the_late_and_stuck_lists(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 100})
    on_time = released_order(client, engine, "K-1")
    deliver(client, on_time, "K1", 30)
    problem = released_order(client, engine, "K-2")
    line = problem["lines"][0]["id"]
    client.post(
        f"/api/v1/orders/{problem['id']}/parcels",
        json={"parcels": [{"carrier": "dhl", "tracking_number": "K2", "lines": {line: 2}}]},
    )
    client.post(
        "/api/v1/tracking/events",
        json={
            "events": [{"id": "x2", "tracking_number": "K2", "milestone": "delivery_attempted", "occurred_at": at(5)}]
        },
    )
    # placed five days ago with a two-day promise, still open: late
    old = order_payload("K-3") | {"placed_at": (datetime.now(UTC) - timedelta(days=5)).isoformat(), "promise_days": 2}
    late = client.post("/api/v1/orders", json=old).json()
    assert client.post("/api/v1/channels/shopify/orders", content=b'{"id": 1}').status_code == 422  # a dead letter
    wait_for(lambda: client.get(f"/api/v1/orders/{late['id']}/tracking").status_code == 200)
    with engine.begin() as conn:  # it has sat in 'paid' for five hours (the threshold is two)
        conn.execute(
            sa.text("UPDATE tracking_orders SET status_since = :t WHERE order_id = :o"),
            {"t": datetime.now(UTC) - timedelta(hours=5), "o": late["id"]},
        )

    k = client.get("/api/v1/tracking/kpis", params={"days": 30}).json()
    web = next(c for c in k["channels"] if c["channel"] == "web")
    assert web["orders"] == 3 and web["shipped"] == 2 and web["problems"] == 1
    assert web["delivered_with_promise"] == 1 and web["on_time_pct"] == 100.0
    assert web["error_rate_pct"] == round(100 * 1 / 3, 1)
    shopify = next(c for c in k["channels"] if c["channel"] == "shopify")
    assert shopify["dead_letters"] == 1 and shopify["error_rate_pct"] == 100.0
    assert [o["order_id"] for o in k["late"]] == [late["id"]]
    stuck = {o["order_id"]: o for o in k["stuck"]}
    assert set(stuck) == {late["id"]} and stuck[late["id"]]["status"] == "paid"
    steps = {d["step"]: d for d in k["dwell"]}
    assert steps["placed → paid"]["orders"] == 3
    assert steps["out_for_delivery → delivered"]["orders"] == 0
    assert steps["handed_to_carrier → in_transit"]["orders"] == 0
    assert k["dwell"][0]["median_h"] is not None


@pytest.mark.browser
def test_the_tracking_page_shows_the_kpis(page, live):  # type: ignore[no-untyped-def]
    from tests.e2e.test_console import login
    from tests.e2e.test_tracking_pages import released

    released(live, "KP-1")
    old = order_payload("KP-2") | {"placed_at": (datetime.now(UTC) - timedelta(days=4)).isoformat(), "promise_days": 1}
    put_stock(live.engine, {("DC-1", "MUG-1"): 20})
    r = httpx.post(f"{live.url}/api/v1/orders", json=old, headers={"Authorization": "Bearer live-admin-key"})
    assert r.status_code == 201, r.text
    login(page, live)
    for _ in range(40):  # the projection follows the bus: look until both orders are there
        page.goto(f"{live.url}/console/tracking")
        if page.get_by_test_id("late-count").inner_text() == "1":
            break
        page.wait_for_timeout(250)
    expect(page.get_by_test_id("channel-kpis").locator("tr[data-channel=web]")).to_contain_text("2")
    expect(page.get_by_test_id("late")).to_contain_text("KP-2")
    late_row = page.get_by_test_id("late").locator(f"tr[data-order='{r.json()['id']}']")
    expect(late_row.get_by_test_id("order-number")).to_have_text("KP-2")  # the order number leads
    expect(late_row.get_by_test_id("order-id")).to_have_text(r.json()["id"])  # the id follows, small
    expect(page.locator(".bar[data-step='placed → paid']")).to_have_count(1)
