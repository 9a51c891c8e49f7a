"""orders: refunds, returns (RMAs) and staff comments (docs/lifecycle.md)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("rma_id", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_order_refunds_refund_positive")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_refunds_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refunds")),
    )
    op.create_index(op.f("ix_order_refunds_order_id"), "order_refunds", ["order_id"], unique=False)
    op.create_table(
        "order_returns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("received", sa.JSON(), nullable=False),
        sa.Column("receipts", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("condition", sa.String(length=40), server_default="", nullable=False),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_returns_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_returns")),
    )
    op.create_index(op.f("ix_order_returns_order_id"), "order_returns", ["order_id"], unique=False)
    op.create_table(
        "order_comments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_comments_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_comments")),
    )
    op.create_index("ix_order_comments_order_created", "order_comments", ["order_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_order_comments_order_created", table_name="order_comments")
    op.drop_table("order_comments")
    op.drop_index(op.f("ix_order_returns_order_id"), table_name="order_returns")
    op.drop_table("order_returns")
    op.drop_index(op.f("ix_order_refunds_order_id"), table_name="order_refunds")
    op.drop_table("order_refunds")
