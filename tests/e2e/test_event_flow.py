"""The backbone end to end in a running app: an order change reaches a webhook receiver as a
signed CloudEvent, and a subscriber's dead event is listed and replayed through the API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from orderhub.app import create_app
from orderhub.bus import subscribers
from orderhub.core.events import DomainEvent
from orderhub.platform.settings import Settings
from orderhub.webhooks import model as webhooks_model
from tests.conftest import ADMIN_KEY


class Receiver:
    """A real HTTP endpoint on loopback that keeps what it was sent."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


ORDER = {
    "currency": "EUR",
    "external_ref": "FLOW-1",
    "customer": {"email": "ann@example.com"},
    "shipping_address": {"city": "Berlin", "country": "DE"},
    "lines": [{"sku": "MUG-1", "quantity": 1, "unit_price": "8.50"}],
    "payment_status": "paid",
}


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("not reached in time")


def test_an_order_change_reaches_a_webhook_receiver_signed_and_in_order(client: TestClient, receiver: Receiver) -> None:
    made = client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "event_types": ["order.captured", "order.status_changed"]}
    )
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    order = client.post("/api/v1/orders", json=ORDER).json()
    client.post(f"/api/v1/orders/{order['id']}/hold", json={"reason": "check address"})

    wait_for(lambda: len(receiver.got) >= 3)
    docs = []
    for headers, body in receiver.got:
        webhooks_model.verify(secret, headers=headers, body=body, now=int(time.time()))
        docs.append(json.loads(body))
    # deliveries run in parallel (a slow endpoint must not hold up the rest): like every
    # webhook sender, arrival order is not promised; the CloudEvent carries what orders them
    docs.sort(key=lambda d: (d["time"], d["type"] != "order.captured", d["data"].get("to") == "on_hold"))
    assert [d["type"] for d in docs] == ["order.captured", "order.status_changed", "order.status_changed"]
    assert {d["subject"] for d in docs} == {order["id"]}
    assert [d["data"].get("to") for d in docs[1:]] == ["paid", "on_hold"]
    assert all(d["specversion"] == "1.0" for d in docs)
    assert sorted(h["webhook-id"] for h, _ in receiver.got) == sorted(d["id"] for d in docs)


def test_a_dead_event_is_listed_and_replayed_through_the_api(engine: Engine, settings: Settings) -> None:
    broken = {"yes": True}

    def handle(conn: Connection, event: DomainEvent) -> None:
        if broken["yes"]:
            raise RuntimeError("downstream refused")

    subscribers.register(
        subscribers.Subscriber("e2e-fragile", handle, types=frozenset({"order.captured"}), max_attempts=1)
    )
    try:
        with TestClient(create_app(settings, engine=engine)) as client:  # its worker runs the new subscriber
            client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
            order = client.post("/api/v1/orders", json={**ORDER, "external_ref": "FLOW-2"}).json()
            query = {"status": "dead", "subscriber": "e2e-fragile"}
            dead = wait_for(lambda: client.get("/api/v1/bus/failures", params=query).json()["items"])
            assert dead[0]["aggregate_id"] == order["id"]
            assert "downstream refused" in dead[0]["error"]
            assert client.get("/api/v1/bus").json()["failures"]["dead"] == 1

            anonymous = client.post(f"/api/v1/bus/failures/{dead[0]['id']}/replay", headers={"Authorization": ""})
            assert anonymous.status_code == 401
            again = client.post(f"/api/v1/bus/failures/{dead[0]['id']}/replay").json()
            assert (again["status"], again["attempts"]) == ("dead", 2)
            broken["yes"] = False
            fixed = client.post(f"/api/v1/bus/failures/{dead[0]['id']}/replay").json()
            assert fixed["status"] == "resolved"
            assert client.post(f"/api/v1/bus/failures/{dead[0]['id']}/replay").status_code == 409
    finally:
        subscribers.unregister("e2e-fragile")
