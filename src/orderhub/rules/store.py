"""The rules context's tables (SQLAlchemy Core).

A rule set's versions are rows that are never changed once submitted; the audit log and the
decision log are append-only.
"""

from __future__ import annotations

import sqlalchemy as sa

from orderhub.platform.db import UtcDateTime, metadata

TS = UtcDateTime()

rule_sets = sa.Table(
    "rule_sets",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("hook", sa.String(40), nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("scope", sa.JSON, nullable=False),  # {"region": "BY"} | {}
    sa.Column("template", sa.String(60), nullable=False, server_default=""),
    sa.Column("created_by", sa.String(260), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
)

rule_versions = sa.Table(
    "rule_versions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("set_id", sa.String(40), sa.ForeignKey("rule_sets.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # draft | in_review | published | rejected
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("author", sa.String(260), nullable=False),
    sa.Column("editors", sa.JSON, nullable=False),  # everyone who changed the draft
    sa.Column("why", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("submitted_at", TS, nullable=True),
    sa.Column("reviewed_by", sa.String(260), nullable=True),
    sa.Column("review_note", sa.Text, nullable=False, server_default=""),
    sa.Column("published_at", TS, nullable=True),
    sa.Column("effective_from", TS, nullable=True),
    sa.Column("rollback_of", sa.Integer, nullable=True),
    sa.UniqueConstraint("set_id", "number", name="uq_rule_versions_number"),
    sa.Index("ix_rule_versions_status", "status"),
)

rule_audit = sa.Table(
    "rule_audit",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(always=False), primary_key=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor", sa.String(260), nullable=False),
    sa.Column("set_id", sa.String(40), nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("why", sa.Text, nullable=False, server_default=""),
    sa.Column("detail", sa.JSON, nullable=True),
    sa.Index("ix_rule_audit_at", "at", "id"),
    sa.Index("ix_rule_audit_set", "set_id", "id"),
)

rule_decisions = sa.Table(
    "rule_decisions",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(always=False), primary_key=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False, index=True),
    sa.Column("hook", sa.String(40), nullable=False),
    sa.Column("set_id", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("outcome", sa.JSON, nullable=False),
    sa.Column("fallback", sa.String(40), nullable=False, server_default=""),
    sa.Index("ix_rule_decisions_at", "at", "id"),
    sa.Index("ix_rule_decisions_set", "set_id", "id"),
)

rule_approvals = sa.Table(
    "rule_approvals",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), nullable=False, index=True),
    sa.Column("set_id", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("flow", sa.String(40), nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("step", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(20), nullable=False),  # pending | approved | rejected | closed
    sa.Column("role", sa.String(20), nullable=True),  # who may decide the current step
    sa.Column("assignee", sa.String(260), nullable=True),  # a named user (e-mail) instead of a role
    sa.Column("escalated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("due_at", TS, nullable=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("decided_at", TS, nullable=True),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Index("ix_rule_approvals_pending", "status", "due_at"),
)

rule_timers = sa.Table(
    "rule_timers",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(always=False), primary_key=True),
    sa.Column("set_id", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("timer", sa.String(20), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("value", sa.String(80), nullable=False, server_default=""),
    sa.Column("status", sa.String(20), nullable=False),  # pending | fired | cancelled
    sa.Column("started_by", sa.String(60), nullable=False),
    sa.Column("due_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("closed_at", TS, nullable=True),
    sa.UniqueConstraint("set_id", "timer", "order_id", name="uq_rule_timers_once"),
    sa.Index("ix_rule_timers_due", "status", "due_at"),
)

rule_scopes = sa.Table(
    "rule_scopes",
    metadata,
    sa.Column("user_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(10), primary_key=True),
    sa.Column("value", sa.String(80), primary_key=True),
)
