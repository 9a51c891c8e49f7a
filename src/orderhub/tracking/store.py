"""Tracking's tables and the SQL that ingests and reads timelines.

- ``tracking_orders``: tracking's own copy of each order (its public token, language, channel,
  promise, status and when it got there, the last position): the read model of the customer
  view, the live page and the KPIs, so none of them reads the order tables.
- ``tracking_parcels``: what left a node, with carrier, service, tracking number and lines.
- ``tracking_events``: the timeline, one row per thing that happened. ``source`` + ``key`` is
  unique: a second delivery of the same source event inserts nothing. Read in ``occurred_at``
  order; ``received_at`` is when the hub heard of it.
- ``tracking_inbox``: every inbound message as received (body, signature check, outcome), so a
  rejected one can be replayed once its cause is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.clock import as_utc
from orderhub.platform.db import UtcDateTime, metadata, per_dialect

tracking_orders = sa.Table(
    "tracking_orders",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("language", sa.String(5), nullable=False, server_default="en"),
    sa.Column("channel", sa.String(40), nullable=False, server_default=""),
    sa.Column("external_ref", sa.String(200), nullable=False, server_default=""),
    sa.Column("customer_email", sa.String(254), nullable=False, server_default=""),
    sa.Column("placed_at", UtcDateTime(), nullable=False),
    sa.Column("promised_by", sa.Date, nullable=True),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("status_since", UtcDateTime(), nullable=False),
    sa.Column("shipped_at", UtcDateTime(), nullable=True),
    sa.Column("delivered_at", UtcDateTime(), nullable=True),
    sa.Column("problem_at", UtcDateTime(), nullable=True),
    sa.Column("estimated_delivery", sa.Date, nullable=True),
    sa.Column("estimate_at", UtcDateTime(), nullable=True),  # when the carrier gave that estimate
    sa.Column("dest_city", sa.String(100), nullable=False, server_default=""),
    sa.Column("dest_country", sa.String(2), nullable=False, server_default=""),
    sa.Column("dest_lat", sa.Float, nullable=True),
    sa.Column("dest_lon", sa.Float, nullable=True),
    sa.Column("last_lat", sa.Float, nullable=True),
    sa.Column("last_lon", sa.Float, nullable=True),
    sa.Column("position_at", UtcDateTime(), nullable=True),
    sa.Index("ix_tracking_orders_placed_at", "placed_at"),
    sa.Index("ix_tracking_orders_status", "status", "status_since"),
)

tracking_parcels = sa.Table(
    "tracking_parcels",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), nullable=False, index=True),
    sa.Column("fulfilment_order_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("carrier", sa.String(40), nullable=False),
    sa.Column("service", sa.String(60), nullable=False, server_default=""),
    sa.Column("tracking_number", sa.String(60), nullable=False, unique=True),
    sa.Column("tracking_url", sa.String(500), nullable=False, server_default=""),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("state", sa.String(30), nullable=True),
    sa.Column("state_at", UtcDateTime(), nullable=True),
    # the order was told this parcel arrived (its lines recorded as delivered), once
    sa.Column("delivery_recorded", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("estimated_delivery", sa.Date, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

tracking_events = sa.Table(
    "tracking_events",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("order_id", sa.String(40), nullable=False),
    sa.Column("parcel_id", sa.String(40), nullable=True),
    sa.Column("fulfilment_order_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("milestone", sa.String(30), nullable=True),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("location", sa.String(200), nullable=False, server_default=""),
    sa.Column("country", sa.String(2), nullable=False, server_default=""),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("time_note", sa.String(200), nullable=False, server_default=""),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("inbox_id", sa.Integer, nullable=True),
    sa.UniqueConstraint("source", "key", name="uq_tracking_events_source_key"),
    sa.Index("ix_tracking_events_order", "order_id", "occurred_at"),
    sa.Index("ix_tracking_events_parcel", "parcel_id", "occurred_at"),
)

tracking_inbox = sa.Table(
    "tracking_inbox",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # accepted | rejected | replayed
    sa.Column("error", sa.JSON, nullable=True),  # the problem answered, for a rejected message
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(20), nullable=False, server_default="none"),  # verified | none
    sa.Column("recorded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_tracking_inbox_status", "status", "id"),
)

# -- tracking_orders ------------------------------------------------------------------------
_add_order = per_dialect(lambda insert: insert(tracking_orders).on_conflict_do_nothing(index_elements=["order_id"]))


def add_order(conn: Connection, **values: Any) -> None:
    conn.execute(_add_order(conn), values)


def update_order(conn: Connection, order_id: str, **values: Any) -> None:
    conn.execute(tracking_orders.update().where(tracking_orders.c.order_id == order_id).values(**values))


_this_order = tracking_orders.c.order_id == sa.bindparam("b_order")
_move_position = (
    tracking_orders.update()
    .where(
        _this_order,
        sa.or_(tracking_orders.c.position_at.is_(None), tracking_orders.c.position_at <= sa.bindparam("at")),
    )
    .values(last_lat=sa.bindparam("lat"), last_lon=sa.bindparam("lon"), position_at=sa.bindparam("at"))
)
_set_estimate = (
    tracking_orders.update()
    .where(
        _this_order,
        sa.or_(tracking_orders.c.estimate_at.is_(None), tracking_orders.c.estimate_at <= sa.bindparam("at")),
    )
    .values(estimated_delivery=sa.bindparam("estimate"), estimate_at=sa.bindparam("at"))
)
_mark_problem = (
    tracking_orders.update()
    .where(_this_order, tracking_orders.c.problem_at.is_(None))
    .values(problem_at=sa.bindparam("at"))
)


def move_positions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """``b_order``, ``lat``, ``lon``, ``at`` each: moved only if no later position is known."""
    if rows:
        conn.execute(_move_position, rows)


def set_estimates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(_set_estimate, rows)


def mark_problems(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The first problem of each order (``b_order``, ``at``); later ones leave it."""
    if rows:
        conn.execute(_mark_problem, rows)


