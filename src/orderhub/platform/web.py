"""Request dependencies shared by every context's routes: the engine, settings, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from orderhub.core.errors import Unauthorized
from orderhub.platform.auth import service as auth
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.settings import Settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def optional_principal(request: Request) -> Principal | None:
    """The caller from ``Authorization: Bearer <key>`` or the console session, if any."""
    header = request.headers.get("authorization", "")
    engine = get_engine(request)
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <API key>", code="bad_auth_scheme")
        return auth.authenticate_key(engine, token.strip())
    user_id = request.session.get("user_id") if "session" in request.scope else None
    if user_id:
        return auth.get_principal(engine, user_id)
    return None


def current_principal(request: Request) -> Principal:
    principal = optional_principal(request)
    if principal is None:
        raise Unauthorized("authentication required: send Authorization: Bearer <API key>")
    return principal


class RoleRequired:
    """Dependency: the caller, who must have at least ``role``."""

    def __init__(self, role: Role) -> None:
        self.role = role

    def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        principal.require(self.role)
        return principal


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Viewer = Annotated[Principal, Depends(RoleRequired(Role.viewer))]
Operator = Annotated[Principal, Depends(RoleRequired(Role.operator))]
Admin = Annotated[Principal, Depends(RoleRequired(Role.admin))]
