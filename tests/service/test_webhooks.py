"""Outbound webhooks end to end on SQLite and PostgreSQL: the bus handler queues deliveries,
the sender POSTs them to a real HTTP receiver on 127.0.0.1, retries, gives up, disables."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput
from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work
from orderhub.webhooks import service as webhooks
from orderhub.webhooks import store
from orderhub.webhooks.model import BadSignature, DeliveryPolicy, verify

ADMIN = "user:admin@test.example"


class Receiver:
    """A real HTTP endpoint: checks each message's signature against ``secrets`` (401 if none
    matches), then answers the next of ``answers`` (200 once they run out)."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.answers: list[int] = []
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = dict(self.headers.items())
                verified = []
                for secret in receiver.secrets:
                    try:
                        verify(secret, headers=headers, body=body, now=int(time.time()))
                        verified.append(secret)
                    except BadSignature:
                        pass
                status = (receiver.answers.pop(0) if receiver.answers else 200) if verified else 401
                receiver.received.append(
                    {"id": self.headers["webhook-id"], "headers": headers, "body": body, "verified": verified}
                )
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"" if status < 300 else f"answer {status}".encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(timeout=5)


def subscribe(engine: Engine, receiver: Receiver, types: list[str] | None = None) -> webhooks.Subscription:
    sub = webhooks.create(engine, url=receiver.url, event_types=types, description="test", actor=ADMIN)
    receiver.secrets.append(sub.secret)
    return sub


def captured(order_id: str = "ord_1", type: str = "order.captured") -> DomainEvent:
    return DomainEvent(type=type, aggregate_type="order", aggregate_id=order_id, data={"order_id": order_id})


def publish(engine: Engine, event: DomainEvent) -> None:
    """What the bus does for each committed event: the handler inside a transaction."""
    with unit_of_work(engine) as conn:
        webhooks.SUBSCRIBER.handle(conn, event)


def deliveries(engine: Engine, subscription_id: str) -> list[webhooks.Delivery]:
    return webhooks.get_deliveries(engine, subscription_id=subscription_id).items


class Later:
    """Ever later instants, an hour apart, so every back-off is over without sleeping."""

    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        self.at += timedelta(hours=1)
        return self.at


FAST = DeliveryPolicy(max_attempts=3, base_s=1, cap_s=5, disable_after=2)


def test_an_event_is_delivered_signed_once_to_each_subscription_that_wants_it(engine, receiver):
    everything = subscribe(engine, receiver)
    allocations = subscribe(engine, receiver, ["order.allocated"])
    event = captured()
    publish(engine, event)

    assert webhooks.send_due(engine) == 1
    [got] = receiver.received
    assert got["verified"] == [everything.secret]
    assert got["id"] == event.id
    assert got["headers"]["content-type"] == "application/cloudevents+json"
    assert json.loads(got["body"]) == json.loads(json.dumps(event.as_cloudevent()))
    [d] = deliveries(engine, everything.id)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("succeeded", 1, 200, None)
    assert d.delivered_at is not None and d.next_attempt_at is None and d.last_duration_ms is not None
    assert d.event_id == event.id and d.event_type == "order.captured" and d.aggregate_id == "ord_1"
    assert deliveries(engine, allocations.id) == []
    assert webhooks.send_due(engine) == 0  # nothing left
    assert len(receiver.received) == 1


def test_the_handler_running_twice_for_one_event_queues_one_delivery(engine, receiver):
    sub = subscribe(engine, receiver)
    event = captured()
    publish(engine, event)
    publish(engine, event)
    assert len(deliveries(engine, sub.id)) == 1
    webhooks.send_due(engine)
    publish(engine, event)  # even after it was sent
    assert [d.status for d in deliveries(engine, sub.id)] == ["succeeded"]
    assert receiver.ids == [event.id]


