"""The forecast context's pure parts: the history file's format and checks, where a captured
line's demand is counted, and what cancellations and edits take back."""

from __future__ import annotations

from datetime import UTC, date, datetime

from orderhub.forecast.model import (
    CapturedLine,
    Delta,
    DemandRow,
    LineState,
    RowError,
    add_up,
    apply_change,
    captured_lines,
    parse_history,
    region_of,
    total_by_key,
)

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)


def test_a_good_file_is_read_row_by_row_with_revenue_in_minor_units() -> None:
    text = "sku,date,location,quantity,price,ignored\nA-1,2026-03-02,BY,3,2.55,x\nA-1,2026-03-03,node:ST-1,0.5,,y\n"
    parsed = parse_history(text.splitlines(), currency="EUR")
    assert parsed.errors == []
    assert parsed.rows == [
        DemandRow(D1, "A-1", "BY", 3.0, 765, "EUR"),
        DemandRow(D2, "A-1", "node:ST-1", 0.5, 0, ""),
    ]
    assert parsed.lines == 3


def test_the_header_may_start_with_a_byte_order_mark_and_price_may_be_left_out() -> None:
    parsed = parse_history(["\ufeffdate,sku,location,quantity", "2026-03-02 10:15:00,A,DE,2"])
    assert parsed.rows == [DemandRow(D1, "A", "DE", 2.0, 0, "")]


def test_every_bad_row_is_reported_with_its_line_and_field_and_skipped() -> None:
    text = [
        "date,sku,location,quantity,price",
        "2026-03-02,A,BY,2,1.00",  # line 2: good
        "2026-02-30,A,BY,2,1.00",  # line 3: no such day
        "2026-03-02,,BY,x,1.00",  # line 4: two bad fields
        "2026-03-02,A,BY,-1,1.00",  # line 5: a return
        "2026-03-02,A,BY,nan,1.00",  # line 6
        "2026-03-02,A," + "L" * 65 + ",1,-2",  # line 7: location too long, negative price
        "2026-03-02,A,BY",  # line 8: quantity missing
    ]
    parsed = parse_history(text)
    assert [r.quantity for r in parsed.rows] == [2.0]
    assert [(e.line, e.field) for e in parsed.errors] == [
        (3, "date"),
        (4, "sku"),
        (4, "quantity"),
        (5, "quantity"),
        (6, "quantity"),
        (7, "location"),
        (7, "price"),
        (8, "quantity"),
    ]
    assert str(parsed.errors[3]) == "line 5, quantity: negative (a return or a correction is not demand)"
    assert parsed.errors[0].detail == "'2026-02-30' is not a date (YYYY-MM-DD)"


def test_a_missing_column_is_one_error_on_line_1_and_no_row_is_read() -> None:
    parsed = parse_history(["date,sku,qty", "2026-03-02,A,1"])
    assert parsed.rows == []
    assert parsed.errors == [RowError(1, "header", "missing column(s) location, quantity; found date, sku, qty")]
    assert parse_history([]).errors == [RowError(1, "header", "the file is empty")]


def test_rows_of_one_day_add_up_and_revenue_only_within_one_currency() -> None:
    rows = [
        DemandRow(D1, "A", "BY", 1.0, 100, "EUR"),
        DemandRow(D1, "A", "BY", 2.0, 300, "EUR"),
        DemandRow(D1, "A", "BY", 1.0, 999, "USD"),
        DemandRow(D2, "A", "BY", 4.0, 0, ""),
    ]
    totals = total_by_key(rows)
    assert totals[("A", "BY", D1)] == DemandRow(D1, "A", "BY", 4.0, 400, "EUR")
    assert totals[("A", "BY", D2)].quantity == 4.0


def test_demand_is_counted_at_the_destination_region_else_its_country() -> None:
    assert region_of({"country": "de", "region": "BY"}) == "BY"
    assert region_of({"country": "de", "region": ""}) == "DE"
    assert region_of({}) == "unknown"


CAPTURED = {
    "currency": "EUR",
    "placed_at": "2026-03-02T23:30:00+00:00",
    "delivery_method": "pickup",
    "pickup_node_id": "ST-MUC",
    "destination": {"country": "DE", "region": "BY"},
    "items": [
        {"line_id": "l1", "sku": "A", "quantity": 2, "unit_price": "10.00"},
        {"line_id": "l2", "sku": "B", "quantity": 1, "unit_price": "5.50"},
    ],
}


def test_a_captured_pickup_counts_on_its_placing_day_at_the_region_and_the_node() -> None:
    at = datetime(2026, 3, 3, 8, tzinfo=UTC)  # the event came later than the order was placed
    lines = captured_lines("o1", CAPTURED, at, 2)
    assert lines == [
        CapturedLine("o1", "l1", "A", "BY", "node:ST-MUC", D1, 2, 1000, "EUR"),
        CapturedLine("o1", "l2", "B", "BY", "node:ST-MUC", D1, 1, 550, "EUR"),
    ]
    shipped = captured_lines("o2", {**CAPTURED, "delivery_method": "ship"}, at, 2)
    assert {x.node for x in shipped} == {""}  # a delivery names no node


