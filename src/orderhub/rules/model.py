"""Rule sets as data: decision tables, approval flows and timers, validated and compiled to
GoRules JDM for zen-engine. Pure: no I/O.

A business user writes a table as rows and columns. Each input column reads one *fact* of the
order (``FACTS``: a fixed catalogue, typed); each output column sets one *outcome* the hook
point understands (``OUTCOMES``). Cells are short texts in the notation people already type in
spreadsheets — ``DE, AT``, ``> 500``, ``[10..50]``, ``not DE``, ``yes`` — parsed here into
conditions, checked against the column's type, and re-written as zen unary expressions. Nothing
a user types is ever executed as Python; zen evaluates only the expressions this module writes
(and, for number outcomes, an ``= expression`` the user gave, validated by zen's parser).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The hook points a rule set attaches to, and what each one may decide.
HOOKS: dict[str, str] = {
    "order.captured": "A new order was taken: hold it for approval, tag it, set its priority.",
    "order.before_sourcing": "Stock is about to be placed: choose the sourcing strategy.",
    "order.exception": "Something went wrong (backorder, hold, cancelled line, failed payment): tag, hold, prioritise.",
    "order.before_release": "The order is released to the warehouse: set its picking priority, hold or ask approval.",
    "reservation.created": "Stock was reserved for an unpaid order: how long the presale lock lasts.",
    "timers": "When something has not happened N minutes after something else, act.",
}

#: Facts an input column may read: name → (type, meaning). Types: string, number, boolean, list.
FACTS: dict[str, tuple[str, str]] = {
    "channel": ("string", "sales channel (web, shopify, pos, …)"),
    "country": ("string", "destination country (ISO 3166 alpha-2)"),
    "region": ("string", "destination region (state, Land, county code)"),
    "city": ("string", "destination city"),
    "address_complete": ("boolean", "street, postal code, city and country are all given"),
    "billing_country_differs": ("boolean", "the billing country is not the destination country"),
    "total": ("number", "order total in its currency (major units)"),
    "currency": ("string", "ISO 4217 currency of the order"),
    "tier": ("string", "customer tier (standard, silver, gold, vip)"),
    "email_domain": ("string", "the customer's e-mail domain"),
    "items": ("number", "units ordered (open lines)"),
    "lines": ("number", "order lines"),
    "skus": ("list", "SKUs on the order"),
    "tags": ("list", "tags already on the order (campaigns arrive as tags)"),
    "campaign": ("string", "the campaign of a tag 'campaign:NAME', else empty"),
    "delivery_method": ("string", "ship or pickup"),
    "delivery_option": ("string", "standard, express, consolidated, …"),
    "promise_days": ("number", "delivery promised within this many days of the order"),
    "hours_to_promise": ("number", "hours left until the promised delivery date (negative: late)"),
    "status": ("string", "order status"),
    "payment_status": ("string", "payment status"),
    "nodes": ("number", "fulfilment nodes serving the order (more than 1: a split shipment)"),
    "exception": ("string", "what went wrong, at the order.exception hook (backordered, on_hold, …)"),
    "hour": ("number", "hour of the day (UTC) when the rule runs"),
}

STRATEGIES = ("cheapest", "fastest", "greenest", "balanced")

#: Outcomes an output column may set: name → (type, meaning, hooks that accept it).
OUTCOMES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "approval": (
        "string",
        "hold the order until the named approval flow is approved",
        ("order.captured", "order.before_release"),
    ),
    "hold": (
        "string",
        "hold the order with this reason",
        ("order.captured", "order.exception", "order.before_release"),
    ),
    "tag": (
        "string",
        "add this tag (every matching row adds its own)",
        ("order.captured", "order.exception", "order.before_release"),
    ),
    "priority": (
        "number",
        "picking priority score (collect: the matching rows' scores add up)",
        ("order.captured", "order.exception", "order.before_release"),
    ),
    "strategy": ("strategy", "sourcing strategy: " + ", ".join(STRATEGIES), ("order.before_sourcing",)),
    "lock_minutes": ("number", "how long the unpaid order's stock stays reserved", ("reservation.created",)),
}

HIT_POLICIES = ("first", "collect", "unique")
TIMER_ACTIONS = ("release_reservation", "escalate", "notify", "tag", "hold", "cancel")
TIMEOUT_ACTIONS = ("approve", "reject", "escalate")
ROLES = ("operator", "editor", "publisher", "admin")
SCOPE_KEYS = ("region", "channel", "node")
MAX_ROWS = 500
MAX_COLUMNS = 12
_WORD = re.compile(r"^[\w .:@/+#&'-]{1,80}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9:._-]{0,39}$")
_NUMBER = r"-?\d+(?:\.\d+)?"
_COMPARE = re.compile(rf"^(>=|<=|>|<|=|!=)?\s*({_NUMBER})$")
_RANGE = re.compile(rf"^([\[(])\s*({_NUMBER})\s*\.\.\s*({_NUMBER})\s*([\])])$")
ANY = ("", "-", "any", "*")


class RuleError(ValueError):
    """A rule set that cannot be saved; ``errors`` point at each bad part (JSON pointers)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['pointer']}: {e['detail']}" for e in errors))
        self.errors = errors


