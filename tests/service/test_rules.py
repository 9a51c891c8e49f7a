"""Rules end to end on the service layer: governance (draft → review → publish by someone
else, rollback, scheduled activation, scopes), the hook points (approval holds, tags, priority,
presale lock, sourcing strategy), safety (a failing or slow rule never fails a capture),
timers, approvals and simulation — on a real database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, Forbidden, InvalidInput
from orderhub.orders import service as orders
from orderhub.platform.auth import service as auth
from orderhub.platform.auth.model import Principal
from orderhub.rules import approvals, logs, scopes, simulation, timers
from orderhub.rules import service as rules
from orderhub.rules.engine import REGISTRY
from tests.service.test_orders import new_order


def person(engine: Engine, role: str, name: str) -> Principal:
    return auth.create_user(engine, email=f"{name}@shop.example", name=name, role=role)


@pytest.fixture
def people(engine: Engine) -> dict[str, Principal]:
    return {
        "ed": person(engine, "editor", "ed"),
        "pia": person(engine, "publisher", "pia"),
        "paul": person(engine, "publisher", "paul"),
        "otto": person(engine, "operator", "otto"),
        "vera": person(engine, "viewer", "vera"),
        "ada": person(engine, "admin", "ada"),
    }


def live(
    engine: Engine, people: dict[str, Principal], content: dict[str, Any], hook: str, name: str = "t", **kw: Any
) -> dict[str, Any]:
    """A rule set written by ed and published by pia: in force now."""
    created = rules.create(engine, who=people["ed"], name=name, hook=hook, content=content, **kw)
    sid = created["id"]
    rules.submit(engine, who=people["ed"], set_id=sid, number=1)
    rules.publish(engine, who=people["pia"], set_id=sid, number=1, why="ok")
    return rules.get(engine, sid)


APPROVAL = {
    "hit_policy": "first",
    "inputs": ["channel", "total"],
    "outputs": ["approval"],
    "rows": [{"id": "r1", "when": ["web", "> 20"], "then": ["manager"]}],
    "flows": {
        "manager": {
            "name": "Manager approves",
            "steps": [{"role": "publisher", "timeout_minutes": 60, "on_timeout": "reject"}],
        }
    },
}


def test_an_approval_rule_holds_the_order_until_someone_with_the_role_approves(engine: Engine, people: dict) -> None:
    live(engine, people, APPROVAL, "order.captured")
    oid = new_order(engine, paid=True)  # web, 25.00
    order = orders.get(engine, order_id=oid).order
    assert order.status.value == "on_hold"
    inbox = approvals.get_inbox(engine, who=people["paul"])
    assert [a["order_id"] for a in inbox] == [oid]
    assert approvals.get_inbox(engine, who=people["otto"]) == []  # an operator does not see it
    with pytest.raises(Forbidden):
        approvals.decide(engine, approval_id=inbox[0]["id"], who=people["otto"], approve=True)
    assert orders.get(engine, order_id=oid).order.status.value == "on_hold"
    decided = approvals.decide(engine, approval_id=inbox[0]["id"], who=people["paul"], approve=True, note="fine")
    assert decided["status"] == "approved"
    assert orders.get(engine, order_id=oid).order.status.value == "paid"
    small = new_order(engine, paid=True, ref="W-2", channel="shopify")
    assert orders.get(engine, order_id=small).order.status.value == "paid"  # another channel: no rule
    log = logs.get_decisions(engine, order_id=oid)
    assert [(d["hook"], d["version"], d["outcome"]) for d in log] == [("order.captured", 1, {"approval": "manager"})]
    assert log[0]["facts"]["total"] == 25.0 and log[0]["facts"]["channel"] == "web"


def test_a_rejected_approval_cancels_the_order_and_a_timeout_applies_the_flows_action(
    engine: Engine, people: dict
) -> None:
    live(engine, people, APPROVAL, "order.captured")
    first, second = new_order(engine, paid=True, ref="W-1"), new_order(engine, paid=True, ref="W-2")
    pending = {a["order_id"]: a["id"] for a in approvals.get_inbox(engine, who=people["paul"])}
    approvals.decide(engine, approval_id=pending[first], who=people["paul"], approve=False, note="no")
    assert orders.get(engine, order_id=first).order.status.value == "cancelled"
    with pytest.raises(Conflict):
        approvals.decide(engine, approval_id=pending[first], who=people["paul"], approve=True)
    assert approvals.time_out_due(engine, now=utcnow()) == 0  # not due yet
    assert approvals.time_out_due(engine, now=utcnow() + timedelta(minutes=61)) == 1
    assert orders.get(engine, order_id=second).order.status.value == "cancelled"  # on_timeout: reject
    assert approvals.get(engine, pending[second])["history"][-2]["actor"] == approvals.SYSTEM


def test_the_author_cannot_publish_and_a_draft_is_frozen_once_submitted(engine: Engine, people: dict) -> None:
    created = rules.create(engine, who=people["pia"], name="mine", hook="order.captured", content=APPROVAL)
    sid = created["id"]
    with pytest.raises(Forbidden) as err:
        rules.submit(engine, who=people["vera"], set_id=sid, number=1)
    assert err.value.code == "role_required"
    rules.submit(engine, who=people["pia"], set_id=sid, number=1)
    with pytest.raises(Forbidden) as err:
        rules.publish(engine, who=people["pia"], set_id=sid, number=1)
    assert err.value.code == "publisher_is_author"
    with pytest.raises(Forbidden):
        rules.publish(engine, who=people["ed"], set_id=sid, number=1)  # an editor does not publish
    draft = rules.save_draft(engine, who=people["ed"], set_id=sid, content={**APPROVAL, "rows": []}, why="empty it")
    assert draft["number"] == 2 and draft["status"] == "draft"  # a new draft: v1 is in review, unchanged
    assert rules.get_version(engine, set_id=sid, number=1)["content"]["rows"][0]["when"] == ["web", "> 20"]
    published = rules.publish(engine, who=people["paul"], set_id=sid, number=1, why="reviewed")
    assert published["status"] == "published" and published["in_force"]
    actions = [a["action"] for a in logs.get_audit(engine, set_id=sid)]
    assert actions == ["published", "draft_saved", "submitted", "created"]


def test_invalid_tables_are_rejected_at_save_with_every_problem_and_nothing_is_saved(
    engine: Engine, people: dict
) -> None:
    created = rules.create(engine, who=people["ed"], name="tags", hook="order.captured")
    sid = created["id"]
    bad = {
        "hit_policy": "unique",
        "inputs": ["total", "region"],
        "outputs": ["tag"],
        "rows": [
            {"id": "a", "when": ["> 100", "BY"], "then": ["big"]},
            {"id": "b", "when": ["[50..150]", "BY, BE"], "then": ["mid"]},
        ],
    }
    with pytest.raises(InvalidInput) as err:
        rules.save_draft(engine, who=people["ed"], set_id=sid, content=bad)
    assert err.value.errors == [
        {
            "pointer": "/content/rows/1",
            "detail": "rows a and b overlap: hit policy 'unique' needs rows that never match the same order",
        }
    ]
    wrong = {"inputs": ["weight", "total"], "outputs": ["strategy"], "rows": []}
    with pytest.raises(InvalidInput) as err:
        rules.save_draft(engine, who=people["ed"], set_id=sid, content=wrong)
    pointers = [e["pointer"] for e in err.value.errors]
    assert pointers == ["/content/inputs/0", "/content/outputs/0"]
    typed = {"inputs": ["total"], "outputs": ["priority"], "rows": [{"when": ["lots"], "then": ["high"]}]}
    with pytest.raises(InvalidInput) as err:
        rules.save_draft(engine, who=people["ed"], set_id=sid, content=typed)
    assert [e["pointer"] for e in err.value.errors] == ["/content/rows/0/when/0", "/content/rows/0/then/0"]
    versions = rules.get(engine, sid)["versions"]
    assert [(v["number"], v["content"]["rows"]) for v in versions] == [(1, [])]
    ok = {**bad, "rows": [bad["rows"][0], {"id": "b", "when": ["<= 100", "BY, BE"], "then": ["mid"]}]}
    assert rules.save_draft(engine, who=people["ed"], set_id=sid, content=ok)["content"]["rows"][1]["when"] == [
        "<= 100",
        "BE, BY",
    ]


TAGS = {
    "hit_policy": "collect",
    "inputs": ["total", "address_complete"],
    "outputs": ["tag", "priority"],
    "rows": [
        {"id": "r1", "when": ["> 20", ""], "then": ["big-basket", "10"]},
        {"id": "r2", "when": ["", "no"], "then": ["address-incomplete", "5"]},
    ],
}


def test_tags_and_priority_from_a_collect_table_are_on_the_order_and_filter_the_list(
    engine: Engine, people: dict
) -> None:
    live(engine, people, TAGS, "order.captured")
    oid = new_order(engine, paid=True)  # 25.00, no street
    order = orders.get(engine, order_id=oid).order
    assert order.tags == ["address-incomplete", "big-basket"]
    assert order.priority == 15
    page = orders.get_all(engine, tag="address-incomplete")
    assert [o["id"] for o in page.items] == [oid]


def test_rollback_restores_the_previous_behaviour_in_one_step(engine: Engine, people: dict) -> None:
    rule_set = live(engine, people, TAGS, "order.captured")
    sid = rule_set["id"]
    v2 = {**TAGS, "rows": [{"id": "r1", "when": ["> 20", ""], "then": ["huge", "99"]}]}
    rules.save_draft(engine, who=people["ed"], set_id=sid, content=v2)
    rules.submit(engine, who=people["ed"], set_id=sid, number=2)
    rules.publish(engine, who=people["pia"], set_id=sid, number=2)
    assert orders.get(engine, order_id=new_order(engine, ref="A")).order.tags == ["huge"]
    back = rules.rollback(engine, who=people["paul"], set_id=sid, to=1, why="v2 tags everything huge")
    assert (back["number"], back["rollback_of"], back["in_force"]) == (3, 1, True)
    assert orders.get(engine, order_id=new_order(engine, ref="B")).order.tags == ["address-incomplete", "big-basket"]
    d = rules.diff(engine, set_id=sid, a=1, b=2)
    assert [c["id"] for c in d["changed"]] == ["r1"] and [r["id"] for r in d["removed"]] == ["r2"]
    assert rules.diff(engine, set_id=sid, a=1, b=3)["same"] is True


def test_a_version_scheduled_for_later_is_not_in_force_until_then(engine: Engine, people: dict) -> None:
    created = rules.create(engine, who=people["ed"], name="later", hook="order.captured", content=TAGS)
    rules.submit(engine, who=people["ed"], set_id=created["id"], number=1)
    rules.publish(
        engine, who=people["pia"], set_id=created["id"], number=1, effective_from=utcnow() + timedelta(hours=1)
    )
    listed = next(s for s in rules.get_all(engine) if s["id"] == created["id"])
    assert (listed["in_force"], listed["scheduled"]) == (None, [1])
    assert orders.get(engine, order_id=new_order(engine)).order.tags == []
    with engine.connect() as conn:
        later = rules.evaluate(conn, "order.captured", {"id": "x", "total": "30"}, now=utcnow() + timedelta(hours=2))
    assert later.values["tags"] == ["address-incomplete", "big-basket"]


def test_a_rule_that_fails_or_runs_past_its_budget_falls_back_and_never_fails_a_capture(
    engine: Engine, people: dict
) -> None:
    rule_set = live(engine, people, TAGS, "order.captured")
    sid = rule_set["id"]
    v2 = {**TAGS, "rows": [{"id": "r1", "when": ["", ""], "then": ["v2", "1"]}], "default": {"priority": "7"}}
    rules.save_draft(engine, who=people["ed"], set_id=sid, content=v2)
    rules.submit(engine, who=people["ed"], set_id=sid, number=2)
    rules.publish(engine, who=people["pia"], set_id=sid, number=2)
    # a stored version the engine cannot take (written before a check existed, or a broken upgrade)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE rule_versions SET content = :c WHERE set_id = :s AND number = 2"),
            {"c": '{"inputs": ["nope"], "outputs": ["tag"], "rows": [], "default": {"priority": "7"}}', "s": sid},
        )
    REGISTRY.invalidate()
    oid = new_order(engine, paid=True)
    order = orders.get(engine, order_id=oid).order
    assert order.status.value == "paid"
    assert order.tags == ["address-incomplete", "big-basket"]  # v1, the last good version, decided
    assert logs.get_decisions(engine, order_id=oid)[0]["fallback"] == "v1"
    alert = logs.get_audit(engine, set_id=sid, action="fallback")[0]
    assert alert["version"] == 2 and "unknown fact 'nope'" in alert["why"]
    rules.set_budget(0.000001)  # every evaluation is over budget
    try:
        slow = orders.get(engine, order_id=new_order(engine, ref="W-9", paid=True)).order
    finally:
        rules.set_budget(50.0)
    assert slow.status.value == "paid" and slow.tags == [] and slow.priority == 7  # the declared default
    fallbacks = logs.get_audit(engine, set_id=sid, action="fallback")
    assert "budget" in fallbacks[0]["why"]
    assert len([a for a in fallbacks if "unknown fact" in a["why"]]) == 1  # once a minute, not once per order


def test_the_presale_lock_comes_from_the_rule_and_releases_by_itself(engine: Engine, people: dict) -> None:
    lock = {"inputs": ["channel"], "outputs": ["lock_minutes"], "rows": [{"when": ["web"], "then": ["5"]}]}
    live(engine, people, lock, "reservation.created")
    from tests.conftest import put_stock

    put_stock(engine, {("DC-1", "A-1"): 10, ("DC-1", "B-2"): 10})
    before = utcnow()
    oid = new_order(engine)  # unpaid
    with engine.connect() as conn:
        expires = conn.execute(
            sa.text("SELECT min(expires_at) FROM reservations WHERE order_id = :o"), {"o": oid}
        ).scalar()
    from datetime import datetime

    from orderhub.core.clock import as_utc

    expires_at = as_utc(expires if isinstance(expires, datetime) else datetime.fromisoformat(expires))
    assert timedelta(minutes=5) <= expires_at - before <= timedelta(minutes=5, seconds=5)
    reserved = [e for e in orders.get(engine, order_id=oid).events if e["type"] == "order.stock_reserved"]
    assert reserved and reserved[0]["data"]["expires_at"] is not None


def test_a_timer_fires_once_unless_its_stop_event_came_first(engine: Engine, people: dict) -> None:
    content = {
        "timers": [
            {
                "id": "t1",
                "after": "order.captured",
                "unless": ["order.status_changed:paid"],
                "minutes": 30,
                "action": "release_reservation",
                "value": "",
            }
        ]
    }
    live(engine, people, content, "timers")
    unpaid, paid_later = new_order(engine, ref="U"), new_order(engine, ref="P")
    from orderhub.core.events import DomainEvent

    with engine.begin() as conn:
        for oid in (unpaid, paid_later):
            timers.follow(conn, DomainEvent(type="order.captured", aggregate_type="order", aggregate_id=oid, data={}))
        timers.follow(
            conn, DomainEvent(type="order.captured", aggregate_type="order", aggregate_id=unpaid, data={})
        )  # again: once
        timers.follow(
            conn,
            DomainEvent(
                type="order.status_changed", aggregate_type="order", aggregate_id=paid_later, data={"to": "paid"}
            ),
        )
    assert [t["status"] for t in timers.get_all(engine)] == ["cancelled", "pending"]
    assert timers.fire_due(engine) == 0
    assert timers.fire_due(engine, now=utcnow() + timedelta(minutes=31)) == 1
    assert timers.fire_due(engine, now=utcnow() + timedelta(minutes=32)) == 0
    assert orders.get(engine, order_id=unpaid).order.status.value == "cancelled"
    assert orders.get(engine, order_id=paid_later).order.status.value == "awaiting_payment"


def test_a_scoped_editor_edits_only_their_regions_rules(engine: Engine, people: dict) -> None:
    scopes.set_scopes(engine, who=people["ada"], user_id=people["ed"].user_id, scopes={"region": ["BY"]})
    mine = rules.create(engine, who=people["ed"], name="bavaria", hook="order.captured", scope={"region": "BY"})
    assert mine["scope"] == {"region": "BY"}
    with pytest.raises(Forbidden) as err:
        rules.create(engine, who=people["ed"], name="all", hook="order.captured")
    assert err.value.code == "outside_scope"
    other = rules.create(engine, who=people["pia"], name="berlin", hook="order.captured", scope={"region": "BE"})
    with pytest.raises(Forbidden):
        rules.save_draft(engine, who=people["ed"], set_id=other["id"], content=TAGS)
    with pytest.raises(Forbidden):
        scopes.set_scopes(engine, who=people["pia"], user_id=people["ed"].user_id, scopes={})


def test_simulation_shows_what_a_draft_would_change_and_changes_nothing(engine: Engine, people: dict) -> None:
    rule_set = live(engine, people, TAGS, "order.captured")
    ids = [new_order(engine, ref=f"S-{i}", channel="web" if i % 2 else "shopify") for i in range(6)]
    draft = {**TAGS, "rows": [{"id": "r1", "when": ["> 20", ""], "then": ["big-basket", "10"]}]}
    rules.save_draft(engine, who=people["ed"], set_id=rule_set["id"], content=draft)
    before = [orders.get(engine, order_id=o).order.tags for o in ids]
    result = simulation.simulate(engine, set_id=rule_set["id"], number=2, limit=4)
    assert result["orders"] == 4 and result["against"] == 1
    assert result["changed"] == 4 and result["reprioritised"] == 4
    assert result["tagged_before"] == result["tagged_after"] == 4
    assert [e["order_id"] for e in result["examples"]] == ids[::-1][:4]
    assert result["examples"][0]["before"] == {"tags": ["address-incomplete", "big-basket"], "priority": 15}
    assert result["examples"][0]["after"] == {"tags": ["big-basket"], "priority": 10}
    assert [orders.get(engine, order_id=o).order.tags for o in ids] == before
