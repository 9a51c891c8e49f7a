"""JSON routes of customer notifications: what each order was told, and the mail outbox.
Viewers read both; nothing here sends or changes anything."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orderhub.platform import problems
from orderhub.platform.web import EngineDep, Viewer
from orderhub.tracking import notify_service

router = APIRouter(prefix="/api/v1", tags=["tracking"], responses=problems.READ)
OrderFilter = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def notification_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "milestone": row["milestone"],
        "channel": row["channel"],
        "status": row["status"],
        "recipient": row["recipient"],
        "language": row["language"],
        "subject": row["subject"],
        "body": row["body"],
        "occurred_at": _iso(row["occurred_at"]),
        "event_id": row["event_id"],
        "attempts": row["attempts"],
        "next_attempt_at": _iso(row["next_attempt_at"]),
        "last_attempt_at": _iso(row["last_attempt_at"]),
        "last_error": row["last_error"],
        "created_at": _iso(row["created_at"]),
        "sent_at": _iso(row["sent_at"]),
    }


def mail_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "notification_id": row["notification_id"],
        "order_id": row["order_id"],
        "to": row["recipient"],
        "subject": row["subject"],
        "body": row["body"],
        "language": row["language"],
        "created_at": _iso(row["created_at"]),
    }


@router.get("/tracking/notifications", summary="Customer notifications, newest first, with their delivery status")
def get_notifications(
    engine: EngineDep,
    _: Viewer,
    order_id: OrderFilter = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = notify_service.get_notifications(engine, order_id=order_id, cursor=cursor, limit=limit)
    return {"items": [notification_json(r) for r in page.items], "next_cursor": page.next_cursor, "counts": page.counts}


@router.get("/mail-outbox", summary="Mails written to the outbox (the default channel), newest first")
def get_mail_outbox(
    engine: EngineDep,
    _: Viewer,
    order_id: OrderFilter = None,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="the next_before of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    rows, next_before = notify_service.get_mail_outbox(engine, order_id=order_id, before=before, limit=limit)
    return {"items": [mail_json(r) for r in rows], "next_before": next_before}
