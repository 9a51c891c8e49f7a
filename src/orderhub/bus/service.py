"""Publishing: an event is written to the outbox in the same transaction as the change it
describes, so it is published if and only if the change commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from orderhub.bus import store
from orderhub.core.events import DomainEvent


def publish(conn: Connection, events: list[DomainEvent]) -> None:
    """Queue ``events`` for the bus inside the caller's open transaction (no-op if empty)."""
    if events:
        store.insert_events(conn, events)


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
