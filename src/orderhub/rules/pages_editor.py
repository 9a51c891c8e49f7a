"""The console page of one rule set: the table editor (rows and columns, approval flows,
timers), save and submit, review (publish now or later, reject), the versions with diff and
rollback, and simulation as a durable job polled with htmx.

The editor's moves (add a row, remove a column …) post the whole form and get the editor back
re-drawn (``/editor``): nothing is stored until *Save draft*. A table the service refuses comes
back (422) with each problem next to the cell its pointer names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from orderhub.core.errors import DomainError, InvalidInput
from orderhub.platform import jobs
from orderhub.platform.auth.model import Principal, Role
from orderhub.rules import editor
from orderhub.rules import service as rules
from orderhub.rules.model import FACTS, HIT_POLICIES, ROLES, TIMEOUT_ACTIONS, TIMER_ACTIONS
from orderhub.web.templating import act, check_csrf, console_user, error_message, flash, redirect, render

router = APIRouter(prefix="/console/rules", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)
SIMULATE_JOB = "rules.simulate"  # the job kind the composition root registers
MAX_SIMULATED = 10_000
#: a table of 500 rows and 24 columns, with its flows and timers, fits
MAX_FIELDS = 20_000


async def sheet_form(request: Request) -> FormData:
    """The editor's form (read with room for a large table), CSRF-checked."""
    form = await request.form(max_fields=MAX_FIELDS)
    await check_csrf(request)
    return form


Sheet = Annotated[FormData, Depends(sheet_form)]


def _context(
    request: Request,
    user: Principal,
    set_id: str,
    *,
    sheet: dict[str, Any] | None = None,
    why: str = "",
    errors: list[dict[str, str]] | None = None,
    shown: int | None = None,
    job_id: str = "",
) -> dict[str, Any]:
    """Everything the rule set's page shows (``NotFound`` for an unknown set)."""
    rule_set = rules.get(request.app.state.engine, set_id)
    versions = rule_set["versions"]  # newest first; v1 exists from creation on
    draft = next((v for v in versions if v["status"] == "draft"), None)
    base = draft or versions[0]
    sheet = sheet if sheet is not None else editor.from_content(base["content"])
    by_field, listed = editor.place(errors or [], sheet)
    default_view = next((v for v in versions if v["in_force"]), versions[0])
    return {
        "user": user,
        "nav": "rules",
        "s": rule_set,
        "versions": versions,
        "draft": draft,
        "base": base,
        "reviews": [v for v in versions if v["status"] == "in_review"],
        "mine": [v["number"] for v in versions if user.actor in {v["author"], *v["editors"]}],
        "published": [v["number"] for v in versions if v["published_at"] is not None],
        "next_number": max(v["number"] for v in versions) + 1,
        "sheet": sheet,
        "why": why,
        "errors": by_field,
        "error_list": listed,
        "facts": FACTS,
        "outcomes": editor.outcomes_for(rule_set["hook"]),
        "hit_policies": HIT_POLICIES,
        "roles": ROLES,
        "timeout_actions": TIMEOUT_ACTIONS,
        "timer_actions": TIMER_ACTIONS,
        "shown": next((v for v in versions if v["number"] == shown), default_view),
        "job_id": job_id,
        "max_simulated": MAX_SIMULATED,
    }


def _page(request: Request, user: Principal, set_id: str, *, status_code: int = 200, **kw: Any) -> Response:
    try:
        context = _context(request, user, set_id, **kw)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    return render(request, "rules/set.html", context, fragment="rules/_editor.html", status_code=status_code)


@router.get("/{set_id}", response_class=HTMLResponse)
def rule_set(request: Request, set_id: str, user: User, v: int | None = None, job: str = "") -> Response:
    return _page(request, user, set_id, shown=v, job_id=job[:40])


@router.post("/{set_id}/editor", response_class=HTMLResponse)
def editor_move(request: Request, set_id: str, user: User, form: Sheet) -> Response:
    """One editing move on the posted table; the editor comes back re-drawn, nothing stored."""
    try:
        user.require(Role.editor)
        hook = rules.get(request.app.state.engine, set_id)["hook"]
    except DomainError as exc:
        flash(request, error_message(exc), "error")
        return redirect(f"/console/rules/{set_id}", request)
    sheet = editor.apply(editor.from_form(form), str(form.get("op") or ""), form, hook=hook)
    return _page(request, user, set_id, sheet=sheet, why=str(form.get("why") or ""))


def _save(request: Request, user: Principal, set_id: str, form: FormData) -> tuple[dict[str, Any] | None, Response]:
    """Save the posted table as the draft: (the saved version, a redirect to the page), or
    (None, the page again with every problem next to its cell, 422)."""
    sheet, why = editor.from_form(form), str(form.get("why") or "")[:2000]
    try:
        problems = editor.duplicate_flows(sheet)
        if problems:
            raise InvalidInput("two approval flows share a key", errors=problems)
        saved = rules.save_draft(
            request.app.state.engine, who=user, set_id=set_id, content=editor.to_content(sheet), why=why
        )
    except InvalidInput as exc:
        if not exc.errors:
            flash(request, error_message(exc), "error")
            return None, redirect(f"/console/rules/{set_id}", request)
        flash(request, f"Not saved: {len(exc.errors)} problem(s) in the table, shown next to the cells", "error")
        return None, _page(request, user, set_id, sheet=sheet, why=why, errors=exc.errors, status_code=422)
    except DomainError as exc:
        flash(request, error_message(exc), "error")
        return None, redirect(f"/console/rules/{set_id}", request)
    return saved, redirect(f"/console/rules/{set_id}", request)


