"""Forecast's tables and the SQL that must be fast: the daily demand history (one row per SKU ×
location × day with demand), forecast's copy of order lines (to take cancellations back), the
chosen model and scores per series, the forecast per day with its intervals, and the runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.forecast.model import NODE_PREFIX, CapturedLine, Delta, DemandRow, LineState
from orderhub.platform.db import UtcDateTime, metadata, per_dialect

demand = sa.Table(
    "forecast_demand",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("location", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("revenue_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("currency", sa.String(3), nullable=False, server_default=""),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_forecast_demand_updated", "updated_at"),
)

lines = sa.Table(
    "forecast_lines",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    sa.Column("line_id", sa.String(40), primary_key=True),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("node", sa.String(64), nullable=False, server_default=""),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("cancelled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unit_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False, server_default=""),
)

series = sa.Table(
    "forecast_series",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("location", sa.String(64), primary_key=True),
    sa.Column("model", sa.String(40), nullable=False),
    sa.Column("demand_class", sa.String(20), nullable=False),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
    sa.Column("horizon", sa.Integer, nullable=False),
    # per candidate model: mean absolute error over the backtest windows, MASE, RMSSE
    sa.Column("scores", sa.JSON, nullable=False),
    # the conformal half-widths of the chosen model's intervals, by level ("80", "95")
    sa.Column("spread", sa.JSON, nullable=False),
    sa.Column("note", sa.String(200), nullable=False, server_default=""),
    # the chosen model's fitted parameters where refitting costs (ETS, Theta): an update applies
    # them to the new history instead of fitting again (``engine.forward``)
    sa.Column("params", sa.JSON, nullable=True),
    sa.Column("run_id", sa.String(40), nullable=False),
    sa.Column("fitted_at", UtcDateTime(), nullable=False),
    sa.Index("ix_forecast_series_location", "location", "sku"),
)

points = sa.Table(
    "forecast_points",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("location", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("mean", sa.Float, nullable=False),
    sa.Column("lo80", sa.Float, nullable=True),
    sa.Column("hi80", sa.Float, nullable=True),
    sa.Column("lo95", sa.Float, nullable=True),
    sa.Column("hi95", sa.Float, nullable=True),
    sa.Index("ix_forecast_points_location_day", "location", "day"),
)

runs = sa.Table(
    "forecast_runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # run | update
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("horizon", sa.Integer, nullable=False),
    sa.Column("folds", sa.Integer, nullable=False),
    sa.Column("series", sa.Integer, nullable=False, server_default="0"),
    sa.Column("summary", sa.JSON, nullable=True),
    sa.Index("ix_forecast_runs_started", "started_at"),
)


# -- history -------------------------------------------------------------------------------------
def _build_add(insert: Any) -> Any:
    stmt = insert(demand)
    same = sa.or_(demand.c.currency == stmt.excluded.currency, demand.c.currency == "", stmt.excluded.currency == "")
    return stmt.on_conflict_do_update(
        index_elements=["sku", "location", "day"],
        set_={
            "quantity": demand.c.quantity + stmt.excluded.quantity,
            "revenue_minor": demand.c.revenue_minor
            + sa.case((same, stmt.excluded.revenue_minor), else_=sa.literal(0, sa.BigInteger)),
            "currency": sa.case((demand.c.currency == "", stmt.excluded.currency), else_=demand.c.currency),
            "updated_at": stmt.excluded.updated_at,
        },
    )


_add = per_dialect(_build_add)


def add_demand(conn: Connection, deltas: Sequence[Delta | DemandRow], *, now: datetime) -> None:
    """Add each delta to its day's row, creating the row when the day had none: one statement
    (an ``executemany``) for the whole batch. Deltas must be one per key (``model.add_up``)."""
    if deltas:
        conn.execute(
            _add(conn),
            [
                {
                    "sku": d.sku,
                    "location": d.location,
                    "day": d.day,
                    "quantity": d.quantity,
                    "revenue_minor": d.revenue_minor,
                    "currency": d.currency,
                    "updated_at": now,
                }
                for d in deltas
            ],
        )


#: A day as its proleptic Gregorian ordinal (``date.toordinal``), computed by the database: a
#: history of a million rows is read as integers, not parsed into a million ``date`` objects.
_ORDINAL = {
    "sqlite": "CAST(julianday(forecast_demand.day) - 1721424.5 AS INTEGER)",
    "postgresql": "(forecast_demand.day - DATE '0001-01-01' + 1)",
}


def demand_rows(
    conn: Connection,
    *,
    keys: Iterable[tuple[str, str]] | None = None,
    since: date | None = None,
    changed_since: datetime | None = None,
) -> list[tuple[str, str, int, float]]:
    """(sku, location, day ordinal, quantity) rows from ``since``, ordered by series and day:
    only ``keys`` when given, only the series changed at or after ``changed_since`` when given
    (one statement: the changed series joined to their rows). The day is an integer
    (``date.fromordinal`` gives it back), so a large history reads without parsing dates."""
    day = sa.literal_column(_ORDINAL[conn.dialect.name], sa.Integer)
    stmt = sa.select(demand.c.sku, demand.c.location, day, demand.c.quantity)
    if since is not None:
        stmt = stmt.where(demand.c.day >= since)
    if changed_since is not None:
        # a row-value IN over the changed rows: SQLite reads them by the updated_at index and
        # then each series by the primary key (a join with DISTINCT scanned the whole table)
        other = demand.alias("changed")
        changed = sa.select(other.c.sku, other.c.location).where(other.c.updated_at >= changed_since)
        stmt = stmt.where(sa.tuple_(demand.c.sku, demand.c.location).in_(changed))
    if keys is not None:
        wanted = sorted(set(keys))
        if not wanted:
            return []
        out: list[tuple[str, str, int, float]] = []
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            out += _raw(conn, stmt.where(sa.tuple_(demand.c.sku, demand.c.location).in_(chunk)))
        return sorted(out)
    return _raw(conn, stmt.order_by(demand.c.sku, demand.c.location, demand.c.day))


def _raw(conn: Connection, stmt: Any) -> list[Any]:
    """Rows as the driver's tuples: no SQLAlchemy row objects for a million rows."""
    result = conn.execute(stmt)
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


