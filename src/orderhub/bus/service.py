"""The bus's use cases: publish inside the caller's transaction, read history, and look after
subscribers (their offsets, their failed events: list, replay, discard).

Publishing: an event is written to the outbox in the same transaction as the change it
describes, so it is published if and only if the change commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.bus import consumer, failures, store, subscribers
from orderhub.bus.worker import wake_relay
from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.events import DomainEvent
from orderhub.platform.db import after_commit, unit_of_work

FAILURE_STATUSES = ("retrying", "dead", "parked", "resolved", "discarded")


def publish(conn: Connection, events: list[DomainEvent]) -> None:
    """Queue ``events`` for the bus inside the caller's open transaction (no-op if empty).
    Once the transaction commits, this process's relay is woken to publish them at once."""
    if events:
        store.insert_events(conn, events)
        after_commit(conn, wake_relay)


def record_history(conn: Connection, events: list[DomainEvent], *, at: datetime) -> None:
    """Store past events (imports): part of the aggregate's history, never relayed as news."""
    if events:
        store.insert_events(conn, events, published_at=at)


def get_history(conn: Connection, *, aggregate_type: str, aggregate_id: str) -> list[dict[str, Any]]:
    """An aggregate's events in order: ``id, type, actor, occurred_at, data``."""
    return [
        {"id": r["id"], "type": r["type"], "actor": r["actor"], "occurred_at": r["occurred_at"], "data": r["payload"]}
        for r in store.get_events(conn, aggregate_type, aggregate_id)
    ]


def get_events_of_type(conn: Connection, *, type: str, start: Any, end: Any) -> list[dict[str, Any]]:
    """The payloads of every event of one type in a period (for reports)."""
    return store.events_of_type(conn, type, start, end)


# -- subscribers and their failures --------------------------------------------------------
def get_status(engine: Engine) -> dict[str, Any]:
    """The relay's backlog, every subscriber's offset and lag, failures by status."""
    with unit_of_work(engine, write=False) as conn:
        last = store.last_position(conn)
        backlog = store.backlog(conn)
        offsets = store.offsets(conn)
        by_status = failures.count_failures(conn)
    known = {s.name: s for s in subscribers.get_all()}
    rows = []
    for name in sorted(set(known) | {o["subscriber"] for o in offsets}):
        mine = [o for o in offsets if o["subscriber"] == name]
        embedded = next((o for o in mine if o["backend"] == "embedded"), None)
        sub = known.get(name)
        rows.append(
            {
                "name": name,
                "registered": sub is not None,
                "types": sorted(sub.types) if sub and sub.types is not None else None,
                "description": sub.description if sub else "",
                "offsets": {o["backend"]: o["position"] for o in mine},
                "lag": max(0, last - embedded["position"]) if embedded else None,
                "updated_at": max((o["updated_at"] for o in mine if o["updated_at"]), default=None),
            }
        )
    return {"last_position": last, "unpublished": backlog, "subscribers": rows, "failures": by_status}


def get_failures(
    engine: Engine,
    *,
    status: list[str] | None = None,
    subscriber: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Failed events, newest first (``before_id`` pages back)."""
    bad = [s for s in status or [] if s not in FAILURE_STATUSES]
    if bad:
        raise InvalidInput(
            f"unknown status {bad[0]!r}",
            errors=[{"parameter": "status", "detail": f"one of {', '.join(FAILURE_STATUSES)}"}],
        )
    with unit_of_work(engine, write=False) as conn:
        return failures.list_failures(conn, status=status, subscriber=subscriber, limit=limit, after_id=before_id)


def _subscriber_of(engine: Engine, failure_id: int) -> subscribers.Subscriber:
    with unit_of_work(engine, write=False) as conn:
        failure = failures.get_failure(conn, failure_id)
    if failure is None:
        raise NotFound(f"no failed event {failure_id}", code="bus_failure_not_found")
    sub = subscribers.get(failure["subscriber"])
    if sub is None:
        raise NotFound(
            f"subscriber {failure['subscriber']} is not registered in this process", code="subscriber_not_found"
        )
    return sub


def replay_failure(engine: Engine, *, failure_id: int) -> dict[str, Any]:
    """Apply a failed event again now; what waited behind it follows when it succeeds.
    Returns the failure as it is afterwards (``resolved`` or still failing, with the error)."""
    consumer.replay(engine, _subscriber_of(engine, failure_id), failure_id)
    return get_failure(engine, failure_id=failure_id)


def discard_failure(engine: Engine, *, failure_id: int, actor: str) -> dict[str, Any]:
    """Close a failed event without applying it; what waited behind it goes on."""
    consumer.discard(engine, _subscriber_of(engine, failure_id), failure_id, actor=actor)
    return get_failure(engine, failure_id=failure_id)


#: How long processed ids and closed failures are kept (the console's history of failures).
KEEP_PROCESSED = timedelta(days=7)
KEEP_CLOSED_FAILURES = timedelta(days=30)


def prune(engine: Engine) -> dict[str, int]:
    """Delete the bus's bookkeeping nobody needs any more (a daily schedule)."""
    now = utcnow()
    with unit_of_work(engine) as conn:
        return store.prune(conn, processed_before=now - KEEP_PROCESSED, closed_before=now - KEEP_CLOSED_FAILURES)


def get_failure(engine: Engine, *, failure_id: int) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        failure = failures.get_failure(conn, failure_id)
    if failure is None:
        raise NotFound(f"no failed event {failure_id}", code="bus_failure_not_found")
    return failure
