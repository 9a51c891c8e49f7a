"""The outbox table (Debezium outbox-router shape): written in the caller's transaction."""

from __future__ import annotations

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
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("published_at", UtcDateTime(), nullable=True),
)


def insert_events(conn: Connection, events: list[DomainEvent]) -> None:
    conn.execute(
        outbox.insert(),
        [
            {
                "id": e.id,
                "aggregate_type": e.aggregate_type,
                "aggregate_id": e.aggregate_id,
                "type": e.type,
                "payload": {"actor": e.actor, **e.data},
                "occurred_at": e.occurred_at,
            }
            for e in events
        ],
    )
