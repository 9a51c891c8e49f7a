"""The NATS JetStream backend: the relay publishes to a stream, subscribers pull from it.

The database stays the truth. A subscriber's offset (the last stream sequence it applied) is
moved in the transaction that applies the events, and messages are acknowledged only after that
commits; JetStream's own ack state is a hint, never trusted: ``prepare`` (re)creates the durable
consumer to start right after the database offset, and ``consume_once`` starts over from there
whenever the delivery looks wrong (a gap in the consumer's delivery sequence, a failed batch).
Redelivered messages at or below the offset are dropped; the processed ids catch the rest.

Each event goes to ``orderhub.<type>.<aggregate id>``, so a subscriber filters by type
(``orderhub.<type>.*``) and order holds per aggregate. The relay publishes in waves with at most
one event per aggregate each and stops at the first wave with a failure, so an event is never in
the stream before its predecessor of the same aggregate.

nats-py is asyncio; the worker's threads are not. The backend owns one event loop in a thread
of its own, and every call into it is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import APIError, NotFoundError
from sqlalchemy import Engine

from orderhub.bus import store
from orderhub.bus.consumer import HandlerFailed, OffsetMoved, apply
from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import utcnow
from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work

log = logging.getLogger("orderhub.bus")
alerts = logging.getLogger("orderhub.alerts")

BACKEND = "nats"
PREFIX = "orderhub"
MSG_ID = "Nats-Msg-Id"
AGGREGATE_HEADER = "Orderhub-Aggregate-Id"
DUPLICATE_WINDOW_S = 120.0
WARN_EVERY_S = 5.0
STREAM_IN_USE = 10058  # JetStream: "stream name already in use with a different configuration"

_NOT_IN_A_TOKEN = re.compile(r"[\s.*>\x00-\x1f\x7f]")
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_-]")
T = TypeVar("T")


def token(text: str) -> str:
    """``text`` as one subject token: NATS forbids whitespace, ``.``, ``*`` and ``>`` in one."""
    return _NOT_IN_A_TOKEN.sub("_", text) or "_"


def subject_of(event: DomainEvent) -> str:
    """``orderhub.<type>.<aggregate id>``: ``order.captured`` keeps its dots (two tokens)."""
    return ".".join([PREFIX, *(token(t) for t in event.type.split(".")), token(event.aggregate_id)])


def filters_of(types: frozenset[str] | None) -> list[str]:
    """The subjects a subscriber of ``types`` reads (every event when None)."""
    if types is None:
        return [f"{PREFIX}.>"]
    return [".".join([PREFIX, *(token(t) for t in type.split(".")), "*"]) for type in sorted(types)]


def consumer_name(subscriber: str) -> str:
    return _NOT_IN_A_NAME.sub("_", subscriber) or "_"


def waves(events: list[DomainEvent]) -> list[list[DomainEvent]]:
    """Split ``events`` so that wave *k* holds each aggregate's *k*-th event (in order)."""
    out: list[list[DomainEvent]] = []
    seen: dict[str, int] = {}
    for event in events:
        k = seen.get(event.aggregate_id, 0)
        seen[event.aggregate_id] = k + 1
        if k == len(out):
            out.append([])
        out[k].append(event)
    return out


@dataclass
class _Reader:
    """A subscriber's pull subscription and the last delivery sequence it saw."""

    psub: JetStreamContext.PullSubscription
    last_delivered: int = 0
    last_stream_seq: int = 0


@dataclass(frozen=True, slots=True)
class _Delivery:
    stream_seq: int
    event: DomainEvent | None  # None: not an OrderHub event (logged, skipped)


