"""Decision-table cells: what a user types is parsed, type-checked and rewritten for zen-engine,
and the rewrite means what the console shows (checked against zen itself, property-based);
overlaps under hit policy 'unique' are found exactly; outcomes combine as documented."""

from __future__ import annotations

import math

import pytest
import zen
from hypothesis import given, settings
from hypothesis import strategies as st

from orderhub.rules.model import Choice, Interval, RuleError, combine, parse_cell, to_text, to_unary, validate


def holds(text: str, kind: str, value: object) -> bool:
    cond = parse_cell(text, kind, "/x")
    expr = to_unary(cond, kind)
    return True if expr == "" else bool(zen.evaluate_unary_expression(expr, {"$": value}))


@pytest.mark.parametrize(
    ("text", "kind", "true_for", "false_for"),
    [
        ("DE, AT", "string", ["DE", "AT"], ["FR", None]),
        ("not DE, AT", "string", ["FR"], ["DE", "AT"]),
        ("> 500", "number", [500.01, 9e9], [500, -1]),
        ("<= 10", "number", [10, -3], [10.5]),
        ("[10..50]", "number", [10, 50, 30], [9.99, 50.01]),
        ("(10..50]", "number", [10.01, 50], [10]),
        ("[10..50)", "number", [10], [50]),
        ("7", "number", [7], [7.5]),
        ("!= 0", "number", [1, -1], [0]),
        ("yes", "boolean", [True], [False]),
        ("no", "boolean", [False], [True]),
        ("A-1, B-2", "list", [["A-1"], ["X", "B-2"]], [["X"], []]),
        ("not A-1, B-2", "list", [["X"], []], [["A-1"], ["X", "B-2"]]),
        ("", "number", [1, None], []),
    ],
)
def test_a_cell_means_in_zen_what_it_says(text: str, kind: str, true_for: list, false_for: list) -> None:
    assert [holds(text, kind, v) for v in true_for] == [True] * len(true_for)
    assert [holds(text, kind, v) for v in false_for] == [False] * len(false_for)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("lots", "number"), ("(6..6]", "number"), ("[9..1]", "number"), ("maybe", "boolean"), ("a;b", "string")],
)
def test_a_cell_that_is_not_a_condition_of_its_type_is_refused(text: str, kind: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_cell(text, kind, "/rows/0/when/1")
    assert err.value.errors[0]["pointer"] == "/rows/0/when/1"


@pytest.mark.parametrize(
    "text", ["> 5", ">= 5", "< 5", "<= 5", "7", "[1..2]", "(1..2)", "!= 3", "A, B", "not A", "yes"]
)
def test_the_console_notation_reads_back_the_same(text: str) -> None:
    kind = "number" if any(c.isdigit() for c in text) else "boolean" if text == "yes" else "string"
    cond = parse_cell(text, kind, "")
    assert parse_cell(to_text(cond, kind), kind, "") == cond


grid = st.integers(min_value=-3, max_value=3).map(float)
ends = st.booleans()


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    kind = draw(st.sampled_from(["range", "lo", "hi", "eq"]))
    a, b = sorted((draw(grid), draw(grid)))
    if kind == "lo":
        return Interval(lo=a, lo_closed=draw(ends))
    if kind == "hi":
        return Interval(hi=b, hi_closed=draw(ends))
    if kind == "eq":
        return Interval(a, a, True, True)
    lo_closed, hi_closed = draw(ends), draw(ends)
    if a == b:
        lo_closed = hi_closed = True
    return Interval(a, b, lo_closed, hi_closed)


def contains(i: Interval, x: float) -> bool:
    above = x > i.lo or (x == i.lo and i.lo_closed) or i.lo == -math.inf
    below = x < i.hi or (x == i.hi and i.hi_closed) or i.hi == math.inf
    return above and below


@settings(max_examples=400, deadline=None)
@given(intervals(), intervals())
def test_two_number_conditions_overlap_exactly_when_some_number_meets_both(a: Interval, b: Interval) -> None:
    points = [x / 4 for x in range(-20, 21)]  # a grid finer than the ends' spacing
    assert a.meets(b) == any(contains(a, x) and contains(b, x) for x in points)


def test_unique_tables_refuse_rows_that_could_match_one_order_and_take_disjoint_ones() -> None:
    base = {"hit_policy": "unique", "inputs": ["total", "tags"], "outputs": ["tag"]}
    overlapping = [
        {"id": "a", "when": ["> 100", "vip"], "then": ["x"]},
        {"id": "b", "when": ["", "gold"], "then": ["y"]},
    ]
    with pytest.raises(RuleError):  # a list can hold both tags
        validate("order.captured", {**base, "rows": overlapping})
    disjoint = [
        {"id": "a", "when": ["> 100", "vip"], "then": ["x"]},
        {"id": "b", "when": ["", "not vip"], "then": ["y"]},
    ]
    table, _ = validate("order.captured", {**base, "rows": disjoint})
    assert [r["when"] for r in table.rows] == [["> 100", "vip"], ["", "not vip"]]
    assert Choice(frozenset({"A"})).meets(Choice(frozenset({"A"}), negated=True), is_list=False) is False


def test_outcomes_combine_tags_as_a_set_scores_as_a_sum_and_the_shortest_lock() -> None:
    rows = [
        {"tag": "b", "priority": 10, "lock_minutes": 60},
        {"tag": "a", "priority": 5.4, "lock_minutes": 15},
        {"tag": "b"},
    ]
    assert combine(rows) == {"tags": ["a", "b"], "priority": 15, "lock_minutes": 15}
    assert combine([{"strategy": "fastest"}, {"strategy": "greenest"}]) == {"strategy": "fastest"}
    with pytest.raises(TypeError):
        combine([{"priority": "high"}])
