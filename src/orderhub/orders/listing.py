"""The orders list's queries: filters, the built-in views, sorting, keyset and offset pages,
counts, and the saved views table. Store level: ``orders.browsing`` is the service over it.

Every page and every count is one statement. Sorting is always total — the sort column, then
the order id in the same direction — so a page never repeats or skips a row between requests
that see the same data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import InvalidInput
from orderhub.inventory import service as inventory
from orderhub.orders.model import OrderStatus
from orderhub.orders.store import order_tags, orders
from orderhub.platform.db import UtcDateTime, metadata

S = OrderStatus

#: Saved views of the orders list: a name and the list's query string, per user.
order_views = sa.Table(
    "order_views",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("user_id", "name", name="uq_order_views_user_name"),
)

#: Statuses after which an order is no longer late: it arrived, or it will not.
FINISHED = frozenset({S.delivered, S.cancelled, S.return_requested, S.returned, S.refunded})
#: Paid orders whose units have not all left a node yet.
UNFULFILLED = frozenset({S.paid, S.allocated, S.released, S.picked, S.packed, S.partially_shipped})
#: Tags the ``order.exception`` rules put on orders (the exception-tags template); any tag
#: starting ``exception:`` counts as well.
EXCEPTION_TAGS = ("backordered", "payment-failed", "split-shipment", "vip-late")

#: The built-in views: name → label (the conditions are in ``_view_condition``).
VIEWS: dict[str, str] = {
    "awaiting_payment": "Awaiting payment",
    "unfulfilled": "Unfulfilled",
    "late": "Late",
    "on_hold": "On hold",
    "backordered": "Backordered",
    "exceptions": "Exceptions",
}


def _number_key() -> ColumnElement[Any]:
    return sa.func.coalesce(orders.c.external_ref, "")


#: Sort keys the list accepts ("-" in front: descending).
SORTS: dict[str, Callable[[], ColumnElement[Any]]] = {
    "placed": lambda: orders.c.created_at,
    "total": lambda: orders.c.total_minor,
    "status": lambda: orders.c.status,
    "channel": lambda: orders.c.channel,
    "number": _number_key,
}
DEFAULT_SORT = "-placed"


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """What the list is narrowed to; empty fields do not narrow it. ``number``: an order number
    or id, exact, or a prefix of the order number when it ends with ``*``."""

    status: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    customer: str = ""
    tag: str = ""
    text: str = ""
    number: str = ""
    view: str = ""
    now: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Sort:
    key: str
    descending: bool

    @classmethod
    def parse(cls, value: str) -> Sort:
        """``placed``, ``-total`` …; raises ``ValueError`` for an unknown key."""
        key = value.removeprefix("-")
        if key not in SORTS:
            raise ValueError(value)
        return cls(key, value.startswith("-"))

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.key


def make_filter(
    *,
    status: list[str] | None = None,
    channel: list[str] | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    customer: str | None = None,
    tag: str | None = None,
    text: str | None = None,
    number: str | None = None,
    view: str | None = None,
    now: datetime | None = None,
) -> OrderFilter:
    """A checked filter: an unknown status or view is a problem naming its parameter."""
    bad = [s for s in status or [] if s not in S.__members__]
    if bad:
        raise InvalidInput(
            f"unknown status {bad[0]!r}",
            errors=[{"parameter": "status", "detail": f"one of {', '.join(S)}"}],
        )
    if view and view not in VIEWS:
        raise InvalidInput(
            f"unknown view {view!r}", errors=[{"parameter": "view", "detail": f"one of {', '.join(VIEWS)}"}]
        )
    return OrderFilter(
        status=tuple(status or ()),
        channel=tuple(c for c in channel or () if c),
        created_from=as_utc(created_from) if created_from else None,
        created_to=as_utc(created_to) if created_to else None,
        customer=customer or "",
        tag=tag or "",
        text=text or "",
        number=(number or "").strip(),
        view=view or "",
        now=now or utcnow(),
    )


def parse_sort(value: str | None) -> Sort:
    """``Sort.parse`` with the problem naming the ``sort`` parameter."""
    try:
        return Sort.parse(value or DEFAULT_SORT)
    except ValueError:
        keys = ", ".join(f"{k}, -{k}" for k in SORTS)
        raise InvalidInput(
            f"unknown sort {value!r}", errors=[{"parameter": "sort", "detail": f"one of {keys}"}]
        ) from None


def _promised(dialect: str) -> ColumnElement[Any]:
    """created_at + promise_days, comparable with ``_instant`` (as the pick list reads it)."""
    if dialect == "postgresql":
        hour = sa.literal_column("interval '1 hour'", type_=sa.Interval)
        return orders.c.created_at + orders.c.promise_days * 24 * hour
    return sa.func.julianday(orders.c.created_at) + orders.c.promise_days


def _instant(dialect: str, at: datetime) -> ColumnElement[Any]:
    value = sa.literal(as_utc(at), UtcDateTime())
    return value if dialect == "postgresql" else sa.func.julianday(value)


#: Statuses an order may still be late in (listed, not negated, so the status index serves them).
OPEN = tuple(s.value for s in S if s not in FINISHED)


def _late(dialect: str, now: datetime) -> ColumnElement[bool]:
    return sa.and_(
        orders.c.status.in_(OPEN),
        orders.c.promise_days.is_not(None),
        _promised(dialect) < _instant(dialect, now),
    )


def _backordered() -> ColumnElement[bool]:
    return sa.and_(orders.c.status != S.cancelled.value, orders.c.id.in_(inventory.backordered_orders()))


def _exception_ids(dialect: str, now: datetime) -> Any:
    """Ids of open orders in trouble, as a UNION of index-served selects (an OR over the
    whole table would read every order): on hold, payment failed, an exception tag, late,
    backordered."""
    ids = sa.select(orders.c.id)
    return sa.union(
        ids.where(orders.c.status == S.on_hold.value),
        ids.where(orders.c.status.in_(OPEN), orders.c.payment_status == "voided"),
        sa.select(order_tags.c.order_id).where(
            sa.or_(order_tags.c.tag.in_(EXCEPTION_TAGS), order_tags.c.tag.startswith("exception:"))
        ),
        ids.where(_late(dialect, now)),
        ids.where(_backordered()),
    )


def _view_condition(view: str, dialect: str, now: datetime) -> ColumnElement[bool]:
    if view == "awaiting_payment":
        return orders.c.status.in_([S.created.value, S.awaiting_payment.value])
    if view == "unfulfilled":
        held = sa.and_(orders.c.status == S.on_hold.value, orders.c.held_from.in_([s.value for s in UNFULFILLED]))
        return sa.or_(orders.c.status.in_([s.value for s in UNFULFILLED]), held)
    if view == "late":
        return _late(dialect, now)
    if view == "on_hold":
        return orders.c.status == S.on_hold.value
    if view == "backordered":
        return _backordered()
    if view == "exceptions":
        return sa.and_(orders.c.status.in_(OPEN), orders.c.id.in_(_exception_ids(dialect, now)))
    raise ValueError(view)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _number_condition(number: str, dialect: str) -> ColumnElement[bool]:
    """Exact order number or id; ``1001*``: order numbers starting ``1001``. Index-served:
    SQLite's GLOB and PostgreSQL's LIKE on ``ix_orders_external_ref`` (pattern ops)."""
    value = number.strip().removeprefix("#")
    if not value.endswith("*"):
        return sa.or_(orders.c.external_ref == value, orders.c.id == value)
    prefix = value.rstrip("*")
    if dialect == "sqlite":
        glob = "".join(f"[{c}]" if c in "*?[" else c for c in prefix) + "*"
        return orders.c.external_ref.op("GLOB")(glob)
    return orders.c.external_ref.like(_like_escaped(prefix) + "%", escape="\\")


def conditions(f: OrderFilter, dialect: str) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filter (ANDed)."""
    out: list[ColumnElement[bool]] = []
    if f.status:
        out.append(orders.c.status.in_(f.status))
    if f.channel:
        out.append(orders.c.channel.in_(f.channel))
    if f.created_from:
        out.append(orders.c.created_at >= as_utc(f.created_from))
    if f.created_to:
        out.append(orders.c.created_at < as_utc(f.created_to))
    if f.customer:
        out.append(sa.or_(orders.c.customer_email == f.customer.lower(), orders.c.customer_id == f.customer))
    if f.tag:
        out.append(sa.exists().where(order_tags.c.order_id == orders.c.id, order_tags.c.tag == f.tag))
    if f.text:
        pattern = "%" + _like_escaped(f.text.lower()) + "%"
        out.append(orders.c.search_text.like(pattern, escape="\\"))
    if f.number:
        out.append(_number_condition(f.number, dialect))
    if f.view:
        out.append(_view_condition(f.view, dialect, f.now))
    return out


