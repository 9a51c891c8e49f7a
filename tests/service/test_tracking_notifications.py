"""The notification subscriber and poller called directly, on SQLite and PostgreSQL: the once
rule holds at the table (another event for the same milestone writes nothing), and a failing
channel backs off, is not tried before it is due, and fails once its attempts run out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work
from orderhub.tracking import store
from orderhub.tracking.model import Milestone
from orderhub.tracking.notify import Message, NotifyFailed
from orderhub.tracking.notify_service import Notifications, Policy
from orderhub.webhooks.service import DeliveryPolicy

NOW = datetime.now(UTC)


def event(event_id: str, milestone: str, occurred: datetime, order_id: str = "ord_n1") -> DomainEvent:
    return DomainEvent(
        id=event_id,
        type="tracking.updated",
        aggregate_type="tracking",
        aggregate_id=order_id,
        occurred_at=occurred,
        actor="test",
        data={"milestone": milestone, "source": "api", "occurred_at": occurred.isoformat()},
    )


def add_order(engine: Engine, order_id: str = "ord_n1") -> None:
    with unit_of_work(engine) as conn:
        store.add_order(
            conn,
            order_id=order_id,
            token="tok-" + order_id,
            language="en",
            channel="web",
            external_ref="#77",
            customer_email="bo@example.com",
            placed_at=NOW,
            promised_by=date(2030, 1, 2),
            status="shipped",
            status_since=NOW,
        )


class Flaky:
    """A channel that fails (retryably) ``failures`` times, then takes messages."""

    channel = "callback"

    def __init__(self, failures: int) -> None:
        self.failures, self.sent = failures, []  # type: ignore[var-annotated]

    def send(self, message: Message) -> None:
        if self.failures:
            self.failures -= 1
            raise NotifyFailed("HTTP 503", retryable=True)
        self.sent.append(message)


def rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")).mappings()]


def test_the_same_milestone_from_another_event_writes_nothing(engine: Engine) -> None:
    add_order(engine)
    notes = Notifications(Policy(milestones=frozenset({Milestone.delivered})))
    with unit_of_work(engine) as conn:
        notes.handle(conn, event("evt_1", "delivered", NOW))
        notes.handle(conn, event("evt_2", "delivered", NOW + timedelta(minutes=1)))  # a second source
        notes.handle(conn, event("evt_3", "in_transit", NOW))  # not chosen
        notes.handle(conn, event("evt_4", "delivered", NOW, order_id="ord_unknown"))  # tracking never saw it
    [note] = rows(engine, "tracking_notifications")
    assert (note["event_id"], note["status"], note["channel"]) == ("evt_1", "sent", "outbox")
    [mail] = rows(engine, "mail_outbox")
    assert mail["subject"] == "Delivered – your order #77" and mail["notification_id"] == note["id"]
    assert "http://127.0.0.1:8000/track/tok-ord_n1" in mail["body"]


def test_a_failing_channel_backs_off_then_fails(engine: Engine) -> None:
    add_order(engine)
    flaky = Flaky(failures=10)
    retry = DeliveryPolicy(max_attempts=3, base_s=60.0, cap_s=600.0)
    notes = Notifications(
        Policy(
            milestones=frozenset({Milestone.exception}),
            channels=("callback",),
            callbacks={"web": "https://x"},
            retry=retry,
        ),
        {"callback": flaky},
    )
    with unit_of_work(engine) as conn:
        notes.handle(conn, event("evt_9", "exception", NOW))
    now = datetime.now(UTC)  # queued as due when it was handled
    assert rows(engine, "mail_outbox") == []  # the outbox is not a chosen channel
    assert notes.send_due(engine, now=now) == 1
    [note] = rows(engine, "tracking_notifications")
    assert note["status"] == "queued" and note["attempts"] == 1 and note["last_error"] == "HTTP 503"
    due = note["next_attempt_at"]
    due = due if isinstance(due, datetime) else datetime.fromisoformat(due)
    assert due.replace(tzinfo=UTC) <= now + timedelta(seconds=60)
    assert notes.send_due(engine, now=now - timedelta(seconds=1)) == 0  # not due before its time
    assert notes.send_due(engine, now=now + timedelta(minutes=5)) == 1
    assert notes.send_due(engine, now=now + timedelta(minutes=30)) == 1
    [note] = rows(engine, "tracking_notifications")
    assert (note["status"], note["attempts"], note["next_attempt_at"]) == ("failed", 3, None)
    assert notes.send_due(engine, now=now + timedelta(days=1)) == 0 and flaky.sent == []
