"""carbon_orders: carbon's own projection of orders (the footprints no longer read the order
tables), filled from the orders already there

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHUNK = 2000

_orders = sa.table(
    "orders",
    sa.column("id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("channel", sa.String),
    sa.column("customer_email", sa.String),
    sa.column("delivery_method", sa.String),
    sa.column("shipping_address", sa.JSON),
    sa.column("status", sa.String),
)
_lines = sa.table(
    "order_lines",
    sa.column("id", sa.String),
    sa.column("order_id", sa.String),
    sa.column("position", sa.Integer),
    sa.column("sku", sa.String),
    sa.column("quantity", sa.Integer),
    sa.column("quantity_cancelled", sa.Integer),
)


def upgrade() -> None:
    carbon_orders = op.create_table(
        "carbon_orders",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("customer_email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("delivery_method", sa.String(length=20), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("country", sa.String(length=40), server_default="", nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_carbon_orders")),
    )
    op.create_index(op.f("ix_carbon_orders_created_at"), "carbon_orders", ["created_at"], unique=False)
    op.create_index(op.f("ix_carbon_orders_customer_email"), "carbon_orders", ["customer_email"], unique=False)
    assert carbon_orders is not None
    _backfill(op.get_bind(), carbon_orders)


def _backfill(conn: Any, carbon_orders: sa.Table) -> None:
    """Every existing order, in chunks (keyset on the id): open units per line, destination."""
    after = ""
    while True:
        batch = conn.execute(sa.select(_orders).where(_orders.c.id > after).order_by(_orders.c.id).limit(CHUNK)).all()
        if not batch:
            return
        lines: dict[str, list[dict[str, Any]]] = {}
        stmt = sa.select(_lines).where(_lines.c.order_id.in_([o.id for o in batch])).order_by(_lines.c.position)
        for li in conn.execute(stmt):
            lines.setdefault(li.order_id, []).append(
                {"line_id": li.id, "sku": li.sku, "quantity": li.quantity - li.quantity_cancelled}
            )
        rows = []
        for o in batch:
            a = o.shipping_address or {}
            located = a.get("lat") is not None and a.get("lon") is not None
            rows.append(
                {
                    "order_id": o.id,
                    "created_at": o.created_at,
                    "channel": o.channel,
                    "customer_email": o.customer_email,
                    "delivery_method": o.delivery_method,
                    "lat": a["lat"] if located else None,
                    "lon": a["lon"] if located else None,
                    "country": a.get("country") or "",
                    "lines": lines.get(o.id, []),
                    "status": o.status,
                }
            )
        conn.execute(carbon_orders.insert(), rows)
        after = batch[-1].id


def downgrade() -> None:
    op.drop_index(op.f("ix_carbon_orders_customer_email"), table_name="carbon_orders")
    op.drop_index(op.f("ix_carbon_orders_created_at"), table_name="carbon_orders")
    op.drop_table("carbon_orders")