def test_a_500_is_retried_after_a_back_off_and_then_succeeds(engine, receiver):
    sub = subscribe(engine, receiver)
    receiver.answers = [500]
    publish(engine, captured())
    t0 = utcnow()
    policy = DeliveryPolicy(max_attempts=3, base_s=60, cap_s=60)

    assert webhooks.send_due(engine, now=t0, policy=policy) == 1
    [d] = deliveries(engine, sub.id)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("retrying", 1, 500, "HTTP 500: answer 500")
    assert d.next_attempt_at is not None and t0 <= d.next_attempt_at <= t0 + timedelta(seconds=60)

    assert webhooks.send_due(engine, now=t0 + timedelta(seconds=61), policy=policy) == 1
    [d] = deliveries(engine, sub.id)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("succeeded", 2, 200, None)
    assert len(receiver.ids) == 2 and receiver.ids[0] == receiver.ids[1]  # same webhook-id on a retry


def test_always_failing_deliveries_die_and_the_subscription_is_disabled_with_the_reason(engine, receiver, caplog):
    sub = subscribe(engine, receiver)
    receiver.answers = [503] * 100
    later = Later()

    def drain() -> None:
        while webhooks.send_due(engine, now=later(), policy=FAST):
            pass

    publish(engine, captured("ord_1"))
    drain()
    [first] = deliveries(engine, sub.id)
    assert (first.status, first.attempts, first.last_status_code, first.next_attempt_at) == ("dead", 3, 503, None)
    sub_now = webhooks.get(engine, subscription_id=sub.id)
    assert (sub_now.status, sub_now.consecutive_failures, sub_now.disabled_reason) == ("active", 1, None)

    with caplog.at_level(logging.WARNING, logger="orderhub.alerts"):
        publish(engine, captured("ord_2"))
        drain()
    sub_now = webhooks.get(engine, subscription_id=sub.id)
    assert (sub_now.status, sub_now.consecutive_failures) == ("disabled", 2)
    assert sub_now.disabled_reason is not None and sub_now.disabled_reason.startswith("2 deliveries in a row failed")
    assert "HTTP 503" in sub_now.disabled_reason
    assert [r.name for r in caplog.records] == ["orderhub.alerts"]
    assert f"webhook subscription {sub.id} disabled" in caplog.records[0].getMessage()
    assert len(receiver.received) == 6

    publish(engine, captured("ord_3"))  # nothing is queued for a disabled subscription
    assert len(deliveries(engine, sub.id)) == 2


def test_a_dead_delivery_is_replayed_once_the_subscription_is_enabled_again(engine, receiver):
    sub = subscribe(engine, receiver)
    receiver.answers = [500, 500, 500, 500, 500, 500]
    later = Later()
    for order_id in ("ord_1", "ord_2"):
        publish(engine, captured(order_id))
        while webhooks.send_due(engine, now=later(), policy=FAST):
            pass
    assert webhooks.get(engine, subscription_id=sub.id).status == "disabled"
    dead = deliveries(engine, sub.id)[0]
    assert dead.status == "dead"

    with pytest.raises(Conflict) as refused:
        webhooks.replay(engine, delivery_id=dead.id, actor=ADMIN)
    assert refused.value.code == "subscription_disabled"
    assert webhooks.get_delivery(engine, delivery_id=dead.id).status == "dead"

    enabled = webhooks.update(engine, subscription_id=sub.id, actor=ADMIN, status=webhooks.SubscriptionStatus.active)
    assert (enabled.status, enabled.consecutive_failures, enabled.disabled_reason) == ("active", 0, None)
    replayed = webhooks.replay(engine, delivery_id=dead.id, actor=ADMIN, now=later())
    assert (replayed.status, replayed.attempts) == ("pending", 0)
    assert webhooks.send_due(engine, now=later(), policy=FAST) == 1
    after = webhooks.get_delivery(engine, delivery_id=dead.id)
    assert (after.status, after.attempts, after.last_status_code) == ("succeeded", 1, 200)
    assert webhooks.get_delivery(engine, delivery_id=deliveries(engine, sub.id)[1].id).status == "dead"  # not replayed


def test_410_gone_disables_the_subscription_at_once(engine, receiver):
    sub = subscribe(engine, receiver)
    receiver.answers = [410]
    publish(engine, captured())
    webhooks.send_due(engine, policy=FAST)
    [d] = deliveries(engine, sub.id)
    assert (d.status, d.attempts, d.last_status_code) == ("dead", 1, 410)
    now = webhooks.get(engine, subscription_id=sub.id)
    assert now.status == "disabled" and now.disabled_reason is not None
    assert now.disabled_reason.startswith("the endpoint answered 410 Gone")


