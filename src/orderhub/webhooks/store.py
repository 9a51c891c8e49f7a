"""Webhook tables and the SQL that claims, records and lists deliveries.

A delivery that may still be sent has a ``next_attempt_at``; a finished one (succeeded, dead)
has none, so the "due" index holds only open deliveries. A sender claims due deliveries by
moving their ``next_attempt_at`` past the lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
two senders never claim the same row; SQLite has one writer) and counting the attempt; it
records the outcome only if the row still carries that attempt number, so a sender whose lease
ran out (or a replay in between) cannot overwrite newer news.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.clock import as_utc
from orderhub.platform.db import UtcDateTime, metadata, upsert
from orderhub.webhooks.model import OPEN_STATUSES, SubscriptionStatus

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("event_types", sa.JSON, nullable=False),
    sa.Column("secret", sa.String(100), nullable=False),
    # kept while receivers move to the new secret: messages carry both signatures until then
    sa.Column("previous_secret", sa.String(100), nullable=True),
    sa.Column("previous_secret_until", UtcDateTime(), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("disabled_reason", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", sa.String(254), nullable=False, server_default=""),
    sa.Index("ix_webhook_subscriptions_status", "status"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "subscription_id",
        sa.String(40),
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("aggregate_id", sa.String(40), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("last_duration_ms", sa.Integer, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("delivered_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_subscription_event"),
    sa.Index("ix_webhook_deliveries_due", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at", "id"),
)

subs, dels = webhook_subscriptions, webhook_deliveries
_OPEN = [s.value for s in OPEN_STATUSES]


# -- subscriptions -----------------------------------------------------------------------------
def insert_subscription(conn: Connection, **values: Any) -> None:
    conn.execute(subs.insert().values(**values))


def get_subscription(conn: Connection, subscription_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(subs).where(subs.c.id == subscription_id)).mappings().first()
    return dict(row) if row else None


def list_subscriptions(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(subs).order_by(subs.c.created_at, subs.c.id)).mappings()]


def active_subscriptions(conn: Connection) -> list[dict[str, Any]]:
    stmt = sa.select(subs.c.id, subs.c.event_types).where(subs.c.status == SubscriptionStatus.active.value)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def update_subscription(conn: Connection, subscription_id: str, **values: Any) -> bool:
    return conn.execute(subs.update().where(subs.c.id == subscription_id).values(**values)).rowcount == 1


def delete_subscription(conn: Connection, subscription_id: str) -> bool:
    # deliveries go with it (ON DELETE CASCADE); deleted explicitly too, so it does not
    # depend on SQLite's foreign_keys pragma
    conn.execute(dels.delete().where(dels.c.subscription_id == subscription_id))
    return conn.execute(subs.delete().where(subs.c.id == subscription_id)).rowcount == 1


def reset_failures(conn: Connection, subscription_id: str) -> None:
    conn.execute(
        subs.update()
        .where(subs.c.id == subscription_id, subs.c.consecutive_failures != 0)
        .values(consecutive_failures=0)
    )


def count_failure(conn: Connection, subscription_id: str, *, at: datetime) -> int:
    """One more dead delivery in a row (one atomic statement); returns the new count."""
    stmt = (
        subs.update()
        .where(subs.c.id == subscription_id)
        .values(consecutive_failures=subs.c.consecutive_failures + 1, updated_at=at)
        .returning(subs.c.consecutive_failures)
    )
    return int(conn.execute(stmt).scalar() or 0)


def disable(conn: Connection, subscription_id: str, *, reason: str, at: datetime) -> bool:
    """Disable an active subscription; ``False`` if it was not active (already disabled)."""
    stmt = (
        subs.update()
        .where(subs.c.id == subscription_id, subs.c.status == SubscriptionStatus.active.value)
        .values(status=SubscriptionStatus.disabled.value, disabled_reason=reason, updated_at=at)
    )
    return conn.execute(stmt).rowcount == 1


# -- deliveries --------------------------------------------------------------------------------
def insert_deliveries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert pending deliveries; one that exists (same subscription and event) is kept as is."""
    if rows:
        stmt = upsert(conn)(dels).on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
        conn.execute(stmt, rows)


