"""A live tail of the bus for pages that update themselves (server-sent events).

Subscribers are durable and run in one process at a time; a live page is neither: every API
process has its own open pages, and a page wants what is published *from now on* for one
aggregate. So each process runs one ``LiveTail``: a thread that follows the published log (one
indexed read per round, however many pages are open) and hands each event of the wanted types
to the asyncio queues listening for its aggregate. It wakes when this process's relay publishes
and otherwise looks every ``poll_s`` (a relay in another process). It reads only while some page
listens; with none open it only keeps up with the end of the log.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict

from sqlalchemy import Engine

from orderhub.bus import store, worker
from orderhub.bus.store import to_event
from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work

log = logging.getLogger("orderhub.bus")
QUEUE_SIZE = 100  # a page that falls this far behind skips events (it re-reads its view anyway)


class LiveTail:
    """Follow the log for ``types``; ``listen(aggregate_id)`` gives a queue of its events."""

    def __init__(self, engine: Engine, types: frozenset[str], *, poll_s: float = 0.05) -> None:
        self.engine, self.types, self.poll_s = engine, types, poll_s
        self._listeners: dict[str, set[asyncio.Queue[DomainEvent]]] = defaultdict(set)
        self._loops: dict[asyncio.Queue[DomainEvent], asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._position: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveTail:
        worker.on_publish(self._wake)
        self._thread = threading.Thread(target=self._run, name="bus-live-tail", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(5)

    def listen(self, aggregate_id: str) -> asyncio.Queue[DomainEvent]:
        """A queue that receives the events of ``aggregate_id`` published from now on (call
        from the event loop that will read it; ``forget`` it when the page goes)."""
        queue: asyncio.Queue[DomainEvent] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._listeners[aggregate_id].add(queue)
            self._loops[queue] = asyncio.get_running_loop()
        self._wake.set()
        return queue

    def forget(self, aggregate_id: str, queue: asyncio.Queue[DomainEvent]) -> None:
        with self._lock:
            self._listeners[aggregate_id].discard(queue)
            if not self._listeners[aggregate_id]:
                del self._listeners[aggregate_id]
            self._loops.pop(queue, None)

    @property
    def listening(self) -> int:
        with self._lock:
            return len(self._loops)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            try:
                while self._round():
                    pass
            except Exception:  # a page must never take the process down; the next round retries
                log.exception("live tail round failed")

    def _round(self) -> bool:
        """Read what was published since the last round; True when there may be more. With no
        page open it only keeps up with the end of the log (one tiny read), so a page that opens
        gets everything published after it asked."""
        with self._lock:
            idle = not self._listeners
        with unit_of_work(self.engine, write=False) as conn:
            last = store.last_position(conn)
            if idle or self._position is None:
                self._position = last
                return False
            if last <= self._position:
                return False
            rows = store.events_after(
                conn, position=self._position, upto=last, types=self.types, limit=1000, subscriber="live"
            )
        if rows:
            self._position = int(rows[-1].position)
            self._deliver([to_event(r) for r in rows if r.id is not None])
        return len(rows) == 1000

    def _deliver(self, events: list[DomainEvent]) -> None:
        with self._lock:
            targets = [(q, self._loops[q], e) for e in events for q in self._listeners.get(e.aggregate_id, ())]
        for queue, loop, event in targets:
            loop.call_soon_threadsafe(_offer, queue, event)


def _offer(queue: asyncio.Queue[DomainEvent], event: DomainEvent) -> None:
    if not queue.full():
        queue.put_nowait(event)
