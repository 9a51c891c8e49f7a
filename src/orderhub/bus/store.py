"""The bus's tables: the outbox (the log), subscriber offsets, processed event ids, failures.

The outbox is shaped like Debezium's outbox router (id, aggregate type, aggregate id, type,
payload); the aggregate id keys per-aggregate ordering, the id de-duplicates deliveries. Rows
are kept after the relay publishes them: the outbox is also the event store an aggregate's
history is read from. The relay gives each committed event a ``position`` — a gap-free,
strictly increasing number in the order it published them — which embedded subscribers read
from; ``seq`` is the insert order, which a transaction that commits late does not respect.
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
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("position", sa.BigInteger, nullable=True),
    sa.Index("ix_outbox_aggregate", "aggregate_type", "aggregate_id", "seq"),
    sa.Index("ix_outbox_unpublished", "published_at", "seq"),
    sa.Index("uq_outbox_position", "position", unique=True),
)

#: Where each subscriber has read up to: an outbox position (embedded) or a stream sequence (nats).
bus_offsets = sa.Table(
    "bus_offsets",
    metadata,
    sa.Column("subscriber", sa.String(80), primary_key=True),
    sa.Column("backend", sa.String(20), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", UtcDateTime(), nullable=True),
)

#: Every event a subscriber applied, written in the transaction that applied it: the
#: idempotency guard (a redelivery finds its id here and is skipped).
bus_processed = sa.Table(
    "bus_processed",
    metadata,
    sa.Column("subscriber", sa.String(80), primary_key=True),
    sa.Column("event_id", sa.String(40), primary_key=True),
    sa.Column("processed_at", UtcDateTime(), nullable=False),
)

#: Events a subscriber could not apply: retrying (with back-off), dead (retries used up,
#: waiting for staff), parked (behind an earlier failure of the same aggregate), resolved
#: (applied on a retry or replay), discarded (closed by staff without applying).
bus_failures = sa.Table(
    "bus_failures",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("subscriber", sa.String(80), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("aggregate_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("subscriber", "event_id", name="uq_bus_failures_subscriber_event"),
    sa.Index("ix_bus_failures_open", "subscriber", "status", "aggregate_id"),
)

OPEN = ("retrying", "dead", "parked")

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
                "version": e.version,
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


def to_event(row: Any) -> DomainEvent:
    return DomainEvent(
        type=row.type,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        data=row.payload,
        actor=row.actor,
        occurred_at=row.occurred_at,
        id=row.id,
        version=row.version,
    )


# -- the relay --------------------------------------------------------------------------
_EVENT_COLUMNS = (
    outbox.c.seq,
    outbox.c.id,
    outbox.c.aggregate_type,
    outbox.c.aggregate_id,
    outbox.c.type,
    outbox.c.actor,
    outbox.c.payload,
    outbox.c.occurred_at,
    outbox.c.version,
)


def unpublished(conn: Connection, *, limit: int, lock: bool) -> list[Any]:
    """The oldest events not yet published, in insert order (per aggregate, commit order:
    an aggregate's writers queue on its row lock). ``lock`` skips rows another relay holds."""
    stmt = sa.select(*_EVENT_COLUMNS).where(outbox.c.published_at.is_(None)).order_by(outbox.c.seq).limit(limit)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(conn.execute(stmt))


# Statements of the hot path are built once (building one costs more than running it).
_has_unpublished = sa.select(outbox.c.seq).where(outbox.c.published_at.is_(None)).limit(1)
_last_position = sa.select(sa.func.coalesce(sa.func.max(outbox.c.position), 0))


def has_unpublished(conn: Connection) -> bool:
    return conn.execute(_has_unpublished).first() is not None


def last_position(conn: Connection) -> int:
    return int(conn.execute(_last_position).scalar_one())


def publish_next(conn: Connection, *, limit: int, at: datetime) -> int:
    """Publish the oldest ``limit`` unpublished events in one statement: each gets the next
    position in insert order. On PostgreSQL rows another relay holds are skipped; the unique
    index on position refuses a second relay racing for the same numbers."""
    lock = "FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    rows = conn.execute(
        sa.text(
            f"""
            WITH batch AS (
                SELECT seq FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT :limit {lock}
            ), numbered AS (
                SELECT seq, row_number() OVER (ORDER BY seq) AS rn FROM batch
            )
            UPDATE outbox SET
                position = (SELECT coalesce(max(position), 0) FROM outbox) + numbered.rn,
                published_at = :at
            FROM numbered WHERE outbox.seq = numbered.seq
            """
        ).bindparams(sa.bindparam("at", type_=UtcDateTime())),
        {"limit": limit, "at": at},
    )
    return int(rows.rowcount)


