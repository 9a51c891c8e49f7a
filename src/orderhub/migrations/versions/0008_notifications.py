"""notifications: tracking_notifications, mail_outbox

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 13:35:57.074881
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("notification_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_mail_outbox_notification_id")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_outbox_order_id"), ["order_id"], unique=False)

    op.create_table(
        "tracking_notifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("milestone", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("recipient", sa.String(length=2000), nullable=False),
        sa.Column("subject", sa.String(length=300), server_default="", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_notifications")),
        sa.UniqueConstraint("order_id", "milestone", "channel", name="uq_tracking_notifications_once"),
    )
    with op.batch_alter_table("tracking_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_tracking_notifications_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_tracking_notifications_due", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tracking_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_notifications_due")
        batch_op.drop_index("ix_tracking_notifications_created")

    op.drop_table("tracking_notifications")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_order_id"))

    op.drop_table("mail_outbox")
