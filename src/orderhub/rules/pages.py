"""Console pages of the rules context: the rule sets by hook point with the template library and
a short guide, creating a rule set, the audit and decision logs, and the rules card of an
order's page (fetched by the order page with htmx: orders do not import rules).

The rule set's own page (the table editor, review, versions, diff, rollback, simulation) is in
``pages_editor``; the approvals inbox in ``pages_approvals``. All call the context's services,
as the API does.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.core.errors import DomainError
from orderhub.platform.auth.model import Principal
from orderhub.rules import approvals, logs, templates
from orderhub.rules import service as rules
from orderhub.rules.model import HIT_POLICIES, HOOKS, SCOPE_KEYS
from orderhub.rules.pages_approvals import order_refs
from orderhub.web.templating import check_csrf, console_user, error_message, flash, redirect, render

router = APIRouter(prefix="/console/rules", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)
ACTIONS = ("created", "draft_saved", "submitted", "published", "rejected", "rolled_back", "archived", "scopes_set")
#: what the guide shows for the cell notation: (cell, column type, what it means)
NOTATION = [
    ("DE, AT", "text", "one of these values"),
    ("not DE", "text", "anything but these"),
    ("> 500", "number", "more than 500 (also >=, <, <=, = and != )"),
    ("[10..50]", "number", "from 10 to 50, both included; (10..50) leaves the ends out"),
    ("yes / no", "yes-or-no", "the fact is true / false"),
    ("(empty), -, any", "every type", "any value: the column does not matter for this row"),
    ("vip", "list (skus, tags)", "the list holds one of these"),
    ("= total * 2", "number outcome", "a computed outcome from the facts"),
]


@router.get("", response_class=HTMLResponse)
def rule_sets(request: Request, user: User, template: str = "") -> Response:
    """The rule sets grouped by hook point, the New rule set form (prefilled from a template
    when ``template`` is given), the template library and the guide."""
    sets = rules.get_all(request.app.state.engine)
    library = templates.get_all()
    return render(
        request,
        "rules/index.html",
        {
            "user": user,
            "nav": "rules",
            "groups": [(hook, about, [s for s in sets if s["hook"] == hook]) for hook, about in HOOKS.items()],
            "templates": library,
            "chosen": next((t for t in library if t["key"] == template), None),
            "hooks": HOOKS,
            "scope_keys": SCOPE_KEYS,
            "hit_policies": HIT_POLICIES,
            "notation": NOTATION,
        },
    )


@router.post("", dependencies=[Csrf])
def rule_set_create(
    request: Request,
    user: User,
    name: Annotated[str, Form()],
    hook: Annotated[str, Form()] = "",
    template: Annotated[str, Form()] = "",
    scope_key: Annotated[str, Form()] = "",
    scope_value: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Create the rule set with its draft v1 (a copy of the template, or empty) and open it."""
    try:
        created = rules.create(
            request.app.state.engine,
            who=user,
            name=name.strip()[:200],
            hook=None if template else hook,  # a template brings its hook
            scope={scope_key: scope_value.strip()[:80]} if scope_key and scope_value.strip() else {},
            description=description[:2000],
            template=template[:60],
            why="created in the console" + (f" from the template {template}" if template else ""),
        )
    except DomainError as exc:
        flash(request, error_message(exc), "error")
        return redirect("/console/rules" + (f"?template={quote(template[:60])}" if template else ""), request)
    flash(request, f"Rule set {created['name']} created: its draft v1 is open")
    return redirect(f"/console/rules/{created['id']}", request)


def _version_inputs(engine: Any, decisions: list[dict[str, Any]]) -> dict[tuple[str, int], list[str]]:
    """The facts each deciding version reads (its input columns), to show those first."""
    out: dict[tuple[str, int], list[str]] = {}
    for d in decisions:
        key = (d["set_id"], d["version"])
        if key not in out:
            try:
                out[key] = list(rules.get_version(engine, set_id=key[0], number=key[1])["content"].get("inputs") or [])
            except DomainError:
                out[key] = []
    return out


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    user: User,
    set_id: str = "",
    actor: str = "",
    action: str = "",
    order_id: str = "",
    decided_by: str = "",
) -> Response:
    """The audit log (who changed which rule set, when, why) and the decision log (what each
    version said about an order, from which facts), each filtered."""
    engine = request.app.state.engine
    entries = logs.get_audit(
        engine, set_id=set_id[:40] or None, actor=actor[:260] or None, action=action[:30] or None, limit=200
    )
    decisions = logs.get_decisions(engine, order_id=order_id.strip()[:40] or None, set_id=decided_by[:40] or None)
    sets = rules.get_all(engine, include_archived=True)
    return render(
        request,
        "rules/audit.html",
        {
            "user": user,
            "nav": "rules",
            "entries": entries,
            "decisions": decisions,
            "reads": _version_inputs(engine, decisions),
            "refs": order_refs(engine, [d["order_id"] for d in decisions if d["order_id"]]),
            "sets": sets,
            "names": {s["id"]: s["name"] for s in sets},
            "actions": [*ACTIONS, "fallback"],
            "filters": {
                "set_id": set_id,
                "actor": actor,
                "action": action,
                "order_id": order_id,
                "decided_by": decided_by,
            },
        },
    )


@router.get("/decisions-for/{order_id}", response_class=HTMLResponse)
def decisions_for(request: Request, order_id: str, user: User) -> Response:
    """The rules card of an order's page: what the rules decided about it, and its approvals."""
    engine = request.app.state.engine
    order_id = order_id[:40]
    decisions = logs.get_decisions(engine, order_id=order_id, limit=50)
    return render(
        request,
        "rules/_order_rules.html",
        {
            "user": user,
            "order_id": order_id,
            "decisions": decisions,
            "reads": _version_inputs(engine, decisions),
            "refs": order_refs(engine, [d["order_id"] for d in decisions if d["order_id"]]),
            "approvals": approvals.get_for_order(engine, order_id=order_id),
        },
    )
