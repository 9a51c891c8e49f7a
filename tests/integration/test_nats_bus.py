"""The NATS JetStream backend against a real nats-server, on SQLite and PostgreSQL: relayed
events are applied once each in per-aggregate order; publishing again and redelivery apply
nothing twice; a crash between fetch and commit resumes from the database offset; a failing
handler parks its aggregate exactly as with the embedded backend."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import nats
import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.bus import consumer, relay, subscribers
from orderhub.bus import service as bus
from orderhub.bus import store as bus_store
from orderhub.bus.nats import NatsBackend, filters_of, subject_of, waves
from orderhub.bus.subscribers import Subscriber
from orderhub.bus.worker import BusWorker
from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work
from tests.conftest import run_async
from tests.nats_servers import Servers
from tests.service.test_bus import Flaky, applied_meta, emit, rows

pytestmark = pytest.mark.nats


class Crash(BaseException):
    """The process dies inside the handler: nothing after it runs, the transaction is lost."""


class Crashing(Flaky):
    def __init__(self) -> None:
        super().__init__()
        self.crash_on: str | None = None

    def __call__(self, conn: Connection, event: DomainEvent) -> None:
        if event.aggregate_id == self.crash_on:
            raise Crash(event.id)
        super().__call__(conn, event)


@pytest.fixture
def handler(engine: Engine) -> Iterator[Crashing]:
    applied_meta.create_all(engine)
    h = Crashing()
    subscribers.register(Subscriber("test", h, types=frozenset({"test.happened"}), max_attempts=3, backoff_s=0.0))
    yield h
    subscribers.unregister("test")


@pytest.fixture
def sub(handler: Crashing) -> Subscriber:
    found = subscribers.get("test")
    assert found is not None
    return found


@pytest.fixture
def backend(nats_server: Servers) -> Iterator[NatsBackend]:
    b = NatsBackend(nats_server.url, fetch_timeout_s=0.2)
    yield b
    b.close()


def relay_all(engine: Engine, backend: NatsBackend) -> int:
    total = 0
    while moved := relay.relay_once(engine, sink=backend.sink):
        total += moved
    return total


def consume_all(engine: Engine, backend: NatsBackend, sub: Subscriber) -> int:
    total = 0
    while read := backend.consume_once(engine, sub):
        total += read
    return total


def offset(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return bus_store.get_offset(conn, subscriber="test", backend="nats")


def processed(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(bus_store.bus_processed)).scalar_one())


def test_subjects_carry_type_and_a_sanitized_aggregate_id() -> None:
    event = DomainEvent(type="order.captured", aggregate_type="order", aggregate_id="ord 1.a*b>", data={})
    assert subject_of(event) == "orderhub.order.captured.ord_1_a_b_"
    assert filters_of(frozenset({"order.captured", "order.paid"})) == [
        "orderhub.order.captured.*",
        "orderhub.order.paid.*",
    ]
    assert filters_of(None) == ["orderhub.>"]


def test_waves_hold_at_most_one_event_per_aggregate_in_order() -> None:
    events = [DomainEvent(type="t.x", aggregate_type="t", aggregate_id=a, data={"k": k}) for k, a in enumerate("AABAC")]
    assert [[(e.aggregate_id, e.data["k"]) for e in w] for w in waves(events)] == [
        [("A", 0), ("B", 2), ("C", 4)],
        [("A", 1)],
        [("A", 3)],
    ]


def test_relayed_events_are_applied_once_each_in_commit_order(
    engine: Engine, backend: NatsBackend, sub: Subscriber
) -> None:
    backend.prepare(engine, sub)
    assert offset(engine) == 0  # a new subscriber starts at the stream's end
    for k in range(5):
        emit(engine, "A", k)
        emit(engine, "B", k)
    emit(engine, "A", 99, type="test.ignored")
    assert relay_all(engine, backend) == 11
    assert consume_all(engine, backend, sub) == 10  # the consumer's filter leaves test.ignored out
    assert rows(engine) == [(agg, k) for k in range(5) for agg in ("A", "B")]
    assert consume_all(engine, backend, sub) == 0
    assert backend.stream_info().state.messages == 11
    assert offset(engine) == 10
    assert processed(engine) == 10
    with engine.connect() as conn:
        assert bus_store.backlog(conn) == 0


def test_publishing_the_same_events_again_applies_nothing_twice(
    engine: Engine, backend: NatsBackend, sub: Subscriber, nats_server: Servers
) -> None:
    backend.prepare(engine, sub)
    for k in range(3):
        emit(engine, "A", k)
        emit(engine, "B", k)
    with engine.connect() as conn:
        events = [bus_store.to_event(r) for r in bus_store.unpublished(conn, limit=100)]
    # the relay crashed twice after sending, before marking them published
    assert backend.sink.send(events) == events
    assert backend.sink.send(events) == events
    assert relay_all(engine, backend) == 6
    assert backend.stream_info().state.messages == 6  # JetStream dropped the duplicates
    # past the duplicate window a copy gets through: the processed ids stop it
    run_async(lambda: publish_raw(nats_server.url, events[0], msg_id="late-copy"))
    assert backend.stream_info().state.messages == 7
    assert consume_all(engine, backend, sub) == 7
    assert rows(engine) == [(agg, k) for k in range(3) for agg in ("A", "B")]
    assert processed(engine) == 6
    assert offset(engine) == 7


async def publish_raw(url: str, event: DomainEvent, *, msg_id: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=5)
        await js.publish(subject_of(event), json.dumps(event.as_cloudevent()).encode(), headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


def test_after_a_crash_between_fetch_and_commit_a_restart_resumes_from_the_database_offset(
    engine: Engine, backend: NatsBackend, sub: Subscriber, handler: Crashing, nats_server: Servers
) -> None:
    backend.prepare(engine, sub)
    for k in range(5):
        emit(engine, "A", k)
        emit(engine, "B", k)
    relay_all(engine, backend)
    assert backend.consume_once(engine, sub, limit=4) == 4
    handler.crash_on = "B"
    with pytest.raises(Crash):
        backend.consume_once(engine, sub, limit=4)  # fetched, not committed, not acknowledged
    assert rows(engine) == [("A", 0), ("B", 0), ("A", 1), ("B", 1)]
    assert offset(engine) == 4
    backend.close()

    handler.crash_on = None
    restarted = NatsBackend(nats_server.url, fetch_timeout_s=0.2)
    try:
        restarted.prepare(engine, sub)
        assert consume_all(engine, restarted, sub) == 6
    finally:
        restarted.close()
    assert rows(engine) == [(agg, k) for k in range(5) for agg in ("A", "B")]
    assert processed(engine) == 10
    assert offset(engine) == 10


def test_the_same_backend_resumes_after_a_failed_round(engine: Engine, backend: NatsBackend, sub: Subscriber) -> None:
    handler = sub.handle
    assert isinstance(handler, Crashing)
    backend.prepare(engine, sub)
    for k in range(4):
        emit(engine, "A", k)
    relay_all(engine, backend)
    handler.crash_on = "A"
    with pytest.raises(Crash):
        backend.consume_once(engine, sub)
    handler.crash_on = None
    assert consume_all(engine, backend, sub) == 4
    assert rows(engine) == [("A", k) for k in range(4)]


def test_messages_lost_on_the_way_are_not_overtaken_by_later_ones(
    engine: Engine, backend: NatsBackend, sub: Subscriber
) -> None:
    backend.prepare(engine, sub)
    for k in range(4):
        emit(engine, "A", k)
    relay_all(engine, backend)
    # A0 is delivered to this client but never reaches the subscriber (a node died mid-fetch)
    lost = backend._run(backend._readers["test"].psub.fetch(1, timeout=2), 5)
    assert [m.metadata.sequence.stream for m in lost] == [1]
    consume_all(engine, backend, sub)  # sees the gap in the delivery sequence, starts over at the offset
    assert rows(engine) == [("A", k) for k in range(4)]
    assert offset(engine) == 4


def test_a_failing_event_parks_its_aggregate_and_lets_the_others_go_on(
    engine: Engine, backend: NatsBackend, sub: Subscriber, handler: Crashing
) -> None:
    backend.prepare(engine, sub)
    handler.broken = {"A"}
    for k in range(3):
        emit(engine, "A", k)
        emit(engine, "B", k)
    relay_all(engine, backend)
    assert consume_all(engine, backend, sub) == 6
    assert rows(engine) == [("B", 0), ("B", 1), ("B", 2)]
    failures = bus.get_failures(engine, subscriber="test")
    assert sorted((f["status"], f["attempts"]) for f in failures) == [("parked", 0), ("parked", 0), ("retrying", 1)]
    assert offset(engine) == 6  # the failure is recorded; the stream goes on

    handler.broken = set()
    assert consumer.retry_due(engine, sub) == 1
    assert rows(engine)[3:] == [("A", 0), ("A", 1), ("A", 2)]  # released behind it, in order
    assert {f["status"] for f in bus.get_failures(engine, subscriber="test")} == {"resolved"}


def test_the_worker_relays_and_applies_through_jetstream(engine: Engine, sub: Subscriber, nats_server: Servers) -> None:
    backend = NatsBackend(nats_server.url, fetch_timeout_s=0.2)
    backend.prepare(engine, sub)
    worker = BusWorker(engine, backend=backend, names=["test"], poll_s=0.01).start()
    try:
        ids = [emit(engine, f"A{k % 3}", k) for k in range(30)]
        deadline = time.monotonic() + 10
        while len(rows(engine)) < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(k for _, k in rows(engine)) == list(range(30))
        with unit_of_work(engine, write=False) as conn:
            assert bus_store.backlog(conn) == 0
            assert len(bus_store.events_by_id(conn, ids)) == 30
    finally:
        worker.stop()
    assert backend._loop is None  # the worker closed its backend
