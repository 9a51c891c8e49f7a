"""Console page of the event backbone (the bus sits below the console shell, so its page lives here): the relay's backlog, each subscriber's lag, the events a
subscriber could not apply — with replay and discard — and the event catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.bus import catalogue
from orderhub.bus import service as bus
from orderhub.core.errors import Conflict, DomainError
from orderhub.platform.auth.model import Principal, Role
from orderhub.web.templating import act, check_csrf, console_user, error_message, flash, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)


@router.get("/events", response_class=HTMLResponse)
def events_page(request: Request, user: User, status: str = "dead,retrying,parked") -> Response:
    engine = request.app.state.engine
    wanted = [s for s in status.split(",") if s]
    try:
        failures = bus.get_failures(engine, status=wanted or None, limit=200)
    except DomainError as exc:
        flash(request, error_message(exc), "error")
        failures, wanted = [], []
    return render(
        request,
        "web/events.html",
        {
            "user": user,
            "nav": "events",
            "state": bus.get_status(engine),
            "failures": failures,
            "status": ",".join(wanted),
            "statuses": bus.FAILURE_STATUSES,
            "catalogue": catalogue.catalogue(),
            "can_act": user.role >= Role.operator,
        },
    )


@router.post("/events/failures/{failure_id}/replay", dependencies=[Csrf])
def replay(request: Request, failure_id: int, user: User) -> Response:
    def run() -> str:
        after = bus.replay_failure(request.app.state.engine, failure_id=failure_id)
        if after["status"] != "resolved":
            raise Conflict(f"the replay failed again: {after['error']}", code="replay_failed")
        return f"Event {after['event_id']} applied by {after['subscriber']}"

    return act(request, user, Role.operator, "/console/events", run)


@router.post("/events/failures/{failure_id}/discard", dependencies=[Csrf])
def discard(request: Request, failure_id: int, user: User) -> Response:
    def run() -> str:
        after = bus.discard_failure(request.app.state.engine, failure_id=failure_id, actor=user.actor)
        return f"Event {after['event_id']} discarded for {after['subscriber']}"

    return act(request, user, Role.operator, "/console/events", run)
