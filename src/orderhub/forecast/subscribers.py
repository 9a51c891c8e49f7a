"""The demand history kept current from the bus (subscriber ``forecast.demand``, registered in
``orderhub.wiring``): forecast never imports orders, it learns of them from their events.

- ``order.captured`` adds each line's units (and revenue) to the day the order was placed, at
  the destination's region and, for an in-store sale or a pickup, at that node; the lines are
  copied (``forecast_lines``), since later events name only a line and its units;
- ``order.line_cancelled``, ``order.status_changed`` to ``cancelled``, and the edits (quantity,
  an added or removed line, a new address) take back or move what they change, on the day the
  order was placed.
"""

from __future__ import annotations

from sqlalchemy import Connection

from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import as_utc, utcnow
from orderhub.core.events import DomainEvent
from orderhub.core.money import currency_exponent, is_known_currency
from orderhub.forecast import store
from orderhub.forecast.model import Delta, LineState, add_up, apply_change, captured_lines, deltas_of

CAPTURED = "order.captured"
TYPES = frozenset({CAPTURED, "order.line_cancelled", "order.status_changed", "order.edited"})


def record_demand(conn: Connection, event: DomainEvent) -> None:
    """One event: what ``record_demand_batch`` does for a batch of one."""
    record_demand_batch(conn, [event])


def record_demand_batch(conn: Connection, events: list[DomainEvent]) -> None:
    """A batch of order events, in order: the copied lines of the orders it touches are read
    once, changed in memory, and the day rows written in one statement (each key once)."""
    wanted = [e for e in events if e.type in TYPES]
    if not wanted:
        return
    # one read for every order of the batch: a capture seen before (a replay) counts nothing
    known = store.order_lines(conn, {e.aggregate_id for e in wanted})
    deltas: list[Delta] = []
    for event in wanted:
        if event.type == CAPTURED:
            if event.aggregate_id in known:
                continue  # the same order captured twice: counted once
            currency = str(event.data.get("currency") or "")
            exponent = currency_exponent(currency) if is_known_currency(currency) else 2
            new = captured_lines(event.aggregate_id, event.data, as_utc(event.occurred_at), exponent)
            known[event.aggregate_id] = {x.line_id: LineState(x, x.quantity, is_new=True) for x in new}
            for line in new:
                deltas += deltas_of(line, line.quantity)
        elif event.aggregate_id in known:  # an order from before forecast existed: nothing to take back
            deltas += apply_change(event.type, event.data, known[event.aggregate_id], event.aggregate_id)
    store.save_lines(conn, [s for lines in known.values() for s in lines.values()])
    store.add_demand(conn, add_up(deltas), now=utcnow())


DEMAND = Subscriber(
    name="forecast.demand",
    handle=record_demand,
    handle_batch=record_demand_batch,
    types=TYPES,
    description="daily demand per SKU and location from captured orders, less what is cancelled",
    start="beginning",
)
