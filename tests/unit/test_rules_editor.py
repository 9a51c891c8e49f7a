"""The console's table editor without a browser: the form read back into a rule set, the
editing moves, and validation problems placed at the cell their pointer names."""

from __future__ import annotations

from typing import Any

import pytest

from orderhub.rules import editor, templates, versions
from orderhub.rules.model import RuleError, validate


def as_form(sheet: dict[str, Any]) -> dict[str, str]:
    """The fields the editor template renders for ``sheet`` (what the browser posts back)."""
    form = {"hit_policy": sheet["hit_policy"]}
    form.update({f"input-{j}": n for j, n in enumerate(sheet["inputs"])})
    form.update({f"output-{k}": n for k, n in enumerate(sheet["outputs"])})
    for i, r in enumerate(sheet["rows"]):
        form.update({f"row-{i}-id": r["id"], f"row-{i}-note": r["note"]})
        form.update({f"row-{i}-when-{j}": c for j, c in enumerate(r["when"])})
        form.update({f"row-{i}-then-{k}": c for k, c in enumerate(r["then"])})
    form.update({f"default-{k}": sheet["default"].get(n, "") for k, n in enumerate(sheet["outputs"])})
    for f, flow in enumerate(sheet["flows"]):
        form.update({f"flow-{f}-key": flow["key"], f"flow-{f}-name": flow["name"]})
        for s, step in enumerate(flow["steps"]):
            at = f"flow-{f}-step-{s}-"
            form.update({at + k: "" if step.get(k) is None else str(step.get(k)) for k in editor.NEW_STEP})
    for t, timer in enumerate(sheet["timers"]):
        at = f"timer-{t}-"
        form.update({at + k: str(timer[k]) for k in ("id", "after", "minutes", "action", "value")})
        form[at + "unless"] = ", ".join(timer["unless"])
    return form


@pytest.mark.parametrize("key", [t["key"] for t in templates.get_all()])
def test_every_template_survives_the_round_trip_through_the_form_unchanged(key: str) -> None:
    template = templates.get(key)
    expected, _ = validate(template["hook"], template["content"])
    back = editor.to_content(editor.from_form(as_form(editor.from_content(template["content"]))))
    table, _ = validate(template["hook"], back)
    assert table.as_content() == expected.as_content()


def test_the_moves_add_and_remove_rows_and_columns_keeping_every_row_rectangular() -> None:
    sheet = editor.from_content(templates.get("regional-approval")["content"])
    form = {"new_input": "tier", "new_output": "tag"}
    editor.apply(sheet, "add_row", form, hook="order.captured")
    editor.apply(sheet, "add_input", form, hook="order.captured")
    editor.apply(sheet, "add_output", form, hook="order.captured")
    assert sheet["inputs"] == ["region", "total", "channel", "tier"]
    assert sheet["outputs"] == ["approval", "tag"]
    assert [(r["id"], r["when"], r["then"]) for r in sheet["rows"]] == [
        ("r1", ["BY", "> 500", "web", ""], ["regional-manager", ""]),
        ("r2", ["", "", "", ""], ["", ""]),
    ]
    editor.apply(sheet, "up_row:1", form, hook="order.captured")
    editor.apply(sheet, "del_input:1", form, hook="order.captured")
    editor.apply(sheet, "del_output:0", form, hook="order.captured")
    assert sheet["inputs"] == ["region", "channel", "tier"] and sheet["outputs"] == ["tag"]
    assert [(r["id"], r["when"], r["then"]) for r in sheet["rows"]] == [
        ("r2", ["", "", ""], [""]),
        ("r1", ["BY", "web", ""], [""]),
    ]
    editor.apply(sheet, "del_row:0", form, hook="order.captured")
    assert [r["id"] for r in sheet["rows"]] == ["r1"]


def test_moves_that_do_not_fit_change_nothing() -> None:
    sheet = editor.from_content(templates.get("sourcing-policy")["content"])
    before = editor.to_content(sheet)
    for op in ("add_output", "add_input", "del_row:9", "del_input:x", "up_row:0", "del_step:0:0", "explode"):
        editor.apply(sheet, op, {"new_output": "tag", "new_input": "tier"}, hook="order.before_sourcing")
    assert editor.to_content(sheet) == before  # tag is no outcome before sourcing; tier is a column already


