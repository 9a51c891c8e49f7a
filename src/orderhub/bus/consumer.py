"""Applying events to a subscriber, once each, in order per aggregate — for every backend.

A batch is applied in one transaction that also records each event id as processed (the
idempotency guard) and moves the subscriber's offset, so a crash anywhere leaves either all of
it or none. The fast path runs the handlers straight; if one raises, the transaction is rolled
back and the batch runs again with a savepoint per event: the failing event is recorded for
retry, later events of its aggregate are parked behind it, and every other aggregate goes on.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.bus import failures, store
from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, NotFound
from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work

log = logging.getLogger("orderhub.bus")
alerts = logging.getLogger("orderhub.alerts")
MAX_ERROR = 2000


class HandlerFailed(Exception):
    """A handler raised on the fast path: run the batch again, event by event."""


class OffsetMoved(Exception):
    """Another reader moved this subscriber's offset meanwhile (a lease changed hands)."""


def backoff(sub: Subscriber, attempts: int) -> timedelta:
    """Exponential back-off with jitter: base × 2^(attempts−1), scaled by a random 50–100 %."""
    return timedelta(seconds=sub.backoff_s * 2 ** (attempts - 1) * random.uniform(0.5, 1.0))


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]


def _record(
    conn: Connection, sub: Subscriber, event: DomainEvent, *, status: str, attempts: int, error: str, now: datetime
) -> None:
    failures.insert_failure(
        conn,
        subscriber=sub.name,
        event_id=event.id,
        event_type=event.type,
        aggregate_id=event.aggregate_id,
        status=status,
        attempts=attempts,
        error=error,
        next_attempt_at=now + backoff(sub, attempts) if status == "retrying" else None,
        created_at=now,
        updated_at=now,
    )


def _fail(conn: Connection, sub: Subscriber, event: DomainEvent, exc: BaseException, now: datetime) -> None:
    log.warning("subscriber %s failed on %s (%s): %s", sub.name, event.id, event.type, exc)
    dead = sub.max_attempts <= 1
    if dead:
        alerts.warning("subscriber %s gave up on event %s (%s) at once: %s", sub.name, event.id, event.type, exc)
    _record(conn, sub, event, status="dead" if dead else "retrying", attempts=1, error=_error_text(exc), now=now)


def _park(conn: Connection, sub: Subscriber, event: DomainEvent, now: datetime) -> None:
    error = "waiting behind an earlier failed event of the same aggregate"
    _record(conn, sub, event, status="parked", attempts=0, error=error, now=now)


def apply(
    conn: Connection,
    sub: Subscriber,
    events: list[DomainEvent],
    *,
    now: datetime,
    safe: bool,
    blocked: set[str] | None = None,
    redelivered: bool = True,
) -> int:
    """Apply ``events`` (in order) inside the caller's transaction; returns how many took effect.

    ``blocked``: aggregates with an open failure, when the caller already knows them (else one
    query). ``redelivered=False``: the caller guarantees each event reaches it once (the
    embedded reader reads strictly after its locked offset and moves it in this transaction),
    so the offset is the idempotency guard: processed ids are neither looked up nor recorded.
    A backend that can redeliver (NATS) passes ``True``."""
    if not events:
        return 0
    done = store.processed_among(conn, subscriber=sub.name, ids=[e.id for e in events]) if redelivered else set()
    if blocked is None:
        blocked = failures.blocked_aggregates(
            conn, subscriber=sub.name, aggregate_ids=sorted({e.aggregate_id for e in events})
        )
    ready = []
    for event in events:
        if event.id in done or not sub.handles(event.type):
            continue
        if event.aggregate_id in blocked:
            _park(conn, sub, event, now)
        else:
            ready.append(event)
    if not safe and sub.handle_batch is not None:
        try:
            sub.handle_batch(conn, ready)
        except Exception as exc:
            raise HandlerFailed(ready[0].id if ready else "") from exc
        applied = ready
    else:
        applied = []
        for event in ready:
            if event.aggregate_id in blocked:  # an earlier event of its aggregate failed just now
                _park(conn, sub, event, now)
                continue
            try:
                if safe:
                    with conn.begin_nested():
                        sub.handle(conn, event)
                else:
                    sub.handle(conn, event)
            except Exception as exc:
                if not safe:
                    raise HandlerFailed(event.id) from exc
                _fail(conn, sub, event, exc, now)
                blocked.add(event.aggregate_id)
                continue
            applied.append(event)
    if redelivered:
        store.mark_processed(conn, subscriber=sub.name, ids=[e.id for e in applied], at=now)
    return len(applied)


