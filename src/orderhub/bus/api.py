"""JSON routes of the event backbone: the catalogue, subscribers' state, failed events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from orderhub.bus import catalogue
from orderhub.bus import service as bus
from orderhub.platform import problems
from orderhub.platform.web import EngineDep, Operator, Viewer

FailureId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # bus_failures.id is an INTEGER

FailureStatus = Literal["retrying", "dead", "parked", "resolved", "discarded"]  # bus.service.FAILURE_STATUSES

router = APIRouter(prefix="/api/v1", tags=["events"], responses=problems.READ)


@router.get("/events/catalogue", summary="Every event type with the JSON Schema of its data")
def get_catalogue(_: Viewer) -> dict[str, Any]:
    """The CloudEvents envelope and, per type, its version and the schema of ``data``."""
    return {"envelope": "CloudEvents 1.0 (structured JSON)", "types": catalogue.catalogue()}


@router.get("/bus", summary="Relay backlog, subscribers' offsets and lag, failures by status")
def get_status(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return bus.get_status(engine)


@router.get("/bus/failures", summary="Events a subscriber could not apply, newest first")
def get_failures(
    engine: EngineDep,
    _: Viewer,
    status: Annotated[list[FailureStatus] | None, Query()] = None,
    subscriber: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,  # an INTEGER id
) -> dict[str, Any]:
    """``status``: retrying, dead, parked, resolved, discarded (repeatable). Page back with
    ``before_id`` = the last id of the previous page."""
    items = bus.get_failures(
        engine, status=list(status) if status else None, subscriber=subscriber, limit=limit, before_id=before_id
    )
    return {"items": items, "next_before_id": items[-1]["id"] if len(items) == limit else None}


@router.post("/bus/failures/{failure_id}/replay", responses=problems.WRITE, summary="Apply a failed event again now")
def replay_failure(failure_id: FailureId, engine: EngineDep, _: Operator) -> dict[str, Any]:
    """The failure afterwards: ``resolved`` when it took effect (what waited behind it followed)."""
    return bus.replay_failure(engine, failure_id=failure_id)


@router.post(
    "/bus/failures/{failure_id}/discard", responses=problems.WRITE, summary="Close a failed event without applying it"
)
def discard_failure(failure_id: FailureId, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return bus.discard_failure(engine, failure_id=failure_id, actor=who.actor)
