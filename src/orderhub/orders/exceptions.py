"""Exceptions: orders that need a person — ageing in their status, late against their promise,
waiting for stock (backorders), channel payloads we could not take (dead letters).

Read-only use cases for the console's exceptions page, its dashboard counts and
``/api/v1/exceptions``. Time in status comes from ``orders.status_since`` (set when the status
changes); the promise is ``created_at + promise_days``. Each count is one indexed statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import InvalidInput
from orderhub.core.money import Money
from orderhub.inventory import service as inventory
from orderhub.orders import dead_letters, store
from orderhub.orders.model import OrderStatus as S
from orderhub.platform.db import UtcDateTime, unit_of_work

orders = store.orders
TS = UtcDateTime()

#: Statuses an order still moves on from (ageing applies); the end states are left out.
OPEN = [
    S.created,
    S.awaiting_payment,
    S.paid,
    S.allocated,
    S.released,
    S.on_hold,
    S.picked,
    S.packed,
    S.partially_shipped,
    S.shipped,
    S.in_transit,
    S.out_for_delivery,
    S.partially_delivered,
    S.return_requested,
]
#: Not yet delivered: an order here past its promise is late.
UNDELIVERED = [s for s in OPEN if s != S.return_requested]
#: Not yet handed to a carrier: a late order here is late *and* still in the building.
UNSHIPPED = [S.created, S.awaiting_payment, S.paid, S.allocated, S.released, S.on_hold, S.picked, S.packed]

#: Time-in-status buckets: key, label, lower bound (inclusive). The last is open-ended.
BUCKETS: list[tuple[str, str, timedelta]] = [
    ("lt_1h", "< 1 h", timedelta(0)),
    ("1_4h", "1–4 h", timedelta(hours=1)),
    ("4_24h", "4–24 h", timedelta(hours=4)),
    ("1_3d", "1–3 d", timedelta(days=1)),
    ("gt_3d", "> 3 d", timedelta(days=3)),
]
BUCKET_KEYS = [b[0] for b in BUCKETS]
#: The dashboard counts an order as ageing once it has been this long in an open status.
AGEING_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Summary:
    """The counts the dashboard shows: ageing (open orders over ``AGEING_AFTER`` in their
    status), late (promise passed, not delivered), backorders (lines waiting for stock) and
    dead letters pending."""

    ageing: int
    late: int
    late_unshipped: int
    backorders: int
    backordered_orders: int
    dead_letters: int


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of an exceptions list: ``items`` out of ``total``."""

    total: int
    items: list[dict[str, Any]]


def _invalid(parameter: str, detail: str) -> InvalidInput:
    return InvalidInput(f"{parameter}: {detail}", errors=[{"parameter": parameter, "detail": detail}])


def _bucket_case(now: datetime) -> Any:
    """The bucket key of ``status_since`` at ``now``: the oldest bucket whose lower bound it
    passed, else the first."""
    whens = [(orders.c.status_since <= sa.literal(now - lower, TS), key) for key, _, lower in reversed(BUCKETS[1:])]
    return sa.case(*whens, else_=sa.literal(BUCKETS[0][0]))


def _bucket_range(bucket: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """``status_since`` bounds (older_than_or_at, newer_than) of a bucket at ``now``."""
    i = BUCKET_KEYS.index(bucket)
    upper = now - BUCKETS[i][2] if i > 0 else None  # entered at or before this
    lower = now - BUCKETS[i + 1][2] if i + 1 < len(BUCKETS) else None  # and after this
    return upper, lower


def _promise_passed(conn: Connection, now: datetime) -> Any:
    """``created_at + promise_days`` is before ``now`` (in hours on PostgreSQL, since a day added
    to a timestamptz follows the session's time zone; a Julian day number on SQLite)."""
    if conn.dialect.name == "postgresql":
        hour = sa.literal_column("interval '1 hour'", type_=sa.Interval)
        return orders.c.created_at + orders.c.promise_days * 24 * hour < sa.literal(now, TS)
    julian_now = now.timestamp() / 86400 + 2440587.5
    return sa.func.julianday(orders.c.created_at) + orders.c.promise_days < julian_now


def _late_filter(conn: Connection, now: datetime) -> list[Any]:
    return [
        orders.c.status.in_([s.value for s in UNDELIVERED]),
        orders.c.promise_days.is_not(None),
        _promise_passed(conn, now),
    ]


def _count(conn: Connection, *where: Any) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(orders).where(*where)).scalar_one())


def summary_in(conn: Connection, *, now: datetime) -> Summary:
    """The exception counts, read in the caller's transaction."""
    ageing = _count(
        conn, orders.c.status.in_([s.value for s in OPEN]), orders.c.status_since <= sa.literal(now - AGEING_AFTER, TS)
    )
    late = _count(conn, *_late_filter(conn, now))
    late_unshipped = _count(conn, *_late_filter(conn, now), orders.c.status.in_([s.value for s in UNSHIPPED]))
    backlog = inventory.waiting_backorders(conn, limit=0)
    return Summary(
        ageing=ageing,
        late=late,
        late_unshipped=late_unshipped,
        backorders=backlog.total,
        backordered_orders=backlog.orders,
        dead_letters=dead_letters.count_pending(conn),
    )


