"""Staff comments on an order: who wrote what, when.

Comments are notes between colleagues, not facts about the order: they are stored here and
shown in the order's timeline, but they do not change the order (no version bump, no hooks)
and are not published on the bus, so webhooks never carry internal notes to the outside.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.orders import aftersales_store as rows
from orderhub.orders import store
from orderhub.platform.db import unit_of_work

MAX_TEXT = 4000
#: The newest comments an order shows (and the API lists).
LIMIT = 500


def comment_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "author": row["author"],
        "text": row["body"],
        "created_at": row["created_at"].isoformat(),
    }


def _check_order(conn: Any, order_id: str) -> None:
    if store.refs_of(conn, [order_id]) == {}:
        raise NotFound(f"no order {order_id}", code="order_not_found", order_id=order_id)


def create(engine: Engine, *, order_id: str, author: str, text: str) -> dict[str, Any]:
    """Add a comment (non-blank, at most ``MAX_TEXT`` characters; 422 at ``/text``)."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        detail = f"a comment of 1 to {MAX_TEXT} characters"
        raise InvalidInput(detail, errors=[{"pointer": "/text", "detail": detail}])
    row = {"id": new_id("cmt"), "order_id": order_id, "author": author, "body": text, "created_at": utcnow()}
    with unit_of_work(engine) as conn:
        _check_order(conn, order_id)
        rows.insert_comment(conn, **row)
    return row


def get_all(engine: Engine, *, order_id: str) -> list[dict[str, Any]]:
    """The order's comments, oldest first (404 for an unknown order)."""
    with unit_of_work(engine, write=False) as conn:
        _check_order(conn, order_id)
        return rows.comments_of(conn, order_id, limit=LIMIT)
