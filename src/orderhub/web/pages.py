"""Console shell routes: login, logout, static files, and the jobs and timers page."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from orderhub.core.errors import DomainError, Forbidden
from orderhub.platform import jobs, problems
from orderhub.platform.auth import service as auth
from orderhub.platform.auth import sessions
from orderhub.platform.auth.model import Principal, Role
from orderhub.web.templating import LoginRequired, act, check_csrf, console_user, csrf_token, render

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Static assets and the console's exception handling."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        """A console page a role may not open is a page titled "Not allowed"; the API's stays a problem."""
        if not request.url.path.startswith("/console") or request.headers.get("hx-request"):
            return problems.problem_response(exc, request)
        return render(request, "web/error.html", {"message": exc.detail}, status_code=403)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        """A console page given a bad query value says which value and what it should be, in words;
        the API (and htmx fragments) keep their problem+json."""
        if not request.url.path.startswith("/console") or request.headers.get("hx-request"):
            return problems.validation_problem(request, exc)
        try:
            user: Principal | None = console_user(request)
        except LoginRequired:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        message = "; ".join(plain_message(e) for e in exc.errors())
        return render(request, "web/error.html", {"user": user, "message": message}, status_code=422)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired) -> Response:
        target = request.url.path
        if request.headers.get("hx-request"):
            return HTMLResponse("", headers={"HX-Redirect": f"/login?next={target}"})
        return RedirectResponse(f"/login?next={target}", status_code=303)


PLAIN = {
    "int_parsing": "should be a whole number",
    "float_parsing": "should be a number",
    "bool_parsing": "should be yes or no",
    "date_from_datetime_parsing": "should be a date like 2026-11-26",
    "date_parsing": "should be a date like 2026-11-26",
    "datetime_parsing": "should be a date and time like 2026-11-26T09:30",
    "missing": "is required",
}


def plain_message(error: Any) -> str:
    """One pydantic error as a sentence a person reads: ``days should be at most 730``."""
    where = " ".join(str(part) for part in error.get("loc", ())[1:]) or "the input"
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind in PLAIN:
        what = PLAIN[kind]
    elif kind in ("greater_than_equal", "greater_than"):
        what = f"should be at least {ctx.get('ge', ctx.get('gt'))}"
    elif kind in ("less_than_equal", "less_than"):
        what = f"should be at most {ctx.get('le', ctx.get('lt'))}"
    elif kind == "string_too_long":
        what = f"should be at most {ctx.get('max_length')} characters"
    elif kind in ("enum", "literal_error"):
        what = f"should be {ctx.get('expected', 'one of the listed values')}"
    else:
        what = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{where} {what}"


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OrderHub API</title>
<link rel="icon" href="/favicon.ico"><link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script><script src="/static/swagger-ui/init.js"></script>
</body></html>"""


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs() -> Response:
    """The API reference: Swagger UI vendored under static/swagger-ui (no CDN; works offline)."""
    return HTMLResponse(DOCS_PAGE)


@router.get("/favicon.ico")
def favicon() -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/console", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/console") -> Response:
    return render(request, "web/login.html", {"next": next, "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/console",
    csrf_token_: Annotated[str, Form(alias="csrf_token")] = "",
) -> Response:
    """Log in with the token the login form was rendered with (kept in the pre-login session
    cookie). Failed attempts are counted per account and per client address; past
    ``sessions.MAX_FAILURES`` the form answers 429 until the window has passed."""
    engine = request.app.state.engine
    email = email.strip().lower()
    context = {"next": next, "email": email}
    expected = str(request.session.get("csrf", ""))
    if not (csrf_token_ and expected and secrets.compare_digest(csrf_token_, expected)):
        error = "the form expired or did not come from this console; reload and retry"
        return render(request, "web/login.html", {**context, "error": error}, status_code=403)
    address = request.client.host if request.client else "unknown"
    keys = sessions.throttle_keys(email=email, address=address)
    try:
        sessions.check_allowed(engine, keys)
        principal = auth.authenticate_password(engine, email=email, password=password)
    except sessions.TooManyAttempts as exc:
        headers = {"Retry-After": str(exc.fields["retry_after_s"])}
        response = render(request, "web/login.html", {**context, "error": exc.detail}, status_code=429)
        response.headers.update(headers)
        return response
    except DomainError as exc:
        sessions.record_failure(engine, keys)
        return render(request, "web/login.html", {**context, "error": exc.detail}, status_code=401)
    sessions.reset(engine, keys[0])
    session_id = sessions.start(
        engine, user_id=principal.user_id, max_age_s=request.app.state.settings.session_max_age_s
    )
    request.session.clear()  # a new session and a new CSRF token: nothing from before login carries over
    request.session["sid"] = session_id
    csrf_token(request)
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/console"
    return RedirectResponse(safe_next, status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    """End the session on the server: a copy of the old cookie no longer logs anyone in."""
    session_id = request.session.get("sid")
    if session_id:
        sessions.end(request.app.state.engine, str(session_id))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/console/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, user: Annotated[Principal, Depends(console_user)], status: str = "") -> Response:
    """Recent jobs (any process's) and the timers' state: last run, failures, next due."""
    engine = request.app.state.engine
    return render(
        request,
        "web/jobs.html",
        {
            "user": user,
            "nav": "jobs",
            "jobs": jobs.get_all(engine, status=status or None, limit=50).items,
            "schedules": jobs.get_schedules(engine),
            "status": status,
            "statuses": list(jobs.JobStatus),
        },
    )


@router.post("/console/jobs/{job_id}/cancel", dependencies=[Depends(check_csrf)])
def job_cancel(request: Request, job_id: str, user: Annotated[Principal, Depends(console_user)]) -> Response:
    engine = request.app.state.engine

    def cancel() -> str:
        user.require(jobs.role_for(jobs.get(engine, job_id).kind))
        return f"Job {jobs.cancel(engine, job_id).id} cancelled"

    return act(request, user, Role.operator, "/console/jobs", cancel)
