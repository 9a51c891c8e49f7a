"""Console shell routes: login, logout, static files, and the jobs and timers page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from orderhub.core.errors import DomainError
from orderhub.platform import jobs
from orderhub.platform.auth import service as auth
from orderhub.platform.auth.model import Principal, Role
from orderhub.web.templating import LoginRequired, act, check_csrf, console_user, csrf_token, render

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Static assets and the console's exception handling."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired) -> Response:
        target = request.url.path
        if request.headers.get("hx-request"):
            return HTMLResponse("", headers={"HX-Redirect": f"/login?next={target}"})
        return RedirectResponse(f"/login?next={target}", status_code=303)


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
) -> Response:
    try:
        principal = auth.authenticate_password(request.app.state.engine, email=email.strip().lower(), password=password)
    except DomainError as exc:
        return render(request, "web/login.html", {"next": next, "error": exc.detail, "email": email}, status_code=401)
    request.session.clear()
    request.session["user_id"] = principal.user_id
    csrf_token(request)
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/console"
    return RedirectResponse(safe_next, status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
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