def test_flow_steps_and_timers_are_added_and_removed() -> None:
    sheet = editor.from_content({"outputs": ["approval"]})
    editor.apply(sheet, "add_flow", {}, hook="order.captured")
    editor.apply(sheet, "add_step:0", {}, hook="order.captured")
    assert [f["key"] for f in sheet["flows"]] == ["flow-1"] and len(sheet["flows"][0]["steps"]) == 2
    editor.apply(sheet, "del_step:0:1", {}, hook="order.captured")
    assert editor.to_content(sheet)["flows"] == {
        "flow-1": {"name": "", "steps": [{"role": "publisher", "on_timeout": "escalate", "escalate_to": "admin"}]}
    }
    timers = editor.from_content({})
    editor.apply(timers, "add_timer", {}, hook="timers")
    editor.apply(timers, "add_timer", {}, hook="timers")
    editor.apply(timers, "del_timer:0", {}, hook="timers")
    assert [t["id"] for t in timers["timers"]] == ["t2"]


def test_minutes_as_typed_stay_text_when_they_are_no_number_so_validation_names_them() -> None:
    form = {
        "timer-0-id": "t1", "timer-0-after": "order.captured", "timer-0-unless": "order.status_changed:paid, ",
        "timer-0-minutes": "soon", "timer-0-action": "notify", "timer-0-value": "",
    }  # fmt: skip
    sheet = editor.from_form(form)
    assert sheet["timers"][0]["unless"] == ["order.status_changed:paid"]
    with pytest.raises(RuleError) as err:
        validate("timers", editor.to_content(sheet))
    assert editor.place(err.value.errors, sheet)[0] == {"timer-0-minutes": "minutes between 1 and 60 days"}


def test_problems_are_placed_at_the_cell_or_field_their_pointer_names() -> None:
    sheet = editor.from_content(templates.get("two-step-approval")["content"])
    errors = [
        {"pointer": "/content/rows/0/when/0", "detail": "not a number"},
        {"pointer": "/content/rows/0/when/0", "detail": "and again"},
        {"pointer": "/content/outputs/0", "detail": "bad outcome"},
        {"pointer": "/content/flows/two-step/steps/1/role", "detail": "unknown role"},
        {"pointer": "/content/flows/two-step/steps", "detail": "no steps"},
        {"pointer": "/content/rows/0", "detail": "overlaps"},
        {"pointer": "/hook", "detail": "unknown hook"},
    ]
    by_field, listed = editor.place(errors, sheet)
    assert by_field == {
        "row-0-when-0": "not a number; and again",
        "output-0": "bad outcome",
        "flow-0-step-1-role": "unknown role",
        "flow-0-name": "no steps",
        "row-0": "overlaps",
        "general": "unknown hook",
    }
    assert [x["where"] for x in listed] == [
        "row 1, total", "row 1, total", "outcome column 1", "flow two-step, step 2, role", "flow two-step, steps",
        "row 1", "the rule set",
    ]  # fmt: skip


def test_two_flows_with_one_key_are_a_problem_at_the_second() -> None:
    sheet = editor.from_content({"outputs": ["approval"]})
    editor.apply(sheet, "add_flow", {}, hook="order.captured")
    editor.apply(sheet, "add_flow", {}, hook="order.captured")
    sheet["flows"][1]["key"] = "flow-1"
    problems = editor.duplicate_flows(sheet)
    assert problems == [{"pointer": "/sheet/flows/1", "detail": "two flows have the key 'flow-1'"}]
    assert editor.place(problems, sheet)[0] == {"flow-1-key": "two flows have the key 'flow-1'"}


def test_a_diff_in_words_names_the_cells_that_changed() -> None:
    before = templates.get("sourcing-policy")["content"]
    after = {**before, "hit_policy": "unique", "rows": [dict(r) for r in before["rows"][:3]]}
    after["rows"][1] = {**after["rows"][1], "then": ["fastest"]}
    words = editor.readable_diff(versions.diff(before, after), before, after)
    assert words["settings"] == [{"field": "hit policy", "before": "first", "after": "unique"}]
    assert words["removed"] == [{"id": "r4", "cells": {"→ strategy": "balanced"}}]
    assert words["changed"] == [
        {"id": "r2", "cells": [{"column": "→ strategy", "before": "greenest", "after": "fastest"}]}
    ]
    assert words["added"] == [] and not words["same"]
