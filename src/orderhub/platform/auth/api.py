"""Routes for users and API keys (admin only), and ``whoami`` for everyone."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from orderhub.core.errors import NotFound
from orderhub.platform import problems
from orderhub.platform.auth import service
from orderhub.platform.web import Admin, EngineDep, Viewer

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=problems.READ)


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    name: str = ""
    role: Literal["viewer", "operator", "editor", "publisher", "admin"] = "viewer"
    password: str | None = Field(default=None, min_length=8)


class KeyCreate(BaseModel):
    email: str
    name: str = "api"


@router.get("/me")
def whoami(principal: Viewer) -> dict[str, Any]:
    return {"user_id": principal.user_id, "email": principal.email, "role": principal.role.name}


@router.get(
    "/users",
    responses=problems.problem_responses(403),
)
def list_users(engine: EngineDep, _: Admin) -> dict[str, Any]:
    users = service.list_users(engine)
    return {"items": [{**u, "created_at": u["created_at"].isoformat()} for u in users]}


@router.post("/users", responses=problems.WRITE, status_code=201)
def create_user(body: UserCreate, engine: EngineDep, _: Admin) -> dict[str, Any]:
    p = service.create_user(engine, email=body.email, name=body.name, role=body.role, password=body.password)
    return {"user_id": p.user_id, "email": p.email, "role": p.role.name}


@router.post("/api-keys", responses=problems.WRITE, status_code=201)
def create_key(body: KeyCreate, engine: EngineDep, _: Admin) -> dict[str, Any]:
    """Issue a key for a user; the key is shown once and only its hash is stored."""
    user = next((u for u in service.list_users(engine) if u["email"] == body.email), None)
    if user is None:
        raise NotFound(f"no user {body.email}", code="user_not_found")
    return {"key": service.create_api_key(engine, user_id=user["id"], name=body.name)}
