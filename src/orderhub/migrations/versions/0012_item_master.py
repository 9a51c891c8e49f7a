"""item master: dimensions, barcode, carbon factor and a review flag; weight may be unknown
(a placeholder item created for an unknown SKU at capture)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.alter_column("weight_g", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("length_mm", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("width_mm", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("height_mm", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("barcode", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("co2e_kg_per_unit", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index("ix_items_needs_review", ["needs_review"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_needs_review")
        for column in ("needs_review", "co2e_kg_per_unit", "barcode", "height_mm", "width_mm", "length_mm"):
            batch_op.drop_column(column)
        batch_op.alter_column("weight_g", existing_type=sa.Integer(), nullable=False)
