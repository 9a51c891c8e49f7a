"""event backbone: event versions, the publishing queue and log, subscriber offsets,
processed ids, failures; durable jobs and schedules

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    # publishing no longer updates outbox rows: the queue and the log are tables of their own
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.create_table(
        "bus_pending",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_bus_pending")),
    )
    op.create_table(
        "bus_log",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_bus_log")),
        sa.UniqueConstraint("seq", name=op.f("uq_bus_log_seq")),
    )
    # events committed before this migration and never relayed wait in the queue
    op.execute("INSERT INTO bus_pending (seq) SELECT seq FROM outbox WHERE published_at IS NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION outbox_queue() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO bus_pending (seq) SELECT seq FROM new_rows WHERE published_at IS NULL;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER outbox_queue AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION outbox_queue()"
        )
    else:
        op.execute(
            "CREATE TRIGGER outbox_queue AFTER INSERT ON outbox FOR EACH ROW WHEN NEW.published_at IS NULL "
            "BEGIN INSERT INTO bus_pending (seq) VALUES (NEW.seq); END"
        )
    op.create_table(
        "bus_offsets",
        sa.Column("subscriber", sa.String(80), nullable=False),
        sa.Column("backend", sa.String(20), nullable=False),
        sa.Column("position", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subscriber", "backend", name=op.f("pk_bus_offsets")),
    )
    op.create_table(
        "bus_processed",
        sa.Column("subscriber", sa.String(80), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscriber", "event_id", name=op.f("pk_bus_processed")),
    )
    op.create_table(
        "bus_failures",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("subscriber", sa.String(80), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("aggregate_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_failures")),
        sa.UniqueConstraint("subscriber", "event_id", name="uq_bus_failures_subscriber_event"),
    )
    op.create_index("ix_bus_failures_open", "bus_failures", ["subscriber", "status", "aggregate_id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("progress_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_by", sa.String(254), server_default="", nullable=False),
        sa.Column("holder", sa.String(80), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("holder", sa.String(80), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_schedules")),
    )


def downgrade() -> None:
    op.drop_table("schedules")
    op.drop_index("ix_jobs_status_created", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index("ix_bus_failures_open", table_name="bus_failures")
    op.drop_table("bus_failures")
    op.drop_table("bus_processed")
    op.drop_table("bus_offsets")
    op.execute(
        "DROP TRIGGER IF EXISTS outbox_queue" + (" ON outbox" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS outbox_queue()")
    op.drop_table("bus_log")
    op.drop_table("bus_pending")
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"])
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("version")
