"""cart holds (reservations.cart_id), leases for the timer loop, room for in-place stock updates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE_CART = "status = 'active' AND cart_id <> ''"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Stock positions are updated all day (every hold, every stock report): room on each
        # page lets PostgreSQL update a row in place without touching its indexes (HOT).
        op.execute("ALTER TABLE stock_positions SET (fillfactor = 70)")
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=80), server_default="", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.add_column("reservations", sa.Column("cart_id", sa.String(length=80), server_default="", nullable=False))
    op.create_index(
        "uq_reservations_cart_sku",
        "reservations",
        ["cart_id", "sku"],
        unique=True,
        sqlite_where=sa.text(ACTIVE_CART),
        postgresql_where=sa.text(ACTIVE_CART),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE stock_positions RESET (fillfactor)")
    op.drop_index("uq_reservations_cart_sku", table_name="reservations")
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("cart_id")
    op.drop_table("leases")