# -- conditions -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Interval:
    """A number condition: lo..hi, each end open or closed (None: unbounded)."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_closed: bool = False
    hi_closed: bool = False
    not_equal: float | None = None

    def meets(self, other: Interval) -> bool:
        if self.not_equal is not None or other.not_equal is not None:
            return True  # "≠ x" leaves an infinite set: it meets any non-empty interval
        lo, lo_closed = max((self.lo, self.lo_closed), (other.lo, other.lo_closed), key=lambda e: (e[0], not e[1]))
        hi, hi_closed = min((self.hi, self.hi_closed), (other.hi, other.hi_closed), key=lambda e: (e[0], e[1]))
        return lo < hi or (lo == hi and lo_closed and hi_closed)


@dataclass(frozen=True, slots=True)
class Choice:
    """A string condition: one of ``values`` (or none of them, ``negated``); for a list fact,
    "contains any of"."""

    values: frozenset[str]
    negated: bool = False

    def meets(self, other: Choice, *, is_list: bool) -> bool:
        if self.negated and other.negated:
            return True  # two exclusions leave infinitely many strings (or the empty list)
        if is_list and not self.negated and not other.negated:
            return True  # a list can hold one of each
        if self.negated:
            return bool(other.values - self.values)
        if other.negated:
            return bool(self.values - other.values)
        return bool(self.values & other.values)


Condition = Interval | Choice | bool | None


def _words(text: str, pointer: str) -> frozenset[str]:
    out = []
    for part in text.split(","):
        word = part.strip().strip('"').strip()
        if not word or not _WORD.match(word):
            raise RuleError(
                [{"pointer": pointer, "detail": f"{part.strip()!r} is not a value (letters, digits, . : - _ / @)"}]
            )
        out.append(word)
    return frozenset(out)


def parse_cell(text: str, kind: str, pointer: str) -> Condition:
    """One input cell, as typed, into a condition of the column's type."""
    text = text.strip()
    if text.lower() in ANY:
        return None
    if kind == "number":
        if m := _RANGE.match(text):
            lo, hi = float(m.group(2)), float(m.group(3))
            if lo > hi or (lo == hi and (m.group(1) == "(" or m.group(4) == ")")):
                raise RuleError([{"pointer": pointer, "detail": f"range {text!r} matches nothing"}])
            return Interval(lo, hi, m.group(1) == "[", m.group(4) == "]")
        if m := _COMPARE.match(text):
            op, x = m.group(1) or "=", float(m.group(2))
            return {
                ">": Interval(lo=x),
                ">=": Interval(lo=x, lo_closed=True),
                "<": Interval(hi=x),
                "<=": Interval(hi=x, hi_closed=True),
                "=": Interval(x, x, True, True),
                "!=": Interval(not_equal=x),
            }[op]
        raise RuleError([{"pointer": pointer, "detail": f"{text!r} is not a number condition (> 5, <= 10, [1..5], 7)"}])
    if kind == "boolean":
        value = {"yes": True, "true": True, "no": False, "false": False}.get(text.lower())
        if value is None:
            raise RuleError([{"pointer": pointer, "detail": f"{text!r} is not yes or no"}])
        return value
    negated = text.lower().startswith("not ")
    return Choice(_words(text[4:] if negated else text, pointer), negated=negated)


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else repr(x)


