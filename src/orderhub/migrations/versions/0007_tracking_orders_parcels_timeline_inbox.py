"""tracking: orders, parcels, timeline, inbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "tracking_events",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("parcel_id", sa.String(length=40), nullable=True),
        sa.Column("fulfilment_order_id", sa.String(length=40), server_default="", nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("milestone", sa.String(length=30), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("location", sa.String(length=200), server_default="", nullable=False),
        sa.Column("country", sa.String(length=2), server_default="", nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("time_note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
        sa.UniqueConstraint("source", "key", name="uq_tracking_events_source_key"),
    )
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_events_order", ["order_id", "occurred_at"], unique=False)
        batch_op.create_index("ix_tracking_events_parcel", ["parcel_id", "occurred_at"], unique=False)

    op.create_table(
        "tracking_inbox",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=20), server_default="none", nullable=False),
        sa.Column("recorded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duplicates", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_inbox")),
    )
    with op.batch_alter_table("tracking_inbox", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_inbox_status", ["status", "id"], unique=False)

    op.create_table(
        "tracking_orders",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=5), server_default="en", nullable=False),
        sa.Column("channel", sa.String(length=40), server_default="", nullable=False),
        sa.Column("external_ref", sa.String(length=200), server_default="", nullable=False),
        sa.Column("customer_email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promised_by", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("estimate_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dest_city", sa.String(length=100), server_default="", nullable=False),
        sa.Column("dest_country", sa.String(length=2), server_default="", nullable=False),
        sa.Column("dest_lat", sa.Float(), nullable=True),
        sa.Column("dest_lon", sa.Float(), nullable=True),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_tracking_orders")),
        sa.UniqueConstraint("token", name=op.f("uq_tracking_orders_token")),
    )
    with op.batch_alter_table("tracking_orders", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_orders_placed_at", ["placed_at"], unique=False)
        batch_op.create_index("ix_tracking_orders_status", ["status", "status_since"], unique=False)

    op.create_table(
        "tracking_parcels",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("fulfilment_order_id", sa.String(length=40), server_default="", nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=60), server_default="", nullable=False),
        sa.Column("tracking_number", sa.String(length=60), nullable=False),
        sa.Column("tracking_url", sa.String(length=500), server_default="", nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery_recorded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_parcels")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_tracking_parcels_tracking_number")),
    )
    with op.batch_alter_table("tracking_parcels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracking_parcels_order_id"), ["order_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("tracking_parcels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracking_parcels_order_id"))

    op.drop_table("tracking_parcels")
    with op.batch_alter_table("tracking_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_orders_status")
        batch_op.drop_index("ix_tracking_orders_placed_at")

    op.drop_table("tracking_orders")
    with op.batch_alter_table("tracking_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_inbox_status")

    op.drop_table("tracking_inbox")
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_events_parcel")
        batch_op.drop_index("ix_tracking_events_order")

    op.drop_table("tracking_events")
