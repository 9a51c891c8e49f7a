"""Reading the rules' logs: the audit log (every change) and the decision log (every
evaluation that decided something about an order, with the version, facts and outcome)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.platform.db import unit_of_work
from orderhub.rules import store

S, A = store.rule_sets, store.rule_audit


def get_audit(
    engine: Engine,
    *,
    set_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The audit log, newest first, filtered; page with ``before`` (an entry id)."""
    q = sa.select(A).order_by(A.c.id.desc()).limit(limit)
    if set_id:
        q = q.where(A.c.set_id == set_id)
    if actor:
        q = q.where(A.c.actor.contains(actor, autoescape=True))
    if action:
        q = q.where(A.c.action == action)
    if before:
        q = q.where(A.c.id < before)
    with unit_of_work(engine, write=False) as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def get_decisions(
    engine: Engine,
    *,
    order_id: str | None = None,
    set_id: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Evaluations that decided something about an order, newest first, with the version,
    the facts it read and what it said."""
    D = store.rule_decisions
    q = sa.select(D, S.c.name).join(S, S.c.id == D.c.set_id, isouter=True).order_by(D.c.id.desc()).limit(limit)
    if order_id:
        q = q.where(D.c.order_id == order_id)
    if set_id:
        q = q.where(D.c.set_id == set_id)
    if before:
        q = q.where(D.c.id < before)
    with unit_of_work(engine, write=False) as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
