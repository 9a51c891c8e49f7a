"""How a customer is told: one small interface, ``Notifier.send(message)``, and its adapters.

- ``MailOutbox`` (the default) writes the mail to the ``mail_outbox`` table, in the caller's
  transaction: the console and the tests read it. No network.
- ``Smtp`` sends the mail over SMTP (``smtplib``; STARTTLS and login when configured).
- ``Sms`` POSTs JSON to an HTTP SMS gateway with a bearer token.
- ``ChannelCallback`` POSTs the notification to the sales channel's callback URL, signed like
  our webhooks (Standard Webhooks headers, the same helper).

``send`` returns when the message was handed over and raises ``NotifyFailed`` otherwise,
saying whether trying again later may help. The network adapters are only ever called by the
poller after commit (``notify_service.Notifications.send_due``), never inside a transaction.
Every network call has a timeout.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import httpx
from sqlalchemy import Connection

from orderhub import __version__
from orderhub.core.clock import utcnow
from orderhub.tracking import notify_store
from orderhub.webhooks import service as webhooks

USER_AGENT = f"OrderHub-Notifications/{__version__}"
SNIPPET = 200  # characters of a refusing answer kept with the error


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered notification. ``id`` is the notification's: the same on every attempt, so a
    receiver can drop repeats; ``recipient`` is an address, a phone number or a callback URL."""

    id: str
    order_id: str
    channel: str
    recipient: str
    subject: str
    body: str
    language: str = "en"
    payload: dict[str, Any] | None = field(default=None, repr=False)


class NotifyFailed(Exception):
    """A message was not handed over. ``retryable``: the receiver may take it later (no
    answer, a timeout, 5xx, 429, an SMTP 4xx); otherwise it refused the message itself."""

    def __init__(self, detail: str, *, retryable: bool) -> None:
        super().__init__(detail)
        self.detail = detail[:500]
        self.retryable = retryable


class Notifier(Protocol):
    """An adapter that hands one message to its channel."""

    @property
    def channel(self) -> str: ...

    def send(self, message: Message) -> None: ...


class MailOutbox:
    """The default: the mail is written to ``mail_outbox`` in ``conn``'s transaction."""

    channel = "outbox"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def send(self, message: Message) -> None:
        notify_store.add_mail(
            self.conn,
            notification_id=message.id,
            order_id=message.order_id,
            recipient=message.recipient,
            subject=message.subject,
            body=message.body,
            language=message.language,
            created_at=utcnow(),
        )


@dataclass(frozen=True, slots=True)
class Smtp:
    """Mail over SMTP: STARTTLS when ``starttls`` (the default), login when ``user`` is set."""

    host: str
    port: int
    sender: str
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = True
    timeout_s: float = 10.0
    channel: str = "smtp"

    def mail(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=message.id, domain="orderhub")
        mail.set_content(message.body)
        mail["Content-Language"] = message.language  # after set_content, which resets Content-*
        return mail

    def send(self, message: Message) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(self.mail(message))
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyFailed(f"SMTP refused the recipient: {exc.recipients}", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            # 4xx is "later", 5xx "never" (RFC 5321)
            raise NotifyFailed(f"SMTP {exc.smtp_code}: {text}", retryable=exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyFailed(f"SMTP: {type(exc).__name__}: {exc}", retryable=True) from None


def _post(client: httpx.Client | None, timeout_s: float, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    """One POST; raises ``NotifyFailed`` as the webhook sender judges answers (2xx sent; 408,
    425, 429, 5xx and no answer retried; any other answer refused). Redirects are not followed."""
    http = client or httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)))
    try:
        answer = http.post(url, content=body, headers={"user-agent": USER_AGENT, **headers})
    except httpx.TimeoutException as exc:
        raise NotifyFailed(f"timed out ({type(exc).__name__})", retryable=True) from None
    except httpx.HTTPError as exc:
        raise NotifyFailed(f"{type(exc).__name__}: {exc}", retryable=True) from None
    finally:
        if client is None:
            http.close()
    verdict = webhooks.judge(answer.status_code)
    if verdict is not webhooks.Verdict.succeeded:
        snippet = answer.text[:SNIPPET].strip()
        detail = f"HTTP {answer.status_code}" + (f": {snippet}" if snippet else "")
        raise NotifyFailed(detail, retryable=verdict is webhooks.Verdict.retry)


@dataclass(frozen=True, slots=True)
class Sms:
    """An HTTP SMS gateway: ``POST url`` with ``{"to", "from", "text", "reference"}`` and
    ``Authorization: Bearer <token>``; the notification id is the ``Idempotency-Key``."""

    url: str
    token: str = field(repr=False)
    sender: str = ""
    timeout_s: float = 10.0
    client: httpx.Client | None = field(default=None, repr=False)
    channel: str = "sms"

    def send(self, message: Message) -> None:
        doc = {"to": message.recipient, "from": self.sender, "text": message.body, "reference": message.id}
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {self.token}",
            "idempotency-key": message.id,
        }
        _post(self.client, self.timeout_s, self.url, json.dumps(doc, ensure_ascii=False).encode(), headers)


@dataclass(frozen=True, slots=True)
class ChannelCallback:
    """The sales channel's callback (its URL is the message's recipient, chosen per channel from
    settings): the JSON payload, signed with ``secret`` exactly as webhooks are signed
    (``webhook-id`` = the notification id, ``webhook-timestamp``, ``webhook-signature``)."""

    secret: str = field(repr=False)
    timeout_s: float = 10.0
    client: httpx.Client | None = field(default=None, repr=False)
    channel: str = "callback"

    def send(self, message: Message) -> None:
        body = json.dumps(message.payload or {}, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            **webhooks.signed_headers([self.secret], msg_id=message.id, timestamp=int(time.time()), body=body),
        }
        _post(self.client, self.timeout_s, message.recipient, body, headers)
