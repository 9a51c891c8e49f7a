"""The event backbone on a real database: relay order, once-only effect, retries, parking,
dead events, replay and discard, racing consumers, the worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.bus import consumer, embedded, relay, subscribers
from orderhub.bus import service as bus
from orderhub.bus import store as bus_store
from orderhub.bus.subscribers import Subscriber
from orderhub.bus.worker import BusWorker
from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work

applied_meta = sa.MetaData()
#: The test subscriber's own table: one row per event it applied (a duplicate would fail).
applied = sa.Table(
    "test_applied",
    applied_meta,
    sa.Column("n", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.String(40), nullable=False, unique=True),
    sa.Column("aggregate_id", sa.String(40), nullable=False),
    sa.Column("k", sa.Integer, nullable=False),
)


class Flaky:
    """A handler that fails for the aggregates in ``broken`` and records the rest."""

    def __init__(self) -> None:
        self.broken: set[str] = set()
        self.calls = 0

    def __call__(self, conn: Connection, event: DomainEvent) -> None:
        self.calls += 1
        if event.aggregate_id in self.broken:
            raise RuntimeError(f"cannot apply {event.aggregate_id}")
        conn.execute(applied.insert().values(event_id=event.id, aggregate_id=event.aggregate_id, k=event.data["k"]))


@pytest.fixture
def handler(engine: Engine) -> Iterator[Flaky]:
    applied_meta.create_all(engine)
    h = Flaky()
    subscribers.register(Subscriber("test", h, types=frozenset({"test.happened"}), max_attempts=3, backoff_s=0.0))
    yield h
    subscribers.unregister("test")


def emit(engine: Engine, aggregate: str, k: int, type: str = "test.happened") -> str:
    event = DomainEvent(type=type, aggregate_type="test", aggregate_id=aggregate, data={"k": k})
    with unit_of_work(engine) as conn:
        bus.publish(conn, [event])
    return event.id


def rows(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [(r.aggregate_id, r.k) for r in conn.execute(sa.select(applied).order_by(applied.c.n))]


def drain(engine: Engine, sub: Subscriber) -> None:
    while relay.relay_once(engine) or embedded.consume_once(engine, sub):
        pass


def test_events_are_applied_once_each_in_commit_order(engine: Engine, handler: Flaky) -> None:
    sub = subscribers.get("test")
    assert sub is not None
    embedded.consume_once(engine, sub)  # a new subscriber starts at the end of the log
    for k in range(5):
        emit(engine, "A", k)
        emit(engine, "B", k)
    emit(engine, "A", 99, type="test.ignored")
    drain(engine, sub)
    assert rows(engine) == [(agg, k) for k in range(5) for agg in ("A", "B")]
    drain(engine, sub)  # nothing new: nothing applied twice
    assert len(rows(engine)) == 10
    with engine.connect() as conn:
        assert bus_store.get_offset(conn, subscriber="test", backend="embedded") == 11
        # the locked offset is the embedded reader's idempotency guard: no processed ids needed
        assert conn.execute(sa.select(sa.func.count()).select_from(bus_store.bus_processed)).scalar_one() == 0


def test_a_failing_event_parks_its_aggregate_and_lets_the_others_go_on(engine: Engine, handler: Flaky) -> None:
    sub = subscribers.get("test")
    assert sub is not None
    embedded.consume_once(engine, sub)
    handler.broken = {"A"}
    for k in range(3):
        emit(engine, "A", k)
        emit(engine, "B", k)
    drain(engine, sub)
    assert rows(engine) == [("B", 0), ("B", 1), ("B", 2)]
    failures = bus.get_failures(engine, subscriber="test")
    assert sorted((f["status"], f["attempts"]) for f in failures) == [("parked", 0), ("parked", 0), ("retrying", 1)]

    handler.broken = set()
    assert consumer.retry_due(engine, sub) == 1
    assert rows(engine)[3:] == [("A", 0), ("A", 1), ("A", 2)]  # released behind it, in order
    assert {f["status"] for f in bus.get_failures(engine, subscriber="test")} == {"resolved"}


def test_an_event_dies_after_its_attempts_and_staff_replay_or_discard_it(engine: Engine, handler: Flaky) -> None:
    sub = subscribers.get("test")
    assert sub is not None
    embedded.consume_once(engine, sub)
    handler.broken = {"A", "C"}
    emit(engine, "A", 1)
    emit(engine, "A", 2)
    emit(engine, "C", 1)
    emit(engine, "C", 2)
    drain(engine, sub)
    consumer.retry_due(engine, sub)
    consumer.retry_due(engine, sub)
    dead = bus.get_failures(engine, status=["dead"])
    assert sorted(f["aggregate_id"] for f in dead) == ["A", "C"]
    assert all(f["attempts"] == 3 for f in dead)
    assert consumer.retry_due(engine, sub) == 0  # dead events wait for staff
    assert rows(engine) == []

    handler.broken = set()
    head_a = next(f for f in dead if f["aggregate_id"] == "A")
    assert bus.replay_failure(engine, failure_id=head_a["id"])["status"] == "resolved"
    assert rows(engine) == [("A", 1), ("A", 2)]
    head_c = next(f for f in dead if f["aggregate_id"] == "C")
    assert bus.discard_failure(engine, failure_id=head_c["id"], actor="ops")["status"] == "discarded"
    assert rows(engine) == [("A", 1), ("A", 2), ("C", 2)]  # C1 was discarded, C2 went on


def test_racing_consumers_apply_each_event_once(engine: Engine, handler: Flaky) -> None:
    sub = subscribers.get("test")
    assert sub is not None
    embedded.consume_once(engine, sub)
    for k in range(200):
        emit(engine, f"A{k % 7}", k)
    relay.relay_once(engine)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(40):
                embedded.consume_once(engine, sub, limit=7)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drain(engine, sub)
    assert errors == []
    assert sorted(k for _, k in rows(engine)) == list(range(200))


def test_the_worker_relays_and_applies_committed_events_within_a_second(engine: Engine, handler: Flaky) -> None:
    sub = subscribers.get("test")
    assert sub is not None
    embedded.consume_once(engine, sub)
    worker = BusWorker(engine, names=["test"], poll_s=0.01).start()
    try:
        ids = [emit(engine, f"A{k % 3}", k) for k in range(30)]
        deadline = time.monotonic() + 5
        while len(rows(engine)) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(k for _, k in rows(engine)) == list(range(30))
        with engine.connect() as conn:
            logged = bus_store.bus_log.join(bus_store.outbox, bus_store.outbox.c.seq == bus_store.bus_log.c.seq)
            published = conn.execute(
                sa.select(sa.func.count()).select_from(logged).where(bus_store.outbox.c.id.in_(ids))
            ).scalar_one()
        assert published == 30
    finally:
        worker.stop()


def test_a_batch_handler_takes_the_fast_path_and_a_failure_falls_back_event_by_event(engine: Engine) -> None:
    applied_meta.create_all(engine)
    per_event = Flaky()
    batches: list[int] = []

    def batch(conn: Connection, events: list[DomainEvent]) -> None:
        batches.append(len(events))
        for event in events:
            per_event(conn, event)

    sub = Subscriber("test-batch", per_event, types=frozenset({"test.happened"}), max_attempts=3, handle_batch=batch)
    subscribers.register(sub)
    try:
        embedded.consume_once(engine, sub)
        for k in range(4):
            emit(engine, "A", k)
            emit(engine, "B", k)
        relay.relay_once(engine)
        embedded.consume_once(engine, sub)
        assert batches == [8]  # one call for the whole batch
        per_event.broken = {"B"}
        emit(engine, "A", 10)
        emit(engine, "B", 10)
        emit(engine, "A", 11)
        relay.relay_once(engine)
        calls = per_event.calls
        embedded.consume_once(engine, sub)
        assert batches == [8, 3]  # the batch raised (and was rolled back) …
        assert per_event.calls - calls == 2 + 3  # (A10, B10 raised) … then each event on its own
        assert [k for agg, k in rows(engine) if agg == "A"] == [0, 1, 2, 3, 10, 11]
        assert [f["status"] for f in bus.get_failures(engine, subscriber="test-batch")] == ["retrying"]
    finally:
        subscribers.unregister("test-batch")


def test_pruning_forgets_old_processed_ids_and_closed_failures_only(engine: Engine, handler: Flaky) -> None:
    sub = subscribers.get("test")
    assert sub is not None
    embedded.consume_once(engine, sub)
    handler.broken = {"A"}
    emit(engine, "A", 1)
    emit(engine, "B", 1)
    drain(engine, sub)
    old = datetime.now(UTC) - timedelta(days=8)
    with engine.begin() as conn:  # ids a redelivering backend (NATS) recorded: one old, one recent
        bus_store.mark_processed(conn, subscriber="test", ids=["evt_old"], at=old)
        bus_store.mark_processed(conn, subscriber="test", ids=["evt_new"], at=datetime.now(UTC))
        conn.execute(sa.update(bus_store.bus_failures).values(updated_at=old - timedelta(days=30)))
    assert bus.prune(engine) == {"processed_ids": 1, "closed_failures": 0}  # the open failure stays
    assert [f["status"] for f in bus.get_failures(engine, subscriber="test")] == ["retrying"]
