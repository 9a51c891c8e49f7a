"""rules: rule sets, versions, audit, decisions, approvals, timers, scopes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 15:46:55.598122
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "rule_approvals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("set_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("assignee", sa.String(length=260), nullable=True),
        sa.Column("escalated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_approvals")),
    )
    with op.batch_alter_table("rule_approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_approvals_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_rule_approvals_pending", ["status", "due_at"], unique=False)

    op.create_table(
        "rule_audit",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=260), nullable=False),
        sa.Column("set_id", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("why", sa.Text(), server_default="", nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_audit")),
    )
    with op.batch_alter_table("rule_audit", schema=None) as batch_op:
        batch_op.create_index("ix_rule_audit_at", ["at", "id"], unique=False)
        batch_op.create_index("ix_rule_audit_set", ["set_id", "id"], unique=False)

    op.create_table(
        "rule_decisions",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("hook", sa.String(length=40), nullable=False),
        sa.Column("set_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("fallback", sa.String(length=40), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_decisions")),
    )
    with op.batch_alter_table("rule_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_rule_decisions_at", ["at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rule_decisions_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_rule_decisions_set", ["set_id", "id"], unique=False)

    op.create_table(
        "rule_scopes",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", "value", name=op.f("pk_rule_scopes")),
    )
    op.create_table(
        "rule_sets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hook", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("template", sa.String(length=60), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=260), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_sets")),
    )
    with op.batch_alter_table("rule_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_sets_hook"), ["hook"], unique=False)

    op.create_table(
        "rule_timers",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("set_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("timer", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("value", sa.String(length=80), server_default="", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_by", sa.String(length=60), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_timers")),
        sa.UniqueConstraint("set_id", "timer", "order_id", name="uq_rule_timers_once"),
    )
    with op.batch_alter_table("rule_timers", schema=None) as batch_op:
        batch_op.create_index("ix_rule_timers_due", ["status", "due_at"], unique=False)

    op.create_table(
        "rule_versions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("set_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=260), nullable=False),
        sa.Column("editors", sa.JSON(), nullable=False),
        sa.Column("why", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=260), nullable=True),
        sa.Column("review_note", sa.Text(), server_default="", nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["rule_sets.id"], name=op.f("fk_rule_versions_set_id_rule_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_versions")),
        sa.UniqueConstraint("set_id", "number", name="uq_rule_versions_number"),
    )
    with op.batch_alter_table("rule_versions", schema=None) as batch_op:
        batch_op.create_index("ix_rule_versions_status", ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("rule_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_versions_status")

    op.drop_table("rule_versions")
    with op.batch_alter_table("rule_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_timers_due")

    op.drop_table("rule_timers")
    with op.batch_alter_table("rule_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_sets_hook"))

    op.drop_table("rule_sets")
    op.drop_table("rule_scopes")
    with op.batch_alter_table("rule_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_decisions_set")
        batch_op.drop_index(batch_op.f("ix_rule_decisions_order_id"))
        batch_op.drop_index("ix_rule_decisions_at")

    op.drop_table("rule_decisions")
    with op.batch_alter_table("rule_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_audit_set")
        batch_op.drop_index("ix_rule_audit_at")

    op.drop_table("rule_audit")
    with op.batch_alter_table("rule_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_approvals_pending")
        batch_op.drop_index(batch_op.f("ix_rule_approvals_order_id"))

    op.drop_table("rule_approvals")
