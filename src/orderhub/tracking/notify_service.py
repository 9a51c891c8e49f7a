"""Customer notifications on chosen milestones (docs/tracking-notifications.md).

The bus subscriber ``tracking.notify`` reads ``tracking.updated``. For a chosen milestone
that is recent (``notify_max_age_h``) and newer than anything the customer was already told,
it renders the message in the order's language and inserts one ``tracking_notifications`` row
per channel, in the bus's transaction:

- the mail outbox: its mail row in the same transaction, the notification ``sent``;
- SMTP, SMS, channel callbacks: the notification ``queued``. ``Notifications.send_due`` (a
  poller of the bus worker) sends it after commit and retries with back-off until it is
  ``sent`` or ``failed``. No network call happens inside a transaction.

Once only: the row's key is (order, milestone, channel), so the same milestone reported again
— the event delivered twice, or a second source (the carrier and the aggregator) — writes
nothing. An order with several parcels is told of each milestone once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import InvalidInput
from orderhub.core.events import DomainEvent
from orderhub.core.ids import new_id
from orderhub.orders import service as orders
from orderhub.platform.db import one_statement, unit_of_work
from orderhub.platform.settings import Settings
from orderhub.tracking import notify_messages, notify_store, store
from orderhub.tracking.events import TrackingUpdated
from orderhub.tracking.model import Milestone, words
from orderhub.tracking.notify import ChannelCallback, MailOutbox, Message, Notifier, NotifyFailed, Sms, Smtp
from orderhub.webhooks import service as webhooks

log = logging.getLogger("orderhub.tracking.notify")
alerts = logging.getLogger("orderhub.alerts")
CHANNELS = ("outbox", "smtp", "sms", "callback")
MAIL_CHANNELS = frozenset({"outbox", "smtp"})


@dataclass(frozen=True, slots=True)
class Policy:
    """What is sent when, built once from settings. ``retry``: the webhook delivery policy's
    back-off (``base_s * 2**(n-1)``, full jitter) and attempt limit, reused."""

    milestones: frozenset[Milestone]
    channels: tuple[str, ...] = ("outbox",)
    max_age: timedelta = timedelta(hours=48)
    public_url: str = "http://127.0.0.1:8000"
    callbacks: Mapping[str, str] = field(default_factory=dict)  # sales channel → callback URL
    retry: webhooks.DeliveryPolicy = field(default_factory=lambda: webhooks.DeliveryPolicy(max_attempts=6, base_s=60.0))

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        unknown = [m for m in settings.notify_milestone_list if m not in Milestone.__members__]
        if unknown:
            raise ValueError(f"ORDERHUB_NOTIFY_MILESTONES: unknown milestones {unknown}")
        base = settings.notify_backoff_s
        return cls(
            milestones=frozenset(Milestone(m) for m in settings.notify_milestone_list),
            channels=tuple(dict.fromkeys(settings.notify_channel_list)),
            max_age=timedelta(hours=settings.notify_max_age_h),
            public_url=settings.public_url,
            callbacks=dict(settings.notify_channel_callbacks),
            retry=webhooks.DeliveryPolicy(
                max_attempts=settings.notify_max_attempts,
                base_s=base,
                cap_s=max(base, 6 * 3600.0),
                lease_s=settings.notify_timeout_s * 3 + 5,
                timeout_s=settings.notify_timeout_s,
            ),
        )


def senders_from(settings: Settings) -> dict[str, Notifier]:
    """The network adapters of the channels chosen (settings checked they are configured)."""
    chosen, timeout = settings.notify_channel_list, settings.notify_timeout_s
    senders: dict[str, Notifier] = {}
    if "smtp" in chosen:
        senders["smtp"] = Smtp(
            host=settings.notify_smtp_host,
            port=settings.notify_smtp_port,
            sender=settings.notify_smtp_from,
            user=settings.notify_smtp_user,
            password=settings.notify_smtp_password,
            starttls=settings.notify_smtp_starttls,
            timeout_s=timeout,
        )
    if "sms" in chosen:
        senders["sms"] = Sms(settings.notify_sms_url, settings.notify_sms_token, settings.notify_sms_from, timeout)
    if "callback" in chosen:
        senders["callback"] = ChannelCallback(settings.notify_callback_secret, timeout)
    return senders


class Notifications:
    """The subscriber (``handle``) and the poller (``send_due``) under one policy."""

    def __init__(self, policy: Policy, senders: Mapping[str, Notifier] | None = None) -> None:
        self.policy = policy
        self.senders = dict(senders or {})
        self.subscriber = Subscriber(
            name="tracking.notify",
            handle=self.handle,
            types=frozenset({TrackingUpdated.TYPE}),
            description="tells the customer of chosen milestones, once each (mail outbox, SMTP, SMS, callbacks)",
        )

    # -- the subscriber --------------------------------------------------------------------
    def handle(self, conn: Connection, event: DomainEvent) -> None:
        """``tracking.updated`` → one notification per chosen channel, at most once per order,
        milestone and channel. Nothing for a milestone not chosen, a bare position, one older
        than ``max_age`` (history replayed must not reach customers), one that happened before
        a milestone the customer was already told of (a scan arriving late), or an order
        tracking does not know. Writes only through ``conn``; no network."""
        name, policy = event.data.get("milestone") or "", self.policy
        if name not in policy.milestones:
            return
        milestone, now = Milestone(name), utcnow()
        occurred = as_utc(datetime.fromisoformat(event.data["occurred_at"]))
        if now - occurred > policy.max_age:
            log.info("not telling %s of %s: it happened %s ago", event.aggregate_id, name, now - occurred)
            return
        order = store.get_order(conn, event.aggregate_id)
        if order is None:
            return
        contact: dict[str, str] | None = None
        for channel in policy.channels:
            told = notify_store.latest_told(conn, order["order_id"], channel)
            if told is not None and told > occurred:
                continue
            if channel == "sms" and contact is None:
                contact = orders.get_contact(conn, order_id=order["order_id"]) or {}
            message = self._compose(order, milestone, occurred, channel, contact or {})
            if message is not None:
                self._add(conn, message, event=event, milestone=milestone, occurred=occurred, now=now)

    def _compose(
        self, order: dict[str, Any], milestone: Milestone, occurred: datetime, channel: str, contact: dict[str, str]
    ) -> Message | None:
        recipient = {
            "outbox": order["customer_email"],
            "smtp": order["customer_email"],
            "sms": contact.get("phone", ""),
            "callback": self.policy.callbacks.get(order["channel"], ""),
        }[channel]
        if not recipient:
            return None  # nobody to tell on this channel
        estimated: date | None = order["estimated_delivery"] or order["promised_by"]
        link = notify_messages.tracking_link(self.policy.public_url, order["token"])
        number = order["external_ref"] or order["order_id"]
        texts = notify_messages.render(
            language=order["language"],
            milestone=milestone,
            order_number=number,
            estimated_delivery=estimated,
            link=link,
        )
        message_id = new_id("ntf")
        payload = None
        if channel == "callback":
            payload = {
                "type": "tracking.notification",
                "id": message_id,
                "order_id": order["order_id"],
                "external_ref": order["external_ref"],
                "channel": order["channel"],
                "milestone": milestone.value,
                "milestone_text": words(milestone, order["language"]),
                "occurred_at": occurred.isoformat(),
                "estimated_delivery": estimated.isoformat() if estimated else None,
                "language": order["language"],
                "tracking_url": link,
                "customer_email": order["customer_email"],
                "subject": texts.subject,
                "body": texts.body,
            }
        return Message(
            id=message_id,
            order_id=order["order_id"],
            channel=channel,
            recipient=recipient,
            subject=texts.subject if channel != "sms" else "",
            body=texts.sms if channel == "sms" else texts.body,
            language=order["language"],
            payload=payload,
        )

    def _add(
        self,
        conn: Connection,
        message: Message,
        *,
        event: DomainEvent,
        milestone: Milestone,
        occurred: datetime,
        now: datetime,
    ) -> None:
        in_outbox = message.channel == "outbox"
        added = notify_store.add_notification(
            conn,
            id=message.id,
            order_id=message.order_id,
            milestone=milestone.value,
            channel=message.channel,
            status="sent" if in_outbox else "queued",
            event_id=event.id,
            occurred_at=occurred,
            language=message.language,
            recipient=message.recipient,
            subject=message.subject,
            body=message.body,
            payload=message.payload,
            attempts=1 if in_outbox else 0,
            next_attempt_at=None if in_outbox else now,
            last_attempt_at=now if in_outbox else None,
            created_at=now,
            sent_at=now if in_outbox else None,
        )
        if added and in_outbox:
            MailOutbox(conn).send(message)

    # -- the poller --------------------------------------------------------------------------
    def send_due(self, engine: Engine, *, now: datetime | None = None, limit: int = 50) -> int:
        """Send the queued notifications due at ``now`` (a test may move time on instead of
        sleeping through back-offs); returns how many were attempted. Claims in one short
        transaction, sends with no transaction open, records each outcome in its own. Safe in
        several processes at once: each row is claimed by one sender."""
        at = now or utcnow()
        with one_statement(engine) as conn:  # a cheap look first: most rounds find nothing
            if not notify_store.has_due(conn, now=at):
                return 0
        lease_until = at + timedelta(seconds=self.policy.retry.lease_s)
        with unit_of_work(engine) as conn:
            claims = notify_store.claim_due(conn, now=at, lease_until=lease_until, limit=limit)
        for claim in claims:
            self._attempt(engine, claim, at=now)
        return len(claims)

    def _attempt(self, engine: Engine, claim: dict[str, Any], *, at: datetime | None) -> None:
        message = Message(
            id=claim["id"],
            order_id=claim["order_id"],
            channel=claim["channel"],
            recipient=claim["recipient"],
            subject=claim["subject"],
            body=claim["body"],
            language=claim["language"],
            payload=claim["payload"],
        )
        sender = self.senders.get(message.channel)
        try:
            if sender is None:
                raise NotifyFailed(f"channel {message.channel} is not configured in this process", retryable=True)
            sender.send(message)
            failure = None
        except NotifyFailed as exc:
            failure = exc
        except Exception as exc:  # an adapter's bug must not stop the round: retried, then failed
            log.exception("notification %s: the %s adapter failed", message.id, message.channel)
            failure = NotifyFailed(f"{type(exc).__name__}: {exc}", retryable=True)
        self._record(engine, claim, failure, at=at or utcnow())

    def _record(self, engine: Engine, claim: dict[str, Any], failure: NotifyFailed | None, *, at: datetime) -> None:
        retry, attempts = self.policy.retry, claim["attempts"]
        values: dict[str, Any]
        if failure is None:
            values = {"status": "sent", "sent_at": at, "next_attempt_at": None, "last_error": None}
        elif failure.retryable and not retry.is_exhausted(attempts):
            wait = timedelta(seconds=retry.delay_s(attempts, rand=random.random()))
            values = {"next_attempt_at": at + wait, "last_error": failure.detail}
        else:
            values = {"status": "failed", "next_attempt_at": None, "last_error": failure.detail}
        with unit_of_work(engine) as conn:
            recorded = notify_store.record_attempt(
                conn, claim["id"], attempts=attempts, started_at=claim["last_attempt_at"], **values
            )
        if recorded and values.get("status") == "failed":
            alerts.warning(
                "notification %s (%s, %s of %s) failed after %d attempts: %s",
                claim["id"],
                claim["channel"],
                claim["milestone"],
                claim["order_id"],
                attempts,
                failure.detail if failure else "",
            )


def from_settings(settings: Settings) -> Notifications:
    """The notifications of a deployment (``orderhub.wiring`` registers its subscriber and
    poller). Raises ``ValueError`` for a milestone that does not exist."""
    return Notifications(Policy.from_settings(settings), senders_from(settings))


# -- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    counts: dict[str, int]


def get_notifications(
    engine: Engine, *, order_id: str | None = None, cursor: str | None = None, limit: int = 50
) -> NotificationPage:
    """Notifications, newest first, one page at a time (opaque ``next_cursor``), with how many
    there are in each status (over all orders)."""
    limit = max(1, min(limit, 200))
    try:
        before = notify_store.decode_cursor(cursor) if cursor else None
    except ValueError:
        raise InvalidInput(
            "cursor: not a cursor this list gave", errors=[{"parameter": "cursor", "detail": "invalid"}]
        ) from None
    with unit_of_work(engine, write=False) as conn:
        rows = notify_store.list_notifications(conn, order_id=order_id, before=before, limit=limit + 1)
        counts = notify_store.count_by_status(conn)
    more = len(rows) > limit
    rows = rows[:limit]
    cursor_out = notify_store.encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return NotificationPage(rows, cursor_out, counts)


def get_mail_outbox(
    engine: Engine, *, order_id: str | None = None, before: int | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], int | None]:
    """Mails in the outbox, newest first, and the ``before`` of the next page (``None`` at the end)."""
    limit = max(1, min(limit, 200))
    with unit_of_work(engine, write=False) as conn:
        rows = notify_store.list_mail(conn, order_id=order_id, before=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more else None)
