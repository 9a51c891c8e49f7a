"""Order tables and the queries on them; maps rows to the ``model`` aggregate and back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.clock import as_utc
from orderhub.core.errors import Conflict
from orderhub.core.money import Money
from orderhub.orders.model import (
    Address,
    Customer,
    CustomerTier,
    DeliveryMethod,
    FulfilmentOrder,
    Order,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
from orderhub.platform.db import UtcDateTime, metadata, per_dialect

TS = UtcDateTime()

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("tier", sa.String(20), nullable=False, server_default="standard"),
    sa.Column("external_id", sa.String(120), nullable=False, server_default=""),
    sa.Column("phone", sa.String(40), nullable=False, server_default=""),
    sa.Column("created_at", TS, nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("external_ref", sa.String(120), nullable=True),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("payment_status", sa.String(30), nullable=False),
    sa.Column("delivery_method", sa.String(20), nullable=False),
    sa.Column("pickup_node_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("delivery_option", sa.String(20), nullable=False, server_default="standard"),
    sa.Column("promise_days", sa.Integer, nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("customer_id", sa.String(40), nullable=True),
    sa.Column("customer_email", sa.String(254), nullable=False, server_default=""),
    sa.Column("customer_tier", sa.String(20), nullable=False, server_default="standard"),
    sa.Column("customer", sa.JSON, nullable=False),
    sa.Column("shipping_address", sa.JSON, nullable=False),
    sa.Column("billing_address", sa.JSON, nullable=True),
    sa.Column("subtotal_minor", sa.BigInteger, nullable=False),
    sa.Column("shipping_minor", sa.BigInteger, nullable=False),
    sa.Column("discount_minor", sa.BigInteger, nullable=False),
    sa.Column("tax_minor", sa.BigInteger, nullable=False),
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("notes", sa.Text, nullable=False, server_default=""),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("held_from", sa.String(30), nullable=True),
    sa.Column("search_text", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status_since", TS, nullable=False),  # when it entered its current status (ageing)
    sa.UniqueConstraint("channel", "external_ref", name="uq_orders_channel_external_ref"),
    sa.Index("ix_orders_created", "created_at", "id"),
    sa.Index("ix_orders_status_created", "status", "created_at"),
    sa.Index("ix_orders_channel_created", "channel", "created_at"),
    # a customer's orders; covering, so the customer list's per-customer figures read only the index
    sa.Index(
        "ix_orders_customer_value",
        "customer_email",
        "created_at",
        "currency",
        "payment_status",
        "status",
        "total_minor",
    ),
    sa.Index("ix_orders_status_since", "status", "status_since"),
    sa.Index("ix_orders_total", "total_minor", "id"),  # the list sorted by total
    # order-number lookups, exact and by prefix (LIKE 'x%' needs pattern ops on PostgreSQL)
    sa.Index("ix_orders_external_ref", "external_ref", postgresql_ops={"external_ref": "varchar_pattern_ops"}),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("sku", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("external_line_id", sa.String(120), nullable=False, server_default=""),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_minor", sa.BigInteger, nullable=False),
    sa.Column("quantity_cancelled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("quantity_allocated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("quantity_shipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("quantity_delivered", sa.Integer, nullable=False, server_default="0"),
    sa.Column("quantity_returned", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.CheckConstraint("quantity_cancelled <= quantity", name="cancelled_within_quantity"),
)

order_tags = sa.Table(
    "order_tags",
    metadata,
    sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("tag", sa.String(40), primary_key=True),
    sa.Index("ix_order_tags_tag", "tag"),
)

fulfilment_orders = sa.Table(
    "fulfilment_orders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("node_id", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("principal", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False),
    sa.Column("created_at", TS, nullable=False),
)


# -- writing ------------------------------------------------------------------------------
def _build_customer_upsert(insert: Any) -> Any:
    stmt = insert(customers)
    return stmt.on_conflict_do_update(
        index_elements=[customers.c.email],
        set_={"name": stmt.excluded.name, "phone": stmt.excluded.phone},
    ).returning(customers.c.id, customers.c.tier)


_customer_upsert = per_dialect(_build_customer_upsert)


def upsert_customer(conn: Connection, customer: Customer, *, new_id: str, now: datetime) -> str:
    """Insert or refresh a customer by email in one statement; returns its id. A tier the
    channel did not state is taken from the customer record."""
    row = conn.execute(
        _customer_upsert(conn),
        {
            "id": new_id,
            "email": customer.email,
            "name": customer.name,
            "tier": customer.tier.value,
            "external_id": customer.external_id,
            "phone": customer.phone,
            "created_at": now,
        },
    ).one()
    if customer.tier == CustomerTier.standard:
        customer.tier = CustomerTier(row.tier)
    return str(row.id)


def _search_text(order: Order) -> str:
    parts = [
        order.id,
        order.external_ref,
        order.customer.email,
        order.customer.name,
        order.shipping_address.city,
        order.shipping_address.postal_code,
        *(line.sku for line in order.lines),
    ]
    return " ".join(p for p in parts if p).lower()


def _order_row(order: Order, now: datetime) -> dict[str, Any]:
    def minor(value: Money | None) -> int:
        return value.minor if value is not None else 0

    return {
        "channel": order.channel,
        "external_ref": order.external_ref or None,
        "status": order.status.value,
        "payment_status": order.payment_status.value,
        "delivery_method": order.delivery_method.value,
        "pickup_node_id": order.pickup_node_id,
        "delivery_option": order.delivery_option,
        "promise_days": order.promise_days,
        "currency": order.currency,
        "customer_id": order.customer.id or None,
        "customer_email": order.customer.email,
        "customer_tier": order.customer.tier.value,
        "customer": order.customer.as_dict(),
        "shipping_address": order.shipping_address.as_dict(),
        "billing_address": order.billing_address.as_dict() if order.billing_address else None,
        "subtotal_minor": order.subtotal.minor,
        "shipping_minor": minor(order.shipping_total),
        "discount_minor": minor(order.discount_total),
        "tax_minor": minor(order.tax_total),
        "total_minor": order.total.minor,
        "priority": order.priority,
        "notes": order.notes,
        "tags": order.tags,
        "held_from": order.held_from.value if order.held_from else None,
        "search_text": _search_text(order),
        "updated_at": now,
    }


def _line_rows(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "id": line.id,
            "order_id": order.id,
            "position": i,
            "sku": line.sku,
            "name": line.name,
            "external_line_id": line.external_line_id,
            "quantity": line.quantity,
            "unit_price_minor": line.unit_price.minor,
            "quantity_cancelled": line.quantity_cancelled,
            "quantity_allocated": line.quantity_allocated,
            "quantity_shipped": line.quantity_shipped,
            "quantity_delivered": line.quantity_delivered,
            "quantity_returned": line.quantity_returned,
        }
        for i, line in enumerate(order.lines)
    ]


def _write_children(conn: Connection, order: Order) -> None:
    conn.execute(order_lines.insert(), _line_rows(order))
    if order.tags:
        conn.execute(order_tags.insert(), [{"order_id": order.id, "tag": t} for t in order.tags])
    if order.fulfilment_orders:
        conn.execute(
            fulfilment_orders.insert(),
            [
                {"id": f.id, "order_id": order.id, "node_id": f.node_id, "status": f.status, "lines": f.lines}
                for f in order.fulfilment_orders
            ],
        )


def insert_order(conn: Connection, order: Order, *, now: datetime) -> None:
    """Write a new order with its lines and tags (raises IntegrityError on a duplicate
    channel + external_ref, which the service turns into the existing order)."""
    row = _order_row(order, now)
    conn.execute(
        _insert_order, {"id": order.id, "created_at": order.created_at, "version": 1, "status_since": now, **row}
    )
    order.version = 1
    _write_children(conn, order)


def update_order(conn: Connection, order: Order, *, now: datetime, header_and_tags: bool = False) -> None:
    """Save a changed order if nobody saved it since it was loaded (optimistic version).
    ``header_and_tags``: only the order's own row and its tags changed (a hook's verdict on a
    new order: hold, tags, priority), so its lines and fulfilment orders are not rewritten."""
    result = conn.execute(
        orders.update()
        .where(orders.c.id == order.id, orders.c.version == order.version)
        .values(
            version=order.version + 1,
            # the clock of time-in-status restarts only when the status changes (old value read)
            status_since=sa.case(
                (orders.c.status != order.status.value, sa.literal(now, TS)), else_=orders.c.status_since
            ),
            **_order_row(order, now),
        )
    )
    if result.rowcount != 1:
        raise Conflict(
            f"order {order.id} was changed by someone else; reload and retry",
            code="stale_order",
        )
    order.version += 1
    if header_and_tags:
        conn.execute(order_tags.delete().where(order_tags.c.order_id == order.id))
        if order.tags:
            conn.execute(order_tags.insert(), [{"order_id": order.id, "tag": t} for t in order.tags])
        return
    for table in (order_lines, order_tags, fulfilment_orders):
        conn.execute(table.delete().where(table.c.order_id == order.id))
    _write_children(conn, order)


_insert_order = orders.insert()
_by_external_ref = sa.select(orders.c.id).where(
    orders.c.channel == sa.bindparam("channel"), orders.c.external_ref == sa.bindparam("ref")
)
_idempotency_key = sa.select(idempotency_keys).where(
    idempotency_keys.c.principal == sa.bindparam("principal"), idempotency_keys.c.key == sa.bindparam("key")
)


def find_order_id_by_external_ref(conn: Connection, channel: str, external_ref: str) -> str | None:
    value = conn.execute(_by_external_ref, {"channel": channel, "ref": external_ref}).scalar()
    return str(value) if value else None


def get_idempotency_key(conn: Connection, principal: str, key: str) -> dict[str, Any] | None:
    row = conn.execute(_idempotency_key, {"principal": principal, "key": key}).mappings().first()
    return dict(row) if row else None


def insert_idempotency_key(conn: Connection, **values: Any) -> None:
    conn.execute(idempotency_keys.insert(), values)


# -- reading ------------------------------------------------------------------------------
def _address(data: dict[str, Any] | None) -> Address | None:
    return Address(**data) if data else None


def _to_order(row: Any, lines: Sequence[Any], fos: Sequence[Any]) -> Order:
    currency = row.currency
    cust = dict(row.customer)
    return Order(
        id=row.id,
        channel=row.channel,
        currency=currency,
        customer=Customer(
            email=cust.get("email", ""),
            name=cust.get("name", ""),
            tier=CustomerTier(cust.get("tier", "standard")),
            external_id=cust.get("external_id", ""),
            phone=cust.get("phone", ""),
            id=cust.get("id", "") or "",
        ),
        shipping_address=_address(row.shipping_address) or Address(),
        billing_address=_address(row.billing_address),
        lines=[
            OrderLine(
                id=li.id,
                sku=li.sku,
                quantity=li.quantity,
                unit_price=Money(li.unit_price_minor, currency),
                name=li.name,
                external_line_id=li.external_line_id,
                quantity_cancelled=li.quantity_cancelled,
                quantity_allocated=li.quantity_allocated,
                quantity_shipped=li.quantity_shipped,
                quantity_delivered=li.quantity_delivered,
                quantity_returned=li.quantity_returned,
            )
            for li in lines
        ],
        created_at=as_utc(row.created_at),
        external_ref=row.external_ref or "",
        status=OrderStatus(row.status),
        payment_status=PaymentStatus(row.payment_status),
        delivery_method=DeliveryMethod(row.delivery_method),
        pickup_node_id=row.pickup_node_id,
        delivery_option=row.delivery_option,
        promise_days=row.promise_days,
        tags=list(row.tags),
        priority=row.priority,
        notes=row.notes,
        shipping_total=Money(row.shipping_minor, currency),
        discount_total=Money(row.discount_minor, currency),
        tax_total=Money(row.tax_minor, currency),
        held_from=OrderStatus(row.held_from) if row.held_from else None,
        fulfilment_orders=[
            FulfilmentOrder(id=f.id, node_id=f.node_id, lines=dict(f.lines), status=f.status) for f in fos
        ],
        version=row.version,
    )


def get_order(conn: Connection, order_id: str, *, for_update: bool = False) -> Order | None:
    """Load the aggregate; ``for_update`` locks its row (PostgreSQL) for the transaction."""
    stmt = sa.select(orders).where(orders.c.id == order_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        return None
    lines = conn.execute(
        sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.position)
    ).all()
    fos = conn.execute(
        sa.select(fulfilment_orders)
        .where(fulfilment_orders.c.order_id == order_id)
        .order_by(fulfilment_orders.c.node_id)
    ).all()
    return _to_order(row, lines, fos)


def orders_between(
    conn: Connection, *, start: datetime, end: datetime, customer: str | None, limit: int
) -> list[Order]:
    """Whole orders (with lines) created in [start, end), oldest first: two queries."""
    stmt = sa.select(orders).where(orders.c.created_at >= start, orders.c.created_at < end)
    if customer:
        stmt = stmt.where(orders.c.customer_email == customer.lower())
    rows = conn.execute(stmt.order_by(orders.c.created_at, orders.c.id).limit(limit)).all()
    lines: dict[str, list[Any]] = {}
    ids = [r.id for r in rows]
    for i in range(0, len(ids), 1000):
        chunk = ids[i : i + 1000]
        for li in conn.execute(
            sa.select(order_lines).where(order_lines.c.order_id.in_(chunk)).order_by(order_lines.c.position)
        ):
            lines.setdefault(li.order_id, []).append(li)
    return [_to_order(r, lines.get(r.id, []), []) for r in rows]


def latest_orders(conn: Connection, *, limit: int, since: datetime | None, until: datetime | None) -> list[Order]:
    """The newest ``limit`` whole orders (lines and fulfilment orders) created in [since,
    until), newest first: three queries per thousand orders."""
    stmt = sa.select(orders)
    if since:
        stmt = stmt.where(orders.c.created_at >= since)
    if until:
        stmt = stmt.where(orders.c.created_at < until)
    rows = conn.execute(stmt.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)).all()
    lines: dict[str, list[Any]] = {}
    fos: dict[str, list[Any]] = {}
    ids = [r.id for r in rows]
    for i in range(0, len(ids), 1000):
        chunk = ids[i : i + 1000]
        for li in conn.execute(
            sa.select(order_lines).where(order_lines.c.order_id.in_(chunk)).order_by(order_lines.c.position)
        ):
            lines.setdefault(li.order_id, []).append(li)
        for f in conn.execute(sa.select(fulfilment_orders).where(fulfilment_orders.c.order_id.in_(chunk))):
            fos.setdefault(f.order_id, []).append(f)
    return [_to_order(r, lines.get(r.id, []), fos.get(r.id, [])) for r in rows]


def unallocated_paid(conn: Connection, *, limit: int) -> list[str]:
    """Paid orders not yet split into fulfilment orders, oldest first (the re-plannable backlog)."""
    stmt = (
        sa.select(orders.c.id)
        .where(orders.c.status == OrderStatus.paid.value, orders.c.delivery_method == "ship")
        .order_by(orders.c.created_at, orders.c.id)
        .limit(limit)
    )
    return [str(x) for x in conn.execute(stmt).scalars()]


def waiting_for_run(conn: Connection) -> list[dict[str, Any]]:
    """On-hold orders whose customer chose to wait for the consolidated run, with their area."""
    stmt = (
        sa.select(orders.c.id, orders.c.created_at, orders.c.shipping_address, orders.c.customer_email)
        .where(orders.c.status == OrderStatus.on_hold.value, orders.c.delivery_option == "wait")
        .order_by(orders.c.created_at)
    )
    out = []
    for r in conn.execute(stmt):
        a = r.shipping_address or {}
        area = (a.get("postal_code") or "")[:2] or a.get("region") or a.get("city") or "?"
        out.append({"id": r.id, "created_at": r.created_at, "area": area, "customer_email": r.customer_email})
    return out


def count_by(conn: Connection, column: str, *, since: datetime | None = None) -> dict[str, int]:
    col = orders.c[column]
    stmt = sa.select(col, sa.func.count()).group_by(col)
    if since:
        stmt = stmt.where(orders.c.created_at >= since)
    return {str(k): int(v) for k, v in conn.execute(stmt)}


def daily_counts(conn: Connection, *, since: datetime) -> list[tuple[str, int]]:
    """Orders per UTC day since ``since`` (oldest first)."""
    if conn.dialect.name == "postgresql":
        day = sa.func.to_char(sa.func.timezone("UTC", orders.c.created_at), "YYYY-MM-DD")
    else:
        day = sa.func.substr(orders.c.created_at, 1, 10)
    stmt = (
        sa.select(day.label("day"), sa.func.count()).where(orders.c.created_at >= since).group_by("day").order_by("day")
    )
    return [(str(d), int(n)) for d, n in conn.execute(stmt)]


def bulk_insert(
    conn: Connection, batch: list[Order], *, now: datetime, status_since: dict[str, datetime] | None = None
) -> None:
    """Write many new orders at once (history imports): orders, lines, tags; no events.
    ``status_since``: when each order entered its status (default: its creation)."""
    since = status_since or {}
    conn.execute(
        orders.insert(),
        [
            {
                "id": o.id,
                "created_at": o.created_at,
                "version": 1,
                "status_since": since.get(o.id, o.created_at),
                **_order_row(o, now),
            }
            for o in batch
        ],
    )
    conn.execute(order_lines.insert(), [row for o in batch for row in _line_rows(o)])
    tags = [{"order_id": o.id, "tag": t} for o in batch for t in o.tags]
    if tags:
        conn.execute(order_tags.insert(), tags)


def bulk_insert_customers(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(customers.insert(), rows)


def orders_of_fulfilment_orders(conn: Connection, ids: list[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(fulfilment_orders.c.id, fulfilment_orders.c.order_id).where(fulfilment_orders.c.id.in_(wanted))
    )
    return {r.id: r.order_id for r in rows}


def refs_of(conn: Connection, ids: list[str]) -> dict[str, dict[str, str]]:
    """Channel, channel order number and status of each of these orders (unknown ids left out)."""
    rows = conn.execute(
        sa.select(orders.c.id, orders.c.channel, orders.c.external_ref, orders.c.status).where(orders.c.id.in_(ids))
    )
    return {r.id: {"channel": r.channel, "external_ref": r.external_ref or "", "status": r.status} for r in rows}
