"""Outbound webhooks: signing (Standard Webhooks), the retry schedule and the disable policy.

Pure: no I/O, no database, no HTTP. A delivery is one event for one subscription; each try to
POST it is an attempt. Signing follows https://www.standardwebhooks.com: the headers
``webhook-id``, ``webhook-timestamp`` (unix seconds) and ``webhook-signature`` (``v1,<base64
HMAC-SHA256 of "{id}.{timestamp}.{body}">``, several space-separated while a secret rotates).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from orderhub.core.errors import Unauthorized

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
TIMESTAMP_TOLERANCE_S = 5 * 60
ALL_TYPES = "*"
ERROR_MAX = 500  # characters of the last error kept on a delivery


class SubscriptionStatus(StrEnum):
    active = "active"
    disabled = "disabled"


class DeliveryStatus(StrEnum):
    """pending (not tried yet) → succeeded | retrying → … → succeeded | dead."""

    pending = "pending"
    succeeded = "succeeded"
    retrying = "retrying"
    dead = "dead"


#: A delivery in one of these may still be sent; the others are finished.
OPEN_STATUSES = (DeliveryStatus.pending, DeliveryStatus.retrying)


# -- signing -----------------------------------------------------------------------------
def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and the base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret: its base64-decoded part."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def _as_text(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else body.encode()


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value of one message: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + _as_text(body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets: list[str], *, msg_id: str, timestamp: int, body: bytes | str) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret (old and new while a
    secret rotates), separated by spaces."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets),
    }


class BadSignature(Unauthorized):
    """A webhook whose headers are missing, stale, or whose signature does not match."""

    code = "webhook_signature_invalid"


def verify(
    secret: str,
    *,
    headers: Mapping[str, str],
    body: bytes | str,
    now: int,
    tolerance_s: int = TIMESTAMP_TOLERANCE_S,
) -> None:
    """Check a received webhook (for receivers and tests); raise ``BadSignature`` unless one
    of its ``v1`` signatures matches and its timestamp is within ``tolerance_s`` of ``now``
    (unix seconds) either way, which bounds replays of a captured message."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, sent = (lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and sent):
        raise BadSignature("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise BadSignature("webhook-timestamp is not a number of seconds") from None
    if abs(now - timestamp) > tolerance_s:
        raise BadSignature("webhook-timestamp is too far from now", timestamp=timestamp)
    expected = sign(secret, msg_id=msg_id, timestamp=timestamp, body=body).encode()
    for candidate in sent.split(" "):
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return
    raise BadSignature("no webhook-signature matches")


# -- retries and disabling ---------------------------------------------------------------
class Verdict(StrEnum):
    """What an attempt's outcome means for the delivery."""

    succeeded = "succeeded"
    retry = "retry"  # the receiver may take it later: back off and try again
    give_up = "give_up"  # retrying cannot help (the receiver refused the message itself)
    gone = "gone"  # 410: the endpoint is gone for good; stop sending to it at all


#: 4xx answers that say "later", not "never".
RETRYABLE_4XX = frozenset({408, 425, 429})


def judge(status_code: int | None) -> Verdict:
    """``None`` is a failure before any answer (refused, timed out, TLS …): retried.

    2xx succeeds; 408/425/429 and 5xx are retried; 410 disables the subscription; any other
    answer (3xx — redirects are not followed —, other 4xx) is final: the receiver rejected
    the message, so sending it again unchanged cannot help (staff may replay it)."""
    if status_code is None or status_code >= 500 or status_code in RETRYABLE_4XX:
        return Verdict.retry
    if 200 <= status_code < 300:
        return Verdict.succeeded
    if status_code == 410:
        return Verdict.gone
    return Verdict.give_up


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard to try.

    An attempt that may be retried waits ``uniform(0, min(cap_s, base_s * 2**(n-1)))`` after
    its n-th failure (exponential back-off with full jitter, so receivers that come back are
    not hit by every sender at once). With the defaults, 8 attempts span up to ~4 h (~2 h
    expected). A delivery whose attempts run out is dead; a subscription with
    ``disable_after`` dead deliveries in a row (no success between) is disabled.
    ``lease_s`` is how long a sender owns a claimed delivery before another may try it:
    longer than one HTTP attempt can take.
    """

    max_attempts: int = 8
    base_s: float = 120.0
    cap_s: float = 3 * 3600.0
    disable_after: int = 5
    lease_s: float = 60.0
    connect_timeout_s: float = 5.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.disable_after < 1:
            raise ValueError("max_attempts and disable_after must be at least 1")
        if self.base_s < 0 or self.cap_s < self.base_s:
            raise ValueError("need 0 <= base_s <= cap_s")

    def ceiling_s(self, attempts: int) -> float:
        """The longest wait after the ``attempts``-th failed attempt."""
        return float(min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1)))

    def delay_s(self, attempts: int, *, rand: float) -> float:
        """The wait after the ``attempts``-th failure; ``rand`` is uniform in [0, 1)."""
        return rand * self.ceiling_s(attempts)

    def is_exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def should_disable(self, consecutive_failures: int) -> bool:
        return consecutive_failures >= self.disable_after


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt: the answer's status (``None`` when there was none) and what went wrong."""

    status_code: int | None
    error: str
    duration_ms: int

    @property
    def verdict(self) -> Verdict:
        return judge(self.status_code)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write after an attempt."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    counts_as_failure: bool  # the subscription's consecutive_failures goes up by one
    disable_now: bool  # the endpoint said it is gone
    reason: str


def decide(policy: DeliveryPolicy, outcome: Outcome, *, attempts: int, now: datetime, rand: float) -> Decision:
    """The delivery's next state after its ``attempts``-th attempt ended with ``outcome``."""
    verdict = outcome.verdict
    if verdict is Verdict.succeeded:
        return Decision(DeliveryStatus.succeeded, None, False, False, "")
    if verdict is Verdict.retry and not policy.is_exhausted(attempts):
        wait = timedelta(seconds=policy.delay_s(attempts, rand=rand))
        return Decision(DeliveryStatus.retrying, now + wait, False, False, "")
    if verdict is Verdict.gone:
        reason = "the endpoint answered 410 Gone"
    elif verdict is Verdict.give_up:
        reason = f"the endpoint refused the message ({outcome.error})"
    else:
        reason = f"{attempts} attempts failed (last: {outcome.error})"
    return Decision(DeliveryStatus.dead, None, True, verdict is Verdict.gone, truncate(reason))


def truncate(text: str, limit: int = ERROR_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- what a subscription receives ------------------------------------------------------------
def wants(event_types: list[str] | tuple[str, ...], event_type: str) -> bool:
    """An empty list or ``*`` means every event type."""
    return not event_types or ALL_TYPES in event_types or event_type in event_types


@dataclass(frozen=True, slots=True)
class Subscription:
    """An endpoint that receives signed event notifications. The secret is shown to its
    creator once (and after each rotation), never listed."""

    id: str
    url: str
    description: str
    event_types: list[str]
    status: SubscriptionStatus
    consecutive_failures: int
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    secret: str = field(repr=False, default="")

    def wants(self, event_type: str) -> bool:
        return wants(self.event_types, event_type)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one subscription, and how its attempts went."""

    id: str
    subscription_id: str
    event_id: str
    event_type: str
    aggregate_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    created_at: datetime
    delivered_at: datetime | None
    last_attempt_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict, repr=False)