def test_a_refusing_4xx_is_not_retried_but_counts_as_a_failure(engine, receiver):
    sub = subscribe(engine, receiver)
    receiver.answers = [422]
    publish(engine, captured())
    webhooks.send_due(engine, policy=FAST)
    [d] = deliveries(engine, sub.id)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("dead", 1, 422, "HTTP 422: answer 422")
    assert webhooks.get(engine, subscription_id=sub.id).consecutive_failures == 1
    assert webhooks.send_due(engine, now=Later()(), policy=FAST) == 0


def test_a_refused_connection_is_retried_and_a_success_resets_the_failure_count(engine, receiver):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    sub = webhooks.create(engine, url=f"http://127.0.0.1:{closed_port}/", actor=ADMIN)
    publish(engine, captured())
    webhooks.send_due(engine, policy=FAST)
    [d] = deliveries(engine, sub.id)
    assert (d.status, d.attempts, d.last_status_code) == ("retrying", 1, None)
    assert d.last_error is not None and d.last_error.startswith("ConnectError")

    with unit_of_work(engine) as conn:
        store.update_subscription(conn, sub.id, consecutive_failures=3)
    webhooks.update(engine, subscription_id=sub.id, actor=ADMIN, url=receiver.url)
    receiver.secrets.append(sub.secret)
    webhooks.send_due(engine, now=Later()(), policy=FAST)
    assert deliveries(engine, sub.id)[0].status == "succeeded"
    assert webhooks.get(engine, subscription_id=sub.id).consecutive_failures == 0


def test_a_claimed_delivery_is_not_sent_again_until_its_lease_runs_out(engine, receiver):
    sub = subscribe(engine, receiver)
    publish(engine, captured())
    t0 = utcnow()
    with unit_of_work(engine) as conn:  # a sender claims it, then dies before sending
        assert len(store.claim_due(conn, now=t0, lease_until=t0 + timedelta(seconds=60), limit=10)) == 1
    assert webhooks.send_due(engine, now=t0 + timedelta(seconds=30)) == 0
    assert webhooks.send_due(engine, now=t0 + timedelta(seconds=61)) == 1
    [d] = deliveries(engine, sub.id)
    assert (d.status, d.attempts) == ("succeeded", 2)
    assert len(receiver.received) == 1


def test_concurrent_senders_send_each_delivery_once(engine, receiver):
    subscribe(engine, receiver)
    for i in range(12):
        publish(engine, captured(f"ord_{i}"))
    counts: list[int] = []
    threads = [
        threading.Thread(target=lambda: counts.append(webhooks.send_due(engine, limit=5, concurrency=2)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while webhooks.send_due(engine):
        pass
    assert sorted(receiver.ids) == sorted(set(receiver.ids)) and len(receiver.ids) == 12


def test_rotating_the_secret_signs_with_both_for_a_while(engine, receiver):
    sub = subscribe(engine, receiver)
    rotated = webhooks.rotate_secret(engine, subscription_id=sub.id, actor=ADMIN)
    assert rotated.secret != sub.secret
    receiver.secrets.append(rotated.secret)
    publish(engine, captured())
    webhooks.send_due(engine)
    assert receiver.received[0]["verified"] == [sub.secret, rotated.secret]
    assert len(receiver.received[0]["headers"]["webhook-signature"].split(" ")) == 2


def test_bad_url_and_unknown_event_types_are_refused_naming_each_field(engine):
    with pytest.raises(InvalidInput) as err:
        webhooks.create(engine, url="ftp://example.com/x", event_types=["order.captured", "order.nope"], actor=ADMIN)
    assert [e["pointer"] for e in err.value.errors] == ["/url", "/event_types/1"]
    with pytest.raises(InvalidInput):
        webhooks.create(engine, url="https:///no-host", actor=ADMIN)
    assert webhooks.get_all(engine) == []


def test_deleting_a_subscription_removes_its_delivery_log(engine, receiver):
    sub = subscribe(engine, receiver)
    publish(engine, captured())
    webhooks.delete(engine, subscription_id=sub.id)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.webhook_deliveries)).scalar_one() == 0
    assert webhooks.send_due(engine) == 0
