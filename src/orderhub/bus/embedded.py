"""The embedded backend's subscriber side: read the published log by position."""

from __future__ import annotations

from sqlalchemy import Engine

from orderhub.bus import store
from orderhub.bus.consumer import HandlerFailed, OffsetMoved, apply
from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import utcnow
from orderhub.platform.db import one_statement, unit_of_work

BACKEND = "embedded"


def consume_once(engine: Engine, sub: Subscriber, *, limit: int = 1000) -> int:
    """Apply the next batch of events to ``sub``; returns how many events were read."""
    try:
        return _consume(engine, sub, limit=limit, safe=False)
    except HandlerFailed:
        return _consume(engine, sub, limit=limit, safe=True)
    except OffsetMoved:
        return 0


def _consume(engine: Engine, sub: Subscriber, *, limit: int, safe: bool) -> int:
    with one_statement(engine) as conn:  # a cheap look first (one round trip; SQLite has one writer)
        seen, upto = store.peek(conn, subscriber=sub.name, backend=BACKEND)
    if seen is not None and seen >= upto:
        return 0
    now = utcnow()
    with unit_of_work(engine) as conn:
        if seen is not None and conn.dialect.name == "postgresql":
            offset = seen
            rows = store.lock_and_read(
                conn, subscriber=sub.name, backend=BACKEND, upto=upto, types=sub.types, limit=limit
            )
        else:
            # the offset is locked (SQLite: the one writer), so a second reader waits and then
            # starts where this one ended; ``upto`` may be a little old by then: a shorter batch
            found = store.get_offset(conn, subscriber=sub.name, backend=BACKEND, for_update=True)
            if found is None:
                found = 0 if sub.start == "beginning" else upto
                store.init_offset(conn, subscriber=sub.name, backend=BACKEND, position=found, at=now)
            offset = found
            if offset >= upto:
                return 0
            rows = store.events_after(
                conn, position=offset, upto=upto, types=sub.types, limit=limit, subscriber=sub.name
            )
        wanted = [r for r in rows if r.id is not None]  # the window's events of handled types
        blocked = {r.aggregate_id for r in wanted if r.blocked}
        apply(conn, sub, [store.to_event(r) for r in wanted], now=now, safe=safe, blocked=blocked, redelivered=False)
        new = rows[-1].position if len(rows) == limit else upto
        if not store.move_offset(conn, subscriber=sub.name, backend=BACKEND, old=offset, new=new, at=now):
            raise OffsetMoved(sub.name)
        return len(rows)
