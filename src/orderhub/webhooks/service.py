"""Outbound webhooks: subscriptions, the bus subscriber that queues deliveries, replays.

The bus hands every committed event to ``SUBSCRIBER``; its handler only writes one pending
delivery per active subscription that wants the event (in the bus's transaction, idempotent by
subscription and event id). ``send_due`` (in ``sender``, re-exported here) POSTs due deliveries
later, outside any transaction. Which event types exist is read from the catalogue in
``orderhub.core.events``, filled by the contexts the composition root imports. The signing
helpers (``signed_headers``, ``verify``) and how an answer is judged (``judge``) are public:
other senders of signed HTTP calls (tracking's channel callbacks) reuse them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine

from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.core.events import EVENT_TYPES, DomainEvent
from orderhub.core.ids import new_id
from orderhub.platform.db import unit_of_work
from orderhub.webhooks import store
from orderhub.webhooks.model import (
    ALL_TYPES,
    Delivery,
    DeliveryPolicy,
    DeliveryStatus,
    Subscription,
    SubscriptionStatus,
    Verdict,
    judge,
    new_secret,
    signed_headers,
    verify,
    wants,
)
from orderhub.webhooks.sender import DEFAULT_POLICY, send_due

__all__ = [
    "DEFAULT_POLICY",
    "SUBSCRIBER",
    "Delivery",
    "DeliveryPage",
    "DeliveryPolicy",
    "DeliveryStatus",
    "Subscription",
    "SubscriptionStatus",
    "Verdict",
    "create",
    "delete",
    "enqueue",
    "event_types",
    "get",
    "get_all",
    "get_deliveries",
    "get_delivery",
    "judge",
    "replay",
    "rotate_secret",
    "send_due",
    "signed_headers",
    "update",
    "verify",
]

log = logging.getLogger("orderhub.webhooks")
PREVIOUS_SECRET_GRACE = timedelta(hours=24)
URL_MAX = 2000


# -- reading rows --------------------------------------------------------------------------
def _subscription(row: dict[str, Any]) -> Subscription:
    return Subscription(
        id=row["id"],
        url=row["url"],
        description=row["description"],
        event_types=list(row["event_types"]),
        status=SubscriptionStatus(row["status"]),
        consecutive_failures=row["consecutive_failures"],
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_by=row["created_by"],
        secret=row["secret"],
    )


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        subscription_id=row["subscription_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        aggregate_id=row["aggregate_id"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        last_duration_ms=row["last_duration_ms"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        last_attempt_at=row["last_attempt_at"],
        payload=row["payload"],
    )


def _load(conn: Connection, subscription_id: str) -> dict[str, Any]:
    row = store.get_subscription(conn, subscription_id)
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id}", subscription_id=subscription_id)
    return row


# -- validation ----------------------------------------------------------------------------
def event_types() -> list[str]:
    """The event types a subscription may ask for (``*`` means all of them)."""
    return sorted(EVENT_TYPES)


def _check_url(url: str) -> list[dict[str, str]]:
    parts = urlsplit(url)
    if len(url) > URL_MAX:
        return [{"pointer": "/url", "detail": f"at most {URL_MAX} characters"}]
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        return [{"pointer": "/url", "detail": "must be an absolute http:// or https:// URL"}]
    return []


def _check_types(types: list[str]) -> list[dict[str, str]]:
    return [
        {"pointer": f"/event_types/{i}", "detail": f"unknown event type {t!r}; one of {', '.join(event_types())} or *"}
        for i, t in enumerate(types)
        if t != ALL_TYPES and t not in EVENT_TYPES
    ]


def _validated(url: str | None, types: list[str] | None) -> tuple[str | None, list[str] | None]:
    """Both checked together so one answer lists every bad field; nothing is written if any."""
    url = url.strip() if url is not None else None
    errors = (_check_url(url) if url is not None else []) + (_check_types(types) if types is not None else [])
    if errors:
        raise InvalidInput(f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors)
    return url, (list(dict.fromkeys(types)) if types is not None else None)


# -- subscriptions -------------------------------------------------------------------------
def create(
    engine: Engine, *, url: str, event_types: list[str] | None = None, description: str = "", actor: str
) -> Subscription:
    """A new active subscription with a fresh secret (the returned ``secret`` is the only
    time it is shown). ``event_types`` empty (or ``["*"]``) means every event."""
    checked_url, types = _validated(url, event_types or [])
    now = utcnow()
    values = {
        "id": new_id("whs"),
        "url": checked_url,
        "description": description,
        "event_types": types,
        "secret": new_secret(),
        "status": SubscriptionStatus.active.value,
        "consecutive_failures": 0,
        "created_at": now,
        "updated_at": now,
        "created_by": actor,
    }
    with unit_of_work(engine) as conn:
        store.insert_subscription(conn, **values)
        row = _load(conn, str(values["id"]))
    log.info("webhook subscription %s to %s created by %s", values["id"], checked_url, actor)
    return _subscription(row)


def get(engine: Engine, *, subscription_id: str) -> Subscription:
    with unit_of_work(engine, write=False) as conn:
        return _subscription(_load(conn, subscription_id))


def get_all(engine: Engine) -> list[Subscription]:
    """Every subscription, oldest first."""
    with unit_of_work(engine, write=False) as conn:
        return [_subscription(r) for r in store.list_subscriptions(conn)]


def update(
    engine: Engine,
    *,
    subscription_id: str,
    actor: str,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    status: SubscriptionStatus | None = None,
) -> Subscription:
    """Change what is given. ``status=active`` re-enables a disabled subscription (its
    failure count starts again from zero; deliveries that waited are sent); ``disabled``
    pauses it (nothing is queued for it meanwhile)."""
    checked_url, types = _validated(url, event_types)
    now = utcnow()
    values: dict[str, Any] = {"updated_at": now}
    if checked_url is not None:
        values["url"] = checked_url
    if types is not None:
        values["event_types"] = types
    if description is not None:
        values["description"] = description
    if status is SubscriptionStatus.active:
        values.update(status=status.value, consecutive_failures=0, disabled_reason=None)
    elif status is SubscriptionStatus.disabled:
        values.update(status=status.value, disabled_reason=f"disabled by {actor}")
    with unit_of_work(engine) as conn:
        _load(conn, subscription_id)
        store.update_subscription(conn, subscription_id, **values)
        row = _load(conn, subscription_id)
    return _subscription(row)


def delete(engine: Engine, *, subscription_id: str) -> None:
    """Remove a subscription and its delivery log."""
    with unit_of_work(engine) as conn:
        if not store.delete_subscription(conn, subscription_id):
            raise NotFound(f"no webhook subscription {subscription_id}", subscription_id=subscription_id)


def rotate_secret(engine: Engine, *, subscription_id: str, actor: str) -> Subscription:
    """A new secret (returned once). For 24 hours messages carry a signature with the old
    secret too, so a receiver can switch over without dropping messages."""
    now = utcnow()
    with unit_of_work(engine) as conn:
        old = _load(conn, subscription_id)
        store.update_subscription(
            conn,
            subscription_id,
            secret=new_secret(),
            previous_secret=old["secret"],
            previous_secret_until=now + PREVIOUS_SECRET_GRACE,
            updated_at=now,
        )
        row = _load(conn, subscription_id)
    log.info("webhook subscription %s secret rotated by %s", subscription_id, actor)
    return _subscription(row)


# -- queueing (the bus subscriber) --------------------------------------------------------------
def enqueue(conn: Connection, event: DomainEvent) -> None:
    """Queue ``event`` for every active subscription that wants it: one pending delivery each,
    due now, carrying the CloudEvent. Idempotent: a second call for the same event adds none.
    Runs in the bus's transaction; no network."""
    enqueue_all(conn, [event])


