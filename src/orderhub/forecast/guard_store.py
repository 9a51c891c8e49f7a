"""The guard's tables and queries (``guard.py``, ``watch.py``): each series' and each region's
state, and the switches; and the one read that joins the forecasts with the demand that came."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.forecast.store import demand, points
from orderhub.platform.db import UtcDateTime, metadata

guard_series = sa.Table(
    "forecast_guard_series",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("location", sa.String(64), primary_key=True),
    sa.Column("up", sa.Float, nullable=False),
    sa.Column("down", sa.Float, nullable=False),
    sa.Column("alarmed", sa.Boolean, nullable=False),
    sa.Column("since", sa.Date, nullable=True),
    sa.Column("quiet", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reason", sa.String(200), nullable=False, server_default=""),
    sa.Column("last_z", sa.Float, nullable=False, server_default="0"),
    sa.Column("day", sa.Date, nullable=False),  # the last day it was watched
)

guard_regions = sa.Table(
    "forecast_guard_regions",
    metadata,
    sa.Column("location", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(12), nullable=False),  # reliable | unreliable
    sa.Column("since", sa.Date, nullable=True),
    sa.Column("reason", sa.String(300), nullable=False, server_default=""),
    sa.Column("share", sa.Float, nullable=False, server_default="0"),
    sa.Column("level_actual", sa.Float, nullable=True),
    sa.Column("level_forecast", sa.Float, nullable=True),
    sa.Column("alarmed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("watched", sa.Integer, nullable=False, server_default="0"),
    sa.Column("day", sa.Date, nullable=False),
)

guard_switches = sa.Table(
    "forecast_guard_switches",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("location", sa.String(64), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("reason", sa.String(300), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("share", sa.Float, nullable=False),
    sa.Column("level_ratio", sa.Float, nullable=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index("ix_forecast_guard_switches_at", "at"),
)


def watch_rows(conn: Connection, *, start: date, end: date) -> list[dict[str, Any]]:
    """Every forecast point with ``start <= day <= end`` and the demand that came that day (0
    without a row), ordered by day: what the guard compares."""
    joined = points.outerjoin(
        demand,
        sa.and_(demand.c.sku == points.c.sku, demand.c.location == points.c.location, demand.c.day == points.c.day),
    )
    stmt = (
        sa.select(
            points.c.sku,
            points.c.location,
            points.c.day,
            points.c.mean,
            points.c.hi80,
            points.c.hi95,
            points.c.lo95,
            sa.func.coalesce(demand.c.quantity, 0.0).label("actual"),
        )
        .select_from(joined)
        .where(points.c.day >= start, points.c.day <= end)
        .order_by(points.c.day)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def guard_states(
    conn: Connection, *, keys: Sequence[tuple[str, str]] | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """The series whose guard state is not the default one (only ``keys`` when given)."""
    stmt = sa.select(guard_series)
    if keys is not None:
        stmt = stmt.where(sa.tuple_(guard_series.c.sku, guard_series.c.location).in_(list(keys)))
    return {(r.sku, r.location): dict(r._mapping) for r in conn.execute(stmt)}


def save_guard_states(conn: Connection, rows: list[dict[str, Any]], *, forget: Sequence[tuple[str, str]]) -> None:
    """Replace the states of ``rows``' series and delete those of ``forget`` (back to default)."""
    keys = sorted({(r["sku"], r["location"]) for r in rows} | set(forget))
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        conn.execute(guard_series.delete().where(sa.tuple_(guard_series.c.sku, guard_series.c.location).in_(chunk)))
    for i in range(0, len(rows), 20_000):
        conn.execute(guard_series.insert(), rows[i : i + 20_000])


def guard_region_rows(conn: Connection) -> dict[str, dict[str, Any]]:
    return {r.location: dict(r._mapping) for r in conn.execute(sa.select(guard_regions))}


def save_guard_regions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(guard_regions.delete().where(guard_regions.c.location.in_([r["location"] for r in rows])))
        conn.execute(guard_regions.insert(), rows)


def add_switches(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(guard_switches.insert(), rows)


def recent_switches(conn: Connection, *, location: str | None, limit: int) -> list[dict[str, Any]]:
    stmt = sa.select(guard_switches)
    if location is not None:
        stmt = stmt.where(guard_switches.c.location == location)
    stmt = stmt.order_by(guard_switches.c.at.desc(), guard_switches.c.day.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def alarmed_series(conn: Connection, *, location: str | None, limit: int) -> list[dict[str, Any]]:
    stmt = sa.select(guard_series).where(guard_series.c.alarmed.is_(True))
    if location is not None:
        stmt = stmt.where(guard_series.c.location == location)
    return [dict(r._mapping) for r in conn.execute(stmt.order_by(guard_series.c.since.desc()).limit(limit))]
