"""Console pages for webhooks: the subscriptions, each one's delivery log, replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.core.errors import DomainError, InvalidInput
from orderhub.platform.auth.model import Principal, Role
from orderhub.web.templating import act, check_csrf, console_user, error_message, flash, redirect, render
from orderhub.webhooks import service as webhooks
from orderhub.webhooks.model import DeliveryStatus, SubscriptionStatus

router = APIRouter(prefix="/console/webhooks", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)


@router.get("", response_class=HTMLResponse)
def subscriptions(request: Request, user: User) -> Response:
    return render(
        request,
        "webhooks/subscriptions.html",
        {
            "user": user,
            "nav": "webhooks",
            "subscriptions": webhooks.get_all(request.app.state.engine),
            "event_types": webhooks.event_types(),
        },
    )


@router.post("", dependencies=[Csrf])
def subscription_create(
    request: Request,
    user: User,
    url: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create, then show the secret once (a flash on the subscription's page)."""
    try:
        user.require(Role.admin)
        sub = webhooks.create(
            request.app.state.engine,
            url=url,
            event_types=event_types or [],
            description=description,
            actor=user.actor,
        )
    except DomainError as exc:
        flash(request, error_message(exc), "error")
        return redirect("/console/webhooks", request)
    flash(request, f"Subscription created. Its signing secret, shown only now: {sub.secret}")
    return redirect(f"/console/webhooks/{sub.id}", request)


@router.get("/{subscription_id}", response_class=HTMLResponse)
def subscription(
    request: Request, subscription_id: str, user: User, status: str = "", cursor: str | None = None
) -> Response:
    engine = request.app.state.engine
    try:
        sub = webhooks.get(engine, subscription_id=subscription_id)
        page = webhooks.get_deliveries(
            engine,
            subscription_id=subscription_id,
            status=DeliveryStatus(status) if status in DeliveryStatus.__members__ else None,
            cursor=cursor,
        )
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    return render(
        request,
        "webhooks/subscription.html",
        {
            "user": user,
            "nav": "webhooks",
            "s": sub,
            "page": page,
            "status": status,
            "statuses": list(DeliveryStatus),
        },
    )


@router.post("/{subscription_id}/status", dependencies=[Csrf])
def subscription_status(request: Request, subscription_id: str, user: User, status: Annotated[str, Form()]) -> Response:
    def run() -> str:
        if status not in SubscriptionStatus.__members__:
            raise InvalidInput("status is active or disabled", errors=[{"pointer": "/status", "detail": "unknown"}])
        new = SubscriptionStatus(status)
        webhooks.update(request.app.state.engine, subscription_id=subscription_id, actor=user.actor, status=new)
        return "Subscription enabled" if new is SubscriptionStatus.active else "Subscription disabled"

    return act(request, user, Role.admin, f"/console/webhooks/{subscription_id}", run)


@router.post("/{subscription_id}/rotate-secret", dependencies=[Csrf])
def subscription_rotate(request: Request, subscription_id: str, user: User) -> Response:
    def run() -> str:
        sub = webhooks.rotate_secret(request.app.state.engine, subscription_id=subscription_id, actor=user.actor)
        return f"New signing secret, shown only now (the old one also signs for 24 h): {sub.secret}"

    return act(request, user, Role.admin, f"/console/webhooks/{subscription_id}", run)


@router.post("/{subscription_id}/delete", dependencies=[Csrf])
def subscription_delete(request: Request, subscription_id: str, user: User) -> Response:
    try:
        user.require(Role.admin)
        webhooks.delete(request.app.state.engine, subscription_id=subscription_id)
    except DomainError as exc:
        flash(request, error_message(exc), "error")
        return redirect(f"/console/webhooks/{subscription_id}", request)
    flash(request, "Subscription deleted")
    return redirect("/console/webhooks", request)


@router.post("/deliveries/{delivery_id}/replay", dependencies=[Csrf])
def delivery_replay(
    request: Request, delivery_id: str, user: User, subscription_id: Annotated[str, Form()]
) -> Response:
    def run() -> str:
        webhooks.replay(request.app.state.engine, delivery_id=delivery_id, actor=user.actor)
        return f"Delivery {delivery_id} queued again"

    return act(request, user, Role.operator, f"/console/webhooks/{subscription_id}", run)
