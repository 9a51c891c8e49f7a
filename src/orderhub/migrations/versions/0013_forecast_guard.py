"""forecast: the guard's states and switches; fitted parameters kept per series

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 17:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_guard_series",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("up", sa.Float(), nullable=False),
        sa.Column("down", sa.Float(), nullable=False),
        sa.Column("alarmed", sa.Boolean(), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("quiet", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("last_z", sa.Float(), server_default="0", nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("sku", "location", name=op.f("pk_forecast_guard_series")),
    )
    op.create_table(
        "forecast_guard_regions",
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=300), server_default="", nullable=False),
        sa.Column("share", sa.Float(), server_default="0", nullable=False),
        sa.Column("level_actual", sa.Float(), nullable=True),
        sa.Column("level_forecast", sa.Float(), nullable=True),
        sa.Column("alarmed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("watched", sa.Integer(), server_default="0", nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("location", name=op.f("pk_forecast_guard_regions")),
    )
    op.create_table(
        "forecast_guard_switches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("level_ratio", sa.Float(), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_guard_switches")),
    )
    with op.batch_alter_table("forecast_guard_switches", schema=None) as batch_op:
        batch_op.create_index("ix_forecast_guard_switches_at", ["at"], unique=False)
    with op.batch_alter_table("forecast_series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_series", schema=None) as batch_op:
        batch_op.drop_column("params")
    with op.batch_alter_table("forecast_guard_switches", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_guard_switches_at")
    op.drop_table("forecast_guard_switches")
    op.drop_table("forecast_guard_regions")
    op.drop_table("forecast_guard_series")
