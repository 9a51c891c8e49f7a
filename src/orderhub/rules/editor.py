"""The console's table editor, without I/O: a rule set's content as a *sheet* (what the editor
form shows: flows as a list, so two flows may briefly share a key while someone types), the
sheet read back from the posted form, the editing moves (add or remove a row, a column, a flow
step, a timer), and validation problems placed next to the field they point at.

Field names are positional: ``row-2-when-0`` is the third row's first condition. A problem's
JSON pointer (``/content/rows/2/when/0``) maps to the same name, so the editor shows it by
the cell it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderhub.rules.model import FACTS, OUTCOMES

Form = Mapping[str, Any]
NEW_STEP = {"role": "publisher", "user": "", "timeout_minutes": None, "on_timeout": "escalate", "escalate_to": "admin"}


def outcomes_for(hook: str) -> list[str]:
    """The outcome columns a table at ``hook`` may have."""
    return [name for name, (_, _, hooks) in OUTCOMES.items() if hook in hooks]


def from_content(content: dict[str, Any]) -> dict[str, Any]:
    """A stored (or template) content as a sheet."""
    flows = [
        {
            "key": key,
            "name": str(flow.get("name") or ""),
            "steps": [{**NEW_STEP, "role": "", **step} for step in flow.get("steps") or []],
        }
        for key, flow in (content.get("flows") or {}).items()
    ]
    return {
        "hit_policy": content.get("hit_policy") or "first",
        "inputs": list(content.get("inputs") or []),
        "outputs": list(content.get("outputs") or []),
        "rows": [
            {
                "id": str(r.get("id") or ""),
                "when": ["" if c is None else str(c) for c in r.get("when") or []],
                "then": ["" if c is None else str(c) for c in r.get("then") or []],
                "note": str(r.get("note") or ""),
            }
            for r in content.get("rows") or []
        ],
        "default": {k: str(v) for k, v in (content.get("default") or {}).items()},
        "flows": flows,
        "timers": [{"value": "", "unless": [], **t} for t in content.get("timers") or []],
    }


def to_content(sheet: dict[str, Any]) -> dict[str, Any]:
    """The sheet as the content the service validates (flows keyed; empty fields dropped)."""
    flows: dict[str, Any] = {}
    for flow in sheet["flows"]:
        steps = []
        for step in flow["steps"]:
            kept = {k: v for k, v in step.items() if v not in ("", None)}
            if kept.get("on_timeout") != "escalate":
                kept.pop("escalate_to", None)
            steps.append(kept)
        flows[flow["key"]] = {"name": flow["name"], "steps": steps}
    return {
        "hit_policy": sheet["hit_policy"],
        "inputs": list(sheet["inputs"]),
        "outputs": list(sheet["outputs"]),
        "rows": [dict(r) for r in sheet["rows"]],
        "flows": flows,
        "timers": [dict(t) for t in sheet["timers"]],
        "default": {k: v for k, v in sheet["default"].items() if k in sheet["outputs"] and str(v).strip()},
    }


def duplicate_flows(sheet: dict[str, Any]) -> list[dict[str, str]]:
    """Problems the content cannot show: two flows with one key (a dict keeps only one)."""
    seen: set[str] = set()
    out = []
    for f, flow in enumerate(sheet["flows"]):
        if flow["key"] in seen:
            out.append({"pointer": f"/sheet/flows/{f}", "detail": f"two flows have the key {flow['key']!r}"})
        seen.add(flow["key"])
    return out


def _number(text: str) -> int | float | str | None:
    """Minutes as typed: empty is none, a number is a number, anything else stays text (and
    validation names it)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def _count(form: Form, pattern: str) -> int:
    n = 0
    while pattern.format(n) in form:
        n += 1
    return n


