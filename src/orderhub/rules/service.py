"""The rules context's one door: rule sets and their governance, and evaluation at the hooks.

Governance (docs/rules.md):

- **roles**: viewers see rules; editors change drafts; publishers review and publish; admins
  manage who may edit which scope. An editor with scopes (``rule_scopes``) edits only rule
  sets whose scope lies inside them (a regional manager: region BY).
- **versions**: every rule set has numbered versions. A draft is changed in place until it is
  submitted; from then on the version is never changed. ``draft → in_review → published``
  (or ``rejected``); the publisher is never an author of the version. A published version
  takes effect at its ``effective_from`` (now, or a scheduled time). Rollback publishes a
  copy of an earlier version at once, in one step.
- **audit**: every change is a row (who, when, what, why) in ``rule_audit``; every evaluation
  that decided something about an order is a row in ``rule_decisions`` with the version, the
  input facts and the outcome, so the decision can be reproduced.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.db import after_commit, unit_of_work
from orderhub.rules import approvals, scopes, store, templates, versions
from orderhub.rules.engine import REGISTRY, Outcome, expression_problem
from orderhub.rules.facts import facts_of
from orderhub.rules.model import HOOKS, RuleError, validate

alerts = logging.getLogger("orderhub.alerts")
S, V, A = store.rule_sets, store.rule_versions, store.rule_audit


def _invalid(exc: RuleError) -> InvalidInput:
    """The table's problems, pointing into the request body (the table is its ``content``)."""
    errors = [
        {**e, "pointer": e["pointer"] if e["pointer"] == "/hook" else "/content" + e["pointer"]} for e in exc.errors
    ]
    return InvalidInput(f"the rule set is not valid: {exc}", code="invalid_rule_set", errors=errors)


def _published_now(conn: Connection) -> None:
    """Every process reloads within ``engine.REFRESH_S``; this one at once, after commit."""
    after_commit(conn, REGISTRY.invalidate)


def _set_row(conn: Connection, set_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(S).where(S.c.id == set_id)).mappings().first()
    if row is None:
        raise NotFound(f"no rule set {set_id}", code="rule_set_not_found", set_id=set_id)
    return dict(row)


def _version_row(conn: Connection, set_id: str, number: int, *, lock: bool = False) -> dict[str, Any]:
    q = sa.select(V).where(V.c.set_id == set_id, V.c.number == number)
    row = conn.execute(q.with_for_update() if lock else q).mappings().first()
    if row is None:
        raise NotFound(
            f"rule set {set_id} has no version {number}", code="rule_version_not_found", set_id=set_id, version=number
        )
    return dict(row)


def _next_number(conn: Connection, set_id: str) -> int:
    return (
        int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(V.c.number), 0)).where(V.c.set_id == set_id)
            ).scalar_one()
        )
        + 1
    )


# -- rule sets and drafts ---------------------------------------------------------------------
def create(
    engine: Engine,
    *,
    who: Principal,
    name: str,
    hook: str | None = None,
    scope: dict[str, str] | None = None,
    description: str = "",
    content: dict[str, Any] | None = None,
    template: str = "",
    why: str = "",
) -> dict[str, Any]:
    """A new rule set with its first draft (empty, the given content, or a copy of a
    template). Needs the editor role (and the scope, for a scoped editor)."""
    who.require(Role.editor)
    if template:
        t = templates.get(template)
        hook, content = hook or t["hook"], content or t["content"]
        description = description or t["description"]
    if hook not in HOOKS:
        raise InvalidInput(
            f"unknown hook {hook!r}",
            code="invalid_rule_set",
            errors=[{"pointer": "/hook", "detail": f"one of {', '.join(HOOKS)}"}],
        )
    scope = scopes.normalise(scope)
    content = content or {"hit_policy": "first", "inputs": [], "outputs": [], "rows": []}
    if content.get("outputs") or hook == "timers":
        try:
            table, _ = validate(hook, content, check_expression=expression_problem)
        except RuleError as exc:
            raise _invalid(exc) from None
        content = table.as_content()
    now, set_id = utcnow(), new_id("rs")
    with unit_of_work(engine) as conn:
        scopes.check(conn, who, scope)
        conn.execute(
            S.insert().values(
                id=set_id,
                name=name[:200],
                hook=hook,
                description=description,
                scope=scope,
                template=template,
                created_by=who.actor,
                created_at=now,
            )
        )
        conn.execute(
            V.insert().values(
                id=new_id("rv"),
                set_id=set_id,
                number=1,
                status="draft",
                content=content,
                author=who.actor,
                editors=[who.actor],
                why=why,
                created_at=now,
                updated_at=now,
            )
        )
        scopes.audit(
            conn,
            who,
            "created",
            set_id=set_id,
            version=1,
            why=why,
            detail={"name": name, "hook": hook, "scope": scope, "template": template},
        )
    return get(engine, set_id)