def mark_published(conn: Connection, seqs: list[int], *, first_position: int, at: datetime) -> None:
    """Give ``seqs`` (in publication order) consecutive positions from ``first_position``.
    The unique index on position refuses a second relay racing for the same numbers."""
    conn.execute(
        outbox.update().where(outbox.c.seq == sa.bindparam("s")).values(position=sa.bindparam("p"), published_at=at),
        [{"s": seq, "p": first_position + i} for i, seq in enumerate(seqs)],
    )


# -- subscribers --------------------------------------------------------------------------
_this_offset = (bus_offsets.c.subscriber == sa.bindparam("sub")) & (bus_offsets.c.backend == sa.bindparam("b_backend"))
_peek = sa.select(
    sa.select(bus_offsets.c.position).where(_this_offset).scalar_subquery(),
    _last_position.scalar_subquery(),
)
_blocked = (
    sa.select(bus_failures.c.id)
    .where(
        bus_failures.c.subscriber == sa.bindparam("sub"),
        bus_failures.c.status.in_(OPEN),
        bus_failures.c.aggregate_id == outbox.c.aggregate_id,
    )
    .exists()
    .label("blocked")
)
_after = (
    sa.select(*_EVENT_COLUMNS, outbox.c.position, _blocked)
    .where(outbox.c.position > sa.bindparam("position"), outbox.c.position <= sa.bindparam("upto"))
    .order_by(outbox.c.position)
    .limit(sa.bindparam("limit"))
)
_after_of_types = _after.where(outbox.c.type.in_(sa.bindparam("types", expanding=True)))


def peek(conn: Connection, *, subscriber: str, backend: str) -> tuple[int | None, int]:
    """A subscriber's offset (None before its first read) and the last published position, in
    one round trip."""
    row = conn.execute(_peek, {"sub": subscriber, "b_backend": backend}).one()
    return (None if row[0] is None else int(row[0])), int(row[1])


def events_after(
    conn: Connection, *, position: int, upto: int, types: frozenset[str] | None, limit: int, subscriber: str
) -> list[Any]:
    """Published events in (position, upto], of ``types`` (all when None), in position order,
    each with ``blocked``: whether its aggregate has an open failure for ``subscriber``."""
    params: dict[str, Any] = {"position": position, "upto": upto, "limit": limit, "sub": subscriber}
    if types is None:
        return list(conn.execute(_after, params))
    return list(conn.execute(_after_of_types, {**params, "types": sorted(types)}))


def events_by_id(conn: Connection, ids: list[str]) -> dict[str, DomainEvent]:
    rows = conn.execute(sa.select(*_EVENT_COLUMNS).where(outbox.c.id.in_(ids)))
    return {r.id: to_event(r) for r in rows}


_offset = sa.select(bus_offsets.c.position).where(_this_offset)
_offset_locked = _offset.with_for_update()
_move_offset = (
    bus_offsets.update()
    .where(_this_offset, bus_offsets.c.position == sa.bindparam("old"))
    .values(position=sa.bindparam("new"), updated_at=sa.bindparam("at"))
)
_mark_processed = bus_processed.insert()


def get_offset(conn: Connection, *, subscriber: str, backend: str, for_update: bool = False) -> int | None:
    """Where ``subscriber`` has read up to. ``for_update`` locks the offset (PostgreSQL), so a
    second reader of the same subscriber waits and then starts where the first ended."""
    stmt = _offset_locked if for_update and conn.dialect.name == "postgresql" else _offset
    row = conn.execute(stmt, {"sub": subscriber, "b_backend": backend}).first()
    return None if row is None else int(row[0])


def init_offset(conn: Connection, *, subscriber: str, backend: str, position: int, at: datetime) -> None:
    conn.execute(bus_offsets.insert().values(subscriber=subscriber, backend=backend, position=position, updated_at=at))


