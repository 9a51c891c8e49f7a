"""Customers as operations see them: who they are, what they ordered and returned, what they
are worth, their tier and their reward points.

Read-only use cases for ``/console/customers`` and ``/api/v1/customers``. A customer's orders
are the orders carrying its email (channels and imported history do not always carry our id).
Lifetime value is per currency: the totals of orders whose payment was captured (``paid``,
``partially_refunded``), less the refunds recorded against them (``order_refunds``); an order
refunded as a whole (payment ``refunded`` or status ``refunded``, as imported history records
it) counts nothing. Reward points
are carbon's ledger (green delivery choices), read through its service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.carbon import service as carbon
from orderhub.core.clock import as_utc
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.money import Money
from orderhub.orders import store
from orderhub.orders.aftersales_store import order_refunds
from orderhub.orders.model import OrderStatus as S
from orderhub.orders.model import PaymentStatus as P
from orderhub.platform.db import unit_of_work

customers, orders, order_lines = store.customers, store.orders, store.order_lines

#: Sort keys of the customer list: each sorts its best first (name: A to Z).
SORTS = ("last_order", "lifetime_value", "orders", "name")
#: Statuses that mean goods came (or are coming) back: the customer's returns.
RETURN_STATES = (S.return_requested.value, S.returned.value)
#: A customer page lists this many of its newest orders (the orders list pages further).
ORDERS_SHOWN = 100


def _counted_paid() -> Any:
    """True for an order whose total counts towards lifetime value."""
    return sa.and_(
        orders.c.payment_status.in_([P.paid.value, P.partially_refunded.value]),
        orders.c.status != S.refunded.value,
    )


def _invalid(parameter: str, detail: str) -> InvalidInput:
    return InvalidInput(f"{parameter}: {detail}", errors=[{"parameter": parameter, "detail": detail}])


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """One page of customers (``items``) out of ``total`` matching, sorted by ``sort``;
    ``currency``: the currency lifetime value was sorted in."""

    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int
    sort: str
    currency: str


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _main_currency(conn: Connection) -> str:
    """The currency most of the newest 500 orders are in (what lifetime value sorts by unless
    told): read from the newest end of ``ix_orders_created``, not the whole table."""
    newest = sa.select(orders.c.currency).order_by(orders.c.created_at.desc()).limit(500).subquery()
    row = conn.execute(
        sa.select(newest.c.currency, sa.func.count().label("n"))
        .group_by(newest.c.currency)
        .order_by(sa.desc("n"), newest.c.currency)
        .limit(1)
    ).first()
    return str(row.currency) if row else "EUR"


def _kept_minor() -> Any:
    """What an order's customer kept paying: its total less the refunds recorded against it."""
    refunded = (
        sa.select(sa.func.coalesce(sa.func.sum(order_refunds.c.amount_minor), 0))
        .where(order_refunds.c.order_id == orders.c.id)
        .scalar_subquery()
    )
    return orders.c.total_minor - refunded


def _values(conn: Connection, emails: list[str]) -> dict[str, dict[str, str]]:
    """Lifetime value per currency (decimal strings) of each of these customers."""
    if not emails:
        return {}
    stmt = (
        sa.select(orders.c.customer_email, orders.c.currency, sa.func.sum(_kept_minor()))
        .where(orders.c.customer_email.in_(emails), _counted_paid())
        .group_by(orders.c.customer_email, orders.c.currency)
        .order_by(orders.c.customer_email, orders.c.currency)
    )
    out: dict[str, dict[str, str]] = {}
    for email, currency, minor in conn.execute(stmt):
        out.setdefault(str(email), {})[str(currency)] = Money(int(minor), str(currency)).to_decimal_string()
    return out


