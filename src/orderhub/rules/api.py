"""JSON routes of the rules context: rule sets and their versions, review and publish, diff,
rollback, simulation, the template library, approvals, timers, the audit and decision logs.

Viewers read everything; editors change drafts and submit them; publishers (never an author
of the version) publish, reject and roll back; admins set who may edit which scope; approvals
are decided by the role or user their step names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from orderhub.platform import problems
from orderhub.platform.web import Admin, EngineDep, Viewer
from orderhub.rules import approvals, logs, scopes, simulation, templates, timers
from orderhub.rules import service as rules
from orderhub.rules.model import FACTS, HOOKS, OUTCOMES, SCOPE_KEYS

router = APIRouter(prefix="/api/v1/rules", tags=["rules"], responses=problems.READ)

SetId = Annotated[str, Path(min_length=1, max_length=40)]
Number = Annotated[int, Path(ge=1, le=2**31 - 1)]
Hook = Literal[
    "order.captured",
    "order.before_sourcing",
    "order.exception",
    "order.before_release",
    "reservation.created",
    "timers",
]
Limit = Annotated[int, Query(ge=1, le=500)]
Before = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
Why = Field(default="", max_length=2000, description="why (kept in the audit log)")


class Row(BaseModel):
    id: str = Field(default="", max_length=20)
    when: list[str | None] = Field(default_factory=list, max_length=12, description="one condition per input column")
    then: list[str | float | None] = Field(default_factory=list, max_length=12, description="one value per outcome")
    note: str = Field(default="", max_length=200)


class Content(BaseModel):
    hit_policy: Literal["first", "collect", "unique"] = "first"
    inputs: list[str] = Field(default_factory=list, max_length=12, description="facts, one per input column")
    outputs: list[str] = Field(default_factory=list, max_length=12, description="outcomes, one per output column")
    rows: list[Row] = Field(default_factory=list, max_length=500)
    flows: dict[str, dict[str, Any]] = Field(default_factory=dict, description="approval flows by key")
    timers: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    default: dict[str, Any] = Field(default_factory=dict, description="outcomes when the table cannot be evaluated")


class SetIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    hook: Hook | None = Field(default=None, description="required unless a template gives it")
    scope: dict[str, str] = Field(default_factory=dict, description="region / channel / node the set applies to")
    description: str = Field(default="", max_length=2000)
    template: str = Field(default="", max_length=60, description="copy this template's table")
    content: Content | None = None
    why: str = Why


class DraftIn(BaseModel):
    content: Content
    why: str = Why


class WhyIn(BaseModel):
    why: str = Why


class RejectIn(BaseModel):
    why: str = Field(min_length=1, max_length=2000, description="what the authors should change")


class PublishIn(BaseModel):
    effective_from: datetime | None = Field(default=None, description="in force from (default: now)")
    why: str = Why


class RollbackIn(BaseModel):
    to: int = Field(ge=1, le=2**31 - 1, description="the earlier published version to restore")
    why: str = Field(min_length=1, max_length=2000)


class SimulateIn(BaseModel):
    limit: int = Field(default=1000, ge=1, le=simulation.MAX_ORDERS, description="the newest N orders")
    since: datetime | None = None
    until: datetime | None = None
    against: int | None = Field(default=None, ge=1, le=2**31 - 1, description="default: the version in force")
    exception: str = Field(default="", max_length=40, description="the exception fact, for order.exception")


class DecisionIn(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=500)


class ScopesIn(BaseModel):
    scopes: dict[Literal["region", "channel", "node"], list[Annotated[str, Field(max_length=80)]]]
    why: str = Why


@router.get("/catalogue", summary="Hook points, facts and outcomes a table may use")
def catalogue(_: Viewer) -> dict[str, Any]:
    return {
        "hooks": [{"name": k, "description": v} for k, v in HOOKS.items()],
        "facts": [{"name": k, "type": t, "description": d} for k, (t, d) in FACTS.items()],
        "outcomes": [{"name": k, "type": t, "description": d, "hooks": list(h)} for k, (t, d, h) in OUTCOMES.items()],
        "scopes": list(SCOPE_KEYS),
    }


@router.get("/templates", summary="The template library")
def list_templates(_: Viewer) -> list[dict[str, Any]]:
    return templates.get_all()


@router.get("/sets", summary="Rule sets with the version in force and any open draft")
def list_sets(engine: EngineDep, _: Viewer, hook: Hook | None = None, archived: bool = False) -> list[dict[str, Any]]:
    return rules.get_all(engine, hook=hook, include_archived=archived)


@router.post("/sets", status_code=201, responses=problems.WRITE, summary="Create a rule set (a draft v1)")
def create_set(body: SetIn, engine: EngineDep, who: Viewer) -> dict[str, Any]:
    content = body.content.model_dump() if body.content else None
    return rules.create(
        engine, who=who, name=body.name, hook=body.hook, scope=body.scope, description=body.description,
        content=content, template=body.template, why=body.why,
    )  # fmt: skip


@router.get("/sets/{set_id}", responses=problems.FOUND, summary="A rule set with every version")
def get_set(set_id: SetId, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return rules.get(engine, set_id)


@router.put("/sets/{set_id}/draft", responses=problems.WRITE, summary="Save the draft (opens one if none)")
def save_draft(set_id: SetId, body: DraftIn, engine: EngineDep, who: Viewer) -> dict[str, Any]:
    return rules.save_draft(engine, who=who, set_id=set_id, content=body.content.model_dump(), why=body.why)


@router.get("/sets/{set_id}/versions/{number}", responses=problems.FOUND, summary="One version")
def get_version(set_id: SetId, number: Number, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return rules.get_version(engine, set_id=set_id, number=number)


@router.post("/sets/{set_id}/versions/{number}/submit", responses=problems.WRITE, summary="Send a draft for review")
def submit(set_id: SetId, number: Number, body: WhyIn, engine: EngineDep, who: Viewer) -> dict[str, Any]:
    return rules.submit(engine, who=who, set_id=set_id, number=number, why=body.why)


@router.post("/sets/{set_id}/versions/{number}/publish", responses=problems.WRITE, summary="Publish (not its author)")
def publish(set_id: SetId, number: Number, body: PublishIn, engine: EngineDep, who: Viewer) -> dict[str, Any]:
    return rules.publish(
        engine, who=who, set_id=set_id, number=number, effective_from=body.effective_from, why=body.why
    )


@router.post("/sets/{set_id}/versions/{number}/reject", responses=problems.WRITE, summary="Send back with a reason")
def reject(set_id: SetId, number: Number, body: RejectIn, engine: EngineDep, who: Viewer) -> dict[str, Any]:
    return rules.reject(engine, who=who, set_id=set_id, number=number, why=body.why)


@router.post("/sets/{set_id}/rollback", responses=problems.WRITE, summary="Restore an earlier version at once")
def rollback(set_id: SetId, body: RollbackIn, engine: EngineDep, who: Viewer) -> dict[str, Any]:
    return rules.rollback(engine, who=who, set_id=set_id, to=body.to, why=body.why)


@router.post("/sets/{set_id}/archive", responses=problems.WRITE, summary="Switch a rule set off")
def archive(set_id: SetId, body: WhyIn, engine: EngineDep, who: Viewer) -> dict[str, Any]:
    return rules.archive(engine, who=who, set_id=set_id, why=body.why)


@router.get("/sets/{set_id}/diff", responses=problems.FOUND, summary="What changed between two versions")
def diff(
    set_id: SetId,
    engine: EngineDep,
    _: Viewer,
    a: Annotated[int, Query(ge=1, le=2**31 - 1, alias="from")],
    b: Annotated[int, Query(ge=1, le=2**31 - 1, alias="to")],
) -> dict[str, Any]:
    return rules.diff(engine, set_id=set_id, a=a, b=b)


@router.post(
    "/sets/{set_id}/versions/{number}/simulate", responses=problems.WRITE, summary="Replay recent orders against it"
)
def simulate(set_id: SetId, number: Number, body: SimulateIn, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return simulation.simulate(
        engine, set_id=set_id, number=number, against=body.against, limit=body.limit, since=body.since,
        until=body.until, exception=body.exception,
    )  # fmt: skip


@router.get("/audit", summary="Every change to the rules, newest first")
def audit(
    engine: EngineDep,
    _: Viewer,
    set_id: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=260)] = None,
    action: Annotated[str | None, Query(max_length=30)] = None,
    before: Before = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    return logs.get_audit(engine, set_id=set_id, actor=actor, action=action, before=before, limit=limit)


@router.get("/decisions", summary="Evaluations that decided something about an order")
def decisions(
    engine: EngineDep,
    _: Viewer,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
    set_id: Annotated[str | None, Query(max_length=40)] = None,
    before: Before = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    return logs.get_decisions(engine, order_id=order_id, set_id=set_id, before=before, limit=limit)


@router.get("/approvals", summary="Approvals: pending ones you may decide, or others by status")
def list_approvals(
    engine: EngineDep,
    who: Viewer,
    status: Literal["pending", "approved", "rejected"] = "pending",
    order_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    if order_id:
        return approvals.get_for_order(engine, order_id=order_id)
    return approvals.get_inbox(engine, who=who, status=status, limit=limit)


@router.post("/approvals/{approval_id}/decision", responses=problems.WRITE, summary="Approve or reject a step")
def decide(
    approval_id: Annotated[str, Path(min_length=1, max_length=40)], body: DecisionIn, engine: EngineDep, who: Viewer
) -> dict[str, Any]:
    return approvals.decide(engine, approval_id=approval_id, who=who, approve=body.approve, note=body.note)


@router.get("/timers", summary="Timers started by the rule sets")
def list_timers(
    engine: EngineDep,
    _: Viewer,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Literal["pending", "fired", "cancelled"] | None = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    return timers.get_all(engine, order_id=order_id, status=status, limit=limit)


@router.get("/scopes/{user_id}", responses=problems.FOUND, summary="What a user may edit (empty: every scope)")
def get_scopes(
    user_id: Annotated[str, Path(min_length=1, max_length=40)], engine: EngineDep, _: Viewer
) -> dict[str, list[str]]:
    return scopes.get_scopes(engine, user_id=user_id)


@router.put("/scopes/{user_id}", responses=problems.WRITE, summary="Limit what a user may edit")
def set_scopes(
    user_id: Annotated[str, Path(min_length=1, max_length=40)], body: ScopesIn, engine: EngineDep, who: Admin
) -> dict[str, list[str]]:
    return scopes.set_scopes(
        engine, who=who, user_id=user_id, scopes={str(k): v for k, v in body.scopes.items()}, why=body.why
    )
