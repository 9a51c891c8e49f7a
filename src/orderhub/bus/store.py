"""The bus's tables: the outbox (the log), subscriber offsets, processed event ids, failures.

The outbox is shaped like Debezium's outbox router (id, aggregate type, aggregate id, type,
payload); the aggregate id keys per-aggregate ordering, the id de-duplicates deliveries. Its
rows are written once and never updated: the outbox is also the event store an aggregate's
history is read from.

Publishing is two narrow tables beside it, so a published event costs two tiny rows instead
of rewriting the wide one (and every index on it):

- ``bus_pending``: the seqs waiting for the relay. A trigger (migration 0003) queues every
  outbox row inserted without ``published_at`` (imported history is stored as published), so
  publishing costs the writer no extra statement.
- ``bus_log``: what the relay published, each with its ``position`` — strictly increasing in
  the order of publication — which embedded subscribers read by. ``seq`` is the insert order,
  which a transaction that commits late does not respect; positions do.
"""

from __future__ import annotations

import json
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
    sa.Index("ix_outbox_aggregate", "aggregate_type", "aggregate_id", "seq"),
)

#: Outbox rows waiting for the relay (filled by a trigger on outbox inserts).
bus_pending = sa.Table("bus_pending", metadata, sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False))

#: What the relay published, in order: embedded subscribers read by ``position``.
bus_log = sa.Table(
    "bus_log",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
    sa.Column("published_at", UtcDateTime(), nullable=False),
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


# PostgreSQL, for a large batch: one short statement over one JSON document (a long executemany
# binds parameters row by row; a batch of timeline events writes hundreds at once)
_INSERT_PG = sa.text(
    "INSERT INTO outbox (id, aggregate_type, aggregate_id, type, actor, payload, occurred_at, published_at, version)"
    " SELECT id, aggregate_type, aggregate_id, type, actor, payload, occurred_at, published_at, version"
    " FROM json_to_recordset(CAST(:rows AS json)) AS r(id text, aggregate_type text, aggregate_id text, type text,"
    " actor text, payload json, occurred_at timestamptz, published_at timestamptz, version integer)"
)
LARGE_BATCH = 32


def _iso(value: Any) -> str:
    return str(value.isoformat())


def insert_events(conn: Connection, events: list[DomainEvent], *, published_at: datetime | None = None) -> None:
    rows = [
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
    ]
    if len(rows) >= LARGE_BATCH and conn.dialect.name == "postgresql":
        conn.execute(_INSERT_PG, {"rows": json.dumps(rows, default=_iso)})
    else:
        conn.execute(_insert, rows)


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


_pending_window = sa.select(bus_pending.c.seq).order_by(bus_pending.c.seq).limit(sa.bindparam("limit")).subquery()
_unpublished = (
    sa.select(*_EVENT_COLUMNS)
    .select_from(_pending_window.join(outbox, outbox.c.seq == _pending_window.c.seq))
    .order_by(outbox.c.seq)
)


def unpublished(conn: Connection, *, limit: int) -> list[Any]:
    """The oldest events not yet published, in insert order (per aggregate, commit order:
    an aggregate's writers queue on its row lock)."""
    return list(conn.execute(_unpublished, {"limit": limit}))


# Statements of the hot path are built once (building one costs more than running it).
_has_unpublished = sa.select(bus_pending.c.seq).limit(1)
_last_position = sa.select(sa.func.coalesce(sa.func.max(bus_log.c.position), 0))


def has_unpublished(conn: Connection) -> bool:
    return conn.execute(_has_unpublished).first() is not None


def last_position(conn: Connection) -> int:
    return int(conn.execute(_last_position).scalar_one())


_PUBLISH_PG = sa.text(
    """
    WITH batch AS (
        DELETE FROM bus_pending WHERE seq IN (
            SELECT seq FROM bus_pending ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED
        ) RETURNING seq
    )
    INSERT INTO bus_log (position, seq, published_at)
    SELECT (SELECT coalesce(max(position), 0) FROM bus_log) + row_number() OVER (ORDER BY seq), seq, :at
    FROM batch
    """
).bindparams(sa.bindparam("at", type_=UtcDateTime()))


def publish_next(conn: Connection, *, limit: int, at: datetime) -> int:
    """Publish the oldest ``limit`` pending events: each gets the next position in insert
    order. On PostgreSQL it is one statement that skips rows another relay holds (the primary
    key on position refuses a second relay racing for the same numbers); SQLite has one writer."""
    if conn.dialect.name == "postgresql":
        return int(conn.execute(_PUBLISH_PG, {"limit": limit, "at": at}).rowcount)
    seqs = [r[0] for r in conn.execute(sa.select(bus_pending.c.seq).order_by(bus_pending.c.seq).limit(limit))]
    mark_published(conn, seqs, at=at)
    return len(seqs)


def mark_published(conn: Connection, seqs: list[int], *, at: datetime) -> None:
    """Log ``seqs`` as published, in this order, with the next positions; take them off the
    pending queue."""
    if not seqs:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_LOG_PG, {"seqs": seqs, "at": at})
        return
    first = last_position(conn) + 1
    conn.execute(
        bus_log.insert(), [{"position": first + i, "seq": seq, "published_at": at} for i, seq in enumerate(seqs)]
    )
    conn.execute(bus_pending.delete().where(bus_pending.c.seq.in_(seqs)))


