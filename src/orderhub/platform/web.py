"""Request dependencies shared by every context's routes: the engine, settings, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from orderhub.core.errors import Unauthorized
from orderhub.platform.auth import service as auth
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


def optional_principal(request: Request) -> Principal | None:
    """The caller from ``Authorization: Bearer <key>`` or the console session, if any
    (may read the database: call it from a worker thread)."""
    header = request.headers.get("authorization", "")
    engine: Engine = request.app.state.engine
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <API key>", code="bad_auth_scheme")
        return auth.authenticate_key(engine, token.strip())
    user_id = request.session.get("user_id") if "session" in request.scope else None
    if user_id:
        return auth.get_principal(engine, user_id)
    return None


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