def get_all(
    engine: Engine,
    *,
    q: str | None = None,
    sort: str = "last_order",
    currency: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> CustomerPage:
    """Customers matching ``q`` (in name, email or external / loyalty id; any case), with
    their order count, first and last order and lifetime value per currency; sorted by
    ``sort`` (``SORTS``; lifetime value in ``currency``, by default the currency most recent
    orders are in). Offset paging with the total count; two aggregate statements per page."""
    if sort not in SORTS:
        raise _invalid("sort", f"one of {', '.join(SORTS)}")
    if currency is not None and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise _invalid("currency", "an ISO 4217 code such as EUR")
    with unit_of_work(engine, write=False) as conn:
        cur = currency or _main_currency(conn)
        where: list[Any] = []
        if q and q.strip():
            pattern = _like(q.strip())
            where.append(
                sa.or_(
                    sa.func.lower(customers.c.name).like(pattern, escape="\\"),
                    customers.c.email.like(pattern, escape="\\"),
                    sa.func.lower(customers.c.external_id).like(pattern, escape="\\"),
                )
            )
        agg = (
            sa.select(
                orders.c.customer_email.label("email"),
                sa.func.count().label("orders"),
                sa.func.min(orders.c.created_at).label("first_order_at"),
                sa.func.max(orders.c.created_at).label("last_order_at"),
                sa.func.sum(
                    sa.case((sa.and_(_counted_paid(), orders.c.currency == cur), _kept_minor()), else_=0)
                ).label("value_minor"),
            )
            .where(*([orders.c.customer_email.in_(sa.select(customers.c.email).where(*where))] if where else []))
            .group_by(orders.c.customer_email)
            .subquery("agg")
        )
        total = int(conn.execute(sa.select(sa.func.count()).select_from(customers).where(*where)).scalar_one())
        orderings: dict[str, list[Any]] = {
            "last_order": [agg.c.last_order_at.desc().nulls_last()],
            "lifetime_value": [sa.func.coalesce(agg.c.value_minor, 0).desc()],
            "orders": [sa.func.coalesce(agg.c.orders, 0).desc()],
            "name": [sa.func.lower(customers.c.name)],
        }
        order_by = orderings[sort]
        rows = (
            conn.execute(
                sa.select(customers, agg.c.orders, agg.c.first_order_at, agg.c.last_order_at)
                .select_from(customers.outerjoin(agg, agg.c.email == customers.c.email))
                .where(*where)
                .order_by(*order_by, customers.c.email)
                .limit(limit)
                .offset(offset)
            )
            .mappings()
            .all()
        )
        values = _values(conn, [r["email"] for r in rows])
    items = [_customer_json(r, values.get(r["email"], {})) for r in rows]
    return CustomerPage(items, total, offset, limit, sort, cur)


def _customer_json(row: Any, value: dict[str, str]) -> dict[str, Any]:
    def at(v: Any) -> str | None:
        return as_utc(v).isoformat() if v is not None else None

    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "tier": row["tier"],
        "external_id": row["external_id"],
        "phone": row["phone"],
        "created_at": at(row["created_at"]),
        "orders": int(row["orders"] or 0),
        "first_order_at": at(row["first_order_at"]),
        "last_order_at": at(row["last_order_at"]),
        "lifetime_value": value,
    }


def _order_row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "channel": r.channel,
        "external_ref": r.external_ref or "",
        "status": r.status,
        "payment_status": r.payment_status,
        "total": Money(r.total_minor, r.currency).to_decimal_string(),
        "currency": r.currency,
        "created_at": as_utc(r.created_at).isoformat(),
    }


def get(engine: Engine, *, customer: str) -> dict[str, Any]:
    """One customer by id or email: profile, tier, lifetime value per currency, first and
    last order, its newest ``ORDERS_SHOWN`` orders (``orders_total`` counts all), its returns
    (orders in a return state, or refunded after units came back) and its reward points
    (balance and the newest entries). 404 ``customer_not_found`` if unknown."""
    key = customer.strip()
    with unit_of_work(engine, write=False) as conn:
        match = customers.c.email == key.lower() if "@" in key else customers.c.id == key
        row = conn.execute(sa.select(customers).where(match)).mappings().first()
        if row is None:
            raise NotFound(f"no customer {customer}", code="customer_not_found", customer=customer)
        email = row["email"]
        mine = orders.c.customer_email == email
        stats = (
            conn.execute(
                sa.select(
                    sa.func.count().label("orders"),
                    sa.func.min(orders.c.created_at).label("first_order_at"),
                    sa.func.max(orders.c.created_at).label("last_order_at"),
                ).where(mine)
            )
            .mappings()
            .one()
        )
        cols = [
            orders.c.id,
            orders.c.channel,
            orders.c.external_ref,
            orders.c.status,
            orders.c.payment_status,
            orders.c.total_minor,
            orders.c.currency,
            orders.c.created_at,
        ]
        newest = sa.select(*cols).where(mine).order_by(orders.c.created_at.desc(), orders.c.id.desc())
        recent = conn.execute(newest.limit(ORDERS_SHOWN)).all()
        came_back = (
            sa.select(order_lines.c.id)
            .where(order_lines.c.order_id == orders.c.id, order_lines.c.quantity_returned > 0)
            .exists()
        )
        returned = conn.execute(
            sa.select(*cols)
            .where(
                mine,
                sa.or_(orders.c.status.in_(RETURN_STATES), sa.and_(orders.c.status == S.refunded.value, came_back)),
            )
            .order_by(orders.c.created_at.desc(), orders.c.id.desc())
            .limit(ORDERS_SHOWN)
        ).all()
        value = _values(conn, [email]).get(email, {})
    points = carbon.get_points(engine, email=email)
    body = _customer_json({**row, **stats}, value)
    body["orders_total"] = body.pop("orders")
    return {
        **body,
        "orders": [_order_row(r) for r in recent],
        "returns": [_order_row(r) for r in returned],
        "points": {
            "balance": points["balance"],
            "entries": [
                {
                    "points": e["points"],
                    "reason": e["reason"],
                    "order_id": e["order_id"],
                    "at": as_utc(e["at"]).isoformat(),
                }
                for e in reversed(points["entries"][-20:])
            ],
        },
    }
