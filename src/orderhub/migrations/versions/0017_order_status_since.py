"""orders.status_since: when the order entered its current status (the exceptions view ages
orders by it); back-filled from the order's last ``order.status_changed`` event, else its
creation time

Revision ID: 0017
Revises: 0014
Create Date: 2026-11-26 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE orders SET status_since = COALESCE(
    (SELECT MAX(outbox.occurred_at) FROM outbox
      WHERE outbox.aggregate_type = 'order' AND outbox.aggregate_id = orders.id
        AND outbox.type = 'order.status_changed'),
    orders.created_at)
"""


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("status_since", sa.DateTime(timezone=True), nullable=True))
    op.execute(BACKFILL)
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("status_since", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_index("ix_orders_status_since", ["status", "status_since"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_status_since")
        batch.drop_column("status_since")