def _changed(since: datetime) -> Any:
    return sa.select(demand.c.sku, demand.c.location).where(demand.c.updated_at >= since).distinct()


def changed_series(conn: Connection, *, since: datetime) -> set[tuple[str, str]]:
    """Series whose history changed at or after ``since``."""
    return {(r.sku, r.location) for r in conn.execute(_changed(since))}


def last_day(conn: Connection) -> date | None:
    return conn.execute(sa.select(sa.func.max(demand.c.day))).scalar()


def series_history(conn: Connection, *, sku: str, location: str) -> list[dict[str, Any]]:
    stmt = (
        sa.select(demand.c.day, demand.c.quantity, demand.c.revenue_minor, demand.c.currency)
        .where(demand.c.sku == sku, demand.c.location == location)
        .order_by(demand.c.day)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


# -- forecast's copy of order lines --------------------------------------------------------------
_add_lines = per_dialect(lambda insert: insert(lines).on_conflict_do_nothing(index_elements=["order_id", "line_id"]))


def order_lines(conn: Connection, order_ids: Iterable[str]) -> dict[str, dict[str, LineState]]:
    """The copied lines of these orders, by order and line id."""
    ids = sorted(set(order_ids))
    out: dict[str, dict[str, LineState]] = {}
    for i in range(0, len(ids), 500):
        for r in conn.execute(sa.select(lines).where(lines.c.order_id.in_(ids[i : i + 500]))):
            line = CapturedLine(
                r.order_id, r.line_id, r.sku, r.region, r.node, r.day, r.quantity, r.unit_minor, r.currency
            )
            out.setdefault(r.order_id, {})[r.line_id] = LineState(line, r.quantity, r.cancelled)
    return out


def save_lines(conn: Connection, states: Iterable[LineState]) -> None:
    """New lines inserted (a replayed capture inserts nothing), changed ones updated: one
    statement each."""
    new, changed = [], []
    for s in states:
        row = {
            "order_id": s.line.order_id,
            "line_id": s.line.line_id,
            "region": s.line.region,
            "quantity": s.quantity,
            "cancelled": s.cancelled,
        }
        if s.is_new:
            new.append(
                row
                | {
                    "sku": s.line.sku,
                    "node": s.line.node,
                    "day": s.line.day,
                    "unit_minor": s.line.unit_minor,
                    "currency": s.line.currency,
                }
            )
        elif s.is_changed:
            changed.append(
                {
                    "o": row["order_id"],
                    "l": row["line_id"],
                    "r": row["region"],
                    "q": row["quantity"],
                    "c": row["cancelled"],
                }
            )
    if new:
        conn.execute(_add_lines(conn), new)
    if changed:
        stmt = (
            lines.update()
            .where(lines.c.order_id == sa.bindparam("o"), lines.c.line_id == sa.bindparam("l"))
            .values(region=sa.bindparam("r"), quantity=sa.bindparam("q"), cancelled=sa.bindparam("c"))
        )
        conn.execute(stmt, changed)


# -- forecasts -----------------------------------------------------------------------------------
def _build_upsert(table: sa.Table, keys: tuple[str, ...]) -> Any:
    def build(insert: Any) -> Any:
        stmt = insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        )

    return per_dialect(build)