def enqueue_all(conn: Connection, events: list[DomainEvent]) -> None:
    """``enqueue`` for a batch: the subscriptions are read once and the deliveries written in
    one statement (the bus's fast path)."""
    active = store.active_subscriptions(conn)
    if not active or not events:
        return
    now = utcnow()
    rows = []
    for event in events:
        targets = [s["id"] for s in active if wants(s["event_types"], event.type)]
        payload = event.as_cloudevent() if targets else None
        rows += [
            {
                "id": new_id("whd"),
                "subscription_id": sub_id,
                "event_id": event.id,
                "event_type": event.type,
                "aggregate_id": event.aggregate_id,
                "payload": payload,
                "status": DeliveryStatus.pending.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for sub_id in targets
        ]
    if rows:
        store.insert_deliveries(conn, rows)


SUBSCRIBER = Subscriber(
    name="webhooks",
    handle=enqueue,
    handle_batch=enqueue_all,
    description="queues a signed delivery per matching webhook subscription (sent by webhooks.send_due)",
)


# -- the delivery log ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: list[Delivery]
    next_cursor: str | None
    counts: dict[str, int]


def get_deliveries(
    engine: Engine,
    *,
    subscription_id: str,
    status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    """A subscription's deliveries, newest first, one page at a time (opaque ``next_cursor``),
    with how many it has in each status."""
    limit = max(1, min(limit, 200))
    try:
        before = store.decode_cursor(cursor) if cursor else None
    except ValueError:
        raise InvalidInput(
            "cursor: not a cursor this list gave", errors=[{"parameter": "cursor", "detail": "invalid"}]
        ) from None
    with unit_of_work(engine, write=False) as conn:
        _load(conn, subscription_id)
        rows = store.list_deliveries(
            conn, subscription_id, status=status.value if status else None, before=before, limit=limit + 1
        )
        counts = store.count_by_status(conn, subscription_id)
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = store.encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if has_more else None
    return DeliveryPage([_delivery(r) for r in rows], next_cursor, counts)


def get_delivery(engine: Engine, *, delivery_id: str) -> Delivery:
    with unit_of_work(engine, write=False) as conn:
        row = store.get_delivery(conn, delivery_id)
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_id}", delivery_id=delivery_id)
    return _delivery(row)


def replay(engine: Engine, *, delivery_id: str, actor: str, now: datetime | None = None) -> Delivery:
    """Send a delivery again, whatever its status (a dead one too): it becomes pending, due
    ``now``, with a fresh set of attempts. Refused while its subscription is disabled."""
    now = now or utcnow()
    with unit_of_work(engine) as conn:
        row = store.get_delivery(conn, delivery_id)
        if row is None:
            raise NotFound(f"no webhook delivery {delivery_id}", delivery_id=delivery_id)
        if _load(conn, row["subscription_id"])["status"] != SubscriptionStatus.active.value:
            raise Conflict(
                "the subscription is disabled; enable it first",
                code="subscription_disabled",
                subscription_id=row["subscription_id"],
            )
        store.reset_delivery(conn, delivery_id, at=now)
        row = store.get_delivery(conn, delivery_id)
    log.info("webhook delivery %s replayed by %s", delivery_id, actor)
    return _delivery(row or {})
