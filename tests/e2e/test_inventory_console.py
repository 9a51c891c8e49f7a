"""The inventory console in Chromium: the product list (search, filters, states, sorting,
paging), stock work (adjust, transfer, receive) for editors only, node pages with names,
sorting and paging, and the maps drawn over the country outlines with labels that do not overlap."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_console import ADMIN, live_artifact, login, post_order

pytestmark = pytest.mark.browser

NODES = [  # several stores close together around Frankfurt: their names would collide
    ("DC-K", "DC Kassel", "distribution_centre", 51.31, 9.49, "Kassel", 100),
    ("DC-H", "DC Hamburg", "distribution_centre", 53.55, 9.99, "Hamburg", 0),
    ("ST-F", "Store Frankfurt", "store", 50.11, 8.68, "Frankfurt am Main", 10),
    ("ST-O", "Store Offenbach", "store", 50.10, 8.76, "Offenbach", 10),
    ("ST-MZ", "Store Mainz", "store", 49.99, 8.25, "Mainz", 10),
    ("ST-WI", "Store Wiesbaden", "store", 50.08, 8.24, "Wiesbaden", 10),
    ("ST-DA", "Store Darmstadt", "store", 49.87, 8.65, "Darmstadt", 10),
    ("ST-M", "Store Munich", "store", 48.14, 11.58, "Munich", 10),
    ("ST-K", "Store Kassel", "store", 51.10, 9.20, "Kassel", 10),  # the DC's city: named once
]


def api(live, method, path, **kw):
    r = httpx.request(method, f"{live.url}/api/v1{path}", headers=ADMIN, timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r.json()


def seed(live, products=60):
    for node_id, name, kind, lat, lon, city, capacity in NODES:
        api(live, "POST", "/nodes", json={"id": node_id, "name": name, "type": kind, "lat": lat, "lon": lon,
                                          "region": "HE", "city": city, "daily_capacity": capacity})  # fmt: skip
    for i in range(products):
        api(
            live,
            "POST",
            "/items",
            json={"sku": f"P{i:03d}", "name": f"Product {i:03d}", "category": "odd" if i % 2 else "even"},
        )
    rows = [{"node_id": "DC-K", "sku": f"P{i:03d}", "on_hand": i} for i in range(products)]
    rows += [{"node_id": "ST-F", "sku": f"P{i:03d}", "on_hand": 2} for i in range(50, products)]
    api(live, "POST", "/inventory/positions", json={"source": "wms", "sequence": 1, "rows": rows})


def test_editor_browses_products_and_adjusts_transfers_and_receives_stock(page, live):
    seed(live)
    post_order(live, lines=[{"sku": "P040", "quantity": 30, "unit_price": "1.00"}])  # 30 of DC-K's 40 held
    login(page, live, email="editor@shop.test")
    page.click("text=Inventory")
    products = page.get_by_test_id("products")
    expect(products.locator("tbody tr")).to_have_count(50)
    expect(page.get_by_test_id("products-pager")).to_contain_text("1–50 of 60")
    expect(page.get_by_test_id("states")).to_contain_text("Out of stock 1")  # P000: nothing anywhere
    expect(products.locator("tr[data-sku=P003]")).to_contain_text("Product 003")
    page.get_by_test_id("products-pager").get_by_role("link", name="Next").click()
    expect(products.locator("tbody tr")).to_have_count(10)
    expect(products.locator("tbody tr").first).to_have_attribute("data-sku", "P050")
    page.get_by_test_id("states").locator("[data-state=low]").click()
    low = [
        products.locator("tbody tr").nth(i).get_attribute("data-sku")
        for i in range(products.locator("tbody tr").count())
    ]
    assert low == ["P001", "P002", "P003", "P004", "P005"]  # ATP 1..5, no safety stock: at or below 5
    page.get_by_test_id("states").locator("a").first.click()
    page.get_by_label("category").select_option("odd")
    page.get_by_label("search products").fill("Product 01")
    page.click("button:has-text('Filter')")
    expect(products.locator("tbody tr")).to_have_count(5)  # P011, P013, … P019
    page.goto(f"{live.url}/console/inventory")
    products.locator("th a[data-sort=atp]").click()
    expect(products.locator("th[aria-sort=ascending]")).to_contain_text("ATP")
    products.locator("th a[data-sort=atp]").click()  # again: largest first
    expect(products.locator("th[aria-sort=descending]")).to_contain_text("ATP")
    expect(products.locator("tbody tr").first).to_have_attribute("data-sku", "P059")

    page.goto(f"{live.url}/console/inventory?sku=P040")
    work = page.get_by_test_id("stock-work")
    page.once("dialog", lambda d: d.dismiss())  # a confirmation refused writes nothing
    adjust = page.get_by_test_id("adjust-form")
    adjust.get_by_label("adjust node").select_option("DC-K")
    adjust.get_by_label("adjust units").fill("-2")
    adjust.get_by_label("adjust reason").fill("broken in the aisle")
    adjust.get_by_role("button", name="Adjust").click()
    expect(page.get_by_role("status")).to_have_count(0)
    page.once("dialog", lambda d: d.accept())
    adjust.get_by_role("button", name="Adjust").click()
    expect(page.get_by_role("status")).to_have_text("P040 at DC-K: 38 on hand, 8 ATP")
    transfer = page.get_by_test_id("transfer-form")
    transfer.get_by_label("transfer from").select_option("DC-K")
    transfer.get_by_label("transfer to").select_option("ST-M")
    transfer.get_by_label("transfer units").fill("9")
    transfer.get_by_label("transfer reason").fill("rebalance")
    page.once("dialog", lambda d: d.accept())
    transfer.get_by_role("button", name="Transfer").click()
    expect(page.locator(".flash.error")).to_have_text("DC-K has 8 units of P040 not held for orders; 30 are held")
    transfer.get_by_label("transfer from").select_option("DC-K")
    transfer.get_by_label("transfer to").select_option("ST-M")
    transfer.get_by_label("transfer units").fill("8")
    transfer.get_by_label("transfer reason").fill("rebalance")
    page.once("dialog", lambda d: d.accept())
    transfer.get_by_role("button", name="Transfer").click()
    expect(page.get_by_role("status")).to_have_text("Moved 8 × P040: DC-K has 30 on hand, ST-M 8")
    receive = work.get_by_test_id("receive-form")
    receive.get_by_label("receive node").select_option("ST-F")
    receive.get_by_label("receive units").fill("5")
    receive.get_by_label("receive reference").fill("DN-77")
    receive.get_by_role("button", name="Receive").click()
    expect(page.get_by_role("status")).to_have_text("Received 5 × P040 at ST-F: 5 on hand")
    expect(page.get_by_test_id("ledger")).to_contain_text("transfer_out")
    page.screenshot(path=str(live_artifact("inventory-sku-work.png")), full_page=True)
    ledger = api(live, "GET", "/inventory/P040")["ledger"]
    assert [(x["node_id"], x["reason"], x["d_on_hand"]) for x in ledger[:4]] == [
        ("ST-F", "received", 5), ("ST-M", "transfer_in", 8), ("DC-K", "transfer_out", -8), ("DC-K", "adjusted", -2),
    ]  # fmt: skip
    assert api(live, "GET", "/inventory-ledger-check") == {"differences": []}


def test_viewer_sees_the_lists_but_no_stock_work(page, live):
    seed(live, products=3)
    login(page, live, email="viewer@shop.test")
    page.goto(f"{live.url}/console/inventory")
    expect(page.get_by_test_id("products").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("stock-work")).to_have_count(0)
    page.goto(f"{live.url}/console/nodes/DC-K")
    expect(page.get_by_test_id("positions").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("stock-work")).to_have_count(0)
    login_as_operator = page.context.browser.new_context()  # an operator may not either
    other = login_as_operator.new_page()
    login(other, live)
    other.goto(f"{live.url}/console/inventory?sku=P001")
    expect(other.get_by_test_id("stock-work")).to_have_count(0)
    token = json.loads(other.locator("body").get_attribute("hx-headers"))["X-CSRF-Token"]
    sent = other.request.post(
        f"{live.url}/console/inventory/adjust",
        headers={"X-CSRF-Token": token},
        form={
            "node_id": "DC-K",
            "sku": "P001",
            "mode": "set",
            "amount": "0",
            "reason": "sneaky",
            "back": "/console/inventory",
        },
    )  # the form is not shown, and the server refuses it too
    assert sent.ok and "this needs the editor role; you have operator" in sent.text()  # the flash, after the redirect
    login_as_operator.close()
    assert api(live, "GET", "/inventory/P001")["ledger"][0]["reason"] == "snapshot"
    assert api(live, "GET", "/inventory-ledger-check") == {"differences": []}


def test_node_page_lists_names_sorts_pages_and_filters_low_and_out_of_stock(page, live):
    seed(live)
    login(page, live)
    page.goto(f"{live.url}/console/nodes/DC-K")
    positions = page.get_by_test_id("positions")
    expect(positions.locator("tbody tr")).to_have_count(50)
    expect(positions.locator("tr[data-sku=P007]")).to_contain_text("Product 007")
    expect(page.get_by_test_id("positions-pager")).to_contain_text("1–50 of 60")
    positions.locator("th a[data-sort=on_hand]").click()
    expect(positions.locator("th[aria-sort=ascending]")).to_contain_text("On hand")
    positions.locator("th a[data-sort=on_hand]").click()
    expect(positions.locator("tbody tr").first).to_have_attribute("data-sku", "P059")
    expect(positions.locator("th[aria-sort=descending]")).to_contain_text("On hand")
    page.get_by_test_id("positions-pager").get_by_role("link", name="2", exact=True).click()
    expect(positions.locator("tbody tr")).to_have_count(10)
    expect(positions.locator("tbody tr").last).to_have_attribute("data-sku", "P000")
    page.screenshot(path=str(live_artifact("node-positions.png")), full_page=True)
    page.get_by_test_id("states").locator("[data-state=out]").click()
    expect(positions.locator("tbody tr")).to_have_count(1)
    expect(positions.locator("tbody tr").first).to_contain_text("out of stock")
    page.get_by_test_id("states").locator("[data-state=low]").click()
    expect(positions.locator("tbody tr")).to_have_count(5)
    page.get_by_label("search positions").fill("Product 004")
    page.click("button:has-text('Search')")
    expect(positions.locator("tbody tr")).to_have_count(1)
    page.goto(f"{live.url}/console/nodes/DC-K?sort=nonsense&page=x&per_page=7")  # typed by hand: defaults
    expect(positions.locator("tbody tr")).to_have_count(50)


def _boxes(page, selector):
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })",
    )


def _overlapping(boxes):
    return [
        (a, b)
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]


def test_maps_draw_country_outlines_node_load_destinations_and_labels_that_do_not_overlap(page, live):
    seed(live, products=5)
    for i, (lat, lon) in enumerate([(52.52, 13.40), (50.94, 6.96), (48.78, 9.18)]):
        post_order(live, ref=f"W-{i}", lines=[{"sku": "P004", "quantity": 1, "unit_price": "1.00"}],
                   shipping_address={"city": "X", "country": "DE", "lat": lat, "lon": lon})  # fmt: skip
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, live)
    page.goto(f"{live.url}/console/nodes")
    node_map = page.get_by_test_id("node-map")
    expect(node_map.locator("path[data-country=Germany]")).to_have_count(1)
    assert node_map.locator("path").count() >= 5  # the neighbours too: France, Poland, Czechia …
    expect(node_map.locator("circle[data-kind=node]")).to_have_count(len(NODES))
    expect(node_map.locator("circle[data-kind=destination]")).to_have_count(3)
    kassel = node_map.locator("circle[data-id=DC-K]")
    assert float(kassel.get_attribute("r")) > float(node_map.locator("circle[data-id=ST-O]").get_attribute("r"))
    expect(kassel.locator("title")).to_have_text("DC Kassel: 3 open orders, 3 of 100 today")
    labels = _boxes(page, "[data-testid=node-map] text[data-label]")
    assert len(labels) >= 5 and _overlapping(labels) == []
    expect(node_map.locator("text[data-label=Kassel]")).to_have_count(1)
    svg = node_map.bounding_box()
    for left, top, right, bottom in labels + _boxes(page, "[data-testid=node-map] circle[data-kind=node]"):
        assert (
            svg["x"] <= left
            and right <= svg["x"] + svg["width"]
            and svg["y"] <= top
            and bottom <= svg["y"] + svg["height"]
        )
    expect(page.get_by_test_id("map-legend")).to_contain_text("distribution centre")
    node_map.screenshot(path=str(live_artifact("nodes-map.png")))
    expect(page.locator("tr[data-node=DC-K]")).to_contain_text("3")

    page.goto(f"{live.url}/console/sourcing")
    sourcing_map = page.get_by_test_id("sourcing-map")
    expect(sourcing_map.locator("path[data-country=Germany]")).to_have_count(1)
    expect(sourcing_map.locator("circle[data-kind=destination]")).to_have_count(3)
    assert _overlapping(_boxes(page, "[data-testid=sourcing-map] text[data-label]")) == []
    page.goto(f"{live.url}/console/inventory")
    page.screenshot(path=str(live_artifact("inventory-products.png")), full_page=True)
    assert errors == []


def test_tracking_page_draws_the_outlines_behind_the_destination_and_the_parcel(page, live):
    from tests.e2e.test_tracking_pages import released, tracking

    order = released(live, "MAP-1")
    line = order["lines"][0]["id"]
    httpx.post(
        f"{live.url}/api/v1/orders/{order['id']}/parcels",
        json={"parcels": [{"carrier": "dhl", "tracking_number": "JJD77", "lines": {line: 2}}]},
        headers=ADMIN,
    ).raise_for_status()
    token = tracking(live, order["id"])["token"]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live.url}/track/{token}?lang=en")
    expect(page.locator("#map circle[data-kind=dest]")).to_have_count(1)
    assert page.locator("#map path[data-country]").count() >= 1
    at = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    event = {"id": "m1", "tracking_number": "JJD77", "milestone": "out_for_delivery", "occurred_at": at,
             "position": {"lat": 51.0, "lon": 10.0}}  # fmt: skip
    httpx.post(f"{live.url}/api/v1/tracking/events", json={"events": [event]}, headers=ADMIN).raise_for_status()
    expect(page.locator("#map circle[data-kind=pos]")).to_have_count(1, timeout=5000)
    expect(page.locator("#map path[data-country=Germany]")).to_have_count(1)  # refitted to both points
    expect(page.locator("#map line")).to_have_count(1)
    page.locator("#map").screenshot(path=str(live_artifact("track-map.png")))
    assert errors == []
