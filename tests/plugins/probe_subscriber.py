"""A plug-in subscriber for the crash test and benchmarks (``ORDERHUB_PLUGINS``): it writes
one row per event it applies into ``probe_applied``, with the time it applied it. The table
has no unique key on purpose, so an event applied twice would show."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.bus import subscribers
from orderhub.core.clock import utcnow
from orderhub.core.events import DomainEvent

probe_meta = sa.MetaData()
probe_applied = sa.Table(
    "probe_applied",
    probe_meta,
    sa.Column("n", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("aggregate_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)
_insert = probe_applied.insert()


def handle(conn: Connection, event: DomainEvent) -> None:
    conn.execute(
        _insert, {"event_id": event.id, "aggregate_id": event.aggregate_id, "type": event.type, "applied_at": utcnow()}
    )


def handle_batch(conn: Connection, events: list[DomainEvent]) -> None:
    if events:
        at = utcnow()
        conn.execute(
            _insert,
            [{"event_id": e.id, "aggregate_id": e.aggregate_id, "type": e.type, "applied_at": at} for e in events],
        )


def register() -> None:
    subscribers.register(
        subscribers.Subscriber("probe", handle, start="beginning", description="test probe", handle_batch=handle_batch)
    )