@router.post("/{set_id}/draft")
def draft_save(request: Request, set_id: str, user: User, form: Sheet) -> Response:
    saved, response = _save(request, user, set_id, form)
    if saved:
        flash(request, f"Draft v{saved['number']} saved")
    return response


@router.post("/{set_id}/submit")
def draft_submit(request: Request, set_id: str, user: User, form: Sheet) -> Response:
    """Save the table as it stands, then send that draft for review (it is frozen from then)."""
    saved, response = _save(request, user, set_id, form)
    if saved is None:
        return response

    def submit() -> str:
        rules.submit(request.app.state.engine, who=user, set_id=set_id, number=saved["number"], why=saved["why"])
        return f"v{saved['number']} sent for review: a publisher who did not write it publishes it"

    return act(request, user, Role.editor, f"/console/rules/{set_id}", submit)


def _moment(text: str) -> datetime | None:
    """A ``datetime-local`` value, read as UTC (the console's times are UTC)."""
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a date and time", errors=[{"pointer": "/effective_from", "detail": "YYYY-MM-DDTHH:MM"}]
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.post("/{set_id}/versions/{number}/publish", dependencies=[Csrf])
def version_publish(
    request: Request,
    set_id: str,
    number: int,
    user: User,
    effective_from: Annotated[str, Form()] = "",
    why: Annotated[str, Form()] = "",
) -> Response:
    def publish() -> str:
        done = rules.publish(
            request.app.state.engine,
            who=user,
            set_id=set_id,
            number=number,
            effective_from=_moment(effective_from[:40]),
            why=why[:2000],
        )
        if done["scheduled"]:
            return f"v{number} published: in force from {done['effective_from']:%Y-%m-%d %H:%M} UTC"
        return f"v{number} published: in force now"

    return act(request, user, Role.publisher, f"/console/rules/{set_id}", publish)


def _reason(text: str, what: str) -> None:
    """A reason is required (it goes to the authors and the audit log)."""
    if not text.strip():
        raise InvalidInput(f"say {what}", errors=[{"pointer": "/why", "detail": "required"}])


@router.post("/{set_id}/versions/{number}/reject", dependencies=[Csrf])
def version_reject(
    request: Request, set_id: str, number: int, user: User, why: Annotated[str, Form()] = ""
) -> Response:
    def reject() -> str:
        _reason(why, "what the authors should change")
        rules.reject(request.app.state.engine, who=user, set_id=set_id, number=number, why=why[:2000])
        return f"v{number} sent back to its authors"

    return act(request, user, Role.publisher, f"/console/rules/{set_id}", reject)


@router.post("/{set_id}/rollback", dependencies=[Csrf])
def rollback(
    request: Request,
    set_id: str,
    user: User,
    to: Annotated[int, Form()],
    why: Annotated[str, Form()] = "",
) -> Response:
    def roll_back() -> str:
        _reason(why, "why the rollback")
        done = rules.rollback(request.app.state.engine, who=user, set_id=set_id, to=to, why=why[:2000])
        return f"Rolled back: v{done['number']}, a copy of v{to}, is in force now"

    return act(request, user, Role.publisher, f"/console/rules/{set_id}", roll_back)


@router.get("/{set_id}/diff", response_class=HTMLResponse)
def diff(
    request: Request,
    set_id: str,
    user: User,
    a: Annotated[int, Query(alias="from")] = 0,
    b: Annotated[int, Query(alias="to")] = 0,
) -> Response:
    """What changed from version ``from`` to version ``to``, in words."""
    engine = request.app.state.engine
    try:
        found = rules.diff(engine, set_id=set_id, a=a, b=b)
        before = rules.get_version(engine, set_id=set_id, number=a)["content"]
        after = rules.get_version(engine, set_id=set_id, number=b)["content"]
        name = rules.get(engine, set_id)["name"]
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    return render(
        request,
        "rules/diff.html",
        {"user": user, "nav": "rules", "set_id": set_id, "name": name, "a": a, "b": b,
         "d": editor.readable_diff(found, before, after)},
        fragment="rules/_diff.html",
    )  # fmt: skip


@router.post("/{set_id}/simulate", dependencies=[Csrf])
def simulate(
    request: Request,
    set_id: str,
    user: User,
    number: Annotated[int, Form()],
    limit: Annotated[int, Form()] = 1000,
) -> Response:
    """Queue a simulation of version ``number`` over the newest ``limit`` orders (a durable
    job: any process runs it) and come back to the page, which polls it."""
    try:
        user.require(jobs.role_for(SIMULATE_JOB))
        if not 1 <= limit <= MAX_SIMULATED:
            raise InvalidInput(
                f"simulate 1 to {MAX_SIMULATED} orders", errors=[{"pointer": "/limit", "detail": "out of range"}]
            )
        rules.get_version(request.app.state.engine, set_id=set_id, number=number)
    except DomainError as exc:
        flash(request, error_message(exc), "error")
        return redirect(f"/console/rules/{set_id}", request)
    job_id = jobs.submit(
        request.app.state.engine,
        SIMULATE_JOB,
        {"set_id": set_id, "number": number, "limit": limit},
        created_by=user.actor,
    )
    return redirect(f"/console/rules/{set_id}?job={job_id}#simulation", request)


@router.get("/{set_id}/simulation/{job_id}", response_class=HTMLResponse)
def simulation(request: Request, set_id: str, job_id: str, user: User) -> Response:
    """The simulation's progress, then its counts and changed orders (htmx polls it)."""
    try:
        job: jobs.Job | None = jobs.get(request.app.state.engine, job_id[:40])
    except DomainError:
        job = None
    if job is not None and (job.kind != SIMULATE_JOB or job.params.get("set_id") != set_id):
        job = None
    return render(request, "rules/_simulation.html", {"user": user, "job": job, "set_id": set_id})
