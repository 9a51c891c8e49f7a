"""Subscribers: who reads the bus, which event types each handles, and its retry policy.

A subscriber is registered once at start-up by the context that owns it (through the
composition root). Its ``handle(conn, event)`` runs inside a transaction that also records the
event as processed and moves the subscriber's offset, so an event takes effect once even though
delivery is at least once. A handler must be deterministic and write only through ``conn``
(no network calls: a webhook subscriber queues a delivery row; a sender sends it later).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from orderhub.core.events import DomainEvent

Handler = Callable[[Connection, DomainEvent], None]
BatchHandler = Callable[[Connection, list[DomainEvent]], None]


@dataclass(frozen=True, slots=True)
class Subscriber:
    """``types``: the event types handled (``None``: every type). A failing event is retried
    ``max_attempts`` times with exponential back-off from ``backoff_s`` (with jitter), then
    becomes dead (listed for staff to replay or discard). Later events of the same aggregate
    wait behind a failing one, so per-aggregate order holds; other aggregates go on."""

    name: str
    handle: Handler
    types: frozenset[str] | None = None
    max_attempts: int = 5
    backoff_s: float = 1.0
    description: str = ""
    #: where a new subscriber starts: ``latest`` (what is published from now on) or
    #: ``beginning`` (every published event: a projection rebuilding itself)
    start: str = "latest"
    #: optional: apply a whole batch at once (one statement for a projection); must do exactly
    #: what ``handle`` does for each event in turn. Failing batches fall back to ``handle``.
    handle_batch: BatchHandler | None = None

    def handles(self, event_type: str) -> bool:
        return self.types is None or event_type in self.types


_registry: dict[str, Subscriber] = {}


def register(subscriber: Subscriber) -> None:
    """Add (or replace, by name) a subscriber."""
    _registry[subscriber.name] = subscriber


def unregister(name: str) -> None:
    _registry.pop(name, None)


def get(name: str) -> Subscriber | None:
    return _registry.get(name)


def get_all() -> list[Subscriber]:
    return sorted(_registry.values(), key=lambda s: s.name)