class NatsBackend:
    """A bus backend on NATS JetStream. ``servers``: ``nats://a:4222,nats://b:4222`` or a list.
    Thread-safe: the relay and every subscriber thread may call it at once."""

    def __init__(
        self,
        servers: str | list[str],
        *,
        stream: str = "ORDERHUB",
        replicas: int = 1,
        timeout_s: float = 5.0,
        publish_timeout_s: float = 2.0,
        fetch_timeout_s: float = 0.5,
        ack_wait_s: float = 10.0,
        max_ack_pending: int = 20_000,
    ) -> None:
        self.servers = [s.strip() for s in servers.split(",") if s.strip()] if isinstance(servers, str) else servers
        self.stream = stream
        self.replicas = replicas
        self.timeout_s = timeout_s
        self.publish_timeout_s = publish_timeout_s
        self.fetch_timeout_s = fetch_timeout_s
        self.ack_wait_s = ack_wait_s
        self.max_ack_pending = max_ack_pending
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._stream_ready = False
        self._connecting: asyncio.Lock | None = None
        self._readers: dict[str, _Reader] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._quiet_until = 0.0

    # -- the event loop thread ----------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the backend's loop and wait at most ``timeout`` seconds for it."""
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="bus-nats-loop", daemon=True)
                self._thread.start()
                self._loop = loop
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    async def _jetstream(self) -> JetStreamContext:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._js is None:
                self._nc = await nats.connect(
                    servers=self.servers,
                    name="orderhub-bus",
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.25,
                    connect_timeout=2,
                    ping_interval=5,
                    max_outstanding_pings=2,
                    error_cb=_on_error,
                    disconnected_cb=_on_disconnect,
                    reconnected_cb=_on_reconnect,
                )
                self._js = self._nc.jetstream(timeout=self.timeout_s)
            if not self._stream_ready:
                await self._ensure_stream(self._js)
                self._stream_ready = True
            return self._js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Create the stream, or bring an existing one to this configuration (idempotent)."""
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{PREFIX}.>"],
            storage=StorageType.FILE,
            num_replicas=self.replicas,
            duplicate_window=DUPLICATE_WINDOW_S,
        )
        try:
            await js.add_stream(config)
        except APIError as exc:
            if exc.err_code != STREAM_IN_USE:
                raise
            await js.update_stream(config)

    async def _stream_info(self) -> StreamInfo:
        js = await self._jetstream()
        return await js.stream_info(self.stream)

    def stream_info(self) -> StreamInfo:
        """The stream's configuration, state and (in a cluster) leader."""
        return self._run(self._stream_info(), self.timeout_s * 2)

    # -- the relay's side ---------------------------------------------------------------------
    @property
    def sink(self) -> NatsBackend:
        """What the relay sends to (``relay_once(engine, sink=backend.sink)``)."""
        return self

    def send(self, events: list[DomainEvent]) -> list[DomainEvent]:
        """Publish ``events`` (in outbox order); returns those JetStream stored, in that order.
        Never returns an event without every earlier event of its aggregate in ``events``."""
        if not events:
            return []
        budget = self.timeout_s * 2 + self.publish_timeout_s * len(events)
        stored = self._run(self._send(events), budget)
        return [e for e in events if e.id in stored]

    async def _send(self, events: list[DomainEvent]) -> set[str]:
        try:
            js = await self._jetstream()
        except Exception as exc:
            self._warn("cannot reach JetStream to publish %d events: %s", len(events), exc)
            return set()
        stored: set[str] = set()
        for wave in waves(events):
            results = await asyncio.gather(*(self._publish(js, e) for e in wave), return_exceptions=True)
            failed = [(e, r) for e, r in zip(wave, results, strict=True) if isinstance(r, BaseException)]
            stored.update(e.id for e, r in zip(wave, results, strict=True) if not isinstance(r, BaseException))
            if failed:
                event, error = failed[0]
                self._warn("publishing %d of %d events failed (first %s: %r)", len(failed), len(wave), event.id, error)
                break
        return stored

    def _warn(self, msg: str, *args: Any) -> None:
        """A warning at most every few seconds: the relay retries a failing bus every poll."""
        now = time.monotonic()
        if now >= self._quiet_until:
            self._quiet_until = now + WARN_EVERY_S
            log.warning(msg, *args)
        else:
            log.debug(msg, *args)

    async def _publish(self, js: JetStreamContext, event: DomainEvent) -> None:
        # the asynchronous publish: no reply subscription per message (JetStream's ack arrives
        # on one shared inbox), bounded by the publish timeout all the same
        ack = await js.publish_async(
            subject_of(event),
            json.dumps(event.as_cloudevent(), separators=(",", ":")).encode(),
            wait_stall=self.publish_timeout_s,
            stream=self.stream,
            headers={MSG_ID: event.id, AGGREGATE_HEADER: event.aggregate_id},
        )
        await asyncio.wait_for(ack, self.publish_timeout_s)

    # -- the subscribers' side ----------------------------------------------------------------
    def prepare(self, engine: Engine, sub: Subscriber) -> None:
        """Start ``sub``'s durable consumer right after its database offset (created as the
        stream's end for a ``latest`` subscriber, 0 for ``beginning``)."""
        self._forget(sub.name)
        info = self.stream_info()
        with unit_of_work(engine) as conn:
            offset = store.get_offset(conn, subscriber=sub.name, backend=BACKEND, for_update=True)
            if offset is None:
                offset = info.state.last_seq if sub.start == "latest" else 0
                store.init_offset(conn, subscriber=sub.name, backend=BACKEND, position=offset, at=utcnow())
        psub = self._run(self._subscribe(sub, offset), self.timeout_s * 3)
        self._readers[sub.name] = _Reader(psub, last_stream_seq=offset)

    async def _subscribe(self, sub: Subscriber, offset: int) -> JetStreamContext.PullSubscription:
        js = await self._jetstream()
        name = consumer_name(sub.name)
        try:  # JetStream's ack state is not the truth: start over from the database offset
            await js.delete_consumer(self.stream, name)
        except NotFoundError:
            pass
        await js.add_consumer(
            self.stream,
            ConsumerConfig(
                name=name,
                durable_name=name,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=offset + 1,
                ack_policy=AckPolicy.ALL,  # acknowledging a batch's last message acknowledges the batch
                ack_wait=self.ack_wait_s,
                max_ack_pending=self.max_ack_pending,
                filter_subjects=filters_of(sub.types),
            ),
        )
        return await js.pull_subscribe_bind(durable=name, stream=self.stream)

    def _forget(self, name: str) -> None:
        reader = self._readers.pop(name, None)
        if reader is not None:
            try:
                self._run(reader.psub.unsubscribe(), self.timeout_s)
            except Exception as exc:  # the connection may be gone; the consumer is replaced anyway
                log.debug("unsubscribing %s: %s", name, exc)

    def consume_once(self, engine: Engine, sub: Subscriber, *, limit: int = 500) -> int:
        """Apply the next messages (up to ``limit``) to ``sub``; returns how many were read.
        Acknowledges them only after the transaction that applied them committed."""
        reader = self._readers.get(sub.name)
        if reader is None:
            self.prepare(engine, sub)
            reader = self._readers[sub.name]
        msgs = self._run(self._fetch(reader.psub, limit), self.fetch_timeout_s + self.timeout_s)
        if not msgs:
            return 0
        seen = _in_order(reader, msgs)
        if seen is None:
            log.info("subscriber %s: delivery out of sequence; resuming from the database offset", sub.name)
            self.prepare(engine, sub)
            return len(msgs)  # read, not applied: the caller comes back at once
        deliveries = [_decode(m) for m in msgs]
        try:
            try:
                _commit(engine, sub, deliveries, safe=False)
            except HandlerFailed:
                _commit(engine, sub, deliveries, safe=True)
        except BaseException:
            self._forget(sub.name)  # unacknowledged: the next round starts from the database offset
            raise
        reader.last_delivered, reader.last_stream_seq = seen
        try:
            self._run(_ack(msgs), self.timeout_s)
        except Exception as exc:  # applied and committed: JetStream redelivers, the offset drops them
            log.warning("subscriber %s: acknowledging %d messages failed: %s", sub.name, len(msgs), exc)
        return len(msgs)

    async def _fetch(self, psub: JetStreamContext.PullSubscription, limit: int) -> list[Msg]:
        try:
            return await psub.fetch(limit, timeout=self.fetch_timeout_s)
        except (TimeoutError, NatsTimeout):
            return []

    # -- shutting down ------------------------------------------------------------------------
    def close(self) -> None:
        """Drain the connection and stop the loop thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        readers = list(self._readers.values())
        self._readers.clear()
        try:
            # a pull subscription left behind a timed-out fetch holds nats-py's drain for its
            # whole drain timeout: unsubscribe them first
            self._run(_unsubscribe(readers), self.timeout_s)
        except Exception as exc:
            log.warning("unsubscribing from NATS: %s", exc)
        try:
            self._run(self._drain(), self.timeout_s * 2)
        except Exception as exc:
            log.warning("closing the NATS connection: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(self.timeout_s)
        if not loop.is_running():
            loop.close()
        self._loop = self._thread = None

    async def _drain(self) -> None:
        nc, self._nc, self._js, self._stream_ready = self._nc, None, None, False
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.drain(), self.timeout_s)
            except Exception:
                await nc.close()


def _in_order(reader: _Reader, msgs: list[Msg]) -> tuple[int, int] | None:
    """The last delivery and stream sequences after ``msgs`` if every message is the consumer's
    next delivery and new ones keep stream order; None otherwise: a gap means messages were lost
    on the way (a node died mid-fetch), and later ones must not overtake them."""
    applied = reader.last_stream_seq
    delivered, seq = reader.last_delivered, applied
    for msg in msgs:
        pair = msg.metadata.sequence
        if pair.consumer != delivered + 1:
            return None
        delivered = pair.consumer
        if pair.stream > seq:
            seq = pair.stream
        elif pair.stream > applied:  # not applied yet, yet behind a later one
            return None
    return delivered, seq


def _decode(msg: Msg) -> _Delivery:
    seq = msg.metadata.sequence.stream
    try:
        return _Delivery(seq, DomainEvent.from_cloudevent(json.loads(msg.data)))
    except (ValueError, KeyError, TypeError) as exc:
        alerts.error("stream message %d on %s is not an OrderHub event, skipped: %s", seq, msg.subject, exc)
        return _Delivery(seq, None)


def _commit(engine: Engine, sub: Subscriber, deliveries: list[_Delivery], *, safe: bool) -> None:
    """Apply what is past the offset and move the offset, in one transaction."""
    now = utcnow()
    with unit_of_work(engine) as conn:
        offset = store.get_offset(conn, subscriber=sub.name, backend=BACKEND, for_update=True)
        if offset is None:
            raise OffsetMoved(sub.name)
        fresh = [d for d in deliveries if d.stream_seq > offset]
        if not fresh:
            return  # all redelivered: applied before
        apply(conn, sub, [d.event for d in fresh if d.event is not None], now=now, safe=safe)
        last = max(d.stream_seq for d in fresh)
        if not store.move_offset(conn, subscriber=sub.name, backend=BACKEND, old=offset, new=last, at=now):
            raise OffsetMoved(sub.name)


async def _unsubscribe(readers: list[_Reader]) -> None:
    for reader in readers:
        await reader.psub.unsubscribe()


async def _ack(msgs: list[Msg]) -> None:
    """Acknowledge a batch (ack policy ``all``: its last message stands for every one before)."""
    if msgs:
        await msgs[-1].ack()


async def _on_error(exc: Exception) -> None:
    log.warning("NATS: %s", exc)


async def _on_disconnect() -> None:
    log.info("NATS: disconnected")


async def _on_reconnect() -> None:
    log.info("NATS: reconnected")
