"""Request dependencies shared by every context's routes: the engine, settings, the caller."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from orderhub.core.errors import Forbidden, Unauthorized
from orderhub.platform.auth import service as auth
from orderhub.platform.auth import sessions
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.settings import Settings

# Dependencies are ``async def`` where they do no I/O: FastAPI runs a plain ``def`` dependency
# in the thread pool, and a handful of thread hops per request cost more than the request.


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = ("application/json", "application/problem+json", "application/merge-patch+json")


def optional_principal(request: Request) -> Principal | None:
    """The caller from ``Authorization: Bearer <key>`` or the console session, if any
    (may read the database: call it from a worker thread).

    A browser sends the session cookie with any request, a forged cross-site one too; so a
    session changes nothing through the API unless the request also carries the session's
    CSRF token in ``X-CSRF-Token`` and a JSON body (which a cross-site form cannot send)."""
    header = request.headers.get("authorization", "")
    engine: Engine = request.app.state.engine
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <API key>", code="bad_auth_scheme")
        return auth.authenticate_key(engine, token.strip())
    session_id = request.session.get("sid") if "session" in request.scope else None
    if not session_id:
        return None
    principal = sessions.principal_for(engine, str(session_id))
    if principal is not None and request.method not in SAFE_METHODS:
        check_session_write(request)
    return principal


def check_session_write(request: Request) -> None:
    """An unsafe request authenticated by the session cookie: it needs the session's CSRF
    token in ``X-CSRF-Token`` and a JSON content type, or ``Forbidden``."""
    sent = request.headers.get("x-csrf-token", "")
    expected = str(request.session.get("csrf", ""))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (sent and expected and secrets.compare_digest(sent, expected)) or content_type not in JSON_TYPES:
        raise Forbidden(
            "a change through the API needs Authorization: Bearer <API key> "
            "(or, from the console, its X-CSRF-Token and a JSON body)",
            code="csrf",
        )


async def current_principal(request: Request) -> Principal:
    """Dependency: the authenticated caller; a recently seen API key needs no database read."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    engine: Engine = request.app.state.engine
    principal = auth.cached_principal(engine, token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if principal is None:
        principal = await run_in_threadpool(optional_principal, request)
    if principal is None:
        raise Unauthorized("authentication required: send Authorization: Bearer <API key>")
    return principal


class RoleRequired:
    """Dependency: the caller, who must have at least ``role``."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        principal.require(self.role)
        return principal


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Viewer = Annotated[Principal, Depends(RoleRequired(Role.viewer))]
Operator = Annotated[Principal, Depends(RoleRequired(Role.operator))]
Editor = Annotated[Principal, Depends(RoleRequired(Role.editor))]
Admin = Annotated[Principal, Depends(RoleRequired(Role.admin))]