def get_delivery(conn: Connection, delivery_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(dels).where(dels.c.id == delivery_id)).mappings().first()
    return dict(row) if row else None


def encode_cursor(created_at: datetime, delivery_id: str) -> str:
    return base64.urlsafe_b64encode(f"{as_utc(created_at).isoformat()}|{delivery_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ``ValueError`` for anything ``encode_cursor`` did not make."""
    try:
        created, _, delivery_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return as_utc(datetime.fromisoformat(created)), delivery_id
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None


def list_deliveries(
    conn: Connection,
    subscription_id: str,
    *,
    status: str | None,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; ``before`` is the (created_at, id) of the previous page's last row."""
    stmt = (
        sa.select(dels)
        .where(dels.c.subscription_id == subscription_id)
        .order_by(dels.c.created_at.desc(), dels.c.id.desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(dels.c.status == status)
    if before:
        at, last_id = before
        stmt = stmt.where(sa.or_(dels.c.created_at < at, sa.and_(dels.c.created_at == at, dels.c.id < last_id)))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def count_by_status(conn: Connection, subscription_id: str) -> dict[str, int]:
    stmt = (
        sa.select(dels.c.status, sa.func.count())
        .where(dels.c.subscription_id == subscription_id)
        .group_by(dels.c.status)
    )
    return {status: int(n) for status, n in conn.execute(stmt)}


def claim_due(conn: Connection, *, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
    """Take up to ``limit`` due deliveries of active subscriptions, oldest due first: push
    their ``next_attempt_at`` to ``lease_until`` and count the attempt. Returns each with
    its subscription's url and secrets."""
    due = (
        sa.select(
            dels.c.id,
            dels.c.event_id,
            dels.c.payload,
            dels.c.attempts,
            dels.c.subscription_id,
            subs.c.url,
            subs.c.secret,
            subs.c.previous_secret,
            subs.c.previous_secret_until,
        )
        .join(subs, subs.c.id == dels.c.subscription_id)
        .where(
            dels.c.next_attempt_at <= now,
            dels.c.status.in_(_OPEN),
            subs.c.status == SubscriptionStatus.active.value,
        )
        .order_by(dels.c.next_attempt_at, dels.c.id)
        .limit(limit)
        .with_for_update(of=dels, skip_locked=True)
    )
    rows = [dict(r) for r in conn.execute(due).mappings()]
    if rows:
        conn.execute(
            dels.update()
            .where(dels.c.id.in_([r["id"] for r in rows]))
            .values(attempts=dels.c.attempts + 1, next_attempt_at=lease_until, last_attempt_at=now)
        )
    for r in rows:
        r["attempts"] += 1
        r["started_at"] = now
    return rows


def record_attempt(conn: Connection, delivery_id: str, *, attempts: int, started_at: datetime, **values: Any) -> bool:
    """Write an attempt's outcome if the delivery is still open and still at the attempt this
    sender claimed (same number, same start: a replay or another sender did not step in)."""
    stmt = (
        dels.update()
        .where(
            dels.c.id == delivery_id,
            dels.c.attempts == attempts,
            dels.c.last_attempt_at == started_at,
            dels.c.status.in_(_OPEN),
        )
        .values(**values)
    )
    return conn.execute(stmt).rowcount == 1


def reset_delivery(conn: Connection, delivery_id: str, *, at: datetime) -> bool:
    stmt = (
        dels.update()
        .where(dels.c.id == delivery_id)
        .values(status="pending", attempts=0, next_attempt_at=at, delivered_at=None)
    )
    return conn.execute(stmt).rowcount == 1