# one statement: the seqs in the order given, numbered from the next position, off the queue
_LOG_PG = sa.text(
    """
    WITH sent AS (
        SELECT seq, ord FROM unnest(CAST(:seqs AS integer[])) WITH ORDINALITY AS t(seq, ord)
    ), logged AS (
        INSERT INTO bus_log (position, seq, published_at)
        SELECT (SELECT coalesce(max(position), 0) FROM bus_log) + ord, seq, :at FROM sent
    )
    DELETE FROM bus_pending WHERE seq IN (SELECT seq FROM sent)
    """
).bindparams(sa.bindparam("at", type_=UtcDateTime()))


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
# PostgreSQL: lock the offset and read past it in one statement
_locked = sa.select(bus_offsets.c.position).where(_this_offset).with_for_update().cte("locked_offset")


def _reader(*, locked: bool, typed: bool, lateral: bool) -> sa.Select[Any]:
    """The next window of the log — up to ``limit`` positions after the offset — each with its
    event when the subscriber handles its type (else NULL columns: the window still moves the
    offset past it). Every event is looked up by primary key (``LATERAL`` on PostgreSQL: a
    plan that scans the whole outbox to join a window of a few rows would grow with history)."""
    start = sa.select(_locked.c.position).scalar_subquery() if locked else sa.bindparam("position")
    window = (
        sa.select(bus_log.c.position, bus_log.c.seq)
        .where(bus_log.c.position > start, bus_log.c.position <= sa.bindparam("upto"))
        .order_by(bus_log.c.position)
        .limit(sa.bindparam("limit"))
        .subquery("window")
    )
    wanted = outbox.c.type.in_(sa.bindparam("types", expanding=True)) if typed else sa.true()
    if lateral:
        event = sa.select(*_EVENT_COLUMNS, _blocked).where(outbox.c.seq == window.c.seq, wanted).lateral("event")
        return (
            sa.select(window.c.position, *event.c)
            .select_from(window.outerjoin(event, sa.true()))
            .order_by(window.c.position)
        )
    return (
        sa.select(window.c.position, *_EVENT_COLUMNS, _blocked)
        .select_from(window.outerjoin(outbox, sa.and_(outbox.c.seq == window.c.seq, wanted)))
        .order_by(window.c.position)
    )


_READERS = {
    (locked, typed, lateral): _reader(locked=locked, typed=typed, lateral=lateral)
    for locked in (False, True)
    for typed in (False, True)
    for lateral in (False, True)
}


def peek(conn: Connection, *, subscriber: str, backend: str) -> tuple[int | None, int]:
    """A subscriber's offset (None before its first read) and the last published position, in
    one round trip."""
    row = conn.execute(_peek, {"sub": subscriber, "b_backend": backend}).one()
    return (None if row[0] is None else int(row[0])), int(row[1])


def events_after(
    conn: Connection, *, position: int, upto: int, types: frozenset[str] | None, limit: int, subscriber: str
) -> list[Any]:
    """The log's next window in (position, upto], up to ``limit`` rows in position order. A row
    has the event's columns (``id`` is None when ``types`` leaves it out) and ``blocked``:
    whether its aggregate has an open failure for ``subscriber``."""
    return _read(conn, False, types, {"position": position, "upto": upto, "limit": limit, "sub": subscriber})


def lock_and_read(
    conn: Connection, *, subscriber: str, backend: str, upto: int, types: frozenset[str] | None, limit: int
) -> list[Any]:
    """PostgreSQL: lock the subscriber's offset and read the window past it (as
    ``events_after``) in one round trip. The caller moves the offset from the value it saw
    before; if another reader moved it meanwhile, that conditional move fails."""
    return _read(conn, True, types, {"sub": subscriber, "b_backend": backend, "upto": upto, "limit": limit})


def _read(conn: Connection, locked: bool, types: frozenset[str] | None, params: dict[str, Any]) -> list[Any]:
    stmt = _READERS[(locked, types is not None, conn.dialect.name == "postgresql")]
    if types is not None:
        params["types"] = sorted(types)
    return list(conn.execute(stmt, params))


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


def offsets(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(bus_offsets).order_by(bus_offsets.c.subscriber)).mappings()]


def backlog(conn: Connection) -> int:
    """Events committed but not yet published."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(bus_pending)).scalar_one())


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