def to_unary(cond: Condition, kind: str) -> str:
    """A condition as zen's unary expression (``$`` is the fact)."""
    if cond is None:
        return ""
    if isinstance(cond, bool):
        return "true" if cond else "false"
    if isinstance(cond, Choice):
        quoted = ", ".join(json.dumps(v) for v in sorted(cond.values))
        if kind == "list":
            return f"{'none' if cond.negated else 'some'}($, # in [{quoted}])"
        return f"not in [{quoted}]" if cond.negated else quoted
    if cond.not_equal is not None:
        return f"$ != {_num(cond.not_equal)}"
    if cond.lo == cond.hi:
        return _num(cond.lo)
    if cond.lo == -math.inf:
        return f"{'<=' if cond.hi_closed else '<'} {_num(cond.hi)}"
    if cond.hi == math.inf:
        return f"{'>=' if cond.lo_closed else '>'} {_num(cond.lo)}"
    return f"{'[' if cond.lo_closed else '('}{_num(cond.lo)}..{_num(cond.hi)}{']' if cond.hi_closed else ')'}"


def to_text(cond: Condition, kind: str) -> str:
    """A condition in the console's notation (what ``parse_cell`` reads back)."""
    if cond is None:
        return ""
    if isinstance(cond, bool):
        return "yes" if cond else "no"
    if isinstance(cond, Choice):
        words = ", ".join(sorted(cond.values))
        return f"not {words}" if cond.negated else words
    return to_unary(cond, kind).replace("$ ", "")


def _meets(a: Condition, b: Condition, kind: str) -> bool:
    if a is None or b is None:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, Choice) and isinstance(b, Choice):
        return a.meets(b, is_list=kind == "list")
    if isinstance(a, Interval) and isinstance(b, Interval):
        return a.meets(b)
    return True


# -- the rule set -----------------------------------------------------------------------------
@dataclass(slots=True)
class Table:
    """A decision table: typed columns, rows of cells, a hit policy."""

    hook: str
    hit_policy: str = "first"
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # {"id", "when": [...], "then": [...], "note"}
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    timers: list[dict[str, Any]] = field(default_factory=list)
    default: dict[str, Any] = field(default_factory=dict)

    def as_content(self) -> dict[str, Any]:
        return {
            "hit_policy": self.hit_policy,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "rows": [dict(r) for r in self.rows],
            "flows": dict(self.flows),
            "timers": [dict(t) for t in self.timers],
            "default": dict(self.default),
        }


def _fail(errors: list[dict[str, str]], pointer: str, detail: str) -> None:
    errors.append({"pointer": pointer, "detail": detail})


ExpressionCheck = Callable[[str], str | None]


def _check_output(
    value: Any, name: str, pointer: str, errors: list[dict[str, str]], check_expression: ExpressionCheck | None = None
) -> Any:
    """An output cell: a literal of the outcome's type, or (numbers) ``= expression``."""
    kind = OUTCOMES[name][0]
    text = str(value).strip() if value is not None else ""
    if text == "":
        return ""
    if kind == "number":
        if text.startswith("="):
            problem = check_expression(text[1:].strip()) if check_expression else "expressions cannot be checked here"
            if problem:
                _fail(errors, pointer, f"expression {text[1:].strip()!r}: {problem}")
                return text
            unknown = (
                set(re.findall(r"[A-Za-z_]\w*", text[1:])) - set(FACTS) - {"true", "false", "null", "and", "or", "not"}
            )
            unknown -= {"round", "floor", "ceil", "abs", "min", "max", "len", "sum", "avg"}
            if unknown:
                _fail(errors, pointer, f"unknown fact {sorted(unknown)[0]!r}; facts: {', '.join(FACTS)}")
            return text
        try:
            number = float(text)
        except ValueError:
            _fail(errors, pointer, f"{text!r} is not a number (or '= expression')")
            return text
        if name == "lock_minutes" and not 0 < number <= 60 * 24 * 60:
            _fail(errors, pointer, "lock_minutes must be between 1 minute and 60 days")
        return _num(number)
    if kind == "strategy":
        if text not in STRATEGIES:
            _fail(errors, pointer, f"{text!r} is not a strategy; one of {', '.join(STRATEGIES)}")
        return text
    if name == "tag" and not _TAG.match(text):
        _fail(errors, pointer, f"tag {text!r}: lower-case letters, digits, ':', '.', '_', '-' (max 40)")
    elif not _WORD.match(text):
        _fail(errors, pointer, f"{text!r}: letters, digits and . : - _ / @ (max 80)")
    return text


