"""Who may edit which rule sets: an editor with scopes (``rule_scopes``: region, channel or
node values) edits only rule sets whose scope lies inside them; without scopes, any. Admins set
them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Forbidden, InvalidInput, NotFound
from orderhub.platform.auth import service as auth
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.db import unit_of_work
from orderhub.rules import store
from orderhub.rules.model import SCOPE_KEYS


def audit(
    conn: Connection,
    who: Principal | str,
    action: str,
    *,
    set_id: str | None,
    version: int | None = None,
    why: str = "",
    detail: Any = None,
) -> None:
    """One row of the audit log (who, when, what, why), in the caller's transaction."""
    actor = who.actor if isinstance(who, Principal) else who
    conn.execute(
        store.rule_audit.insert().values(
            at=utcnow(), actor=actor, set_id=set_id, version=version, action=action, why=why[:2000], detail=detail
        )
    )


def check(conn: Connection, who: Principal, scope: dict[str, str]) -> None:
    """An editor with scopes may touch only rule sets inside them."""
    if who.role >= Role.admin:
        return
    allowed: dict[str, set[str]] = {}
    for row in conn.execute(sa.select(store.rule_scopes).where(store.rule_scopes.c.user_id == who.user_id)):
        allowed.setdefault(row.key, set()).add(row.value)
    if not allowed:
        return
    inside = bool(scope) and all(scope.get(k) in values for k, values in allowed.items())
    if not inside:
        limits = "; ".join(f"{k} {', '.join(sorted(v))}" for k, v in sorted(allowed.items()))
        raise Forbidden(
            f"you edit rules of {limits} only; this rule set's scope is {scope or 'everything'}", code="outside_scope"
        )


def normalise(scope: dict[str, str] | None) -> dict[str, str]:
    scope = {k: str(v) for k, v in (scope or {}).items() if v}
    for key in scope:
        if key not in SCOPE_KEYS:
            raise InvalidInput(
                f"unknown scope {key!r}",
                code="invalid_scope",
                errors=[{"pointer": f"/scope/{key}", "detail": f"one of {', '.join(SCOPE_KEYS)}"}],
            )
    return scope


# -- scopes -----------------------------------------------------------------------------------
def _user_exists(engine: Engine, user_id: str) -> None:
    if auth.get_principal(engine, user_id) is None:
        raise NotFound(f"no user {user_id}", code="user_not_found", user_id=user_id)


def set_scopes(
    engine: Engine, *, who: Principal, user_id: str, scopes: dict[str, list[str]], why: str = ""
) -> dict[str, list[str]]:
    """Limit what ``user_id`` may edit to these regions / channels / nodes (empty: all)."""
    who.require(Role.admin)
    _user_exists(engine, user_id)
    for key in scopes:
        normalise({key: "x"})
    with unit_of_work(engine) as conn:
        conn.execute(store.rule_scopes.delete().where(store.rule_scopes.c.user_id == user_id))
        rows = [
            {"user_id": user_id, "key": k, "value": v} for k, values in scopes.items() for v in sorted(set(values)) if v
        ]
        if rows:
            conn.execute(store.rule_scopes.insert(), rows)
        audit(conn, who, "scopes_set", set_id=None, why=why, detail={"user_id": user_id, "scopes": scopes})
    return get_scopes(engine, user_id=user_id)


def get_scopes(engine: Engine, *, user_id: str) -> dict[str, list[str]]:
    """What ``user_id`` may edit (empty: every scope); 404 for an unknown user."""
    _user_exists(engine, user_id)
    with unit_of_work(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(store.rule_scopes)
            .where(store.rule_scopes.c.user_id == user_id)
            .order_by(store.rule_scopes.c.key, store.rule_scopes.c.value)
        )
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r.key, []).append(r.value)
    return out
