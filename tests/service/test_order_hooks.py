"""The order's unit of work: every change runs the hooks registered on its point, applies their
verdicts through the model, writes every event once, and runs after-commit hooks only after a
commit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.errors import Conflict
from orderhub.core.events import DomainEvent
from orderhub.orders import hooks, service
from orderhub.wiring import wire
from tests.service.test_orders import new_order


@pytest.fixture
def seen() -> Iterator[dict[str, list]]:
    log: dict[str, list] = {"in": [], "after": []}

    def high_value_needs_approval(ctx: hooks.HookContext) -> hooks.Verdict | None:
        log["in"].append((ctx.point, [e.type for e in ctx.events], ctx.order["status"]))
        if ctx.point == hooks.CAPTURED and ctx.order["total"] == "25.00":
            return hooks.Verdict(hold="needs approval: over 20.00", tags=["approval"], by="rules:approvals")
        return None

    def after(events: list[DomainEvent]) -> None:
        log["after"].append([e.type for e in events])

    hooks.clear()
    hooks.on(hooks.CAPTURED, high_value_needs_approval)
    hooks.on(hooks.CHANGED, high_value_needs_approval)
    hooks.after_commit(after)
    yield log
    hooks.clear()
    wire()  # the application's own hooks, for the tests that follow


def outbox(engine: Engine, order_id: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT type, actor FROM outbox WHERE aggregate_id = :id ORDER BY seq"), {"id": order_id}
        )
        return [(r.type, r.actor) for r in rows]


def test_a_capture_hook_holds_and_tags_the_order_in_the_same_transaction(engine: Engine, seen: dict) -> None:
    oid = new_order(engine, paid=True)
    order = service.get(engine, order_id=oid).order
    assert order.status.value == "on_hold"
    assert order.held_from is not None and order.held_from.value == "paid"
    assert order.tags == ["approval"]
    assert seen["in"][0][0] == hooks.CAPTURED
    assert seen["in"][0][1][0] == "order.captured"
    events = outbox(engine, oid)
    assert events[-2:] == [("order.edited", "rules:approvals"), ("order.status_changed", "rules:approvals")]
    assert [t for t, _ in events].count("order.captured") == 1
    assert seen["after"] == [[t for t, _ in events]]  # once, with every event of the change


def test_every_later_change_runs_the_changed_hooks_and_after_commit(engine: Engine, seen: dict) -> None:
    oid = new_order(engine, paid=True)
    service.release_hold(engine, order_id=oid, actor="user:approver", reason="approved")
    assert seen["in"][-1] == (hooks.CHANGED, ["order.status_changed"], "paid")
    assert seen["after"][-1] == ["order.status_changed"]
    assert service.get(engine, order_id=oid).order.status.value == "paid"


def test_a_refused_change_runs_no_hook_and_no_after_commit(engine: Engine, seen: dict) -> None:
    oid = new_order(engine)
    calls = (len(seen["in"]), len(seen["after"]))
    before = outbox(engine, oid)
    with pytest.raises(Conflict):
        service.transition(engine, order_id=oid, to="shipped", actor="user:x")
    assert (len(seen["in"]), len(seen["after"])) == calls
    assert outbox(engine, oid) == before


def test_a_hook_that_raises_rolls_the_whole_change_back(engine: Engine, seen: dict) -> None:
    oid = new_order(engine)
    before = service.get(engine, order_id=oid).order

    def refuse(ctx: hooks.HookContext) -> None:
        raise Conflict("refused by a hook", code="hook_refused")

    hooks.on(hooks.CHANGED, refuse)
    after_calls = len(seen["after"])
    with pytest.raises(Conflict):
        service.set_tags(engine, order_id=oid, actor="user:x", tags=["x"])
    view = service.get(engine, order_id=oid)
    assert (view.order.tags, view.order.version) == (before.tags, before.version)
    assert len(seen["after"]) == after_calls


def test_unknown_hook_points_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown hook point"):
        hooks.on("order.teleported", lambda ctx: None)
