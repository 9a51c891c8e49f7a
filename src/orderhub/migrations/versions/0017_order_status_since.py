"""orders.status_since: when the order entered its current status (the exceptions view ages
orders by it); back-filled from the order's last ``order.status_changed`` event, else its
creation time. ix_orders_customer_value (covering) replaces ix_orders_customer_email.

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

CUSTOMER_VALUE = ["customer_email", "created_at", "currency", "payment_status", "status", "total_minor"]
BACKFILL = """
UPDATE orders SET status_since = COALESCE(
    (SELECT MAX(outbox.occurred_at) FROM outbox
      WHERE outbox.aggregate_type = 'order' AND outbox.aggregate_id = orders.id
        AND outbox.type = 'order.status_changed'),
    orders.created_at)
"""


def upgrade() -> None:
    # ADD COLUMN with a placeholder default, then the back-fill: no rebuild of the orders table
    # (SQLite would copy it whole, and its foreign keys refuse the drop of the old one).
    sqlite = op.get_bind().dialect.name == "sqlite"
    epoch = "'1970-01-01 00:00:00.000000'" if sqlite else "'1970-01-01 00:00:00+00'"
    op.add_column(
        "orders",
        sa.Column("status_since", sa.DateTime(timezone=True), nullable=False, server_default=sa.text(epoch)),
    )
    op.execute(BACKFILL)
    if not sqlite:  # the placeholder goes; every write sets the column (SQLite keeps it: no rebuild)
        op.alter_column("orders", "status_since", server_default=None)
    op.create_index("ix_orders_status_since", "orders", ["status", "status_since"])
    # the customer list's figures per customer from the index alone (it leads with the email, so
    # it serves every lookup the email index did)
    op.create_index("ix_orders_customer_value", "orders", CUSTOMER_VALUE)
    op.drop_index("ix_orders_customer_email", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_customer_email", "orders", ["customer_email"])
    op.drop_index("ix_orders_customer_value", table_name="orders")
    op.drop_index("ix_orders_status_since", table_name="orders")
    op.drop_column("orders", "status_since")
