"""Hook points in the order lifecycle, for other contexts to register on at start-up.

The order context calls these; it never imports who registered them (the composition root,
``orderhub.app``, wires them). Two kinds:

- **in-transaction** hooks run inside the order's own transaction, after the model decided and
  stock followed, before the save. They see the order's facts and the events about to be
  written, may write their own tables on the same connection (atomic with the change), and may
  return a ``Verdict`` (hold the order, add tags, set a priority) that the order applies
  through its model before the save. A hook that raises fails the change: hooks that must never
  do that (rules) catch their own errors.
- **advice** hooks answer a question the order asks while it decides (which sourcing strategy
  for this order; how long this unpaid order's presale lock lasts): they get the order's facts
  and the connection and return a small dict (``{"strategy": "greenest", "by": "..."}``). The
  first adviser that answers wins; an adviser must never raise (rules catch their own errors).
- **after-commit** hooks run once the transaction committed, with the events written. They are
  for cheap in-process side effects (waking the relay); anything that must happen reliably is a
  bus subscriber instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from orderhub.core.events import DomainEvent

#: A new order is about to be written (capture).
CAPTURED = "order.captured"
#: An existing order changed (any use case after capture).
CHANGED = "order.changed"
POINTS = (CAPTURED, CHANGED)
#: Stock is about to be placed: advice ``strategy`` (cheapest / fastest / greenest / balanced).
BEFORE_SOURCING = "order.before_sourcing"
#: Stock is being reserved for an unpaid order: advice ``lock_minutes`` (the presale lock).
RESERVATION = "reservation.created"
QUESTIONS = (BEFORE_SOURCING, RESERVATION)


@dataclass(frozen=True, slots=True)
class HookContext:
    """What an in-transaction hook sees: the hook point, the order as plain facts, the events
    of this change, who made it, and the open connection."""

    point: str
    order: dict[str, Any]
    events: list[DomainEvent]
    actor: str
    conn: Connection


@dataclass(slots=True)
class Verdict:
    """What an in-transaction hook asks of the order; ``reason`` is logged with the change."""

    hold: str | None = None
    tags: list[str] = field(default_factory=list)
    priority: int | None = None
    by: str = ""


InTransactionHook = Callable[[HookContext], Verdict | None]
AfterCommitHook = Callable[[list[DomainEvent]], None]
Adviser = Callable[[Connection, dict[str, Any]], dict[str, Any] | None]

_in_transaction: list[tuple[str, InTransactionHook]] = []
_after_commit: list[AfterCommitHook] = []
_advisers: list[tuple[str, Adviser]] = []


def on(point: str, hook: InTransactionHook) -> None:
    """Register ``hook`` to run inside every order change at ``point`` (idempotent)."""
    if point not in POINTS:
        raise ValueError(f"unknown hook point {point!r}; one of {', '.join(POINTS)}")
    if (point, hook) not in _in_transaction:
        _in_transaction.append((point, hook))


def after_commit(hook: AfterCommitHook) -> None:
    """Register ``hook`` to run after every committed order change (idempotent)."""
    if hook not in _after_commit:
        _after_commit.append(hook)


def advise(point: str, adviser: Adviser) -> None:
    """Register ``adviser`` to answer the question at ``point`` (idempotent)."""
    if point not in QUESTIONS:
        raise ValueError(f"unknown question {point!r}; one of {', '.join(QUESTIONS)}")
    if (point, adviser) not in _advisers:
        _advisers.append((point, adviser))


def ask(point: str, conn: Connection, facts: dict[str, Any]) -> dict[str, Any]:
    """The first answer to the question at ``point`` (``{}``: nobody advised)."""
    for p, adviser in _advisers:
        if p == point and (answer := adviser(conn, facts)):
            return answer
    return {}


def clear() -> None:
    """Forget every registration (tests, and an app factory that builds a fresh app)."""
    _in_transaction.clear()
    _after_commit.clear()
    _advisers.clear()


def in_transaction_hooks(point: str) -> list[InTransactionHook]:
    return [hook for p, hook in _in_transaction if p == point]


def after_commit_hooks() -> list[AfterCommitHook]:
    return list(_after_commit)
