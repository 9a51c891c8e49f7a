"""The forecast context's domain: daily demand rows, the history file's format and its checks,
where a captured line's demand is counted (its location), and what a cancellation takes back.

Pure: standard library and ``orderhub.core`` only. The numeric work (models, backtests,
metrics) lives in ``engine.py`` and ``metrics.py``, which need numpy and statsforecast.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

#: The history file's columns (docs/forecast.md); ``price`` may be left out.
REQUIRED_COLUMNS = ("date", "sku", "location", "quantity")
OPTIONAL_COLUMNS = ("price",)
MAX_KEY = 64  # characters in a SKU or a location, as the order tables take them
NODE_PREFIX = "node:"  # a location that is a node (a store's local demand), not a region


@dataclass(frozen=True, slots=True)
class DemandRow:
    """Units of ``sku`` asked for at ``location`` on ``day`` (and what they sold for, in
    minor units of ``currency``; 0 when unknown)."""

    day: date
    sku: str
    location: str
    quantity: float
    revenue_minor: int = 0
    currency: str = ""


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad row of a history file: its line number (the header is line 1), the field and
    what is wrong with it."""

    line: int
    field: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "detail": self.detail}

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.detail}"


@dataclass(slots=True)
class ParsedHistory:
    """What a history file held: the good rows, every bad row (line and field), and the file's
    line count. A strict reader refuses the file when ``errors`` is not empty; a lenient one
    (the backtest) skips the bad rows and says how many."""

    rows: list[DemandRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    lines: int = 0


def _number(text: str) -> float:
    text = text.strip()
    if not text:
        raise ValueError("missing")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text[:30]!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text[:30]!r} is not a finite number")
    if value < 0:
        raise ValueError("negative (a return or a correction is not demand)")
    if value > 10**12:
        raise ValueError("more than 10^12")
    return float(value)


def _day(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) == 10 else datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(f"{text[:30]!r} is not a date (YYYY-MM-DD)") from None


