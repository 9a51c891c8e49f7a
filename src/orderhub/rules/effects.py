"""What rules do to an order outside a hook (an approval decided, a timer fired), through one
handler the composition root registers: rules never import the order context.

The handler runs inside the rules context's transaction, so the order's change and the
approval's or timer's new state commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

#: release (an approval granted), cancel (rejected), release_reservation, hold, tag, escalate, notify
ACTIONS = ("release", "cancel", "release_reservation", "hold", "tag", "escalate", "notify")

#: handler(conn, order_id, action, value, actor) → what happened, in words (for the audit)
Handler = Callable[[Connection, str, str, str, str], str]

_handler: list[Handler] = []


def register(handler: Handler) -> None:
    """The one handler (the composition root's); registering again replaces it."""
    _handler[:] = [handler]


def apply(conn: Connection, *, order_id: str, action: str, value: str = "", actor: str) -> str:
    """Carry out ``action`` on ``order_id`` in ``conn``'s transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not _handler:
        return "no effect handler is wired"
    return _handler[0](conn, order_id, action, value, actor)