def _check_flows(table: Table, errors: list[dict[str, str]]) -> None:
    for key, flow in table.flows.items():
        at = f"/flows/{key}"
        if not _TAG.match(key):
            _fail(errors, at, "a flow's key: lower-case letters, digits, '-', '_' (max 40)")
        steps = flow.get("steps") or []
        if not steps:
            _fail(errors, f"{at}/steps", "a flow needs at least one step")
        for i, step in enumerate(steps):
            here = f"{at}/steps/{i}"
            if not step.get("role") and not step.get("user"):
                _fail(errors, here, "a step is approved by a role or a named user")
            if step.get("role") and step["role"] not in ROLES:
                _fail(errors, f"{here}/role", f"unknown role {step['role']!r}; one of {', '.join(ROLES)}")
            minutes = step.get("timeout_minutes")
            if minutes is not None and (not isinstance(minutes, int | float) or not 0 < minutes <= 60 * 24 * 30):
                _fail(errors, f"{here}/timeout_minutes", "minutes between 1 and 30 days, or none")
            if step.get("on_timeout", "escalate") not in TIMEOUT_ACTIONS:
                _fail(errors, f"{here}/on_timeout", f"one of {', '.join(TIMEOUT_ACTIONS)}")
            if step.get("on_timeout") == "escalate" and step.get("escalate_to", "admin") not in ROLES:
                _fail(errors, f"{here}/escalate_to", f"one of {', '.join(ROLES)}")
    if "approval" in table.outputs:
        col = table.outputs.index("approval")
        for i, row in enumerate(table.rows):
            name = (row.get("then") or [""] * len(table.outputs))[col]
            if name and name not in table.flows:
                _fail(errors, f"/rows/{i}/then/{col}", f"no approval flow {name!r} in this rule set")


def _check_timers(table: Table, errors: list[dict[str, str]]) -> None:
    for i, timer in enumerate(table.timers):
        at = f"/timers/{i}"
        for key in ("after",):
            if not isinstance(timer.get(key), str) or not re.match(r"^[a-z_.]+(:[a-z_]+)?$", timer[key]):
                _fail(errors, f"{at}/{key}", "an event type, optionally with its new state (order.status_changed:paid)")
        unless = timer.get("unless") or []
        if not isinstance(unless, list) or not all(
            isinstance(u, str) and re.match(r"^[a-z_.]+(:[a-z_]+)?$", u) for u in unless
        ):
            _fail(errors, f"{at}/unless", "a list of event types (optionally with ':state')")
        minutes = timer.get("minutes")
        if not isinstance(minutes, int | float) or not 0 < minutes <= 60 * 24 * 60:
            _fail(errors, f"{at}/minutes", "minutes between 1 and 60 days")
        if timer.get("action") not in TIMER_ACTIONS:
            _fail(errors, f"{at}/action", f"one of {', '.join(TIMER_ACTIONS)}")
        if timer.get("action") in ("tag", "hold") and not _TAG.match(str(timer.get("value", ""))):
            _fail(errors, f"{at}/value", "the tag or hold reason (lower-case letters, digits, ':', '-', '_')")


