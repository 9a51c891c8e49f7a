"""The edge over HTTP: the hub's /api/v1/edge routes (on SQLite and PostgreSQL), and a store
gateway's app (till page and JSON) syncing with a live hub (docs/edge.md)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from orderhub.edge.sync import HttpHub
from orderhub.edge.till import create_till_app
from orderhub.platform.db import create_db_engine
from tests.conftest import put_stock
from tests.e2e.conftest import LiveServer

SALE = {
    "sale_id": "R-1",
    "currency": "EUR",
    "lines": [{"sku": "MUG-1", "qty": 2, "unit_price": "8.50"}],
}


def event(seq: int, kind: str = "till.sale", data: dict | None = None) -> dict:
    return {
        "event_id": f"eev_test_{seq}",
        "seq": seq,
        "hlc": (1_800_000_000_000 << 16) + seq,
        "type": kind,
        "data": data or SALE,
    }


def test_a_gateway_registers_pulls_its_escrow_and_pushes_a_sale_once(client, engine) -> None:
    put_stock(engine, {("ST-9", "MUG-1"): 10, ("DC-1", "MUG-1"): 5})
    r = client.post("/api/v1/edge/gateways", json={"store_id": "ST-9", "name": "Store 9"})
    assert r.status_code == 201 and r.json()["store_id"] == "ST-9"
    snap = client.post("/api/v1/edge/gateways/ST-9/pull", json={}).json()
    assert [(s["sku"], s["on_hand"], s["escrow"]) for s in snap["stock"]] == [("MUG-1", 10, 10)]  # a slow mover
    assert client.get("/api/v1/atp", params={"sku": "MUG-1"}).json()["total"] == 5  # the store's 10 are escrowed
    first = client.post("/api/v1/edge/gateways/ST-9/events", json={"events": [event(1)]}).json()
    assert first["applied_through"] == 1 and first["results"][0]["outcome"] == "applied"
    again = client.post("/api/v1/edge/gateways/ST-9/events", json={"events": [event(1)]}).json()
    assert again["results"] == [{"event_id": "eev_test_1", "seq": 1, "outcome": "duplicate"}]
    orders = client.get("/api/v1/orders", params={"q": "ST-9/R-1"}).json()["items"]
    assert [o["external_ref"] for o in orders] == ["ST-9/R-1"]
    gw = client.get("/api/v1/edge/gateways/ST-9").json()
    assert (gw["applied_seq"], gw["escrow"][0]["escrow"], gw["escrow"][0]["on_hand"]) == (1, 8, 8)
    assert [g["store_id"] for g in client.get("/api/v1/edge/gateways").json()["items"]] == ["ST-9"]
    assert client.get("/api/v1/edge/gateways/ST-9/conflicts").json() == {"items": []}


def test_a_malformed_event_is_refused_whole_and_points_at_the_field(client, engine) -> None:
    put_stock(engine, {("ST-9", "MUG-1"): 10})
    client.post("/api/v1/edge/gateways", json={"store_id": "ST-9"})
    bad = event(1, data={**SALE, "lines": [{"sku": "MUG-1", "qty": 0, "unit_price": "8.50"}]})
    r = client.post("/api/v1/edge/gateways/ST-9/events", json={"events": [bad]})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/edge/gateways/ST-9").json()["applied_seq"] == 0
    assert client.post("/api/v1/edge/gateways/ST-NONE/pull", json={}).status_code == 404
    assert client.post("/api/v1/edge/gateways", json={"store_id": "DC-1"}).status_code in (404, 422)
    assert client.post("/api/v1/edge/leases/ord_nothing/reassign", json={"to_node": "ST-9"}).status_code == 404


def test_stock_reports_naming_a_gateway_store_are_refused_as_problems_naming_the_row(client, engine) -> None:
    put_stock(engine, {("ST-9", "MUG-1"): 10, ("DC-1", "MUG-1"): 5})
    client.post("/api/v1/edge/gateways", json={"store_id": "ST-9"})
    rows = [{"node_id": "DC-1", "sku": "MUG-1", "on_hand": 7}, {"node_id": "ST-9", "sku": "MUG-1", "on_hand": 0}]
    r = client.post("/api/v1/inventory/positions", json={"source": "wms", "sequence": 2, "rows": rows})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "node_reported_elsewhere"
    assert [e["pointer"] for e in r.json()["errors"]] == ["/rows/1/node_id"]
    r = client.put("/api/v1/inventory/ST-9/MUG-1", json={"on_hand": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["parameter"] == "node_id"
    atp = {n["node_id"]: n["on_hand"] for n in client.get("/api/v1/atp", params={"sku": "MUG-1"}).json()["nodes"]}
    assert atp == {"ST-9": 10, "DC-1": 5}  # neither row of the refused batch was applied


def test_a_policy_is_set_and_checked(client, engine) -> None:
    put_stock(engine, {("ST-9", "MUG-1"): 10})
    client.post("/api/v1/edge/gateways", json={"store_id": "ST-9"})
    r = client.put("/api/v1/edge/gateways/ST-9/policy", json={"slow_share": 0.5, "beyond": "backorder"})
    assert r.status_code == 200 and r.json()["beyond"] == "backorder"
    assert client.put("/api/v1/edge/gateways/ST-9/policy", json={"slow_share": 2}).status_code == 422
    snap = client.post("/api/v1/edge/gateways/ST-9/pull", json={}).json()
    assert snap["stock"][0]["escrow"] == 5 and snap["policy"]["beyond"] == "backorder"


@pytest.fixture
def hub(tmp_path: Path, sqlite_template: Path, settings):  # type: ignore[no-untyped-def]
    path = tmp_path / "hub.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    put_stock(engine, {("ST-9", "MUG-1"): 6, ("ST-9", "TEA-9"): 3, ("DC-1", "MUG-1"): 20})
    with LiveServer(engine, settings) as server:
        yield server
    engine.dispose()


@pytest.fixture
def till(tmp_path: Path, sqlite_template: Path, hub: LiveServer):  # type: ignore[no-untyped-def]
    path = tmp_path / "gateway.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    link = HttpHub(hub.url, "test-admin-key")
    app = create_till_app(engine=engine, store_id="ST-9", hub=link, hub_url=hub.url, interval_s=0.2)
    with TestClient(app) as c:
        yield c
    link.close()
    engine.dispose()


def wait_for(check, timeout_s: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_the_till_s_json_sells_and_the_sale_reaches_the_hub(till: TestClient, hub: LiveServer) -> None:
    wait_for(lambda: till.get("/api/v1/till").json()["online"])
    r = till.post("/api/v1/till/sales", json={"lines": {"MUG-1": 2}})
    assert r.status_code == 201 and r.json()["taken"] == {"MUG-1": 2}
    sale_id = r.json()["sale_id"]
    refused = till.post("/api/v1/till/sales", json={"lines": {"TEA-9": 4}})
    assert refused.status_code == 409 and refused.json()["code"] == "beyond_escrow"
    assert refused.json()["detail"] == "Only 3 of TEA-9 may be sold at this store now, 4 asked."
    assert (
        till.post("/api/v1/till/sales", content=b"lines=x", headers={"content-type": "text/plain"}).status_code == 403
    )
    admin = {"Authorization": "Bearer test-admin-key"}
    found = wait_for(
        lambda: httpx.get(f"{hub.url}/api/v1/orders", params={"q": f"ST-9/{sale_id}"}, headers=admin).json()["items"]
    )
    assert [o["status"] for o in found] == ["delivered"]


def test_the_till_page_sells_through_its_form_with_the_csrf_token(till: TestClient) -> None:
    wait_for(lambda: till.get("/api/v1/till").json()["online"])
    page = till.get("/till")
    assert page.status_code == 200 and 'data-testid="till-status">online' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert till.post("/till/sales", data={"sku": "MUG-1", "qty": "1"}, follow_redirects=False).status_code == 403
    done = till.post("/till/sales", data={"sku": "MUG-1", "qty": "1", "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    after = till.get("/till").text
    assert "Sold 1 × MUG-1" in after
    assert 'src="/static/htmx.min.js"' in after and "https://" not in after  # assets served by the gateway