def _state() -> dict[str, LineState]:
    lines = captured_lines("o1", CAPTURED, datetime(2026, 3, 3, tzinfo=UTC), 2)
    return {x.line_id: LineState(x, x.quantity) for x in lines}


def test_a_cancelled_line_is_taken_back_at_both_locations_and_never_below_what_is_open() -> None:
    lines = _state()
    deltas = apply_change("order.line_cancelled", {"line_id": "l1", "quantity": 1}, lines, "o1")
    assert deltas == [Delta("A", "BY", D1, -1.0, -1000, "EUR"), Delta("A", "node:ST-MUC", D1, -1.0, -1000, "EUR")]
    assert (lines["l1"].cancelled, lines["l1"].open) == (1, 1)
    more = apply_change("order.line_cancelled", {"line_id": "l1", "quantity": 5}, lines, "o1")
    assert [d.quantity for d in more] == [-1.0, -1.0]  # only the one unit still open
    assert apply_change("order.line_cancelled", {"line_id": "nope", "quantity": 1}, lines, "o1") == []


def test_cancelling_the_order_takes_back_every_open_unit_once() -> None:
    lines = _state()
    apply_change("order.line_cancelled", {"line_id": "l1", "quantity": 1}, lines, "o1")
    deltas = apply_change("order.status_changed", {"from": "paid", "to": "cancelled"}, lines, "o1")
    assert add_up(deltas) == [
        Delta("A", "BY", D1, -1.0, -1000, "EUR"),
        Delta("A", "node:ST-MUC", D1, -1.0, -1000, "EUR"),
        Delta("B", "BY", D1, -1.0, -550, "EUR"),
        Delta("B", "node:ST-MUC", D1, -1.0, -550, "EUR"),
    ]
    assert apply_change("order.status_changed", {"to": "cancelled"}, lines, "o1") == []
    assert apply_change("order.status_changed", {"to": "shipped"}, _state(), "o1") == []


def test_edits_move_demand_quantity_lines_and_address() -> None:
    lines = _state()
    up = apply_change("order.edited", {"field": "quantity", "line_id": "l1", "before": 2, "after": 5}, lines, "o1")
    assert [d.quantity for d in up] == [3.0, 3.0]
    added = apply_change(
        "order.edited", {"field": "lines", "added": {"line_id": "l3", "sku": "C", "quantity": 4}}, lines, "o1"
    )
    assert added == [Delta("C", "BY", D1, 4.0, 0, "EUR"), Delta("C", "node:ST-MUC", D1, 4.0, 0, "EUR")]
    assert lines["l3"].is_new
    removed = apply_change("order.edited", {"field": "lines", "removed": {"line_id": "l2", "sku": "B"}}, lines, "o1")
    assert [d.quantity for d in removed] == [-1.0, -1.0]
    moved = apply_change(
        "order.edited", {"field": "shipping_address", "after": {"country": "DE", "region": "BE"}}, lines, "o1"
    )
    assert add_up(moved) == [
        Delta("A", "BY", D1, -5.0, -5000, "EUR"),
        Delta("A", "BE", D1, 5.0, 5000, "EUR"),
        Delta("C", "BY", D1, -4.0, 0, "EUR"),
        Delta("C", "BE", D1, 4.0, 0, "EUR"),
    ]  # the node's own demand stays where it is; the removed line had nothing open to move


def test_the_online_retail_file_becomes_stockcode_by_country_by_day_less_its_cancellations() -> None:
    from collections import Counter

    from orderhub.forecast import online_retail

    text = [
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        "1,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
        "2,85123A,HEART,4,2010-12-01 09:00:00,2.00,17851.0,United Kingdom",
        "3,85123A,HEART,2,2010-12-01 09:00:00,2.55,12345.0,France",
        "C4,85123A,HEART,-3,2010-12-01 10:00:00,2.55,17850.0,United Kingdom",  # cancelled the same day
        "5,23843,PAPER CRAFT,80995,2011-12-09 09:15:00,2.08,16446.0,United Kingdom",
        "C6,23843,PAPER CRAFT,-80995,2011-12-09 09:27:00,2.08,16446.0,United Kingdom",
        "7,POST,POSTAGE,1,2010-12-01 10:00:00,18.00,12345.0,France",
        "8,22000,FREEBIE,5,2010-12-01 10:00:00,0.00,,United Kingdom",
        "9,22001,LOST,-5,2010-12-01 10:00:00,0.00,,United Kingdom",
    ]
    counts: Counter[str] = Counter()
    rows = list(online_retail.convert(text, counts))
    assert rows == [
        {"date": "2010-12-01", "sku": "85123A", "location": "France", "quantity": 2, "price": "2.5500"},
        {"date": "2010-12-01", "sku": "85123A", "location": "United Kingdom", "quantity": 7, "price": "2.3300"},
    ]
    assert counts == Counter(
        {
            "lines": 9,
            "kept": 4,
            "cancellations (taken off their day)": 2,
            "days cancelled to 0": 1,
            "not a product (postage, fees, vouchers)": 1,
            "price 0 (adjustments)": 1,
            "other quantity ≤ 0 (corrections)": 1,
        }
    )
