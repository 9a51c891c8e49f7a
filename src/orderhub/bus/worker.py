"""The bus worker: the relay and every registered subscriber, each in a thread of its own.

Any number of processes may run a worker (a lone API process runs one in its threads;
``orderhub serve --workers N`` starts one bus process beside its API processes; ``orderhub bus``
runs one alone). Each loop holds a lease (``bus:relay``, ``bus:sub:<name>``) so one process at a
time does that work; when a holder dies, another takes over once its lease ran out. A loop that
finds work goes on at once; an idle one sleeps ``poll_s`` or until woken — a commit in this
process wakes the relay, the relay wakes the subscribers.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import Engine

from orderhub.bus import consumer, embedded, relay, subscribers
from orderhub.bus.subscribers import Subscriber
from orderhub.platform import leases
from orderhub.platform.db import create_db_engine, unit_of_work
from orderhub.platform.settings import Settings

log = logging.getLogger("orderhub.bus")

RELAY_BATCH = 1000  # events a relay round publishes at most
SUBSCRIBER_BATCH = 500  # events a subscriber round reads at most

FULL_ROUND = 100  # a round this large pays its fixed cost well: the next one starts at once


def _gap(most_s: float, found: int) -> float:
    """How long to let work gather after a round that found ``found`` items: the whole gap
    after a round of one, nothing after a round of ``FULL_ROUND`` or more. Under light load
    this turns many tiny rounds into few larger ones (each round has a fixed cost of a few
    statements); under heavy load rounds are large anyway and waiting would only add latency."""
    return most_s * max(0.0, 1.0 - found / FULL_ROUND)


#: Periodic work that rides along with the bus (senders of queued deliveries): name → fn(engine)
#: returning how much it did; safe to run in several processes at once.
_pollers: dict[str, Callable[[Engine], int]] = {}
_relay_wake = threading.Event()
_subscriber_wakes: list[threading.Event] = []


def register_poller(name: str, fn: Callable[[Engine], int]) -> None:
    _pollers[name] = fn


def wake_relay() -> None:
    """Something was committed to the outbox in this process: publish it now."""
    _relay_wake.set()


def on_publish(wake: threading.Event) -> None:
    """Set ``wake`` whenever this process's relay publishes (a live tail listens this way)."""
    _subscriber_wakes.append(wake)


def _wake_subscribers() -> None:
    for event in list(_subscriber_wakes):
        event.set()


class Lease:
    """A lease renewed only when half its time is gone, and asked for by a process that does
    not hold it only every ``ttl_s / 4`` (not one write per loop in every process)."""

    def __init__(self, engine: Engine, name: str, holder: str, ttl_s: float) -> None:
        self.engine, self.name, self.holder, self.ttl_s = engine, name, holder, ttl_s
        self.until = 0.0
        self.next_try = 0.0

    def held(self) -> bool:
        now = time.monotonic()
        if now < self.until - self.ttl_s / 2:
            return True
        if not self.until and now < self.next_try:
            return False
        with unit_of_work(self.engine) as conn:
            taken = leases.acquire(conn, name=self.name, holder=self.holder, ttl_s=self.ttl_s)
        self.until = now + self.ttl_s if taken else 0.0
        self.next_try = now + self.ttl_s / 4
        return taken

    def give_up(self) -> None:
        if self.until:
            with unit_of_work(self.engine) as conn:
                leases.release(conn, name=self.name, holder=self.holder)
            self.until = 0.0


