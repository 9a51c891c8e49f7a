"""Tracking end to end through the API: WMS milestones, ship with tracking, carrier milestones
out of order and twice, positions, the two views, and a refused message replayed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import put_stock


def at(minutes: int, offset: str = "Z") -> str:
    """A time ``minutes`` from now, written with ``offset`` (Z or ±hh:mm)."""
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    if offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        when = when.astimezone(timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))))
    return when.isoformat().replace("+00:00", "Z")


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("not reached in time")


def order_payload(ref: str, *, qty: int = 2, country: str = "DE") -> dict[str, Any]:
    return {
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": "ann@example.com"},
        "shipping_address": {"city": "Berlin", "country": country, "postal_code": "10115", "lat": 52.53, "lon": 13.38},
        "lines": [{"sku": "MUG-1", "quantity": qty, "unit_price": "8.50"}],
        "payment_status": "paid",
        "promise_days": 3,
    }


def released_order(client: TestClient, engine: Engine, ref: str, auth: dict[str, str] | None = None) -> dict[str, Any]:
    order = client.post("/api/v1/orders", json=order_payload(ref), headers=auth).json()
    assert order["status"] == "paid", order
    lines = [{"line_id": x["id"], "quantity": x["quantity"]} for x in order["lines"]]
    allocated = client.post(
        f"/api/v1/orders/{order['id']}/allocation",
        json={"fulfilment_orders": [{"node_id": "DC-1", "lines": lines}]},
        headers=auth,
    )
    assert allocated.status_code == 200, allocated.text
    moved = client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": "released"}, headers=auth)
    assert moved.status_code == 200, moved.text
    wait_for(lambda: client.get(f"/api/v1/orders/{order['id']}/tracking", headers=auth).status_code == 200)
    return dict(client.get(f"/api/v1/orders/{order['id']}", headers=auth).json())


def status_of(client: TestClient, order_id: str, auth: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {auth}"} if auth else None
    return str(client.get(f"/api/v1/orders/{order_id}", headers=headers).json()["status"])


def test_an_order_from_release_to_delivery(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    order = released_order(client, engine, "TRK-1")
    oid, fo = order["id"], order["fulfilment_orders"][0]["id"]
    line = order["lines"][0]["id"]

    wms = client.post(
        "/api/v1/tracking/wms",
        json={
            "events": [
                {"id": "w1", "fulfilment_order_id": fo, "event": "picked", "occurred_at": at(1, "+01:00")},
                {"id": "w2", "fulfilment_order_id": fo, "event": "packed", "occurred_at": at(2, "+01:00")},
            ]
        },
    )
    assert wms.status_code == 202, wms.text
    assert wms.json()["recorded"] == 2
    wait_for(lambda: status_of(client, oid) == "packed")

    shipped = client.post(
        f"/api/v1/orders/{oid}/parcels",
        json={"parcels": [{"carrier": "dhl", "service": "paket", "tracking_number": "JJD0001", "lines": {line: 2}}]},
    )
    assert shipped.status_code == 201, shipped.text
    parcel = shipped.json()["parcels"][0]
    assert parcel["fulfilment_order_id"] == fo
    assert "JJD0001" in parcel["tracking_url"]
    assert status_of(client, oid) == "shipped"

    # delivered arrives before out-for-delivery (sent late by the carrier), and twice
    later = [
        {
            "id": "c1",
            "tracking_number": "JJD0001",
            "milestone": "in_transit",
            "occurred_at": at(10),
            "location": "Hub Hannover",
            "estimated_delivery": "2030-01-02",
        },
        {
            "id": "c3",
            "tracking_number": "JJD0001",
            "milestone": "delivered",
            "occurred_at": at(30),
            "location": "Berlin",
        },
    ]
    assert client.post("/api/v1/tracking/events", json={"events": later}).json()["recorded"] == 2
    again = client.post("/api/v1/tracking/events", json={"events": later[1:]}).json()
    assert again == {"inbox_id": again["inbox_id"], "recorded": 0, "duplicates": 1}
    early = {
        "id": "c2",
        "tracking_number": "JJD0001",
        "milestone": "out_for_delivery",
        "occurred_at": at(20),
        "position": {"lat": 52.5, "lon": 13.4},
    }
    assert client.post("/api/v1/tracking/events", json={"events": [early]}).json()["recorded"] == 1
    wait_for(lambda: status_of(client, oid) == "delivered")

    customer = client.get(f"/api/v1/orders/{oid}/tracking", params={"view": "customer", "lang": "de"}).json()
    assert customer["status"] == "delivered" and customer["status_text"] == "Zugestellt"
    ms = [m["milestone"] for m in reversed(customer["milestones"])]
    # occurred-at order, not arrival order; the late out-for-delivery sits before delivered
    assert ms.index("out_for_delivery") == ms.index("delivered") - 1
    assert ms[:3] == ["placed", "paid", "allocated"]
    assert customer["parcels"][0]["state"] == "delivered"  # an older scan does not undo delivery
    assert customer["estimated_delivery"] == "2030-01-02" and customer["estimate_source"] == "carrier"
    assert customer["position"]["lat"] == 52.5
    assert all("source" not in m for m in customer["milestones"])

    internal = client.get(f"/api/v1/orders/{oid}/tracking", params={"view": "internal"}).json()
    sources = {e["source"] for e in internal["events"]}
    assert {"oms", "wms", "api"} <= sources
    assert all(isinstance(e["lag_ms"], int) for e in internal["events"])
    # a milestone the hub recorded for a change it made itself is on the timeline once
    assert [e["milestone"] for e in internal["events"]].count("delivered") == 1
    assert [e["milestone"] for e in internal["events"]].count("picked") == 1


def test_an_unknown_tracking_number_is_refused_kept_and_replayed(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    event = {"id": "u1", "tracking_number": "LATE-1", "milestone": "in_transit", "occurred_at": "2026-11-26T12:00:00Z"}
    refused = client.post(
        "/api/v1/tracking/events",
        json={
            "events": [
                {"id": "ok", "order_id": "nope", "milestone": "exception", "occurred_at": "2026-11-26T12:00:00Z"},
                event,
            ]
        },
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    pointers = {e["pointer"] for e in problem["errors"]}
    assert pointers == {"/events/0/order_id", "/events/1/tracking_number"}
    kept = client.get(f"/api/v1/tracking/inbox/{problem['inbox_id']}").json()
    assert kept["status"] == "rejected" and "LATE-1" in kept["body"]

    bad = client.post("/api/v1/tracking/events", json={"events": [{**event, "occurred_at": "2026-11-26T12:00:00"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/events/0/occurred_at"
    assert (
        client.get("/api/v1/tracking/inbox", params={"status": "rejected"}).json()["items"][0]["id"]
        == bad.json()["inbox_id"]
    )

    order = released_order(client, engine, "TRK-2")
    line = order["lines"][0]["id"]
    client.post(
        f"/api/v1/orders/{order['id']}/parcels",
        json={"parcels": [{"carrier": "dpd", "tracking_number": "LATE-1", "lines": {line: 2}}]},
    )
    only_event = client.post("/api/v1/tracking/events", json={"events": [event]})
    assert only_event.status_code == 202
    assert (
        client.post(f"/api/v1/tracking/inbox/{problem['inbox_id']}/replay").status_code == 422
    )  # order 'nope' still unknown


def test_ship_refuses_a_used_number_and_foreign_lines(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    a, b = released_order(client, engine, "TRK-3"), released_order(client, engine, "TRK-4")
    line_a, line_b = a["lines"][0]["id"], b["lines"][0]["id"]
    assert (
        client.post(
            f"/api/v1/orders/{a['id']}/parcels",
            json={"parcels": [{"carrier": "ups", "tracking_number": "1Z9", "lines": {line_a: 1}}]},
        ).status_code
        == 201
    )
    assert status_of(client, a["id"]) == "partially_shipped"
    used = client.post(
        f"/api/v1/orders/{b['id']}/parcels",
        json={"parcels": [{"carrier": "ups", "tracking_number": "1Z9", "lines": {line_b: 2}}]},
    )
    assert used.status_code == 409
    foreign = client.post(
        f"/api/v1/orders/{b['id']}/parcels",
        json={"parcels": [{"carrier": "ups", "tracking_number": "1Z10", "lines": {line_a: 1}}]},
    )
    assert foreign.status_code == 422
    assert status_of(client, b["id"]) == "released"


def test_positions_move_the_last_known_position(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    order = released_order(client, engine, "TRK-5")
    line = order["lines"][0]["id"]
    client.post(
        f"/api/v1/orders/{order['id']}/parcels",
        json={"parcels": [{"carrier": "gls", "tracking_number": "GLS77", "lines": {line: 2}}]},
    )
    sent = client.post(
        "/api/v1/tracking/positions",
        json={
            "positions": [
                {"tracking_number": "GLS77", "lat": 52.40, "lon": 13.10, "at": "2026-11-26T10:05:00Z"},
                {"tracking_number": "GLS77", "lat": 52.30, "lon": 13.00, "at": "2026-11-26T10:00:00Z"},
            ]
        },
    )
    assert sent.status_code == 202 and sent.json()["recorded"] == 2
    view = client.get(f"/api/v1/orders/{order['id']}/tracking").json()
    assert view["position"]["lat"] == 52.40  # the latest by time, not the last sent
    off = client.post(
        "/api/v1/tracking/positions",
        json={"positions": [{"tracking_number": "GLS77", "lat": 91, "lon": 0, "at": "2026-11-26T10:00:00Z"}]},
    )
    assert off.status_code == 422 and off.json()["errors"][0]["pointer"] == "/positions/0/lat"


def post_events(client: TestClient, *events: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/tracking/events", json={"events": list(events)})
    assert r.status_code == 202, r.text
    return dict(r.json())


def test_a_second_parcel_ships_after_the_first_is_delivered(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    order = released_order(client, engine, "TRK-6")
    oid, line = order["id"], order["lines"][0]["id"]
    ship = {"parcels": [{"carrier": "dhl", "tracking_number": "A-1", "lines": {line: 1}}]}
    assert client.post(f"/api/v1/orders/{oid}/parcels", json=ship).status_code == 201
    post_events(client, {"id": "a", "tracking_number": "A-1", "milestone": "delivered", "occurred_at": at(5)})
    wait_for(lambda: status_of(client, oid) == "partially_delivered")
    ship = {"parcels": [{"carrier": "dhl", "tracking_number": "B-1", "lines": {line: 1}}]}
    second = client.post(f"/api/v1/orders/{oid}/parcels", json=ship)
    assert second.status_code == 201, second.text
    assert status_of(client, oid) == "partially_delivered"
    post_events(client, {"id": "b", "tracking_number": "B-1", "milestone": "delivered", "occurred_at": at(9)})
    wait_for(lambda: status_of(client, oid) == "delivered")


def test_repeats_late_scans_and_estimates(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    order = released_order(client, engine, "TRK-7")
    oid, line = order["id"], order["lines"][0]["id"]
    ship = {"parcels": [{"carrier": "ups", "tracking_number": "R-1", "lines": {line: 2}}]}
    assert client.post(f"/api/v1/orders/{oid}/parcels", json=ship).status_code == 201
    scan = {
        "id": "s1",
        "tracking_number": "R-1",
        "milestone": "in_transit",
        "occurred_at": at(2),
        "estimated_delivery": "2030-01-02",
    }
    twice = post_events(client, scan, scan)  # a repeat inside one batch
    assert (twice["recorded"], twice["duplicates"]) == (1, 1)
    with engine.connect() as conn:
        published = conn.execute(
            sa.text(
                "SELECT count(*) FROM outbox WHERE type = 'tracking.updated' AND aggregate_id = :o AND payload->>'milestone' = 'in_transit'"
            ),
            {"o": oid},
        ).scalar_one()
    assert published == 1
    # the carrier resends the same scan with only its estimate changed
    assert post_events(client, {**scan, "estimated_delivery": "2031-05-05"})["duplicates"] == 1
    view = client.get(f"/api/v1/orders/{oid}/tracking").json()
    assert view["estimated_delivery"] == "2031-05-05" and view["estimate_source"] == "carrier"
    # an older scan with an older estimate does not undo the newer one
    post_events(
        client,
        {
            "id": "s0",
            "tracking_number": "R-1",
            "milestone": "in_transit",
            "occurred_at": at(1),
            "estimated_delivery": "2029-01-01",
        },
    )
    assert client.get(f"/api/v1/orders/{oid}/tracking").json()["estimated_delivery"] == "2031-05-05"
    # delivered, then a scan timed *later* arrives: the parcel stays delivered
    post_events(client, {"id": "d", "tracking_number": "R-1", "milestone": "delivered", "occurred_at": at(10)})
    post_events(client, {"id": "late", "tracking_number": "R-1", "milestone": "in_transit", "occurred_at": at(20)})
    wait_for(lambda: status_of(client, oid) == "delivered")
    view = client.get(f"/api/v1/orders/{oid}/tracking").json()
    assert view["parcels"][0]["state"] == "delivered"


def test_a_refused_message_is_replayed_once_its_parcel_exists(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    early = {"id": "e1", "tracking_number": "EARLY-1", "milestone": "in_transit", "occurred_at": at(3)}
    refused = client.post("/api/v1/tracking/events", json={"events": [early]})
    assert refused.status_code == 422
    order = released_order(client, engine, "TRK-8")
    line = order["lines"][0]["id"]
    ship = {"parcels": [{"carrier": "ups", "tracking_number": "EARLY-1", "lines": {line: 2}}]}
    assert client.post(f"/api/v1/orders/{order['id']}/parcels", json=ship).status_code == 201
    replayed = client.post(f"/api/v1/tracking/inbox/{refused.json()['inbox_id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["recorded"] == 1
    assert client.get(f"/api/v1/tracking/inbox/{refused.json()['inbox_id']}").json()["status"] == "accepted"
    assert "in_transit" in {
        m["milestone"] for m in client.get(f"/api/v1/orders/{order['id']}/tracking").json()["milestones"]
    }


def test_the_public_page_shows_no_internal_ids(client: TestClient, engine: Engine) -> None:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    order = released_order(client, engine, "TRK-9")
    token = client.get(f"/api/v1/orders/{order['id']}/tracking", params={"view": "internal"}).json()["token"]
    page = client.get(f"/track/{token}", headers={"Authorization": ""})
    assert page.status_code == 200
    assert order["id"] not in page.text and "DC-1" not in page.text
