"""The tables of customer notifications and the SQL that claims and records them.

- ``tracking_notifications``: one row per order, milestone and channel — the unique key is the
  once-only rule: a milestone reported twice (the same event again, or a second source) finds
  its row and writes nothing. The rendered message is kept on the row, so what a poller sends
  later is exactly what was decided in the subscriber's transaction. A row that may still be
  sent has a ``next_attempt_at``; a finished one (sent, failed) has none.
- ``mail_outbox``: the mails of the default channel, as a customer would receive them; the
  console and the tests read them.

Claiming follows the webhook sender: due rows get their ``next_attempt_at`` moved past a lease
and their attempt counted (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer);
an outcome is written only if the row still carries the attempt that sender claimed.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.clock import as_utc
from orderhub.platform.db import UtcDateTime, metadata, per_dialect

tracking_notifications = sa.Table(
    "tracking_notifications",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), nullable=False),
    sa.Column("milestone", sa.String(30), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),  # outbox | smtp | sms | callback
    sa.Column("status", sa.String(20), nullable=False),  # queued | sent | failed
    sa.Column("event_id", sa.String(40), nullable=False),  # the tracking.updated that caused it
    sa.Column("occurred_at", UtcDateTime(), nullable=False),  # when the milestone happened
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("recipient", sa.String(2000), nullable=False),  # address, phone number or callback URL
    sa.Column("subject", sa.String(300), nullable=False, server_default=""),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("payload", sa.JSON, nullable=True),  # a callback's JSON document
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("order_id", "milestone", "channel", name="uq_tracking_notifications_once"),
    sa.Index("ix_tracking_notifications_due", "next_attempt_at"),
    sa.Index("ix_tracking_notifications_created", "created_at", "id"),
)

mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("notification_id", sa.String(40), nullable=False, unique=True),
    sa.Column("order_id", sa.String(40), nullable=False, index=True),
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

notes = tracking_notifications

_add = per_dialect(
    lambda insert: (
        insert(tracking_notifications)
        .on_conflict_do_nothing(index_elements=["order_id", "milestone", "channel"])
        .returning(tracking_notifications.c.id)
    )
)


def add_notification(conn: Connection, **values: Any) -> bool:
    """Insert a notification; ``False`` (nothing written) if the order was already told of this
    milestone on this channel."""
    return conn.execute(_add(conn), values).first() is not None


def latest_told(conn: Connection, order_id: str, channel: str) -> datetime | None:
    """When the newest milestone this order was told of on ``channel`` happened."""
    stmt = (
        sa.select(notes.c.occurred_at)
        .where(notes.c.order_id == order_id, notes.c.channel == channel)
        .order_by(notes.c.occurred_at.desc())
        .limit(1)
    )
    return conn.execute(stmt).scalar()


def add_mail(conn: Connection, **values: Any) -> None:
    conn.execute(mail_outbox.insert(), values)


def list_notifications(
    conn: Connection, *, order_id: str | None, before: tuple[datetime, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Newest first; ``before`` is the (created_at, id) of the previous page's last row."""
    stmt = sa.select(notes).order_by(notes.c.created_at.desc(), notes.c.id.desc()).limit(limit)
    if order_id:
        stmt = stmt.where(notes.c.order_id == order_id)
    if before:
        at, last_id = before
        stmt = stmt.where(sa.or_(notes.c.created_at < at, sa.and_(notes.c.created_at == at, notes.c.id < last_id)))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def count_by_status(conn: Connection) -> dict[str, int]:
    stmt = sa.select(notes.c.status, sa.func.count()).group_by(notes.c.status)
    return {status: int(n) for status, n in conn.execute(stmt)}


def list_mail(conn: Connection, *, order_id: str | None, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Newest first; ``before`` pages by id."""
    stmt = sa.select(mail_outbox).order_by(mail_outbox.c.id.desc()).limit(limit)
    if order_id:
        stmt = stmt.where(mail_outbox.c.order_id == order_id)
    if before:
        stmt = stmt.where(mail_outbox.c.id < before)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def encode_cursor(created_at: datetime, notification_id: str) -> str:
    return base64.urlsafe_b64encode(f"{as_utc(created_at).isoformat()}|{notification_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ``ValueError`` for anything ``encode_cursor`` did not make."""
    try:
        created, _, notification_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return as_utc(datetime.fromisoformat(created)), notification_id
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None


def has_due(conn: Connection, *, now: datetime) -> bool:
    stmt = sa.select(notes.c.id).where(notes.c.next_attempt_at <= now, notes.c.status == "queued").limit(1)
    return conn.execute(stmt).first() is not None


def claim_due(conn: Connection, *, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
    """Take up to ``limit`` queued notifications due at ``now``, oldest due first: their
    ``next_attempt_at`` moves to ``lease_until`` and the attempt is counted."""
    due = (
        sa.select(notes)
        .where(notes.c.next_attempt_at <= now, notes.c.status == "queued")
        .order_by(notes.c.next_attempt_at, notes.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = [dict(r) for r in conn.execute(due).mappings()]
    if rows:
        conn.execute(
            notes.update()
            .where(notes.c.id.in_([r["id"] for r in rows]))
            .values(attempts=notes.c.attempts + 1, next_attempt_at=lease_until, last_attempt_at=now)
        )
    for r in rows:
        r["attempts"] += 1
        r["last_attempt_at"] = now
    return rows


def record_attempt(
    conn: Connection, notification_id: str, *, attempts: int, started_at: datetime, **values: Any
) -> bool:
    """Write an attempt's outcome if the row is still queued at the attempt this sender claimed."""
    stmt = (
        notes.update()
        .where(
            notes.c.id == notification_id,
            notes.c.attempts == attempts,
            notes.c.last_attempt_at == started_at,
            notes.c.status == "queued",
        )
        .values(**values)
    )
    return conn.execute(stmt).rowcount == 1