class BusWorker:
    """Runs the relay (unless ``relay=False``) and the named subscribers (all registered ones
    when ``names`` is None) until ``stop``. ``backend`` is ``embedded`` or a NATS backend
    object with ``sink`` and ``consume_once``/``prepare``."""

    def __init__(
        self,
        engine: Engine,
        *,
        backend: Any = None,
        relay: bool = True,
        names: list[str] | None = None,
        poll_s: float = 0.02,
        lease_ttl_s: float = 3.0,
        retry_every_s: float = 0.5,
        batch_gap_s: float = 0.015,
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.run_relay = relay
        self.names = names
        self.poll_s = poll_s
        self.batch_gap_s = batch_gap_s
        self.lease_ttl_s = lease_ttl_s
        self.retry_every_s = retry_every_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.owns_engine = False
        self.leading_relay = False  # this process's relay holds the lease (and wakes subscribers)

    def start(self) -> BusWorker:
        if self.run_relay:
            self._spawn("relay", self._relay_loop)
        for sub in subscribers.get_all():
            if self.names is None or sub.name in self.names:
                self._spawn(f"sub:{sub.name}", partial(self._subscriber_loop, sub))
        if self.names is None:
            for name, fn in _pollers.items():
                self._spawn(f"poll:{name}", partial(self._poller_loop, name, fn))
        return self

    def _poller_loop(self, name: str, fn: Callable[[Engine], int]) -> None:
        while not self.stopping.is_set():
            done = 0
            try:
                done = fn(self.engine)
            except Exception:
                log.exception("poller %s failed; the next round runs", name)
            if not done:
                self.stopping.wait(max(self.poll_s, 0.2))

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        _relay_wake.set()
        _wake_subscribers()
        for thread in self.threads:
            thread.join(timeout)
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()
        if self.owns_engine:
            self.engine.dispose()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"bus-{name}", daemon=True)
        thread.start()
        self.threads.append(thread)

    def _relay_loop(self) -> None:
        lease = Lease(self.engine, "bus:relay", self.holder, self.lease_ttl_s)
        sink = getattr(self.backend, "sink", None)
        while not self.stopping.is_set():
            moved = 0
            try:
                self.leading_relay = lease.held()
                if self.leading_relay:
                    moved = relay.relay_once(self.engine, sink=sink, limit=RELAY_BATCH)
            except Exception:
                log.exception("relay round failed; the next one runs")
            if moved:
                _wake_subscribers()
                self.stopping.wait(_gap(self.batch_gap_s / 3, moved))
                continue
            _relay_wake.wait(self.poll_s)
            _relay_wake.clear()
        self._give_up(lease)

    def _subscriber_loop(self, sub: Subscriber) -> None:
        lease = Lease(self.engine, f"bus:sub:{sub.name}"[:40], self.holder, self.lease_ttl_s)
        wake = threading.Event()
        _subscriber_wakes.append(wake)
        next_retry = 0.0
        prepared = False
        try:
            while not self.stopping.is_set():
                read = 0
                try:
                    if lease.held():
                        if self.backend is not None and not prepared:
                            self.backend.prepare(self.engine, sub)  # resume from the database offset
                            prepared = True
                        read = self._consume(sub)
                        if time.monotonic() >= next_retry:
                            consumer.retry_due(self.engine, sub)
                            next_retry = time.monotonic() + self.retry_every_s
                    else:
                        prepared = False
                except Exception:
                    log.exception("subscriber %s round failed; the next one runs", sub.name)
                    prepared = False
                    time.sleep(self.poll_s)
                if read:
                    self.stopping.wait(_gap(self.batch_gap_s, read))
                    continue
                # the relay of this process wakes us when it published; look on our own only
                # as often as needed to notice a relay in another process (or the retry timer)
                wake.wait(self.retry_every_s if self.leading_relay else self.poll_s)
                wake.clear()
        finally:
            _subscriber_wakes.remove(wake)
            self._give_up(lease)

    def _consume(self, sub: Subscriber) -> int:
        if self.backend is None:
            return embedded.consume_once(self.engine, sub, limit=SUBSCRIBER_BATCH)
        read: int = self.backend.consume_once(self.engine, sub, limit=SUBSCRIBER_BATCH)
        return read

    @staticmethod
    def _give_up(lease: Lease) -> None:
        try:
            lease.give_up()
        except Exception:
            log.exception("could not give up lease %s", lease.name)


def load_plugins(settings: Settings) -> None:
    """Import each module named in ``ORDERHUB_PLUGINS`` and call its ``register()`` (a plug-in
    subscriber registers itself with ``bus.subscribers.register``)."""
    for name in filter(None, (n.strip() for n in settings.plugins.split(","))):
        importlib.import_module(name).register()


def start_worker(
    engine: Engine, settings: Settings, *, relay: bool = True, names: list[str] | None = None
) -> BusWorker:
    """A started worker for the configured backend (``ORDERHUB_BUS_URL``)."""
    backend = None
    if settings.bus_url not in ("", "embedded"):
        from orderhub.bus.nats import NatsBackend  # only deployments on NATS need nats-py loaded

        backend = NatsBackend(settings.bus_url, stream=settings.bus_stream, replicas=settings.bus_replicas)
    if names is None and settings.bus_subscribers:
        names = [n.strip() for n in settings.bus_subscribers.split(",") if n.strip()]
    options: dict[str, Any] = {
        "backend": backend,
        "relay": relay,
        "names": names,
        "poll_s": settings.bus_poll_s,
        "batch_gap_s": settings.bus_batch_gap_s,
    }
    if engine.dialect.name != "postgresql":  # SQLite: one writer, so share the app's writer queue
        return BusWorker(engine, **options).start()
    # its own connections, whose commits need not wait for the WAL flush (see create_db_engine)
    own = create_db_engine(engine.url.render_as_string(hide_password=False), pool_size=4, relaxed_commit=True)
    worker = BusWorker(own, **options)
    worker.owns_engine = True
    return worker.start()
