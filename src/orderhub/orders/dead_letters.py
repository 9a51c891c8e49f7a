"""The dead-letter list: channel payloads we could not take, kept verbatim for replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.platform.db import UtcDateTime, metadata

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("adapter", sa.String(40), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False, server_default=""),
    sa.Column("error", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("order_id", sa.String(40), nullable=True),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Column("resolved_by", sa.String(254), nullable=True),
)


def insert(conn: Connection, **values: Any) -> None:
    conn.execute(dead_letters.insert().values(**values))


def get(conn: Connection, letter_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    stmt = sa.select(dead_letters).where(dead_letters.c.id == letter_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def update(conn: Connection, letter_id: str, **values: Any) -> None:
    conn.execute(dead_letters.update().where(dead_letters.c.id == letter_id).values(**values))


def list_letters(
    conn: Connection, *, status: str | None, limit: int = 50, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page newest first, without the payloads; the cursor is the last letter's id."""
    t = dead_letters
    columns = [c for c in t.c if c.name != "payload"]
    stmt = sa.select(*columns).order_by(t.c.received_at.desc(), t.c.id.desc()).limit(limit + 1)
    if status:
        stmt = stmt.where(t.c.status == status)
    if cursor:
        last = conn.execute(sa.select(t.c.received_at).where(t.c.id == cursor)).scalar_one_or_none()
        if last is not None:
            stmt = stmt.where(sa.or_(t.c.received_at < last, sa.and_(t.c.received_at == last, t.c.id < cursor)))
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more else None)


def count_pending(conn: Connection) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(dead_letters).where(dead_letters.c.status == "pending")
        ).scalar_one()
    )


def mark(conn: Connection, letter_id: str, *, status: str, order_id: str | None, by: str, at: datetime) -> None:
    update(conn, letter_id, status=status, order_id=order_id, resolved_at=at, resolved_by=by)


def count_by_adapter(conn: Connection, *, since: datetime) -> dict[str, int]:
    """Payloads refused since ``since``, by the adapter they came through."""
    rows = conn.execute(
        sa.select(dead_letters.c.adapter, sa.func.count())
        .where(dead_letters.c.received_at >= since)
        .group_by(dead_letters.c.adapter)
    )
    return {r[0]: int(r[1]) for r in rows}
