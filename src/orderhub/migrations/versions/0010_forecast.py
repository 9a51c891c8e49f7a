"""forecast: demand history, copied order lines, series, points, runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 16:19:43.162229
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_demand",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("revenue_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku", "location", "day", name=op.f("pk_forecast_demand")),
    )
    with op.batch_alter_table("forecast_demand", schema=None) as batch_op:
        batch_op.create_index("ix_forecast_demand_updated", ["updated_at"], unique=False)

    op.create_table(
        "forecast_lines",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), server_default="", nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unit_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line_id", name=op.f("pk_forecast_lines")),
    )
    op.create_table(
        "forecast_points",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mean", sa.Float(), nullable=False),
        sa.Column("lo80", sa.Float(), nullable=True),
        sa.Column("hi80", sa.Float(), nullable=True),
        sa.Column("lo95", sa.Float(), nullable=True),
        sa.Column("hi95", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("sku", "location", "day", name=op.f("pk_forecast_points")),
    )
    with op.batch_alter_table("forecast_points", schema=None) as batch_op:
        batch_op.create_index("ix_forecast_points_location_day", ["location", "day"], unique=False)

    op.create_table(
        "forecast_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("folds", sa.Integer(), nullable=False),
        sa.Column("series", sa.Integer(), server_default="0", nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_runs")),
    )
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.create_index("ix_forecast_runs_started", ["started_at"], unique=False)

    op.create_table(
        "forecast_series",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=40), nullable=False),
        sa.Column("demand_class", sa.String(length=20), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("spread", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku", "location", name=op.f("pk_forecast_series")),
    )
    with op.batch_alter_table("forecast_series", schema=None) as batch_op:
        batch_op.create_index("ix_forecast_series_location", ["location", "sku"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("forecast_series", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_series_location")

    op.drop_table("forecast_series")
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_runs_started")

    op.drop_table("forecast_runs")
    with op.batch_alter_table("forecast_points", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_points_location_day")

    op.drop_table("forecast_points")
    op.drop_table("forecast_lines")
    with op.batch_alter_table("forecast_demand", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_demand_updated")

    op.drop_table("forecast_demand")
