"""orders list: saved views per user; order numbers looked up exactly and by prefix; sorted by total

Revision ID: 0015
Revises: 0019
Create Date: 2026-11-26 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_views",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_views")),
        sa.UniqueConstraint("user_id", "name", name="uq_order_views_user_name"),
    )
    op.create_index("ix_orders_total", "orders", ["total_minor", "id"], unique=False)
    op.create_index(
        "ix_orders_external_ref",
        "orders",
        ["external_ref"],
        unique=False,
        postgresql_ops={"external_ref": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_orders_external_ref", table_name="orders")
    op.drop_index("ix_orders_total", table_name="orders")
    op.drop_table("order_views")