_LIST_COLUMNS = [c for c in orders.c if c.name not in ("search_text", "billing_address")]


def _ordering(sort: Sort) -> list[ColumnElement[Any]]:
    key = SORTS[sort.key]()
    if sort.descending:
        return [key.desc(), orders.c.id.desc()]
    return [key.asc(), orders.c.id.asc()]


def _after(sort: Sort, value: Any, last_id: str) -> ColumnElement[bool]:
    """Rows after (value, last_id) in ``sort``'s order: the keyset condition."""
    key = SORTS[sort.key]()
    if sort.descending:
        return sa.or_(key < value, sa.and_(key == value, orders.c.id < last_id))
    return sa.or_(key > value, sa.and_(key == value, orders.c.id > last_id))


def count(conn: Connection, f: OrderFilter) -> int:
    """How many orders match (one ``count(*)``; no join, no sort)."""
    stmt = sa.select(sa.func.count()).select_from(orders).where(*conditions(f, conn.dialect.name))
    return int(conn.execute(stmt).scalar_one())


def _rows(
    conn: Connection, where: list[ColumnElement[bool]], sort: Sort, *, offset: int, limit: int
) -> list[dict[str, Any]]:
    """A deferred join: the ids of the page are found and sorted alone (from an index where
    one serves the sort), then only those rows are read whole."""
    ids = (
        sa.select(orders.c.id.label("page_id"))
        .where(*where)
        .order_by(*_ordering(sort))
        .offset(offset)
        .limit(limit)
        .subquery("page_ids")
    )
    stmt = sa.select(*_LIST_COLUMNS).join_from(orders, ids, orders.c.id == ids.c.page_id).order_by(*_ordering(sort))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def page(conn: Connection, f: OrderFilter, sort: Sort, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """One page by position (the console's numbered pages)."""
    return _rows(conn, conditions(f, conn.dialect.name), sort, offset=offset, limit=limit)


def page_after(
    conn: Connection, f: OrderFilter, sort: Sort, *, after: tuple[Any, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows after the keyset position ``after`` (the API's cursor pages and
    the export's batches)."""
    where = conditions(f, conn.dialect.name)
    if after is not None:
        where.append(_after(sort, *after))
    return _rows(conn, where, sort, offset=0, limit=limit)


def sort_value(sort: Sort, row: dict[str, Any]) -> Any:
    """The sort key of a row, as the keyset condition compares it."""
    column = {"placed": "created_at", "total": "total_minor", "status": "status", "channel": "channel"}
    return row["external_ref"] or "" if sort.key == "number" else row[column[sort.key]]


def encode_cursor(sort: Sort, row: dict[str, Any]) -> str:
    value = sort_value(sort, row)
    if isinstance(value, datetime):
        value = as_utc(value).isoformat()
    return base64.urlsafe_b64encode(json.dumps([str(sort), value, row["id"]]).encode()).decode()


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, str]:
    """The keyset position of a cursor made for ``sort``; ``ValueError`` for anything else."""
    try:
        made_for, value, last_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception as exc:
        raise ValueError("not a cursor") from exc
    if made_for != str(sort) or not isinstance(last_id, str):
        raise ValueError("a cursor of another sort")
    if sort.key == "placed":
        value = as_utc(datetime.fromisoformat(value))
    elif sort.key == "total" and not isinstance(value, int):
        raise ValueError("bad total")
    elif sort.key != "total" and not isinstance(value, str):
        raise ValueError("bad value")
    return value, last_id


def find_by_number(conn: Connection, number: str, *, limit: int = 2) -> list[dict[str, Any]]:
    """Orders whose id or order number (any channel) is exactly ``number`` (``#`` ignored)."""
    value = number.strip().removeprefix("#")
    stmt = (
        sa.select(orders.c.id, orders.c.channel, orders.c.external_ref)
        .where(sa.or_(orders.c.external_ref == value, orders.c.id == value))
        .order_by(orders.c.id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


# -- saved views ----------------------------------------------------------------------------
def get_views(conn: Connection, user_id: str) -> list[dict[str, Any]]:
    stmt = sa.select(order_views).where(order_views.c.user_id == user_id).order_by(order_views.c.name)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def put_view(conn: Connection, *, view_id: str, user_id: str, name: str, query: str, now: datetime) -> str:
    """Insert the view, or replace the query of the user's view of that name; its id."""
    existing = conn.execute(
        sa.select(order_views.c.id).where(order_views.c.user_id == user_id, order_views.c.name == name)
    ).scalar()
    if existing:
        conn.execute(order_views.update().where(order_views.c.id == existing).values(query=query))
        return str(existing)
    conn.execute(order_views.insert().values(id=view_id, user_id=user_id, name=name, query=query, created_at=now))
    return view_id


def delete_view(conn: Connection, *, view_id: str, user_id: str) -> bool:
    result = conn.execute(order_views.delete().where(order_views.c.id == view_id, order_views.c.user_id == user_id))
    return result.rowcount == 1
