"""The bus on a 3-node JetStream cluster (stream of 3 replicas) on PostgreSQL: the stream
leader is killed with SIGKILL while events are being committed, relayed and applied; every
committed event is still applied exactly once, in order per aggregate, and none is left behind."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.bus import failures as bus_failures
from orderhub.bus import service as bus
from orderhub.bus import store as bus_store
from orderhub.bus import subscribers
from orderhub.bus.nats import NatsBackend
from orderhub.bus.subscribers import Subscriber
from orderhub.bus.worker import BusWorker
from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work
from tests.conftest import make_pg_engine
from tests.nats_servers import Servers
from tests.service.test_bus import Flaky, applied, applied_meta

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

EVENTS = 3000
AGGREGATES = 40
PER_COMMIT = 5
PRODUCE_S = 12.0  # the producer spreads its commits over this long, so the kill lands mid-stream
DEADLINE_S = 60.0


@pytest.fixture
def pg_engine(pg_admin_url: str) -> Iterator[Engine]:
    eng = make_pg_engine(pg_admin_url)
    applied_meta.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sub(pg_engine: Engine) -> Iterator[Subscriber]:
    s = Subscriber("test", Flaky(), types=frozenset({"test.happened"}), backoff_s=0.0, start="beginning")
    subscribers.register(s)
    yield s
    subscribers.unregister("test")


class Producer(threading.Thread):
    """Commits ``EVENTS`` events over ``AGGREGATES`` aggregates, ``k`` counting up per aggregate."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="producer", daemon=True)
        self.engine = engine
        self.ids: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            start = time.monotonic()
            commits = EVENTS // PER_COMMIT
            for c in range(commits):
                events = []
                for i in range(c * PER_COMMIT, (c + 1) * PER_COMMIT):
                    agg = f"agg-{i % AGGREGATES:02d}"
                    events.append(
                        DomainEvent(type="test.happened", aggregate_type="test", aggregate_id=agg, data={"k": i})
                    )
                with unit_of_work(self.engine) as conn:
                    bus.publish(conn, events)
                self.ids.extend(e.id for e in events)
                time.sleep(max(0.0, start + PRODUCE_S * (c + 1) / commits - time.monotonic()))
        except BaseException as exc:  # reported by the test
            self.error = exc


def applied_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(applied)).scalar_one())


def backlog(engine: Engine) -> int:
    with engine.connect() as conn:
        return bus_store.backlog(conn)


def wait_for(check: object, deadline: float, what: str) -> None:
    assert callable(check)
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_killing_the_stream_leader_mid_stream_loses_and_duplicates_nothing(
    pg_engine: Engine, sub: Subscriber, nats_cluster: Servers
) -> None:
    deadline = time.monotonic() + DEADLINE_S
    backend = NatsBackend(nats_cluster.url, replicas=3, fetch_timeout_s=0.3)
    worker = BusWorker(pg_engine, backend=backend, names=["test"], poll_s=0.01).start()
    producer = Producer(pg_engine)
    try:
        producer.start()
        wait_for(lambda: applied_count(pg_engine) >= EVENTS // 3, deadline, "a third of the events")
        info = backend.stream_info()
        assert info.config.num_replicas == 3
        assert info.cluster is not None and info.cluster.leader
        victim = nats_cluster.node(info.cluster.leader)
        victim.kill()
        produced_at_kill = len(producer.ids)
        producer.join(max(0.0, deadline - time.monotonic()))
        assert not producer.is_alive() and producer.error is None, producer.error
        assert produced_at_kill < EVENTS, "the kill did not land mid-stream"
        wait_for(
            lambda: applied_count(pg_engine) >= EVENTS and backlog(pg_engine) == 0, deadline, "every event applied"
        )
        time.sleep(0.5)  # anything applied twice would show up now
    finally:
        worker.stop()

    with pg_engine.connect() as conn:
        got = conn.execute(sa.select(applied.c.event_id, applied.c.aggregate_id, applied.c.k).order_by(applied.c.n))
        seen = list(got)
        assert bus_store.backlog(conn) == 0
        assert bus_failures.count_failures(conn) == {}
    assert len(seen) == EVENTS
    assert {r.event_id for r in seen} == set(producer.ids)  # each once: event_id is unique in the table
    last: dict[str, int] = defaultdict(lambda: -1)
    for r in seen:
        assert r.k > last[r.aggregate_id], f"{r.aggregate_id}: {r.k} applied after {last[r.aggregate_id]}"
        last[r.aggregate_id] = r.k
    assert len(last) == AGGREGATES