def save_draft(
    engine: Engine, *, who: Principal, set_id: str, content: dict[str, Any], why: str = ""
) -> dict[str, Any]:
    """Change the set's open draft, or open one (the next version number). Rejected with every
    problem listed (422 ``invalid_rule_set``) when the table is not valid; nothing is saved."""
    who.require(Role.editor)
    with unit_of_work(engine) as conn:
        rule_set = _set_row(conn, set_id)
        scopes.check(conn, who, rule_set["scope"])
        try:
            table, _ = validate(rule_set["hook"], content, check_expression=expression_problem)
        except RuleError as exc:
            raise _invalid(exc) from None
        now = utcnow()
        draft = (
            conn.execute(sa.select(V).where(V.c.set_id == set_id, V.c.status == "draft").with_for_update())
            .mappings()
            .first()
        )
        if draft is None:
            number = _next_number(conn, set_id)
            conn.execute(
                V.insert().values(
                    id=new_id("rv"),
                    set_id=set_id,
                    number=number,
                    status="draft",
                    content=table.as_content(),
                    author=who.actor,
                    editors=[who.actor],
                    why=why,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            number = draft["number"]
            editors = sorted({*draft["editors"], who.actor})
            conn.execute(
                V.update()
                .where(V.c.id == draft["id"])
                .values(content=table.as_content(), editors=editors, why=why or draft["why"], updated_at=now)
            )
        scopes.audit(conn, who, "draft_saved", set_id=set_id, version=number, why=why, detail={"rows": len(table.rows)})
    return get_version(engine, set_id=set_id, number=number)


def submit(engine: Engine, *, who: Principal, set_id: str, number: int, why: str = "") -> dict[str, Any]:
    """Send a draft for review: from now on the version never changes."""
    who.require(Role.editor)
    with unit_of_work(engine) as conn:
        rule_set = _set_row(conn, set_id)
        scopes.check(conn, who, rule_set["scope"])
        version = _version_row(conn, set_id, number, lock=True)
        _expect(version, "draft", "submitted")
        if not version["content"].get("outputs") and rule_set["hook"] != "timers":
            raise Conflict("an empty table cannot be submitted", code="rule_set_empty")
        conn.execute(V.update().where(V.c.id == version["id"]).values(status="in_review", submitted_at=utcnow()))
        scopes.audit(conn, who, "submitted", set_id=set_id, version=number, why=why)
    return get_version(engine, set_id=set_id, number=number)


def _expect(version: dict[str, Any], status: str, verb: str) -> None:
    if version["status"] != status:
        raise Conflict(
            f"version {version['number']} is {version['status']}; only a {status.replace('_', ' ')} version can be {verb}",
            code="rule_version_state",
            version_status=version["status"],
        )


def publish(
    engine: Engine, *, who: Principal, set_id: str, number: int, effective_from: datetime | None = None, why: str = ""
) -> dict[str, Any]:
    """Publish a reviewed version, in force from ``effective_from`` (now when not given). The
    publisher must not be one of its authors (403 ``publisher_is_author``)."""
    who.require(Role.publisher)
    now = utcnow()
    with unit_of_work(engine) as conn:
        rule_set = _set_row(conn, set_id)
        scopes.check(conn, who, rule_set["scope"])
        version = _version_row(conn, set_id, number, lock=True)
        _expect(version, "in_review", "published")
        if who.actor in {version["author"], *version["editors"]}:
            raise Forbidden("a version is published by someone who did not write it", code="publisher_is_author")
        effective = max(effective_from or now, now)
        conn.execute(
            V.update()
            .where(V.c.id == version["id"])
            .values(
                status="published", reviewed_by=who.actor, review_note=why, published_at=now, effective_from=effective
            )
        )
        scopes.audit(
            conn,
            who,
            "published",
            set_id=set_id,
            version=number,
            why=why,
            detail={"effective_from": effective.isoformat()},
        )
        _published_now(conn)
    return get_version(engine, set_id=set_id, number=number)


def reject(engine: Engine, *, who: Principal, set_id: str, number: int, why: str) -> dict[str, Any]:
    """Send a version back: it stays as written (rejected); its authors open a new draft."""
    who.require(Role.publisher)
    with unit_of_work(engine) as conn:
        rule_set = _set_row(conn, set_id)
        scopes.check(conn, who, rule_set["scope"])
        version = _version_row(conn, set_id, number, lock=True)
        _expect(version, "in_review", "rejected")
        conn.execute(
            V.update().where(V.c.id == version["id"]).values(status="rejected", reviewed_by=who.actor, review_note=why)
        )
        scopes.audit(conn, who, "rejected", set_id=set_id, version=number, why=why)
    return get_version(engine, set_id=set_id, number=number)


def rollback(engine: Engine, *, who: Principal, set_id: str, to: int, why: str) -> dict[str, Any]:
    """In one step: publish a copy of an earlier published version, in force at once."""
    who.require(Role.publisher)
    now = utcnow()
    with unit_of_work(engine) as conn:
        rule_set = _set_row(conn, set_id)
        scopes.check(conn, who, rule_set["scope"])
        earlier = _version_row(conn, set_id, to)
        if earlier["published_at"] is None:
            raise Conflict(
                f"version {to} was never published", code="rule_version_state", version_status=earlier["status"]
            )
        conn.execute(
            V.update()
            .where(V.c.set_id == set_id, V.c.status == "draft")
            .values(status="rejected", review_note=f"closed by the rollback to v{to}")
        )
        number = _next_number(conn, set_id)
        conn.execute(
            V.insert().values(
                id=new_id("rv"),
                set_id=set_id,
                number=number,
                status="published",
                content=earlier["content"],
                author=earlier["author"],
                editors=earlier["editors"],
                why=why,
                created_at=now,
                updated_at=now,
                submitted_at=now,
                reviewed_by=who.actor,
                review_note=why,
                published_at=now,
                effective_from=now,
                rollback_of=to,
            )
        )
        scopes.audit(conn, who, "rolled_back", set_id=set_id, version=number, why=why, detail={"to": to})
        _published_now(conn)
    return get_version(engine, set_id=set_id, number=number)


def archive(engine: Engine, *, who: Principal, set_id: str, why: str) -> dict[str, Any]:
    """Switch a rule set off (its versions stay, for the audit)."""
    who.require(Role.publisher)
    with unit_of_work(engine) as conn:
        rule_set = _set_row(conn, set_id)
        scopes.check(conn, who, rule_set["scope"])
        conn.execute(S.update().where(S.c.id == set_id).values(archived=True))
        scopes.audit(conn, who, "archived", set_id=set_id, why=why)
        _published_now(conn)
    return get(engine, set_id)


# -- reading ----------------------------------------------------------------------------------
def _version_view(row: dict[str, Any], now: datetime, in_force: int | None) -> dict[str, Any]:
    view = {
        k: row[k]
        for k in (
            "number",
            "status",
            "content",
            "author",
            "editors",
            "why",
            "created_at",
            "updated_at",
            "submitted_at",
            "reviewed_by",
            "review_note",
            "published_at",
            "effective_from",
            "rollback_of",
        )
    }
    view["in_force"] = row["number"] == in_force
    view["scheduled"] = (
        row["status"] == "published" and row["effective_from"] is not None and row["effective_from"] > now
    )
    return view


def _in_force(rows: list[dict[str, Any]], now: datetime) -> int | None:
    live = [r for r in rows if r["status"] == "published" and r["effective_from"] <= now]
    return max(live, key=lambda r: (r["effective_from"], r["number"]))["number"] if live else None


def get(engine: Engine, set_id: str) -> dict[str, Any]:
    """A rule set with all its versions (newest first) and which one is in force."""
    now = utcnow()
    with unit_of_work(engine, write=False) as conn:
        rule_set = _set_row(conn, set_id)
        rows = [
            dict(r)
            for r in conn.execute(sa.select(V).where(V.c.set_id == set_id).order_by(V.c.number.desc())).mappings()
        ]
    in_force = _in_force(rows, now)
    return {**rule_set, "in_force": in_force, "versions": [_version_view(r, now, in_force) for r in rows]}


def get_all(engine: Engine, *, hook: str | None = None, include_archived: bool = False) -> list[dict[str, Any]]:
    """Every rule set with its version in force and its open draft or review, by hook."""
    now = utcnow()
    with unit_of_work(engine, write=False) as conn:
        q = sa.select(S).order_by(S.c.hook, S.c.name)
        if hook:
            q = q.where(S.c.hook == hook)
        if not include_archived:
            q = q.where(S.c.archived.is_(False))
        sets = [dict(r) for r in conn.execute(q).mappings()]
        rows = [
            dict(r)
            for r in conn.execute(
                sa.select(V.c.set_id, V.c.number, V.c.status, V.c.effective_from, V.c.author)
            ).mappings()
        ]
    by_set: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_set.setdefault(r["set_id"], []).append(r)
    for s in sets:
        mine = by_set.get(s["id"], [])
        s["in_force"] = _in_force(mine, now)
        s["open"] = next(
            (
                {"number": r["number"], "status": r["status"], "author": r["author"]}
                for r in sorted(mine, key=lambda r: -r["number"])
                if r["status"] in ("draft", "in_review")
            ),
            None,
        )
        s["scheduled"] = sorted(r["number"] for r in mine if r["status"] == "published" and r["effective_from"] > now)
        s["versions"] = len(mine)
    return sets


def get_version(engine: Engine, *, set_id: str, number: int) -> dict[str, Any]:
    now = utcnow()
    with unit_of_work(engine, write=False) as conn:
        rule_set = _set_row(conn, set_id)
        row = _version_row(conn, set_id, number)
        rows = [
            dict(r)
            for r in conn.execute(
                sa.select(V.c.number, V.c.status, V.c.effective_from).where(V.c.set_id == set_id)
            ).mappings()
        ]
    return {
        "set_id": set_id,
        "name": rule_set["name"],
        "hook": rule_set["hook"],
        **_version_view(row, now, _in_force(rows, now)),
    }


def diff(engine: Engine, *, set_id: str, a: int, b: int) -> dict[str, Any]:
    """What changed from version ``a`` to version ``b``."""
    with unit_of_work(engine, write=False) as conn:
        before, after = _version_row(conn, set_id, a), _version_row(conn, set_id, b)
    return {"set_id": set_id, "from": a, "to": b, **versions.diff(before["content"], after["content"])}


# -- evaluation (the hooks) ---------------------------------------------------------------------
def evaluate(
    conn: Connection, hook: str, order: dict[str, Any], *, exception: str = "", now: datetime | None = None
) -> Outcome:
    """What the published rule sets at ``hook`` say about ``order`` (the facts an order hands
    its hooks), logged as decisions in the caller's transaction. Never raises: a failing rule
    set falls back (``engine``); anything else that goes wrong here (facts the rules cannot
    read, the rules' own tables) is an alert and no decision — the order goes on unruled.
    The rules' writes run in a savepoint, so on PostgreSQL a failed write cannot abort the
    order's transaction."""
    now = now or utcnow()
    try:
        if not REGISTRY.in_force(conn, hook, now):
            return Outcome()  # nothing to decide: no savepoint, no fact flattening
        facts = facts_of(order, now=now, exception=exception)
        with conn.begin_nested():
            return REGISTRY.evaluate(conn, hook, facts, now=now, order_id=str(order.get("id") or ""))
    except Exception:
        alerts.exception("rules at %s could not decide about order %s; it goes on without them", hook, order.get("id"))
        return Outcome()


def set_budget(ms: float) -> None:
    """The time budget of one rule set's evaluation (settings ``rules_budget_ms``)."""
    REGISTRY.budget_ms = ms


def request_approval(conn: Connection, *, order_id: str, outcome: Outcome, now: datetime | None = None) -> str:
    """Open the approval an outcome asked for (in the order change's transaction); returns the
    hold reason the order is held with."""
    decided = outcome.by("approval")
    if decided is None:
        return ""
    key = str(outcome.values["approval"])
    flow = decided.flows.get(key) or {"name": key, "steps": [{"role": "admin"}]}
    try:
        with conn.begin_nested():
            approvals.start(
                conn,
                order_id=order_id,
                set_id=decided.set_id,
                version=decided.version,
                flow_key=key,
                flow=flow,
                now=now or utcnow(),
            )
    except Exception:
        alerts.exception(
            "the approval %s for order %s could not be opened; the order is held for a person", key, order_id
        )
        return f"approval: {flow.get('name') or key} (could not be opened: release by hand)"
    return f"approval: {flow.get('name') or key}"
