"""Queries of ``bus_failures``: the events a subscriber could not apply (retrying, dead,
parked behind them) and their history (resolved, discarded). The table is in ``store``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.bus.store import OPEN, bus_failures


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