def validate(
    hook: str, content: dict[str, Any], *, check_expression: ExpressionCheck | None = None
) -> tuple[Table, list[list[Condition]]]:
    """Check a rule set and return it normalised, with each row's parsed conditions. Raises
    ``RuleError`` listing every problem: unknown facts or outcomes, an outcome the hook does
    not accept, a cell of the wrong type, overlapping rows under hit policy ``unique``, an
    approval flow that does not exist. ``check_expression`` (zen-engine's parser, given by
    the caller: a model does no I/O and imports no engine) checks ``= expression`` cells."""
    errors: list[dict[str, str]] = []
    if hook not in HOOKS:
        raise RuleError([{"pointer": "/hook", "detail": f"unknown hook {hook!r}; one of {', '.join(HOOKS)}"}])
    table = Table(
        hook=hook,
        hit_policy=content.get("hit_policy") or "first",
        inputs=list(content.get("inputs") or []),
        outputs=list(content.get("outputs") or []),
        rows=[dict(r) for r in content.get("rows") or []],
        flows=dict(content.get("flows") or {}),
        timers=[dict(t) for t in content.get("timers") or []],
        default=dict(content.get("default") or {}),
    )
    if table.hit_policy not in HIT_POLICIES:
        _fail(errors, "/hit_policy", f"one of {', '.join(HIT_POLICIES)}")
    if len(table.rows) > MAX_ROWS or len(table.inputs) > MAX_COLUMNS or len(table.outputs) > MAX_COLUMNS:
        _fail(errors, "/rows", f"at most {MAX_ROWS} rows and {MAX_COLUMNS} columns each side")
    for i, name in enumerate(table.inputs):
        if name not in FACTS:
            _fail(errors, f"/inputs/{i}", f"unknown fact {name!r}; facts: {', '.join(FACTS)}")
    for i, name in enumerate(table.outputs):
        if name not in OUTCOMES:
            _fail(errors, f"/outputs/{i}", f"unknown outcome {name!r}; outcomes: {', '.join(OUTCOMES)}")
        elif hook not in OUTCOMES[name][2]:
            _fail(errors, f"/outputs/{i}", f"the {hook} hook does not take {name!r}")
    if len(set(table.outputs)) != len(table.outputs) or len(set(table.inputs)) != len(table.inputs):
        _fail(errors, "/inputs", "each fact and outcome is one column")
    if hook == "timers":
        if table.inputs or table.outputs or table.rows:
            _fail(errors, "/rows", "a timers rule set has timers, not a table")
    elif not table.outputs:
        _fail(errors, "/outputs", "a table needs at least one outcome column")
    if errors:
        raise RuleError(errors)
    parsed: list[list[Condition]] = []
    for i, row in enumerate(table.rows):
        when, then = list(row.get("when") or []), list(row.get("then") or [])
        if len(when) != len(table.inputs) or len(then) != len(table.outputs):
            _fail(errors, f"/rows/{i}", f"needs {len(table.inputs)} conditions and {len(table.outputs)} outcomes")
            continue
        conds: list[Condition] = []
        for j, (cell, name) in enumerate(zip(when, table.inputs, strict=True)):
            try:
                conds.append(parse_cell(str(cell if cell is not None else ""), FACTS[name][0], f"/rows/{i}/when/{j}"))
            except RuleError as exc:
                errors.extend(exc.errors)
                conds.append(None)
        parsed.append(conds)
        row["when"] = [to_text(c, FACTS[n][0]) for c, n in zip(conds, table.inputs, strict=True)]
        row["then"] = [
            _check_output(v, n, f"/rows/{i}/then/{j}", errors, check_expression)
            for j, (v, n) in enumerate(zip(then, table.outputs, strict=True))
        ]
        row["id"] = str(row.get("id") or f"r{i + 1}")[:20]
        row["note"] = str(row.get("note") or "")[:200]
    if len({r["id"] for r in table.rows}) != len(table.rows):
        _fail(errors, "/rows", "row ids must be unique")
    if table.hit_policy == "unique" and not errors:
        _check_unique(table, parsed, errors)
    for name, value in table.default.items():
        if name not in table.outputs:
            _fail(errors, f"/default/{name}", "a default is given for an outcome column of this table")
        else:
            table.default[name] = _check_output(value, name, f"/default/{name}", errors)
    _check_flows(table, errors)
    _check_timers(table, errors)
    if errors:
        raise RuleError(errors)
    return table, parsed