def _key(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError("missing")
    if len(text) > MAX_KEY:
        raise ValueError(f"longer than {MAX_KEY} characters")
    if any(ord(c) < 32 for c in text):
        raise ValueError("holds a control character")
    return text


def minor_units(amount: float, exponent: int) -> int:
    """``amount`` in major units as whole minor units (half away from zero)."""
    scaled = amount * float(10**exponent)
    whole = math.floor(abs(scaled) + 0.5)
    return int(whole if scaled >= 0 else -whole)


def parse_history(lines: Iterable[str], *, currency: str = "", exponent: int = 2) -> ParsedHistory:
    """Read a history file (CSV with a header naming ``date,sku,location,quantity[,price]`` in
    any order; other columns are ignored). Every bad row is reported with its line number and
    field; a missing column is reported once, on line 1, and no row is read.

    ``price`` is the unit price in major units of ``currency``: each row's revenue is
    quantity × price in minor units (``exponent`` decimals)."""
    out = ParsedHistory()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        out.errors.append(RowError(1, "header", "the file is empty"))
        return out
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        out.errors.append(RowError(1, "header", f"missing column(s) {', '.join(missing)}; found {', '.join(names)}"))
        return out
    at = {name: names.index(name) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in names}
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        line = reader.line_num
        parsed = _parse_row(row, at, line, out.errors)
        if parsed is not None:
            day, sku, location, quantity, price = parsed
            revenue = minor_units(quantity * price, exponent) if price is not None else 0
            out.rows.append(DemandRow(day, sku, location, quantity, revenue, currency if price is not None else ""))
    out.lines = reader.line_num
    return out


def _parse_row(
    row: list[str], at: Mapping[str, int], line: int, errors: list[RowError]
) -> tuple[date, str, str, float, float | None] | None:
    found: dict[str, Any] = {}
    bad = False
    for name, parse in (("date", _day), ("sku", _key), ("location", _key), ("quantity", _number), ("price", _number)):
        if name not in at:
            continue
        text = row[at[name]] if at[name] < len(row) else ""
        if name == "price" and not text.strip():
            found[name] = None
            continue
        try:
            found[name] = parse(text)
        except ValueError as exc:
            errors.append(RowError(line, name, str(exc)))
            bad = True
    if bad:
        return None
    return found["date"], found["sku"], found["location"], found["quantity"], found.get("price")


def total_by_key(rows: Iterable[DemandRow]) -> dict[tuple[str, str, date], DemandRow]:
    """Rows of one (sku, location, day) added up (a file may list a day's orders one by one).
    Revenue adds up only within one currency; the first currency seen for a key stays."""
    out: dict[tuple[str, str, date], DemandRow] = {}
    for r in rows:
        key = (r.sku, r.location, r.day)
        seen = out.get(key)
        if seen is None:
            out[key] = r
        else:
            same = not seen.currency or not r.currency or seen.currency == r.currency
            out[key] = DemandRow(
                r.day,
                r.sku,
                r.location,
                seen.quantity + r.quantity,
                seen.revenue_minor + (r.revenue_minor if same else 0),
                seen.currency or r.currency,
            )
    return out


# -- demand from the order's events --------------------------------------------------------------
def region_of(destination: Mapping[str, Any]) -> str:
    """Where an order's demand is counted: the destination's region code as the address gives
    it (the code sourcing's conditions and the nodes use, e.g. ``BY``), else its country; an
    order without either is counted at ``unknown``."""
    region = str(destination.get("region") or "").strip()
    country = str(destination.get("country") or "").strip().upper()
    return (region or country or "unknown")[:MAX_KEY]


def node_location(node_id: str) -> str:
    """The location of a node's own (local) demand: in-store sales and pickups there."""
    return f"{NODE_PREFIX}{node_id}"[:MAX_KEY]


@dataclass(frozen=True, slots=True)
class CapturedLine:
    """Forecast's copy of an order line: enough to take back what is cancelled later (the
    cancellation events name only the line and the units)."""

    order_id: str
    line_id: str
    sku: str
    region: str
    node: str  # a node location, or "" when the order names none
    day: date
    quantity: int
    unit_minor: int
    currency: str


def captured_lines(order_id: str, data: Mapping[str, Any], occurred_at: datetime, exponent: int) -> list[CapturedLine]:
    """The lines of an ``order.captured`` event, each counted on the day the order was placed
    (UTC), at its destination's region and, for an in-store sale or a pickup, at that node."""
    placed = data.get("placed_at") or ""
    day = datetime.fromisoformat(placed).date() if placed else occurred_at.date()
    region = region_of(data.get("destination") or {})
    node_id = str(data.get("pickup_node_id") or "")
    method = str(data.get("delivery_method") or "")
    node = node_location(node_id) if node_id and method in ("in_store", "pickup") else ""
    currency = str(data.get("currency") or "")
    out = []
    for item in data.get("items") or []:
        quantity = int(item.get("quantity") or 0)
        if quantity <= 0 or not item.get("sku"):
            continue
        price = Decimal(str(item.get("unit_price") or "0"))
        out.append(
            CapturedLine(
                order_id=order_id,
                line_id=str(item.get("line_id") or ""),
                sku=str(item["sku"])[:MAX_KEY],
                region=region,
                node=node,
                day=day,
                quantity=quantity,
                unit_minor=minor_units(float(price), exponent),
                currency=currency,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Delta:
    """A change to one day's demand row."""

    sku: str
    location: str
    day: date
    quantity: float
    revenue_minor: int
    currency: str


def deltas_of(line: CapturedLine, units: int, *, region_only: bool = False) -> Iterator[Delta]:
    """``units`` of ``line`` (negative: taken back) at each location the line counts at."""
    for location in (line.region,) if region_only else (line.region, line.node):
        if location and units:
            yield Delta(line.sku, location, line.day, float(units), units * line.unit_minor, line.currency)


@dataclass(slots=True)
class LineState:
    """A copied line as the order's events left it: units ordered and units cancelled."""

    line: CapturedLine
    quantity: int
    cancelled: int = 0
    is_new: bool = False
    is_changed: bool = False

    @property
    def open(self) -> int:
        return max(self.quantity - self.cancelled, 0)


def apply_change(kind: str, data: Mapping[str, Any], order_lines: dict[str, LineState], order_id: str) -> list[Delta]:
    """What an order event after capture does to demand, given the order's copied lines
    (changed in place): cancelled units are taken back from the day the order was placed; an
    edit of a quantity, an added or removed line and a new address move demand accordingly.
    Returns the deltas. Returns and deliveries change nothing: the demand was real."""
    out: list[Delta] = []
    if kind == "order.line_cancelled":
        state = order_lines.get(str(data.get("line_id") or ""))
        if state is not None:
            n = min(int(data.get("quantity") or 0), state.open)
            out += _cancel(state, n)
    elif kind == "order.status_changed" and data.get("to") == "cancelled":
        for state in order_lines.values():
            out += _cancel(state, state.open)
    elif kind == "order.edited":
        out += _edit(data, order_lines, order_id)
    return out


def _cancel(state: LineState, units: int) -> list[Delta]:
    if units <= 0:
        return []
    state.cancelled += units
    state.is_changed = True
    return list(deltas_of(state.line, -units))


def _edit(data: Mapping[str, Any], order_lines: dict[str, LineState], order_id: str) -> list[Delta]:
    what = data.get("field")
    out: list[Delta] = []
    if what == "quantity":
        state = order_lines.get(str(data.get("line_id") or ""))
        after = int(data.get("after") or 0)
        if state is not None and after > 0:
            before_open = state.open
            state.quantity, state.is_changed = after, True
            out += deltas_of(state.line, state.open - before_open)
    elif what == "lines" and data.get("removed"):
        state = order_lines.get(str(data["removed"].get("line_id") or ""))
        if state is not None:
            out += _cancel(state, state.open)
    elif what == "lines" and data.get("added") and order_lines:
        added = data["added"]
        like = next(iter(order_lines.values())).line  # the order's day, region and node
        line = CapturedLine(
            order_id, str(added.get("line_id") or ""), str(added.get("sku") or "")[:MAX_KEY], like.region,
            like.node, like.day, int(added.get("quantity") or 0), 0, like.currency,
        )  # fmt: skip
        if line.sku and line.quantity > 0 and line.line_id not in order_lines:
            order_lines[line.line_id] = LineState(line, line.quantity, is_new=True)
            out += deltas_of(line, line.quantity)
    elif what == "shipping_address" and isinstance(data.get("after"), Mapping):
        region = region_of(data["after"])
        for state in order_lines.values():
            if state.line.region != region:
                out += deltas_of(state.line, -state.open, region_only=True)
                state.line = replace(state.line, region=region)
                state.is_changed = True
                out += deltas_of(state.line, state.open, region_only=True)
    return out


def add_up(deltas: Iterable[Delta]) -> list[Delta]:
    """Deltas of one (sku, location, day) as one, so a batch writes each row once."""
    out: dict[tuple[str, str, date, str], Delta] = {}
    for d in deltas:
        key = (d.sku, d.location, d.day, d.currency)
        seen = out.get(key)
        out[key] = (
            d
            if seen is None
            else Delta(
                d.sku, d.location, d.day, seen.quantity + d.quantity, seen.revenue_minor + d.revenue_minor, d.currency
            )
        )
    return [d for d in out.values() if d.quantity or d.revenue_minor]
