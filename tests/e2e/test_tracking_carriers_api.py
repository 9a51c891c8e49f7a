"""Carrier webhooks through the API: signed EasyPost and AfterShip messages map to milestones
and move the order; bad signatures and strangers are refused and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from orderhub.app import create_app
from orderhub.platform.settings import Settings
from orderhub.tracking.carriers import samples
from tests.conftest import ADMIN_KEY, put_stock
from tests.e2e.test_tracking_api import released_order, status_of, wait_for

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tracking"
EP, AS = "ep-test-secret", "as-test-secret"


@pytest.fixture
def hub(engine: Engine) -> Iterator[TestClient]:
    settings = Settings(
        env="test", bootstrap_admin_key=ADMIN_KEY, easypost_webhook_secret=EP, aftership_webhook_secret=AS
    )
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


def shipped(client: TestClient, engine: Engine, ref: str, number: str, carrier: str = "ups") -> str:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    order = released_order(client, engine, ref, auth={"Authorization": f"Bearer {ADMIN_KEY}"})
    line = order["lines"][0]["id"]
    r = client.post(
        f"/api/v1/orders/{order['id']}/parcels",
        json={"parcels": [{"carrier": carrier, "tracking_number": number, "lines": {line: 2}}]},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert r.status_code == 201, r.text
    return str(order["id"])


def inbox_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM tracking_inbox")).scalar_one())


def test_a_signed_easypost_tracker_moves_the_order(hub: TestClient, engine: Engine) -> None:
    oid = shipped(hub, engine, "EP-1", "1Z999AA10123456784")
    now = datetime.now(UTC)
    steps = [
        ("in_transit", "arrived_at_facility", 10, "Arrived at UPS facility", "Leipzig", "DE"),
        ("out_for_delivery", "out_for_delivery", 20, "Out for delivery", "Berlin", "DE"),
    ]
    for status, detail, minutes, message, city, country in steps:
        body = json.dumps(
            samples.easypost_event(
                "1Z999AA10123456784", "UPS", status, detail, now + timedelta(minutes=minutes), message, city, country
            )
        ).encode()
        r = hub.post("/api/v1/tracking/carriers/easypost", content=body, headers=samples.sign_easypost(body, EP))
        assert r.status_code == 202, r.text
    wait_for(lambda: status_of(hub, oid, auth=ADMIN_KEY) == "out_for_delivery")

    tampered = body.replace(b"Out for delivery", b"Out for deliverY")
    assert tampered != body
    before = inbox_count(engine)
    refused = hub.post("/api/v1/tracking/carriers/easypost", content=tampered, headers=samples.sign_easypost(body, EP))
    assert refused.status_code == 401 and refused.json()["code"] == "bad_signature"
    assert inbox_count(engine) == before  # a forged message is not kept

    internal = hub.get(
        f"/api/v1/orders/{oid}/tracking?view=internal", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ).json()
    carrier_rows = [e for e in internal["events"] if e["source"] == "easypost"]
    assert {e["milestone"] for e in carrier_rows} >= {"in_transit", "out_for_delivery"}
    kept = hub.get(
        f"/api/v1/tracking/inbox/{carrier_rows[0]['inbox_id']}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ).json()
    assert kept["signature"] == "verified" and "tracker.updated" in kept["body"]


def test_the_aftership_crossborder_sample_gives_customs_stages_and_delivery(hub: TestClient, engine: Engine) -> None:
    doc = json.loads((FIXTURES / "aftership-webhook-crossborder.json").read_text())
    number = doc["msg"]["tracking_number"]
    oid = shipped(hub, engine, "AS-1", number, carrier="dhl")
    body = json.dumps(doc).encode()
    r = hub.post("/api/v1/tracking/carriers/aftership", content=body, headers=samples.sign_aftership(body, AS))
    assert r.status_code == 202, r.text
    again = hub.post("/api/v1/tracking/carriers/aftership", content=body, headers=samples.sign_aftership(body, AS))
    assert again.json()["recorded"] == 0 and again.json()["duplicates"] == r.json()["recorded"]
    wait_for(lambda: status_of(hub, oid, auth=ADMIN_KEY) == "delivered")
    view = hub.get(f"/api/v1/orders/{oid}/tracking", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
    reached = {m["milestone"] for m in view["milestones"]}
    assert {"export_declared", "import_held", "customs_cleared", "out_for_delivery", "delivered"} <= reached
    times = [m["at"] for m in view["milestones"]]
    assert times == sorted(times, reverse=True)


def test_strangers_and_unknown_carriers(hub: TestClient, engine: Engine) -> None:
    body = b'{"event": "tracking_update", "msg": {}}'
    assert hub.post("/api/v1/tracking/carriers/aftership", content=body).status_code == 401
    assert hub.post("/api/v1/tracking/carriers/nowhere", content=body).status_code == 401  # who asks comes first
    key = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert hub.post("/api/v1/tracking/carriers/nowhere", content=body, headers=key).status_code == 404
    bad = hub.post("/api/v1/tracking/carriers/aftership", content=body, headers=key)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"].startswith("/msg")
    unknown = samples.aftership_event("NOPE-1", "dhl", "InTransit", "InTransit_001", datetime.now(UTC), "In transit")
    raw = json.dumps(unknown).encode()
    refused = hub.post("/api/v1/tracking/carriers/aftership", content=raw, headers=samples.sign_aftership(raw, AS))
    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "/msg/tracking_number"
    kept = hub.get(f"/api/v1/tracking/inbox/{refused.json()['inbox_id']}", headers=key).json()
    assert kept["status"] == "rejected"
