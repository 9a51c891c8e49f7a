"""Publishing: an event is written to the outbox in the same transaction as the change it
describes, so it is published if and only if the change commits."""

from __future__ import annotations

from sqlalchemy import Connection

from orderhub.bus import store
from orderhub.core.events import DomainEvent


def publish(conn: Connection, events: list[DomainEvent]) -> None:
    """Queue ``events`` for the bus inside the caller's open transaction (no-op if empty)."""
    if events:
        store.insert_events(conn, events)
