"""The relay: moves committed outbox events onto the bus, in commit order per aggregate.

Embedded backend: the database is the log. Publishing moves a batch of pending events into
``bus_log`` with the next positions, in one statement per batch; subscribers read by position. An aggregate's events
are inserted under its row lock, so their insert order is their commit order; a transaction
that commits late simply gets later positions.

NATS backend: the batch is read, sent to JetStream (the event id as ``Nats-Msg-Id``) outside
any transaction, and marked published once JetStream acknowledged it. A crash in between
publishes again; JetStream drops the duplicate inside its window, and subscribers skip ids they
processed. Positions still record the order of publication.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine

from orderhub.bus import store
from orderhub.core.clock import utcnow
from orderhub.core.events import DomainEvent
from orderhub.platform.db import one_statement, unit_of_work


class Sink(Protocol):
    """Where the relay sends events. ``send`` returns the events JetStream (or whoever)
    acknowledged, a subset of ``events`` that never holds an event whose predecessor of the
    same aggregate was not acknowledged."""

    def send(self, events: list[DomainEvent]) -> list[DomainEvent]: ...


def relay_once(engine: Engine, *, sink: Sink | None = None, limit: int = 1000) -> int:
    """Publish up to ``limit`` committed events; returns how many were published."""
    if engine.dialect.name == "sqlite":  # a cheap look first: SQLite has one writer
        with one_statement(engine) as conn:
            if not store.has_unpublished(conn):
                return 0
    if sink is None:
        if engine.dialect.name == "postgresql":  # one atomic statement: no transaction around it
            with one_statement(engine) as conn:
                return store.publish_next(conn, limit=limit, at=utcnow())
        with unit_of_work(engine) as conn:
            return store.publish_next(conn, limit=limit, at=utcnow())
    with one_statement(engine) as conn:
        rows = store.unpublished(conn, limit=limit)
    if not rows:
        return 0
    seq_of = {r.id: r.seq for r in rows}
    sent = sink.send([store.to_event(r) for r in rows])
    if sent:
        with unit_of_work(engine) as conn:
            store.mark_published(conn, [seq_of[e.id] for e in sent], at=utcnow())
    return len(sent)