def get_summary(engine: Engine, *, now: datetime | None = None) -> Summary:
    """The exception counts (for the dashboard and ``GET /api/v1/exceptions/summary``)."""
    with unit_of_work(engine, write=False) as conn:
        return summary_in(conn, now=as_utc(now or utcnow()))


def get_ageing(engine: Engine, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open orders by status and time in status: one row per open status (in lifecycle
    order, all of them, zeros included) with ``counts`` per bucket key and ``total``."""
    now = as_utc(now or utcnow())
    inner = (
        sa.select(orders.c.status, _bucket_case(now).label("bucket"))
        .where(orders.c.status.in_([s.value for s in OPEN]))
        .subquery()
    )
    stmt = sa.select(inner.c.status, inner.c.bucket, sa.func.count()).group_by(inner.c.status, inner.c.bucket)
    with unit_of_work(engine, write=False) as conn:
        found = {(str(s), str(b)): int(n) for s, b, n in conn.execute(stmt)}
    out = []
    for status in OPEN:
        counts = {key: found.get((status.value, key), 0) for key in BUCKET_KEYS}
        out.append({"status": status.value, "counts": counts, "total": sum(counts.values())})
    return out


def _order_item(row: Any, now: datetime) -> dict[str, Any]:
    since, created = as_utc(row.status_since), as_utc(row.created_at)
    item = {
        "id": row.id,
        "channel": row.channel,
        "external_ref": row.external_ref or "",
        "status": row.status,
        "customer_email": row.customer_email,
        "customer_name": (row.customer or {}).get("name", ""),
        "total": Money(row.total_minor, row.currency).to_decimal_string(),
        "currency": row.currency,
        "created_at": created,
        "status_since": since,
        "seconds_in_status": max(0, int((now - since).total_seconds())),
    }
    if row.promise_days is not None:
        promised = created + timedelta(days=row.promise_days)
        item["promised_by"] = promised
        item["seconds_late"] = max(0, int((now - promised).total_seconds()))
    return item


_ITEM_COLUMNS = [
    orders.c.id,
    orders.c.channel,
    orders.c.external_ref,
    orders.c.status,
    orders.c.customer_email,
    orders.c.customer,
    orders.c.total_minor,
    orders.c.currency,
    orders.c.created_at,
    orders.c.status_since,
    orders.c.promise_days,
]


def get_ageing_orders(
    engine: Engine,
    *,
    status: str,
    bucket: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> Listing:
    """Orders in open ``status`` (and time-in-status ``bucket``), longest in status first."""
    if status not in {s.value for s in OPEN}:
        raise _invalid("status", f"one of {', '.join(s.value for s in OPEN)}")
    if bucket is not None and bucket not in BUCKET_KEYS:
        raise _invalid("bucket", f"one of {', '.join(BUCKET_KEYS)}")
    now = as_utc(now or utcnow())
    where = [orders.c.status == status]
    if bucket:
        upper, lower = _bucket_range(bucket, now)
        if upper is not None:
            where.append(orders.c.status_since <= sa.literal(upper, TS))
        if lower is not None:
            where.append(orders.c.status_since > sa.literal(lower, TS))
    stmt = sa.select(*_ITEM_COLUMNS).where(*where).order_by(orders.c.status_since, orders.c.id)
    with unit_of_work(engine, write=False) as conn:
        total = _count(conn, *where)
        rows = conn.execute(stmt.limit(limit).offset(offset)).all()
    return Listing(total, [_order_item(r, now) for r in rows])


def get_late(engine: Engine, *, limit: int = 50, offset: int = 0, now: datetime | None = None) -> Listing:
    """Orders past their promise (``created_at + promise_days``) and not delivered, the
    longest overdue first."""
    now = as_utc(now or utcnow())
    with unit_of_work(engine, write=False) as conn:
        where = _late_filter(conn, now)
        total = _count(conn, *where)
        promised = sa.func.julianday(orders.c.created_at) + orders.c.promise_days
        if conn.dialect.name == "postgresql":
            hour = sa.literal_column("interval '1 hour'", type_=sa.Interval)
            promised = orders.c.created_at + orders.c.promise_days * 24 * hour
        stmt = sa.select(*_ITEM_COLUMNS).where(*where).order_by(promised, orders.c.id).limit(limit).offset(offset)
        rows = conn.execute(stmt).all()
    return Listing(total, [_order_item(r, now) for r in rows])


def get_backorders(engine: Engine, *, limit: int = 50, offset: int = 0, now: datetime | None = None) -> Listing:
    """Order lines waiting for stock, oldest first, with their order's number and status."""
    now = as_utc(now or utcnow())
    with unit_of_work(engine, write=False) as conn:
        backlog = inventory.waiting_backorders(conn, limit=limit, offset=offset)
        refs = store.refs_of(conn, sorted({r["order_id"] for r in backlog.lines})) if backlog.lines else {}
    items = []
    for r in backlog.lines:
        ref = refs.get(r["order_id"], {})
        created = as_utc(r["created_at"])
        items.append(
            {
                **r,
                "created_at": created,
                "external_ref": ref.get("external_ref", ""),
                "order_status": ref.get("status", ""),
                "seconds_waiting": max(0, int((now - created).total_seconds())),
            }
        )
    return Listing(backlog.total, items)