_upsert_series = _build_upsert(series, ("sku", "location"))


def save_forecasts(
    conn: Connection, series_rows: list[dict[str, Any]], point_rows: list[tuple[Any, ...]], *, replace_all: bool
) -> None:
    """Write the chosen models and forecasts; ``point_rows`` are tuples in the order of
    ``POINT_COLUMNS``. ``replace_all`` (a run): every earlier series and point goes, then one
    insert of each. Otherwise (an update) series rows and points are upserted: no delete, so
    the points of days the history now covers stay until the next run (past days, which no read
    of a forecast asks for)."""
    if replace_all:
        conn.execute(points.delete())
        conn.execute(series.delete())
    if series_rows:
        conn.execute(series.insert() if replace_all else _upsert_series(conn), series_rows)
    for i in range(0, len(point_rows), 50_000):
        _write_points(conn, point_rows[i : i + 50_000], upsert=not replace_all)


POINT_COLUMNS = ("sku", "location", "day", "mean", "lo80", "hi80", "lo95", "hi95")


def _write_points(conn: Connection, rows: list[tuple[Any, ...]], *, upsert: bool) -> None:
    """Points straight through the driver's ``executemany`` (on PostgreSQL psycopg sends them
    as one pipeline): a run or an update writes 28 per series, and SQLAlchemy's per-row
    parameter processing cost four times the insert itself (SQLite stores a date as its ISO
    text, as SQLAlchemy would)."""
    if not rows:
        return
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO {points.name} ({', '.join(POINT_COLUMNS)}) VALUES ({', '.join([mark] * len(POINT_COLUMNS))})"
    if upsert:
        sql += " ON CONFLICT (sku, location, day) DO UPDATE SET " + ", ".join(
            f"{c} = excluded.{c}" for c in POINT_COLUMNS[3:]
        )
    values = [(r[0], r[1], r[2].isoformat(), *r[3:]) for r in rows] if sqlite else rows
    conn.exec_driver_sql(sql, values)


def get_series(conn: Connection, *, sku: str, location: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(series).where(series.c.sku == sku, series.c.location == location)).first()
    return dict(row._mapping) if row is not None else None