# -- retries, replay, discard -------------------------------------------------------------
def _settle(conn: Connection, sub: Subscriber, failure: dict[str, Any], *, now: datetime, manual: bool) -> bool:
    """Try a failed event again; on success release what was parked behind it (in order)."""
    event = store.events_by_id(conn, [failure["event_id"]]).get(failure["event_id"])
    attempts = failure["attempts"] + 1
    try:
        if event is None:
            raise LookupError(f"event {failure['event_id']} is no longer in the outbox")
        with conn.begin_nested():
            sub.handle(conn, event)
    except Exception as exc:
        dead = (attempts >= sub.max_attempts and not manual) or (failure["status"] == "dead" and manual)
        failures.update_failure(
            conn,
            failure["id"],
            attempts=attempts,
            error=_error_text(exc),
            status="dead" if dead else "retrying",
            next_attempt_at=None if dead else now + backoff(sub, attempts),
            updated_at=now,
        )
        if dead and not manual:
            alerts.warning(
                "subscriber %s gave up on event %s (%s) after %d attempts: %s",
                sub.name,
                failure["event_id"],
                failure["event_type"],
                attempts,
                exc,
            )
        return False
    failures.update_failure(conn, failure["id"], attempts=attempts, status="resolved", error="", updated_at=now)
    store.mark_processed(conn, subscriber=sub.name, ids=[failure["event_id"]], at=now)
    _drain(conn, sub, failure["aggregate_id"], now=now)
    return True


def _drain(conn: Connection, sub: Subscriber, aggregate_id: str, *, now: datetime) -> None:
    """Apply the events parked behind a settled failure, in order, until one fails."""
    for parked in failures.parked_behind(conn, subscriber=sub.name, aggregate_id=aggregate_id):
        event = store.events_by_id(conn, [parked["event_id"]]).get(parked["event_id"])
        try:
            if event is None:
                raise LookupError(f"event {parked['event_id']} is no longer in the outbox")
            with conn.begin_nested():
                sub.handle(conn, event)
        except Exception as exc:
            failures.update_failure(
                conn,
                parked["id"],
                status="retrying",
                attempts=1,
                error=_error_text(exc),
                next_attempt_at=now + backoff(sub, 1),
                updated_at=now,
            )
            return
        failures.update_failure(conn, parked["id"], status="resolved", error="", updated_at=now)
        store.mark_processed(conn, subscriber=sub.name, ids=[parked["event_id"]], at=now)


def retry_due(engine: Engine, sub: Subscriber) -> int:
    """Retry the failures whose back-off has passed; each in its own transaction."""
    now = utcnow()
    with unit_of_work(engine, write=False) as conn:
        due = failures.due_failures(conn, subscriber=sub.name, now=now)
    settled = 0
    for failure in due:
        with unit_of_work(engine) as conn:
            current = failures.get_failure(conn, failure["id"], for_update=True)
            if current is None or current["status"] != "retrying":
                continue
            settled += _settle(conn, sub, current, now=now, manual=False)
    return settled


def replay(engine: Engine, sub: Subscriber, failure_id: int) -> bool:
    """Staff replay a failed (retrying or dead) event now. True when it took effect."""
    with unit_of_work(engine) as conn:
        failure = _open_failure(conn, failure_id, sub)
        return _settle(conn, sub, failure, now=utcnow(), manual=True)


def discard(engine: Engine, sub: Subscriber, failure_id: int, *, actor: str) -> None:
    """Staff close a failed event without applying it; what was parked behind it goes on."""
    now = utcnow()
    with unit_of_work(engine) as conn:
        failure = _open_failure(conn, failure_id, sub)
        failures.update_failure(
            conn,
            failure_id,
            status="discarded",
            error=f"{failure['error']} (discarded by {actor})"[:MAX_ERROR],
            updated_at=now,
        )
        _drain(conn, sub, failure["aggregate_id"], now=now)


def _open_failure(conn: Connection, failure_id: int, sub: Subscriber) -> dict[str, Any]:
    failure = failures.get_failure(conn, failure_id, for_update=True)
    if failure is None or failure["subscriber"] != sub.name:
        raise NotFound(f"no failed event {failure_id}", code="bus_failure_not_found")
    if failure["status"] not in ("retrying", "dead"):
        raise Conflict(
            f"failed event {failure_id} is {failure['status']}",
            code="bus_failure_closed",
            failure_status=failure["status"],
        )
    return failure
