"""Use cases for users and API keys."""

from __future__ import annotations

import time
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput, Unauthorized
from orderhub.core.ids import new_id
from orderhub.platform.auth import store
from orderhub.platform.auth.model import (
    Principal,
    Role,
    hash_api_key,
    hash_password,
    new_api_key,
    verify_password,
)
from orderhub.platform.db import unit_of_work

_KEY_CACHE_TTL_S = 30.0
# Per engine (weakly keyed): the same key string may name different users in two databases.
_key_cache: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, Principal]]] = weakref.WeakKeyDictionary()


def _principal(row: dict[str, Any], via: str) -> Principal:
    return Principal(user_id=row["id"], email=row["email"], role=Role[row["role"]], via=via)


def create_user(engine: Engine, *, email: str, name: str, role: str, password: str | None = None) -> Principal:
    """Create a user; the email is unique (409 if taken)."""
    try:
        parsed = Role.parse(role)
    except ValueError as exc:
        raise InvalidInput(str(exc), errors=[{"pointer": "/role", "detail": str(exc)}]) from exc
    with unit_of_work(engine) as conn:
        if store.get_user_by_email(conn, email):
            raise Conflict(f"a user with email {email} exists", code="user_exists")
        user_id = new_id("usr")
        store.insert_user(
            conn,
            id=user_id,
            email=email,
            name=name,
            role=parsed.name,
            password_hash=hash_password(password) if password else None,
            created_at=utcnow(),
        )
    return Principal(user_id=user_id, email=email, role=parsed)


def create_api_key(engine: Engine, *, user_id: str, name: str, key: str | None = None) -> str:
    """Issue an API key for a user and return it; only its hash is stored."""
    key = key or new_api_key()
    with unit_of_work(engine) as conn:
        store.insert_api_key(
            conn,
            id=new_id("key"),
            key_hash=hash_api_key(key),
            user_id=user_id,
            name=name,
            created_at=utcnow(),
        )
    return key


def cached_principal(engine: Engine, key: str) -> Principal | None:
    """The principal for an API key if it was looked up in the last few seconds (no I/O)."""
    hit = _key_cache.get(engine, {}).get(hash_api_key(key))
    return hit[1] if hit and hit[0] > time.monotonic() else None


def authenticate_key(engine: Engine, key: str) -> Principal:
    """The principal behind an API key, or ``Unauthorized``. Cached for a few seconds."""
    key_hash = hash_api_key(key)
    hit = _key_cache.get(engine, {}).get(key_hash)
    now = time.monotonic()
    if hit and hit[0] > now:
        return hit[1]
    with unit_of_work(engine, write=False) as conn:
        row = store.get_user_by_key_hash(conn, key_hash)
    if row is None:
        raise Unauthorized("unknown API key", code="bad_api_key")
    principal = _principal(row, "key")
    _key_cache.setdefault(engine, {})[key_hash] = (now + _KEY_CACHE_TTL_S, principal)
    return principal


def authenticate_password(engine: Engine, *, email: str, password: str) -> Principal:
    """The principal for an email and password, or ``Unauthorized`` (same message either way)."""
    with unit_of_work(engine, write=False) as conn:
        row = store.get_user_by_email(conn, email)
    if row is None or not row["password_hash"] or not verify_password(password, row["password_hash"]):
        raise Unauthorized("wrong email or password", code="bad_credentials")
    return _principal(row, "session")


def get_principal(engine: Engine, user_id: str, via: str = "session") -> Principal | None:
    with unit_of_work(engine, write=False) as conn:
        row = store.get_user(conn, user_id)
    return _principal(row, via) if row else None


def ensure_bootstrap_admin(engine: Engine, key: str) -> None:
    """Make ``key`` an admin key (idempotent): used by ``ORDERHUB_BOOTSTRAP_ADMIN_KEY``.
    Processes starting together may race to create it: the loser finds the winner's on retry."""
    for attempt in range(3):
        try:
            _ensure_bootstrap_admin(engine, key)
            return
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise


def _ensure_bootstrap_admin(engine: Engine, key: str) -> None:
    with unit_of_work(engine) as conn:
        if store.get_user_by_key_hash(conn, hash_api_key(key)):
            return
        user = store.get_user_by_email(conn, "bootstrap-admin@orderhub.local")
        if user is None:
            user_id = new_id("usr")
            store.insert_user(
                conn,
                id=user_id,
                email="bootstrap-admin@orderhub.local",
                name="Bootstrap admin",
                role=Role.admin.name,
                password_hash=None,
                created_at=utcnow(),
            )
        else:
            user_id = user["id"]
        store.insert_api_key(
            conn,
            id=new_id("key"),
            key_hash=hash_api_key(key),
            user_id=user_id,
            name="bootstrap",
            created_at=utcnow(),
        )


def list_users(engine: Engine) -> list[dict[str, Any]]:
    with unit_of_work(engine, write=False) as conn:
        rows = store.list_users(conn)
    return [{k: v for k, v in r.items() if k != "password_hash"} for r in rows]