def get_order(conn: Connection, order_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(tracking_orders).where(tracking_orders.c.order_id == order_id)).one_or_none()
    return None if row is None else dict(row._mapping)


def order_of_token(conn: Connection, token: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(tracking_orders).where(tracking_orders.c.token == token)).one_or_none()
    return None if row is None else dict(row._mapping)


def statuses(conn: Connection, order_ids: Iterable[str]) -> dict[str, str]:
    """Tracking's copy of these orders' statuses (orders it has not seen are left out)."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(tracking_orders.c.order_id, tracking_orders.c.status).where(tracking_orders.c.order_id.in_(ids))
    )
    return {r.order_id: r.status for r in rows}


def existing_orders(conn: Connection, order_ids: Iterable[str]) -> set[str]:
    ids = sorted(set(order_ids))
    if not ids:
        return set()
    return set(conn.scalars(sa.select(tracking_orders.c.order_id).where(tracking_orders.c.order_id.in_(ids))))


# -- parcels --------------------------------------------------------------------------------
def add_parcels(conn: Connection, parcels: list[dict[str, Any]]) -> None:
    conn.execute(tracking_parcels.insert(), parcels)


def parcels_of_order(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(tracking_parcels)
        .where(tracking_parcels.c.order_id == order_id)
        .order_by(tracking_parcels.c.created_at, tracking_parcels.c.id)
    )
    return [dict(r._mapping) for r in rows]


def carriers_of_orders(conn: Connection, order_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Carrier, service and lines of each order's parcels, in the order they were shipped."""
    wanted = sorted(set(order_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    for i in range(0, len(wanted), 500):  # bound the IN list
        rows = conn.execute(
            sa.select(
                tracking_parcels.c.order_id,
                tracking_parcels.c.carrier,
                tracking_parcels.c.service,
                tracking_parcels.c.lines,
            )
            .where(tracking_parcels.c.order_id.in_(wanted[i : i + 500]))
            .order_by(tracking_parcels.c.created_at, tracking_parcels.c.id)
        )
        for r in rows:
            out.setdefault(r.order_id, []).append({"carrier": r.carrier, "service": r.service, "lines": r.lines})
    return out


def parcels_by_number(conn: Connection, numbers: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    rows = conn.execute(sa.select(tracking_parcels).where(tracking_parcels.c.tracking_number.in_(wanted)))
    return {r.tracking_number: dict(r._mapping) for r in rows}


def lock_parcels(conn: Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """These parcels, locked in id order (their state moves from what is read here)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    stmt = sa.select(tracking_parcels).where(tracking_parcels.c.id.in_(wanted)).order_by(tracking_parcels.c.id)
    return {r.id: dict(r._mapping) for r in conn.execute(stmt.with_for_update())}


def update_parcels(conn: Connection, changes: list[dict[str, Any]]) -> None:
    """``changes``: ``{"b_id": parcel id, "state", "state_at", "estimated_delivery"}`` each."""
    if changes:
        conn.execute(_update_parcel, changes)


_update_parcel = (
    tracking_parcels.update()
    .where(tracking_parcels.c.id == sa.bindparam("b_id"))
    .values(
        state=sa.bindparam("state"),
        state_at=sa.bindparam("state_at"),
        estimated_delivery=sa.bindparam("estimated_delivery"),
    )
)


def mark_delivery_recorded(conn: Connection, parcel_ids: list[str]) -> None:
    if parcel_ids:
        conn.execute(
            tracking_parcels.update().where(tracking_parcels.c.id.in_(parcel_ids)).values(delivery_recorded=True)
        )


# -- the timeline ---------------------------------------------------------------------------
_add_events = per_dialect(
    lambda insert: (
        insert(tracking_events)
        .on_conflict_do_nothing(index_elements=["source", "key"])
        .returning(tracking_events.c.id, tracking_events.c.source, tracking_events.c.key)
    )
)


_EVENT_COLUMNS = (
    ("order_id", "text"),
    ("parcel_id", "text"),
    ("fulfilment_order_id", "text"),
    ("source", "text"),
    ("key", "text"),
    ("milestone", "text"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("description", "text"),
    ("location", "text"),
    ("country", "text"),
    ("lat", "float8"),
    ("lon", "float8"),
    ("time_note", "text"),
    ("detail", "json"),
    ("inbox_id", "integer"),
)
# PostgreSQL: a batch is one short statement over one JSON document (json_to_recordset), so
# neither SQLAlchemy nor the driver builds, escapes or parses a statement as long as the batch
_ADD_EVENTS_PG = sa.text(
    f"INSERT INTO tracking_events ({', '.join(c for c, _ in _EVENT_COLUMNS)}) "
    f"SELECT {', '.join(c for c, _ in _EVENT_COLUMNS)} FROM json_to_recordset(CAST(:rows AS json)) "
    f"AS r({', '.join(f'{c} {t}' for c, t in _EVENT_COLUMNS)}) "
    "ON CONFLICT (source, key) DO NOTHING RETURNING source, key"
)


def _iso(value: Any) -> str:
    return str(value.isoformat())


def add_events(conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert timeline rows; returns the (source, key) of those that were new (a row whose
    source and key are already there is a second delivery and inserts nothing). One
    statement per batch."""
    if not rows:
        return set()
    if conn.dialect.name == "postgresql":
        result = conn.execute(_ADD_EVENTS_PG, {"rows": json.dumps(rows, default=_iso)})
    else:
        result = conn.execute(_add_events(conn), rows)
    return {(r.source, r.key) for r in result}


def timeline(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(tracking_events)
        .where(tracking_events.c.order_id == order_id)
        .order_by(tracking_events.c.occurred_at, tracking_events.c.id)
    )
    return [dict(r._mapping) for r in rows]


def fulfilment_milestones(conn: Connection, order_id: str) -> dict[str, set[str]]:
    """The WMS milestones each fulfilment order of ``order_id`` has reached."""
    rows = conn.execute(
        sa.select(tracking_events.c.fulfilment_order_id, tracking_events.c.milestone).where(
            tracking_events.c.order_id == order_id, tracking_events.c.fulfilment_order_id != ""
        )
    )
    out: dict[str, set[str]] = {}
    for r in rows:
        if r.milestone:
            out.setdefault(r.fulfilment_order_id, set()).add(r.milestone)
    return out


# -- inbox ----------------------------------------------------------------------------------
def add_inbox(conn: Connection, **values: Any) -> int:
    return int(conn.execute(tracking_inbox.insert().returning(tracking_inbox.c.id), values).scalar_one())


def update_inbox(conn: Connection, inbox_id: int, **values: Any) -> None:
    conn.execute(tracking_inbox.update().where(tracking_inbox.c.id == inbox_id).values(**values))


def get_inbox(conn: Connection, inbox_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(tracking_inbox).where(tracking_inbox.c.id == inbox_id)).one_or_none()
    return None if row is None else dict(row._mapping)


def list_inbox(conn: Connection, *, status: str | None, before: int | None, limit: int) -> list[dict[str, Any]]:
    cols = [c for c in tracking_inbox.c if c.name != "body"]
    stmt = sa.select(*cols).order_by(tracking_inbox.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(tracking_inbox.c.status == status)
    if before:
        stmt = stmt.where(tracking_inbox.c.id < before)
    return [dict(r._mapping) for r in conn.execute(stmt)]


# -- KPIs -------------------------------------------------------------------------------------
def orders_placed_since(conn: Connection, since: datetime) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(tracking_orders).where(tracking_orders.c.placed_at >= since))
    return [dict(r._mapping) for r in rows]


def first_reached(conn: Connection, since: datetime) -> dict[str, dict[str, datetime]]:
    """For orders placed since ``since``: when each reached each milestone first."""
    placed = sa.select(tracking_orders.c.order_id).where(tracking_orders.c.placed_at >= since)
    rows = conn.execute(
        sa.select(tracking_events.c.order_id, tracking_events.c.milestone, sa.func.min(tracking_events.c.occurred_at))
        .where(tracking_events.c.order_id.in_(placed), tracking_events.c.milestone.is_not(None))
        .group_by(tracking_events.c.order_id, tracking_events.c.milestone)
    )
    out: dict[str, dict[str, datetime]] = {}
    for order_id, milestone, at in rows:
        out.setdefault(order_id, {})[milestone] = as_utc(at) if isinstance(at, datetime) else _parse_time(at)
    return out


def open_orders(conn: Connection, *, statuses: Iterable[str], limit: int = 5000) -> list[dict[str, Any]]:
    """Orders in one of ``statuses``, longest in their status first."""
    rows = conn.execute(
        sa.select(tracking_orders)
        .where(tracking_orders.c.status.in_(sorted(statuses)))
        .order_by(tracking_orders.c.status_since)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def _parse_time(value: Any) -> datetime:
    """SQLite hands an aggregate's timestamp back as text."""
    return as_utc(datetime.fromisoformat(str(value)))