def _text(form: Form, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def from_form(form: Form) -> dict[str, Any]:
    """The sheet as the editor form posted it."""
    inputs = [_text(form, f"input-{j}") for j in range(_count(form, "input-{}"))]
    outputs = [_text(form, f"output-{k}") for k in range(_count(form, "output-{}"))]
    rows = [
        {
            "id": _text(form, f"row-{i}-id", 20),
            "when": [_text(form, f"row-{i}-when-{j}") for j in range(len(inputs))],
            "then": [_text(form, f"row-{i}-then-{k}") for k in range(len(outputs))],
            "note": _text(form, f"row-{i}-note"),
        }
        for i in range(_count(form, "row-{}-id"))
    ]
    default = {name: _text(form, f"default-{k}") for k, name in enumerate(outputs) if _text(form, f"default-{k}")}
    flows = []
    for f in range(_count(form, "flow-{}-key")):
        steps = []
        for s in range(_count(form, f"flow-{f}-step-{{}}-role")):
            at = f"flow-{f}-step-{s}-"
            steps.append(
                {
                    "role": _text(form, at + "role"),
                    "user": _text(form, at + "user"),
                    "timeout_minutes": _number(_text(form, at + "timeout_minutes")),
                    "on_timeout": _text(form, at + "on_timeout") or "escalate",
                    "escalate_to": _text(form, at + "escalate_to") or "admin",
                }
            )
        flows.append({"key": _text(form, f"flow-{f}-key", 40), "name": _text(form, f"flow-{f}-name"), "steps": steps})
    timers = [
        {
            "id": _text(form, f"timer-{t}-id", 20) or f"t{t + 1}",
            "after": _text(form, f"timer-{t}-after"),
            "unless": [u.strip() for u in _text(form, f"timer-{t}-unless", 2000).split(",") if u.strip()],
            "minutes": _number(_text(form, f"timer-{t}-minutes")),
            "action": _text(form, f"timer-{t}-action"),
            "value": _text(form, f"timer-{t}-value"),
        }
        for t in range(_count(form, "timer-{}-after"))
    ]
    return {
        "hit_policy": _text(form, "hit_policy") or "first",
        "inputs": inputs,
        "outputs": outputs,
        "rows": rows,
        "default": default,
        "flows": flows,
        "timers": timers,
    }


def _free(prefix: str, taken: list[str]) -> str:
    n = len(taken) + 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def _drop(items: list[Any], index: int) -> None:
    if 0 <= index < len(items):
        del items[index]


def apply(sheet: dict[str, Any], op: str, form: Form, *, hook: str) -> dict[str, Any]:
    """One editing move on the sheet (in place; returned for convenience). ``op`` is what
    the clicked button says: ``add_row``, ``del_row:2``, ``up_row:2``, ``add_input`` (the
    fact in ``new_input``), ``del_input:0``, ``add_output`` (``new_output``), ``del_output:0``,
    ``add_flow``, ``del_flow:0``, ``add_step:0``, ``del_step:0:1``, ``add_timer``,
    ``del_timer:0``. Anything else changes nothing."""
    name, *args = op.split(":")
    try:
        at = [int(a) for a in args]
    except ValueError:
        return sheet
    rows, flows = sheet["rows"], sheet["flows"]
    if name == "add_row":
        ids = [r["id"] for r in rows]
        rows.append(
            {
                "id": _free("r", ids),
                "when": [""] * len(sheet["inputs"]),
                "then": [""] * len(sheet["outputs"]),
                "note": "",
            }
        )
    elif name == "del_row" and at:
        _drop(rows, at[0])
    elif name == "up_row" and at and 0 < at[0] < len(rows):
        rows[at[0] - 1], rows[at[0]] = rows[at[0]], rows[at[0] - 1]
    elif name == "add_input":
        fact = _text(form, "new_input")
        if fact in FACTS and fact not in sheet["inputs"]:
            sheet["inputs"].append(fact)
            for r in rows:
                r["when"].append("")
    elif name == "del_input" and at and 0 <= at[0] < len(sheet["inputs"]):
        del sheet["inputs"][at[0]]
        for r in rows:
            _drop(r["when"], at[0])
    elif name == "add_output":
        outcome = _text(form, "new_output")
        if outcome in outcomes_for(hook) and outcome not in sheet["outputs"]:
            sheet["outputs"].append(outcome)
            for r in rows:
                r["then"].append("")
    elif name == "del_output" and at and 0 <= at[0] < len(sheet["outputs"]):
        sheet["default"].pop(sheet["outputs"].pop(at[0]), None)
        for r in rows:
            _drop(r["then"], at[0])
    elif name == "add_flow":
        flows.append({"key": _free("flow-", [f["key"] for f in flows]), "name": "", "steps": [dict(NEW_STEP)]})
    elif name == "del_flow" and at:
        _drop(flows, at[0])
    elif name == "add_step" and at and 0 <= at[0] < len(flows):
        flows[at[0]]["steps"].append(dict(NEW_STEP))
    elif name == "del_step" and len(at) == 2 and 0 <= at[0] < len(flows):
        _drop(flows[at[0]]["steps"], at[1])
    elif name == "add_timer":
        ids = [str(t.get("id")) for t in sheet["timers"]]
        sheet["timers"].append(
            {
                "id": _free("t", ids),
                "after": "order.captured",
                "unless": [],
                "minutes": 30,
                "action": "notify",
                "value": "",
            }
        )
    elif name == "del_timer" and at:
        _drop(sheet["timers"], at[0])
    return sheet


def _flow_index(key: str, sheet: dict[str, Any]) -> int:
    keys = [f["key"] for f in sheet["flows"]]
    if key in keys:
        return keys.index(key)
    return int(key) if key.isdigit() and int(key) < len(keys) else -1


def _field(parts: list[str], sheet: dict[str, Any]) -> tuple[str, str]:
    """A pointer's parts (after ``/content``) as (form field name, where it is, in words)."""
    head = parts[0] if parts else ""
    if head == "hit_policy":
        return "hit_policy", "hit policy"
    if head in ("inputs", "outputs"):
        kind = "condition" if head == "inputs" else "outcome"
        if len(parts) > 1 and parts[1].isdigit():
            return f"{head[:-1]}-{parts[1]}", f"{kind} column {int(parts[1]) + 1}"
        return "general", f"{kind} columns"
    if head == "rows" and len(parts) > 1 and parts[1].isdigit():
        i = int(parts[1])
        if len(parts) > 3 and parts[2] in ("when", "then") and parts[3].isdigit():
            names = sheet["inputs"] if parts[2] == "when" else sheet["outputs"]
            j = int(parts[3])
            column = names[j] if j < len(names) else f"column {j + 1}"
            return f"row-{i}-{parts[2]}-{j}", f"row {i + 1}, {column}"
        return f"row-{i}", f"row {i + 1}"
    if head == "default" and len(parts) > 1 and parts[1] in sheet["outputs"]:
        return f"default-{sheet['outputs'].index(parts[1])}", f"default {parts[1]}"
    if head == "flows":
        key = parts[1] if len(parts) > 1 else ""  # "/flows/" is the flow with an empty key
        f = _flow_index(key, sheet)
        if f < 0:
            return "general", f"flow {key}"
        if len(parts) > 3 and parts[2] == "steps" and parts[3].isdigit():
            s = int(parts[3])
            if len(parts) > 4:
                return f"flow-{f}-step-{s}-{parts[4]}", f"flow {key}, step {s + 1}, {parts[4].replace('_', ' ')}"
            return f"flow-{f}-step-{s}-role", f"flow {key}, step {s + 1}"
        if len(parts) > 2 and parts[2] == "steps":
            return f"flow-{f}-name", f"flow {key}, steps"
        return f"flow-{f}-key", f"flow {key}"
    if head == "timers" and len(parts) > 1 and parts[1].isdigit():
        t = int(parts[1])
        if len(parts) > 2:
            return f"timer-{t}-{parts[2]}", f"timer {t + 1}, {parts[2]}"
        return f"timer-{t}-after", f"timer {t + 1}"
    return "general", "the rule set"


def place(errors: list[dict[str, str]], sheet: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Problems by form field (several on one field are joined), and the same as a list in
    words for the summary above the editor (each with the field to jump to)."""
    by_field: dict[str, str] = {}
    listed = []
    for error in errors:
        pointer = error.get("pointer") or ""
        for prefix in ("/content/", "/sheet/"):  # into the request body / the form's own checks
            pointer = pointer.removeprefix(prefix[:-1]) if pointer.startswith(prefix) else pointer
        name, where = _field([p for p in pointer.split("/") if p], sheet)
        by_field[name] = f"{by_field[name]}; {error['detail']}" if name in by_field else error["detail"]
        listed.append({"field": name, "where": where, "detail": error["detail"]})
    return by_field, listed


# -- a version's changes, in words ------------------------------------------------------------
def _cells(row: dict[str, Any], content: dict[str, Any]) -> dict[str, str]:
    """A row's non-empty cells by column: conditions by fact, outcomes as ``→ outcome``."""
    out = {n: str(c) for n, c in zip(content.get("inputs") or [], row.get("when") or [], strict=False) if c}
    out.update(
        {f"→ {n}": str(c) for n, c in zip(content.get("outputs") or [], row.get("then") or [], strict=False) if c}
    )
    if row.get("note"):
        out["note"] = str(row["note"])
    return out


def _setting(field: str, value: Any) -> str:
    if not value:
        return "—"
    if field == "flows":
        return "; ".join(
            f"{key}: {flow.get('name') or key} ("
            + " → ".join(str(s.get("user") or s.get("role")) for s in flow.get("steps") or [])
            + ")"
            for key, flow in value.items()
        )
    if field == "timers":
        return "; ".join(
            f"{t.get('minutes')} min after {t.get('after')}: {t.get('action')} {t.get('value') or ''}".strip()
            for t in value
        )
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def readable_diff(d: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``versions.diff`` in words: settings as text, added and removed rows as their cells,
    changed rows as the cells that differ (before → after)."""
    changed = []
    for c in d["changed"]:
        old, new = _cells(c["before"], before), _cells(c["after"], after)
        changed.append(
            {
                "id": c["id"],
                "cells": [
                    {"column": k, "before": old.get(k, ""), "after": new.get(k, "")}
                    for k in dict.fromkeys([*old, *new])
                    if old.get(k, "") != new.get(k, "")
                ],
            }
        )
    return {
        "same": d["same"],
        "reordered": d["reordered"],
        "settings": [
            {
                "field": s["field"].replace("_", " "),
                "before": _setting(s["field"], s["before"]),
                "after": _setting(s["field"], s["after"]),
            }
            for s in d["settings"]
        ],
        "added": [{"id": r["id"], "cells": _cells(r, after)} for r in d["added"]],
        "removed": [{"id": r["id"], "cells": _cells(r, before)} for r in d["removed"]],
        "changed": changed,
    }