def move_offset(conn: Connection, *, subscriber: str, backend: str, old: int, new: int, at: datetime) -> bool:
    """Advance an offset only from where this reader saw it (a second reader fails here)."""
    params = {"sub": subscriber, "b_backend": backend, "old": old, "new": new, "at": at}
    return bool(conn.execute(_move_offset, params).rowcount)


def processed_among(conn: Connection, *, subscriber: str, ids: list[str]) -> set[str]:
    rows = conn.execute(
        sa.select(bus_processed.c.event_id).where(
            bus_processed.c.subscriber == subscriber, bus_processed.c.event_id.in_(ids)
        )
    )
    return {r[0] for r in rows}


def mark_processed(conn: Connection, *, subscriber: str, ids: list[str], at: datetime) -> None:
    if ids:
        conn.execute(_mark_processed, [{"subscriber": subscriber, "event_id": i, "processed_at": at} for i in ids])


def blocked_aggregates(conn: Connection, *, subscriber: str, aggregate_ids: list[str]) -> set[str]:
    """Aggregates with an open failure for ``subscriber``: their later events wait behind it."""
    rows = conn.execute(
        sa.select(bus_failures.c.aggregate_id)
        .where(
            bus_failures.c.subscriber == subscriber,
            bus_failures.c.status.in_(OPEN),
            bus_failures.c.aggregate_id.in_(aggregate_ids),
        )
        .distinct()
    )
    return {r[0] for r in rows}


def insert_failure(conn: Connection, **values: Any) -> None:
    conn.execute(bus_failures.insert().values(**values))


def update_failure(conn: Connection, failure_id: int, **values: Any) -> None:
    conn.execute(bus_failures.update().where(bus_failures.c.id == failure_id).values(**values))


def due_failures(conn: Connection, *, subscriber: str, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
    stmt = (
        sa.select(bus_failures)
        .where(
            bus_failures.c.subscriber == subscriber,
            bus_failures.c.status == "retrying",
            bus_failures.c.next_attempt_at <= now,
        )
        .order_by(bus_failures.c.id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def parked_behind(conn: Connection, *, subscriber: str, aggregate_id: str) -> list[dict[str, Any]]:
    stmt = (
        sa.select(bus_failures)
        .where(
            bus_failures.c.subscriber == subscriber,
            bus_failures.c.aggregate_id == aggregate_id,
            bus_failures.c.status == "parked",
        )
        .order_by(bus_failures.c.id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def get_failure(conn: Connection, failure_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    stmt = sa.select(bus_failures).where(bus_failures.c.id == failure_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def list_failures(
    conn: Connection, *, status: list[str] | None, subscriber: str | None, limit: int, after_id: int | None
) -> list[dict[str, Any]]:
    stmt = sa.select(bus_failures).order_by(bus_failures.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(bus_failures.c.status.in_(status))
    if subscriber:
        stmt = stmt.where(bus_failures.c.subscriber == subscriber)
    if after_id is not None:
        stmt = stmt.where(bus_failures.c.id < after_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def count_failures(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(bus_failures.c.status, sa.func.count()).group_by(bus_failures.c.status))
    return {r[0]: int(r[1]) for r in rows}


def offsets(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(bus_offsets).order_by(bus_offsets.c.subscriber)).mappings()]


def backlog(conn: Connection) -> int:
    """Events committed but not yet published."""
    return int(conn.execute(sa.select(sa.func.count()).where(outbox.c.published_at.is_(None))).scalar_one())


def prune(conn: Connection, *, processed_before: datetime, closed_before: datetime) -> dict[str, int]:
    """Forget processed ids older than ``processed_before`` (by then every backend reads past
    them: the offsets are the guard) and closed failures older than ``closed_before``."""
    processed = conn.execute(bus_processed.delete().where(bus_processed.c.processed_at < processed_before)).rowcount
    closed = conn.execute(
        bus_failures.delete().where(
            bus_failures.c.status.in_(("resolved", "discarded")), bus_failures.c.updated_at < closed_before
        )
    ).rowcount
    return {"processed_ids": int(processed), "closed_failures": int(closed)}
