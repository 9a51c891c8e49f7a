"""Simulation before publish: replay recent orders against a version (usually a draft) and
against the version in force, and show what would change.

The orders come from a source the composition root registers (rules never read the order
tables): the facts each order hands its hooks. Both versions are compiled apart from the live
registry, nothing is written, and no order changes. The facts are taken as at the order's
capture for the capture-time hooks, and as now for ``order.before_release`` and
``order.exception`` (with the ``exception`` the caller names).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput
from orderhub.rules import service
from orderhub.rules.engine import Decisions, expression_problem
from orderhub.rules.facts import facts_of
from orderhub.rules.model import RuleError, combine, scope_matches, to_jdm, validate

Source = Callable[[Engine, int, datetime | None, datetime | None], list[dict[str, Any]]]
Progress = Callable[[int, int], None]
MAX_ORDERS = 50_000
EXAMPLES = 200
_source: list[Source] = []


def register_source(source: Source) -> None:
    """Where simulations read orders from (the composition root's; again replaces it)."""
    _source[:] = [source]


def _compile(hook: str, content: dict[str, Any]) -> Any:
    try:
        table, _ = validate(hook, content, check_expression=expression_problem)
    except RuleError as exc:
        raise InvalidInput(f"the version is not valid: {exc}", code="invalid_rule_set", errors=exc.errors) from None
    return Decisions().add(hook, to_jdm(table))


def _outcome(decision: Any, facts: dict[str, Any]) -> dict[str, Any]:
    if decision is None:
        return {}
    try:
        result = decision(facts)["result"]
        return combine(result if isinstance(result, list) else [result] if result else [])
    except Exception as exc:  # the simulation shows a failing rule; it never stops on one
        return {"error": str(exc).splitlines()[0][:200]}


def _held(outcome: dict[str, Any]) -> bool:
    return bool(outcome.get("approval") or outcome.get("hold"))


def simulate(
    engine: Engine,
    *,
    set_id: str,
    number: int,
    against: int | None = None,
    limit: int = 1000,
    since: datetime | None = None,
    until: datetime | None = None,
    exception: str = "",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replay the newest ``limit`` orders of [since, until) against version ``number`` and
    against ``against`` (default: the version in force). Counts what would change — orders
    held, tags added or removed, priorities changed, strategies and locks changed — and lists
    up to 200 changed orders with both outcomes."""
    if not 1 <= limit <= MAX_ORDERS:
        raise InvalidInput(
            f"limit must be 1..{MAX_ORDERS}", errors=[{"pointer": "/limit", "detail": f"1..{MAX_ORDERS}"}]
        )
    if not _source:
        raise Conflict("no order source is wired for simulations", code="no_simulation_source")
    rule_set = service.get(engine, set_id)
    hook = rule_set["hook"]
    if hook == "timers":
        raise Conflict("timers are not simulated: they act on time, not on an order's facts", code="not_simulated")
    versions = {v["number"]: v for v in rule_set["versions"]}
    if number not in versions:
        service.get_version(engine, set_id=set_id, number=number)  # the 404
    baseline_number = against if against is not None else rule_set["in_force"]
    if baseline_number is not None and baseline_number not in versions:
        service.get_version(engine, set_id=set_id, number=baseline_number)
    started = time.perf_counter()
    draft = _compile(hook, versions[number]["content"])
    baseline = _compile(hook, versions[baseline_number]["content"]) if baseline_number is not None else None
    orders = _source[0](engine, limit, since, until)
    counts = {
        "held_before": 0,
        "held_after": 0,
        "tagged_before": 0,
        "tagged_after": 0,
        "reprioritised": 0,
        "strategy_changed": 0,
        "lock_changed": 0,
        "changed": 0,
        "errors": 0,
    }
    examples: list[dict[str, Any]] = []
    now = utcnow()
    at_capture = hook not in ("order.before_release", "order.exception")
    for i, order in enumerate(orders):
        at = datetime.fromisoformat(order["created_at"]) if at_capture else now
        facts = facts_of(order, now=at, exception=exception)
        if not scope_matches(rule_set["scope"], facts):
            continue
        before, after = _outcome(baseline, facts), _outcome(draft, facts)
        counts["errors"] += "error" in after
        counts["held_before"] += _held(before)
        counts["held_after"] += _held(after)
        counts["tagged_before"] += bool(before.get("tags"))
        counts["tagged_after"] += bool(after.get("tags"))
        counts["reprioritised"] += before.get("priority") != after.get("priority")
        counts["strategy_changed"] += before.get("strategy") != after.get("strategy")
        counts["lock_changed"] += before.get("lock_minutes") != after.get("lock_minutes")
        if before != after:
            counts["changed"] += 1
            if len(examples) < EXAMPLES:
                examples.append(
                    {
                        "order_id": order["id"],
                        "external_ref": order.get("external_ref") or "",
                        "channel": order.get("channel"),
                        "before": before,
                        "after": after,
                    }
                )
        if progress and (i + 1) % 500 == 0:
            progress(i + 1, len(orders))
    if progress:
        progress(len(orders), len(orders))
    return {
        "set_id": set_id,
        "hook": hook,
        "version": number,
        "against": baseline_number,
        "orders": len(orders),
        **counts,
        "examples": examples,
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
