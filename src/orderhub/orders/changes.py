"""The one way an order changes: load under lock, let the model decide, run the hooks, save,
write the events — one transaction.

Every use case that writes an order (capture, lifecycle moves, edits, presale-lock expiry,
payment holds, re-optimisation) goes through ``save``; so a hook registered in
``orders.hooks`` sees every change, and every committed change has its events in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection, Engine

from orderhub.bus import service as bus
from orderhub.core.clock import utcnow
from orderhub.core.errors import NotFound
from orderhub.core.events import DomainEvent
from orderhub.orders import holds, hooks, store
from orderhub.orders.model import Order
from orderhub.platform.db import after_commit, unit_of_work

T = TypeVar("T")


def _envelopes(order: Order, *, actor: str, now: datetime) -> list[DomainEvent]:
    events = [DomainEvent.of(e, aggregate_id=order.id, actor=actor, occurred_at=now) for e in order.changes]
    order.changes.clear()
    return events


def _apply(order: Order, verdict: hooks.Verdict) -> None:
    """A hook's verdict, applied through the model (so it is recorded like any change)."""
    if verdict.tags and not set(verdict.tags) <= set(order.tags):
        order.set_tags([*order.tags, *verdict.tags])
    if verdict.priority is not None and verdict.priority != order.priority:
        order.set_priority(verdict.priority)
    if verdict.hold and order.is_holdable:
        order.hold(reason=verdict.hold)


def save(conn: Connection, order: Order, *, actor: str, now: datetime, new: bool = False) -> list[DomainEvent]:
    """Write ``order`` and the events of its pending changes, in the caller's transaction.

    A new order's row was inserted by capture before its stock was touched (its unique keys
    decide a duplicate first); ``new=True`` then writes it again only if a hook changed it.

    In-transaction hooks of the point (``captured`` for a new order, else ``changed``) run
    first; their verdicts become changes of their own, logged with the hook's name. The
    events are in the outbox when this returns; after-commit hooks run once the caller's unit
    of work commits (never on a rollback).
    """
    events = _envelopes(order, actor=actor, now=now)
    point = hooks.CAPTURED if new else hooks.CHANGED
    decided = 0
    for hook in hooks.in_transaction_hooks(point):
        verdict = hook(hooks.HookContext(point, order.as_facts(), events, actor, conn))
        if verdict is not None:
            _apply(order, verdict)
            more = _envelopes(order, actor=verdict.by or actor, now=now)
            decided += len(more)
            events += more
    if not new or decided:
        # a new order was written whole by capture; its hooks' verdicts touch only its row and tags
        store.update_order(conn, order, now=now, header_and_tags=new)
    bus.publish(conn, events)
    for callback in hooks.after_commit_hooks():
        after_commit(conn, partial(callback, events))
    return events


def change(
    engine: Engine,
    order_id: str,
    *,
    actor: str,
    action: Callable[[Connection, Order], T],
    follow_stock: bool = True,
) -> tuple[Order, T]:
    """Load ``order_id`` under its row lock, run ``action`` (the model decides; it may raise,
    and then nothing is written), move the order's stock to match (unless the action did),
    save. Returns the order and what the action returned. 404 if there is no such order."""
    with unit_of_work(engine) as conn:
        return change_in(conn, order_id, actor=actor, action=action, follow_stock=follow_stock)


def change_in(
    conn: Connection,
    order_id: str,
    *,
    actor: str,
    action: Callable[[Connection, Order], T],
    follow_stock: bool = True,
) -> tuple[Order, T]:
    """``change`` inside the caller's transaction (a bus subscriber's, which also moves its
    offset): the order is changed exactly when the caller commits."""
    now = utcnow()
    order = store.get_order(conn, order_id, for_update=True)
    if order is None:
        raise NotFound(f"no order {order_id}", code="order_not_found", order_id=order_id)
    shipped_before = {line.id: line.quantity_shipped for line in order.lines}
    result = action(conn, order)
    if order.changes:
        if follow_stock:
            holds.follow(conn, order, list(order.changes), shipped_before, now=now)
        save(conn, order, actor=actor, now=now)
    return order, result
