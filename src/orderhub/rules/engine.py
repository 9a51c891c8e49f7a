"""Evaluating the published rule sets at a hook, with zen-engine, safely.

Each process keeps the published versions compiled (one zen decision per version), reloads
the list at most every ``REFRESH_S`` (a publish in this process reloads at once) and picks,
per set, the version in force at the moment of evaluation (scheduled activation). A version
that raises, returns an outcome of the wrong type or runs past its time budget is set aside
for that evaluation: the set falls back to its previous good published version, else to the
table's declared default, and an alert is written to the audit log. A rule never fails the
order change it runs in.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
import zen
from sqlalchemy import Connection

from orderhub.rules import store
from orderhub.rules.model import Table, combine, scope_matches, to_jdm, typed, validate

alerts = logging.getLogger("orderhub.alerts")


def expression_problem(text: str) -> str | None:
    """zen-engine's parser on an ``= expression`` cell: None when it parses."""
    problem = zen.validate_expression(text)
    return str(problem.get("source", problem)) if problem else None


class Decisions:
    """Compiled zen decisions, evaluated by key through one ``ZenEngine`` whose loader hands
    out the compiled content. Not ``ZenDecision.evaluate``: in zen-engine 2.1 it starts a
    Tokio runtime (two threads) on every call — 0.1 ms at best, several ms on a busy machine."""

    def __init__(self) -> None:
        self._contents: dict[str, Any] = {}
        self._zen = zen.ZenEngine({"loader": self._contents.__getitem__})

    def add(self, key: str, jdm: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
        """Compile ``jdm`` (its expressions once, not at each evaluation) under ``key``; its
        evaluator (facts → zen's response)."""
        self._contents[key] = zen.ZenDecisionContent(json.dumps(jdm))
        return partial(self._zen.evaluate, key)


REFRESH_S = 1.0
#: a hook's rule set that takes longer than this is set aside (its fallback decides)
BUDGET_MS = 50.0


@dataclass(slots=True)
class Compiled:
    """One published version, ready to evaluate."""

    set_id: str
    name: str
    hook: str
    scope: dict[str, str]
    number: int
    effective_from: datetime
    table: Table
    decision: Any = None  # Decisions.add's evaluator; None for a timers set
    error: str = ""  # the version could not be compiled: it never decides

    def evaluate(self, facts: dict[str, Any]) -> dict[str, Any]:
        if self.decision is None:
            raise RuntimeError(self.error or "nothing to evaluate")
        result = self.decision(facts)["result"]
        rows = result if isinstance(result, list) else [result] if result else []
        return combine(rows)


@dataclass(slots=True)
class Decided:
    """What one rule set said about one order at one hook."""

    set_id: str
    name: str
    version: int
    outcome: dict[str, Any]
    fallback: str = ""  # "" | "v<N>" (an earlier version decided) | "default"
    elapsed_ms: float = 0.0
    flows: dict[str, Any] = field(default_factory=dict)  # the deciding version's approval flows

    @property
    def actor(self) -> str:
        """How the decision appears in the order's log."""
        return f"rules:{self.name}@v{self.version}"


@dataclass(slots=True)
class Outcome:
    """Everything the hook's rule sets said, merged (``model.combine``), and who said it."""

    values: dict[str, Any] = field(default_factory=dict)
    decided: list[Decided] = field(default_factory=list)

    def by(self, name: str) -> Decided | None:
        """The rule set whose outcome ``name`` took effect (first to give it)."""
        return next((d for d in self.decided if d.outcome.get(name) not in (None, "", [])), None)


class Registry:
    """The published versions of every live rule set, compiled, per process."""

    def __init__(self) -> None:
        self._decisions = Decisions()
        self._lock = threading.Lock()
        # per database (a process normally has one; tests and tools may open several)
        self._compiled: dict[str, dict[str, Compiled]] = {}  # version id → compiled
        self._by_set: dict[str, dict[str, list[Compiled]]] = {}  # set id → newest effective first
        self._loaded_at: dict[str, float] = {}
        self._generation = 0  # bumped by every invalidation
        self.budget_ms = BUDGET_MS

    def invalidate(self) -> None:
        """Reload on the next evaluation (a publish, a rollback, an archive). A reload already
        under way when this is called is not taken as fresh (it may have read the tables
        before the publish committed)."""
        self._generation += 1
        self._loaded_at.clear()

    def _load(self, conn: Connection, db: str) -> None:
        S, V = store.rule_sets, store.rule_versions
        rows = (
            conn.execute(
                sa.select(V.c.id, V.c.set_id, V.c.number, V.c.effective_from, S.c.name, S.c.hook, S.c.scope)
                .join(S, S.c.id == V.c.set_id)
                .where(V.c.status == "published", S.c.archived.is_(False))
            )
            .mappings()
            .all()
        )
        known = self._compiled.get(db, {})
        # the tables of new versions only: this runs every REFRESH_S, and decoding every
        # published table each time cost a millisecond (five 100-row tables) once a second
        new = [row["id"] for row in rows if row["id"] not in known]
        contents = dict(conn.execute(sa.select(V.c.id, V.c.content).where(V.c.id.in_(new))).all()) if new else {}
        by_set: dict[str, list[Compiled]] = {}
        compiled: dict[str, Compiled] = {}
        for row in rows:
            c = known.get(row["id"]) or self._compile({**row, "content": contents[row["id"]]})
            compiled[row["id"]] = c
            by_set.setdefault(c.set_id, []).append(c)
        for versions in by_set.values():
            versions.sort(key=lambda c: (c.effective_from, c.number), reverse=True)
        self._compiled[db], self._by_set[db] = compiled, by_set

    def _compile(self, row: dict[str, Any]) -> Compiled:
        content = row["content"] if isinstance(row["content"], dict) else json.loads(row["content"])
        c = Compiled(
            row["set_id"],
            row["name"],
            row["hook"],
            dict(row["scope"] or {}),
            row["number"],
            row["effective_from"],
            Table(row["hook"]),
        )
        try:
            c.table, _ = validate(row["hook"], content, check_expression=expression_problem)
            if row["hook"] != "timers":
                c.decision = self._decisions.add(row["id"], to_jdm(c.table))
        except Exception as exc:  # a stored version the engine cannot take never decides
            c.error = _first_line(exc)
            c.table = Table(row["hook"], default=dict(content.get("default") or {}))
        return c

    def in_force(self, conn: Connection, hook: str, now: datetime) -> list[list[Compiled]]:
        """Per live set at ``hook``: the version in force at ``now``, then its earlier good
        versions (the fallbacks), newest first."""
        db = str(conn.engine.url)
        with self._lock:
            if time.monotonic() - self._loaded_at.get(db, -1e9) > REFRESH_S:
                generation = self._generation
                self._load(conn, db)
                if generation == self._generation:
                    self._loaded_at[db] = time.monotonic()
            by_set = self._by_set[db]
        out = []
        for versions in by_set.values():
            chain = [c for c in versions if c.hook == hook and c.effective_from <= now]
            if chain:
                out.append(chain)
        out.sort(key=lambda chain: chain[0].set_id)
        return out

    def evaluate(
        self,
        conn: Connection,
        hook: str,
        facts: dict[str, Any],
        *,
        now: datetime,
        order_id: str = "",
        record: bool = True,
    ) -> Outcome:
        """Every live rule set at ``hook`` on ``facts``; what changed something is logged
        (rule version, facts, outcome) in the caller's transaction when ``record``."""
        outcome = Outcome()
        for chain in self.in_force(conn, hook, now):
            if not scope_matches(chain[0].scope, facts):
                continue
            decided = self._decide(conn, chain, facts, now=now, record=record)
            if decided.outcome:
                outcome.decided.append(decided)
                outcome.values = combine([decided.outcome], outcome.values)
        if record and order_id and outcome.decided:
            conn.execute(
                store.rule_decisions.insert(),
                [
                    {
                        "at": now,
                        "order_id": order_id,
                        "hook": hook,
                        "set_id": d.set_id,
                        "version": d.version,
                        "facts": facts,
                        "outcome": d.outcome,
                        "fallback": d.fallback,
                    }
                    for d in outcome.decided
                ],
            )
        return outcome

    def _decide(
        self, conn: Connection, chain: list[Compiled], facts: dict[str, Any], *, now: datetime, record: bool
    ) -> Decided:
        current = chain[0]
        for c in chain:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                result = c.evaluate(facts)
                elapsed = (time.perf_counter() - started) * 1000
                # the budget counts the evaluation's own CPU time (zen runs on this thread): a
                # busy machine that stalls the thread does not set a good rule set aside
                spent = (time.thread_time() - cpu) * 1000
                if spent > self.budget_ms:
                    raise TimeoutError(f"took {spent:.1f} ms of CPU, budget {self.budget_ms:g} ms")
            except Exception as exc:
                if record:
                    kind = "budget" if isinstance(exc, TimeoutError) else "error"
                    _alert(conn, c, now=now, problem=_first_line(exc), kind=kind)
                continue
            fallback = "" if c is current else f"v{c.number}"
            return Decided(c.set_id, c.name, c.number, result, fallback, elapsed, c.table.flows)
        default = combine([typed(current.table.default)]) if current.table.default else {}
        return Decided(current.set_id, current.name, current.number, default, "default", flows=current.table.flows)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


#: (rule set, version, error | budget) → when it was last written: a failing rule set is written to the audit
#: log at most once a minute per process, not once per order (every decision records its
#: fallback anyway)
_alerted: dict[tuple[str, int, str], float] = {}
ALERT_EVERY_S = 60.0


def _alert(conn: Connection, c: Compiled, *, now: datetime, problem: str, kind: str) -> None:
    key = (c.set_id, c.number, kind)
    last = _alerted.get(key)
    if last is not None and time.monotonic() - last < ALERT_EVERY_S:
        return
    _alerted[key] = time.monotonic()
    alerts.warning("rule set %s (%s) v%d set aside: %s", c.set_id, c.name, c.number, problem)
    conn.execute(
        store.rule_audit.insert().values(
            at=now,
            actor="system:rules",
            set_id=c.set_id,
            version=c.number,
            action="fallback",
            why=problem,
            detail={"hook": c.hook},
        )
    )


#: the process's registry (compiled decisions are per process; the database is the truth)
REGISTRY = Registry()
