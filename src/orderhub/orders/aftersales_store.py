"""Tables of an order's after-sales records: refunds, returns (RMAs) and staff comments.

Written only inside the order's own unit of work (``changes.change``), under the order's row
lock, so the sums they are checked against (refunded so far, units already on a return) cannot
move between the check and the write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.platform.db import UtcDateTime, metadata

TS = UtcDateTime()

order_refunds = sa.Table(
    "order_refunds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("rma_id", sa.String(40), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.CheckConstraint("amount_minor > 0", name="refund_positive"),
)

order_returns = sa.Table(
    "order_returns",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("received", sa.JSON, nullable=False),
    sa.Column("receipts", sa.JSON, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("condition", sa.String(40), nullable=False, server_default=""),
    sa.Column("refund_id", sa.String(40), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

order_comments = sa.Table(
    "order_comments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id"), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_order_comments_order_created", "order_id", "created_at"),
)


# -- refunds ------------------------------------------------------------------------------
def insert_refund(conn: Connection, **row: Any) -> None:
    conn.execute(order_refunds.insert(), row)


def insert_history(conn: Connection, *, returns: list[dict[str, Any]], refunds: list[dict[str, Any]]) -> None:
    """Bulk-insert the RMAs and refunds of imported orders (``returns.history_rows``)."""
    if returns:
        conn.execute(order_returns.insert(), returns)
    if refunds:
        conn.execute(order_refunds.insert(), refunds)


def refunds_of(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    """The order's refunds, oldest first."""
    stmt = (
        sa.select(order_refunds)
        .where(order_refunds.c.order_id == order_id)
        .order_by(order_refunds.c.created_at, order_refunds.c.id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


# -- returns ------------------------------------------------------------------------------
def insert_return(conn: Connection, **row: Any) -> None:
    conn.execute(order_returns.insert(), row)


def update_return(conn: Connection, rma_id: str, *, now: datetime, **values: Any) -> None:
    conn.execute(order_returns.update().where(order_returns.c.id == rma_id).values(updated_at=now, **values))


def returns_of(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    """The order's return authorisations, oldest first."""
    stmt = (
        sa.select(order_returns)
        .where(order_returns.c.order_id == order_id)
        .order_by(order_returns.c.created_at, order_returns.c.id)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


# -- comments -----------------------------------------------------------------------------
def insert_comment(conn: Connection, **row: Any) -> None:
    conn.execute(order_comments.insert(), row)


def comments_of(conn: Connection, order_id: str, *, limit: int) -> list[dict[str, Any]]:
    """The order's comments, oldest first (the newest ``limit``)."""
    stmt = (
        sa.select(order_comments)
        .where(order_comments.c.order_id == order_id)
        .order_by(order_comments.c.created_at.desc(), order_comments.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in reversed(conn.execute(stmt).mappings().all())]
