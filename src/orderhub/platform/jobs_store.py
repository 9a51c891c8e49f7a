"""Tables of durable jobs and schedules (the logic is in ``platform.jobs``)."""

from __future__ import annotations

import sqlalchemy as sa

from orderhub.platform.db import UtcDateTime, metadata

#: One row per long-running job (batch re-optimisation, imports, rebuilds): its state, progress
#: and report live here, so every API process sees them and they survive a restart.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # queued | running | succeeded | failed | cancelled
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("progress_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("report", sa.JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_by", sa.String(254), nullable=False, server_default=""),
    sa.Column("holder", sa.String(80), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
    sa.Index("ix_jobs_status_created", "status", "created_at"),
)

#: Periodic work (timers): when each last ran, how it went, and when it is next due.
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("name", sa.String(60), primary_key=True),
    sa.Column("interval_s", sa.Float, nullable=False),
    sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_started_at", UtcDateTime(), nullable=True),
    sa.Column("last_finished_at", UtcDateTime(), nullable=True),
    sa.Column("last_result", sa.JSON, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    sa.Column("next_due_at", UtcDateTime(), nullable=True),
    sa.Column("holder", sa.String(80), nullable=False, server_default=""),
)
