"""carbon inputs: fingerprints of the items and nodes the daily roll-ups were built from, so a
changed category, weight, own figure, node type or place marks the days it touched

Revision ID: 0019
Revises: 0017
Create Date: 2026-11-26 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carbon_inputs",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("fingerprint", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_carbon_inputs")),
    )


def downgrade() -> None:
    op.drop_table("carbon_inputs")
