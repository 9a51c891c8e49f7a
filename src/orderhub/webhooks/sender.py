"""The sender: claims due deliveries, POSTs each outside any transaction, records the outcome.

Each round is: one short transaction that claims up to ``limit`` due deliveries (a lease, so a
crashed sender's deliveries are tried again once it runs out); the HTTP calls, with no
transaction or row lock held; then one short transaction per delivery that writes what
happened — and, when a delivery dies, counts the failure against its subscription and
disables the subscription once the policy says so (an alert is logged after commit).
"""

from __future__ import annotations

import json
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from orderhub import __version__
from orderhub.core.clock import utcnow
from orderhub.platform.db import after_commit, unit_of_work
from orderhub.webhooks import store
from orderhub.webhooks.model import DeliveryPolicy, DeliveryStatus, Outcome, decide, signed_headers, truncate

log = logging.getLogger("orderhub.webhooks")
alerts = logging.getLogger("orderhub.alerts")
DEFAULT_POLICY = DeliveryPolicy()
CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = f"OrderHub-Webhooks/{__version__}"
SNIPPET = 200  # bytes of a failed answer's body kept with the error


def send_due(
    engine: Engine,
    *,
    limit: int = 100,
    now: datetime | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    client: httpx.Client | None = None,
    concurrency: int = 4,
) -> int:
    """Send the deliveries due at ``now`` (default: the current time; a test may move it on
    instead of sleeping through back-offs); returns how many were attempted.

    Safe to run in several processes at once: each delivery is claimed by one sender.
    Up to ``concurrency`` requests run in parallel, so one slow endpoint does not hold up
    the others; every request has the policy's timeouts.
    """
    claimed_at = now or utcnow()
    with unit_of_work(engine) as conn:
        claims = store.claim_due(
            conn, now=claimed_at, lease_until=claimed_at + timedelta(seconds=policy.lease_s), limit=limit
        )
    if not claims:
        return 0
    http = client or httpx.Client(
        timeout=httpx.Timeout(policy.timeout_s, connect=policy.connect_timeout_s), follow_redirects=False
    )
    try:

        def deliver(claim: dict[str, Any]) -> None:
            outcome = _post(http, claim)
            _record(engine, claim, outcome, policy=policy, at=now or utcnow())

        if concurrency > 1 and len(claims) > 1:
            with ThreadPoolExecutor(max_workers=min(concurrency, len(claims)), thread_name_prefix="webhooks") as pool:
                list(pool.map(deliver, claims))
        else:
            for claim in claims:
                deliver(claim)
    finally:
        if client is None:
            http.close()
    return len(claims)


def _secrets(claim: dict[str, Any]) -> list[str]:
    until = claim["previous_secret_until"]
    if claim["previous_secret"] and until is not None and until > utcnow():
        return [claim["secret"], claim["previous_secret"]]
    return [claim["secret"]]


def _post(http: httpx.Client, claim: dict[str, Any]) -> Outcome:
    """One attempt. The body is the stored CloudEvent; the id is the event's, the same on
    every attempt, so receivers can drop repeats; the timestamp is the attempt's."""
    body = json.dumps(claim["payload"], separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
        **signed_headers(_secrets(claim), msg_id=claim["event_id"], timestamp=int(time.time()), body=body),
    }
    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        with http.stream("POST", claim["url"], content=body, headers=headers) as answer:
            code = answer.status_code
            error = "" if 200 <= code < 300 else f"HTTP {code}{_snippet(answer)}"
    except httpx.TimeoutException as exc:
        return Outcome(None, f"timed out ({type(exc).__name__})", took())
    except httpx.HTTPError as exc:
        return Outcome(None, truncate(f"{type(exc).__name__}: {exc}"), took())
    return Outcome(code, error, took())


def _snippet(answer: httpx.Response) -> str:
    """The start of a failed answer's body (receivers often say why), never all of it."""
    data = b""
    for chunk in answer.iter_bytes():
        data += chunk
        if len(data) >= SNIPPET:
            break
    text = data[:SNIPPET].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


def _record(engine: Engine, claim: dict[str, Any], outcome: Outcome, *, policy: DeliveryPolicy, at: datetime) -> None:
    decision = decide(policy, outcome, attempts=claim["attempts"], now=at, rand=random.random())
    values: dict[str, Any] = {
        "status": decision.status.value,
        "next_attempt_at": decision.next_attempt_at,
        "last_status_code": outcome.status_code,
        "last_error": truncate(outcome.error) or None,
        "last_duration_ms": outcome.duration_ms,
    }
    if decision.status is DeliveryStatus.succeeded:
        values["delivered_at"] = at
    sub_id = claim["subscription_id"]
    with unit_of_work(engine) as conn:
        if not store.record_attempt(
            conn, claim["id"], attempts=claim["attempts"], started_at=claim["started_at"], **values
        ):
            return  # replayed or deleted meanwhile: this attempt's news is stale
        if decision.status is DeliveryStatus.succeeded:
            store.reset_failures(conn, sub_id)
        elif decision.counts_as_failure:
            failures = store.count_failure(conn, sub_id, at=at)
            if decision.disable_now or policy.should_disable(failures):
                reason = decision.reason if decision.disable_now else f"{failures} deliveries in a row failed"
                reason = truncate(f"{reason}; last: {claim['id']}: {outcome.error or decision.reason}")
                if store.disable(conn, sub_id, reason=reason, at=at):
                    after_commit(conn, lambda: alerts.warning("webhook subscription %s disabled: %s", sub_id, reason))
    if decision.status is DeliveryStatus.dead:
        log.info("webhook delivery %s is dead: %s", claim["id"], decision.reason)