def _check_unique(table: Table, parsed: list[list[Condition]], errors: list[dict[str, str]]) -> None:
    kinds = [FACTS[n][0] for n in table.inputs]
    for a in range(len(parsed)):
        for b in range(a + 1, len(parsed)):
            if all(_meets(x, y, k) for x, y, k in zip(parsed[a], parsed[b], kinds, strict=True)):
                _fail(
                    errors,
                    f"/rows/{b}",
                    f"rows {table.rows[a]['id']} and {table.rows[b]['id']} overlap: hit policy 'unique' needs "
                    "rows that never match the same order",
                )


# -- compiling to JDM -------------------------------------------------------------------------
def to_jdm(table: Table) -> dict[str, Any]:
    """The table as a GoRules JSON Decision Model (input → decision table → output). Hit policy
    ``unique`` is checked at save, so it evaluates as ``first``."""
    rules = []
    for row in table.rows:
        rule: dict[str, str] = {"_id": row["id"]}
        for j, (cell, name) in enumerate(zip(row["when"], table.inputs, strict=True)):
            kind = FACTS[name][0]
            rule[f"i{j}"] = to_unary(parse_cell(cell, kind, ""), kind)
        for j, (value, name) in enumerate(zip(row["then"], table.outputs, strict=True)):
            rule[f"o{j}"] = _output_expression(value, name)
        rules.append(rule)
    content = {
        "hitPolicy": "collect" if table.hit_policy == "collect" else "first",
        "inputs": [{"id": f"i{j}", "name": n, "field": n} for j, n in enumerate(table.inputs)],
        "outputs": [{"id": f"o{j}", "name": n, "field": n} for j, n in enumerate(table.outputs)],
        "rules": rules,
    }
    node = {"x": 0, "y": 0}
    return {
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": node},
            {"id": "table", "type": "decisionTableNode", "name": table.hook, "position": node, "content": content},
            {"id": "response", "type": "outputNode", "name": "Response", "position": node},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "response", "type": "edge"},
        ],
    }


def _output_expression(value: str, name: str) -> str:
    if value == "":
        return ""
    if OUTCOMES[name][0] == "number":
        return value[1:].strip() if value.startswith("=") else value
    return json.dumps(value)


# -- combining what the rows said ---------------------------------------------------------------
def combine(results: list[dict[str, Any]], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge rows' (or rule sets') outcomes: tags add up as a set, priority scores add up,
    the shortest lock wins, the first approval / hold / strategy wins. A value of the wrong
    type is an error (the caller falls back)."""
    out: dict[str, Any] = dict(into or {})
    for result in results:
        for name, value in result.items():
            if name == "tags" and isinstance(value, list):  # an outcome merged before
                out["tags"] = sorted({*out.get("tags", []), *map(str, value)})
                continue
            if value is None or value == "" or name not in OUTCOMES:
                continue
            kind = OUTCOMES[name][0]
            if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TypeError(f"outcome {name} gave {value!r}, not a number")
            if kind != "number" and not isinstance(value, str):
                raise TypeError(f"outcome {name} gave {value!r}, not text")
            if name == "tag":
                out["tags"] = sorted({*out.get("tags", []), value})
            elif name == "priority":
                out["priority"] = round(out.get("priority", 0) + value)
            elif name == "lock_minutes":
                out["lock_minutes"] = min(out.get("lock_minutes", value), value)
            else:
                out.setdefault(name, value)
    return out


def typed(values: dict[str, Any]) -> dict[str, Any]:
    """A table's declared default outcomes (stored as cell text) with their types."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in OUTCOMES and OUTCOMES[name][0] == "number":
            if str(value).startswith("="):
                continue  # a default is a value, never an expression
            out[name] = float(value)
        else:
            out[name] = value
    return out


def scope_matches(scope: dict[str, str], facts: dict[str, Any]) -> bool:
    """A scoped rule set applies only to orders of its region / channel / node."""
    for key, value in scope.items():
        if key == "node":
            if value not in (facts.get("node_ids") or []):
                return False
        elif facts.get(key) != value:
            return False
    return True
