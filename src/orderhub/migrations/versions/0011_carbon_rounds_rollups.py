"""carbon rounds and daily roll-ups: real delivery and collection rounds a carrier reported with
each item's share; the footprints summed per day for the console's carbon page

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carbon_rounds",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("carrier", sa.String(length=80), server_default="", nullable=False),
        sa.Column("service", sa.String(length=80), server_default="", nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("kg", sa.Float(), nullable=False),
        sa.Column("ttw_kg", sa.Float(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("tkm", sa.Float(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("quality", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carbon_rounds")),
    )
    op.create_table(
        "carbon_round_items",
        sa.Column("round_id", sa.String(length=80), nullable=False),
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("mass_kg", sa.Float(), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("kg", sa.Float(), nullable=False),
        sa.Column("ttw_kg", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["carbon_rounds.id"],
            name=op.f("fk_carbon_round_items_round_id_carbon_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "item_id", name=op.f("pk_carbon_round_items")),
    )
    op.create_index(op.f("ix_carbon_round_items_order_id"), "carbon_round_items", ["order_id"], unique=False)
    op.create_table(
        "carbon_days",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("built_generation", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(length=40), server_default="", nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_carbon_days")),
    )
    op.create_table(
        "carbon_day_totals",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("dim", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kg", sa.Float(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "dim", "key", name=op.f("pk_carbon_day_totals")),
    )


def downgrade() -> None:
    op.drop_table("carbon_day_totals")
    op.drop_table("carbon_days")
    op.drop_index(op.f("ix_carbon_round_items_order_id"), table_name="carbon_round_items")
    op.drop_table("carbon_round_items")
    op.drop_table("carbon_rounds")
