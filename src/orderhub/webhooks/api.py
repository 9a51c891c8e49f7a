"""JSON routes for webhook subscriptions and their delivery log.

Viewers read (never a secret); admins manage subscriptions; operators may replay a delivery
(like any other replay). The secret is in the answer to create and rotate-secret only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from orderhub.platform import problems
from orderhub.platform.web import Admin, EngineDep, Operator, Viewer
from orderhub.webhooks import service as webhooks
from orderhub.webhooks.model import Delivery, DeliveryStatus, Subscription, SubscriptionStatus

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=problems.READ)


class SubscriptionIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description="http:// or https:// endpoint that receives POSTs")
    event_types: list[str] = Field(
        default_factory=list, max_length=100, description="event types to receive; empty or ['*'] = every type"
    )
    description: str = Field(default="", max_length=500)


class SubscriptionPatch(BaseModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[str] | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    status: SubscriptionStatus | None = Field(
        default=None, description="active re-enables (failure count back to 0); disabled pauses"
    )


def subscription_json(s: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": s.id,
        "url": s.url,
        "description": s.description,
        "event_types": s.event_types,
        "status": s.status.value,
        "consecutive_failures": s.consecutive_failures,
        "disabled_reason": s.disabled_reason,
        "created_at": s.created_at.isoformat(),
        "updated_at": s.updated_at.isoformat(),
        "created_by": s.created_by,
    }
    if with_secret:
        doc["secret"] = s.secret
    return doc


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_json(d: Delivery, *, with_payload: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": d.id,
        "subscription_id": d.subscription_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "aggregate_id": d.aggregate_id,
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": _iso(d.next_attempt_at),
        "last_attempt_at": _iso(d.last_attempt_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "last_duration_ms": d.last_duration_ms,
        "created_at": d.created_at.isoformat(),
        "delivered_at": _iso(d.delivered_at),
    }
    if with_payload:
        doc["payload"] = d.payload
    return doc


@router.post(
    "",
    responses=problems.WRITE,
    status_code=201,
    summary="Subscribe an endpoint (the answer holds its signing secret, once)",
)
def post_subscription(body: SubscriptionIn, response: Response, engine: EngineDep, who: Admin) -> dict[str, Any]:
    sub = webhooks.create(
        engine, url=body.url, event_types=body.event_types, description=body.description, actor=who.actor
    )
    response.headers["Location"] = f"/api/v1/webhooks/{sub.id}"
    return subscription_json(sub, with_secret=True)


@router.get("", summary="All subscriptions")
def get_subscriptions(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"items": [subscription_json(s) for s in webhooks.get_all(engine)]}


@router.get("/event-types", summary="The event types a subscription may ask for")
def get_event_types(_: Viewer) -> dict[str, Any]:
    return {"items": webhooks.event_types()}


@router.get(
    "/deliveries/{delivery_id}", responses=problems.FOUND, summary="One delivery, with the CloudEvent it carries"
)
def get_delivery(delivery_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return delivery_json(webhooks.get_delivery(engine, delivery_id=delivery_id), with_payload=True)


@router.post(
    "/deliveries/{delivery_id}/replay", responses=problems.WRITE, summary="Send a delivery again (a dead one too), now"
)
def post_replay(delivery_id: str, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return delivery_json(webhooks.replay(engine, delivery_id=delivery_id, actor=who.actor))


@router.get("/{subscription_id}", responses=problems.FOUND, summary="A subscription")
def get_subscription(subscription_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return subscription_json(webhooks.get(engine, subscription_id=subscription_id))


@router.patch(
    "/{subscription_id}", responses=problems.WRITE, summary="Change the URL, event types, description or status"
)
def patch_subscription(subscription_id: str, body: SubscriptionPatch, engine: EngineDep, who: Admin) -> dict[str, Any]:
    sub = webhooks.update(
        engine, subscription_id=subscription_id, actor=who.actor, **body.model_dump(exclude_unset=True)
    )
    return subscription_json(sub)


@router.delete(
    "/{subscription_id}",
    responses=problems.WRITE,
    status_code=204,
    summary="Remove a subscription and its delivery log",
)
def delete_subscription(subscription_id: str, engine: EngineDep, _: Admin) -> Response:
    webhooks.delete(engine, subscription_id=subscription_id)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/rotate-secret",
    responses=problems.WRITE,
    summary="A new signing secret (the old one signs too for 24 h)",
)
def post_rotate_secret(subscription_id: str, engine: EngineDep, who: Admin) -> dict[str, Any]:
    sub = webhooks.rotate_secret(engine, subscription_id=subscription_id, actor=who.actor)
    return subscription_json(sub, with_secret=True)


@router.get(
    "/{subscription_id}/deliveries", responses=problems.FOUND, summary="A subscription's deliveries, newest first"
)
def get_deliveries(
    subscription_id: str,
    engine: EngineDep,
    _: Viewer,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = webhooks.get_deliveries(engine, subscription_id=subscription_id, status=status, cursor=cursor, limit=limit)
    return {"items": [delivery_json(d) for d in page.items], "next_cursor": page.next_cursor, "counts": page.counts}