def chosen_models(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The series rows of ``keys`` that have one."""
    wanted = sorted(set(keys))
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for i in range(0, len(wanted), 500):
        stmt = sa.select(series).where(sa.tuple_(series.c.sku, series.c.location).in_(wanted[i : i + 500]))
        out.update({(r.sku, r.location): dict(r._mapping) for r in conn.execute(stmt)})
    return out


def list_series(
    conn: Connection, *, location: str | None, sku: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    stmt = sa.select(
        series.c.sku, series.c.location, series.c.model, series.c.demand_class, series.c.note, series.c.fitted_at
    )
    if location is not None:
        stmt = stmt.where(series.c.location == location)
    if sku is not None:
        stmt = stmt.where(series.c.sku == sku)
    stmt = stmt.order_by(series.c.location, series.c.sku).limit(limit).offset(offset)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def forecast_points(
    conn: Connection, *, location: str, skus: Sequence[str] | None, start: date, end: date
) -> list[dict[str, Any]]:
    """Points of ``location`` (only ``skus`` when given) with ``start <= day < end``."""
    stmt = sa.select(points).where(points.c.location == location, points.c.day >= start, points.c.day < end)
    if skus is not None:
        stmt = stmt.where(points.c.sku.in_(sorted(set(skus))))
    return [dict(r._mapping) for r in conn.execute(stmt.order_by(points.c.sku, points.c.day))]


# -- runs ----------------------------------------------------------------------------------------
def start_run(conn: Connection, **values: Any) -> None:
    conn.execute(runs.insert().values(**values))


def finish_run(conn: Connection, run_id: str, **values: Any) -> None:
    conn.execute(runs.update().where(runs.c.id == run_id).values(**values))


def last_run(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(runs).where(runs.c.finished_at.is_not(None)).order_by(runs.c.started_at.desc()).limit(1)
    ).first()
    return dict(row._mapping) if row is not None else None


def outlook_points(
    conn: Connection, *, skus: Sequence[str] | None, locations: Sequence[str] | None, start: date, end: date
) -> list[tuple[str, str, date, float]]:
    """(sku, location, day, mean) with ``start <= day < end``, only ``skus`` / ``locations``
    when given."""
    stmt = sa.select(points.c.sku, points.c.location, points.c.day, points.c.mean).where(
        points.c.day >= start, points.c.day < end
    )
    if skus is not None:
        stmt = stmt.where(points.c.sku.in_(sorted(set(skus))))
    if locations is not None:
        stmt = stmt.where(points.c.location.in_(sorted(set(locations))))
    return [tuple(r) for r in conn.execute(stmt).all()]


def spreads_of(
    conn: Connection, *, skus: Sequence[str] | None, locations: Sequence[str] | None
) -> dict[tuple[str, str], dict[str, Any]]:
    stmt = sa.select(series.c.sku, series.c.location, series.c.spread)
    if skus is not None:
        stmt = stmt.where(series.c.sku.in_(sorted(set(skus))))
    if locations is not None:
        stmt = stmt.where(series.c.location.in_(sorted(set(locations))))
    return {(r.sku, r.location): r.spread or {} for r in conn.execute(stmt)}


def last_run_id(conn: Connection) -> str | None:
    stmt = sa.select(runs.c.id).where(runs.c.finished_at.is_not(None)).order_by(runs.c.started_at.desc()).limit(1)
    return conn.execute(stmt).scalar()


def node_expected(conn: Connection, *, skus: Sequence[str], start: date, end: date) -> list[tuple[str, str, float]]:
    """(sku, node location, units) summed over ``start <= day < end``, for the node series of
    ``skus``: one statement (the primary key leads with the SKU)."""
    stmt = (
        sa.select(points.c.sku, points.c.location, sa.func.sum(points.c.mean))
        .where(
            points.c.sku.in_(sorted(set(skus))),
            points.c.location.like(NODE_PREFIX + "%"),
            points.c.day >= start,
            points.c.day < end,
        )
        .group_by(points.c.sku, points.c.location)
    )
    return [(r[0], r[1], float(r[2] or 0.0)) for r in conn.execute(stmt)]


def recent_runs(conn: Connection, *, limit: int) -> list[dict[str, Any]]:
    stmt = sa.select(runs).order_by(runs.c.started_at.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]
