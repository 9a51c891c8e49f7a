"""One Jinja2 environment over every context's ``templates/`` folder, plus console helpers."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from orderhub.core.errors import DomainError, Forbidden
from orderhub.platform.auth import sessions
from orderhub.platform.auth.model import Principal, Role
from orderhub.web import charts

_ROOT = Path(__file__).resolve().parent.parent
_env = Environment(
    loader=FileSystemLoader(sorted(str(p) for p in _ROOT.glob("*/templates"))),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)


class LoginRequired(Exception):
    """Raised by console routes when nobody is logged in; answered with a redirect."""


def console_user(request: Request) -> Principal:
    """The logged-in console user (a live server-side session), or ``LoginRequired``."""
    session_id = request.session.get("sid")
    principal = sessions.principal_for(request.app.state.engine, str(session_id)) if session_id else None
    if principal is None:
        raise LoginRequired()
    return principal


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


async def check_csrf(request: Request) -> None:
    """Every console POST carries the session's token (form field or ``X-CSRF-Token``)."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, request.session.get("csrf", "")):
        raise Forbidden("the form expired or did not come from this console; reload and retry", code="csrf")


def can(principal: Principal, role: str) -> bool:
    return principal.role >= Role[role]


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    fragment: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The full page, or only ``fragment`` when htmx asks for a part of it."""
    name = fragment if fragment and request.headers.get("hx-request") else template
    ctx = {"request": request, "csrf": csrf_token(request), "can": can, "status": status_code, **context}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def redirect(url: str, request: Request | None = None) -> RedirectResponse | HTMLResponse:
    """Redirect after POST (htmx gets ``HX-Redirect`` so the whole page follows)."""
    if request is not None and request.headers.get("hx-request"):
        return HTMLResponse("", headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session.setdefault("flash", []).append({"kind": kind, "message": message})


def pop_flashes(request: Request) -> list[dict[str, str]]:
    return list(request.session.pop("flash", []))


_env.globals["pop_flashes"] = pop_flashes


def pretty_json(text: str) -> str:
    """JSON indented for reading and editing; anything else as it came."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


_env.filters["pretty_json"] = pretty_json
_env.filters["thousands"] = charts.thousands
_env.filters["duration"] = charts.duration
_env.filters["amount"] = charts.amount


def error_message(exc: DomainError) -> str:
    extra = ""
    if exc.fields.get("allowed_next") is not None:
        extra = f" (allowed next: {', '.join(exc.fields['allowed_next']) or 'none'})"
    return exc.detail + extra


def act(request: Request, user: Principal, role: Role, back: str, action: Callable[[], str]) -> Response:
    """A console form's action: check ``user`` has ``role``, run ``action``, flash the message
    it returns (or why it was refused) and redirect to ``back``."""
    try:
        user.require(role)
        flash(request, action())
    except DomainError as exc:
        flash(request, error_message(exc), "error")
    return redirect(back, request)


def bars(counts: dict[str, int] | dict[str, float], order: list[str] | None = None) -> list[dict[str, Any]]:
    """Horizontal bar rows for a chart: label, figure and width in % of the largest (zeros left
    out), in ``order`` or largest first."""
    keys = [k for k in (order or sorted(counts, key=lambda k: -counts[k])) if counts.get(k)]
    top = max(counts.values(), default=0) or 1
    return [{"label": k, "count": counts[k], "pct": round(100 * counts[k] / top, 1)} for k in keys]
