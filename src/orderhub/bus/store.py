"""The outbox: every domain event, written in the transaction of the change it describes.

Shaped like Debezium's outbox router (id, aggregate type, aggregate id, type, payload); the
aggregate id keys per-aggregate ordering on the bus, the id de-duplicates deliveries. Rows are
kept after the relay publishes them (``published_at``): the outbox is also the event store an
aggregate's history is read from — an order's audit trail is its outbox rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.events import DomainEvent
from orderhub.platform.db import UtcDateTime, metadata

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("aggregate_type", sa.String(40), nullable=False),
    sa.Column("aggregate_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("published_at", UtcDateTime(), nullable=True),
    sa.Index("ix_outbox_aggregate", "aggregate_type", "aggregate_id", "seq"),
    sa.Index("ix_outbox_unpublished", "published_at", "seq"),
)

_insert = outbox.insert()
_history = (
    sa.select(outbox)
    .where(outbox.c.aggregate_type == sa.bindparam("type"), outbox.c.aggregate_id == sa.bindparam("id"))
    .order_by(outbox.c.seq)
)


def insert_events(conn: Connection, events: list[DomainEvent], *, published_at: datetime | None = None) -> None:
    conn.execute(
        _insert,
        [
            {
                "id": e.id,
                "aggregate_type": e.aggregate_type,
                "aggregate_id": e.aggregate_id,
                "type": e.type,
                "actor": e.actor,
                "payload": e.data,
                "occurred_at": e.occurred_at,
                "published_at": published_at,
            }
            for e in events
        ],
    )


def get_events(conn: Connection, aggregate_type: str, aggregate_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(_history, {"type": aggregate_type, "id": aggregate_id}).mappings()]


def events_of_type(conn: Connection, type: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    stmt = (
        sa.select(outbox.c.payload)
        .where(outbox.c.type == type, outbox.c.occurred_at >= start, outbox.c.occurred_at < end)
        .order_by(outbox.c.seq)
    )
    return [dict(r) for r in conn.execute(stmt).scalars()]
