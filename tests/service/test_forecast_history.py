"""The demand history: kept from the order events by the ``forecast.demand`` subscriber (less
what is cancelled), and imported from history files, all rows or none."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.bus import embedded, relay
from orderhub.core.errors import InvalidInput
from orderhub.core.events import DomainEvent
from orderhub.forecast import service as forecast
from orderhub.forecast.store import demand, lines
from orderhub.forecast.subscribers import record_demand_batch
from orderhub.orders import capture
from orderhub.orders import service as orders
from orderhub.platform.db import unit_of_work

DAY = date(2026, 3, 2)


def _capture(engine: Engine, ref: str, *, region: str = "BY", method: str = "ship", node: str = "") -> str:
    doc = {
        "external_ref": ref,
        "currency": "EUR",
        "placed_at": "2026-03-02T21:00:00Z",
        "delivery_method": method,
        "pickup_node_id": node,
        "customer": {"email": "ann@example.com"},
        "shipping_address": {"city": "München", "country": "DE", "region": region, "lat": 48.1, "lon": 11.6},
        "lines": [
            {"sku": "A-1", "quantity": 3, "unit_price": "10.00"},
            {"sku": "B-2", "quantity": 1, "unit_price": "4.50"},
        ],
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def _drain(engine: Engine) -> None:
    while relay.relay_once(engine) or embedded.consume_once(engine, forecast.DEMAND):
        pass


def _demand(engine: Engine) -> dict[tuple[str, str, date], tuple[float, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(demand)).mappings().all()
    return {(r["sku"], r["location"], r["day"]): (r["quantity"], r["revenue_minor"]) for r in rows}


def test_captured_orders_add_up_per_sku_region_and_placing_day(engine: Engine) -> None:
    _capture(engine, "o-1")
    _capture(engine, "o-2")
    _capture(engine, "o-3", region="BE")
    _drain(engine)
    assert _demand(engine) == {
        ("A-1", "BY", DAY): (6.0, 6000),
        ("B-2", "BY", DAY): (2.0, 900),
        ("A-1", "BE", DAY): (3.0, 3000),
        ("B-2", "BE", DAY): (1.0, 450),
    }


def test_cancellations_are_taken_back_from_the_day_the_order_was_placed(engine: Engine) -> None:
    kept = _capture(engine, "o-1")
    gone = _capture(engine, "o-2")
    _drain(engine)
    view = orders.get(engine, order_id=kept).order
    a_line = next(x.id for x in view.lines if x.sku == "A-1")
    orders.cancel_line(engine, order_id=kept, actor="test", line_id=a_line, quantity=2)
    orders.cancel(engine, order_id=gone, actor="test", reason="customer changed their mind")
    _drain(engine)
    assert _demand(engine) == {("A-1", "BY", DAY): (1.0, 1000), ("B-2", "BY", DAY): (1.0, 450)}
    with engine.connect() as conn:
        cancelled = dict(
            conn.execute(sa.select(lines.c.line_id, lines.c.cancelled).where(lines.c.order_id == kept)).all()
        )
    assert cancelled[a_line] == 2


def test_an_in_store_sale_also_counts_at_its_node(engine: Engine) -> None:
    _capture(engine, "pos-1", method="pickup", node="ST-MUC")
    _drain(engine)
    got = _demand(engine)
    assert got[("A-1", "node:ST-MUC", DAY)] == (3.0, 3000)
    assert got[("A-1", "BY", DAY)] == (3.0, 3000)


def test_a_replayed_capture_counts_once(engine: Engine) -> None:
    data = {
        "currency": "EUR",
        "placed_at": "2026-03-02T10:00:00+00:00",
        "destination": {"country": "DE", "region": "HH"},
        "items": [{"line_id": "l1", "sku": "A-1", "quantity": 2, "unit_price": "1.00"}],
    }
    event = DomainEvent(type="order.captured", aggregate_type="order", aggregate_id="ord_x", data=data)
    for _ in range(2):
        with unit_of_work(engine) as conn:
            record_demand_batch(conn, [event])
    assert _demand(engine) == {("A-1", "HH", DAY): (2.0, 200)}


GOOD = "date,sku,location,quantity,price\n2026-03-02,A,BY,2,1.50\n2026-03-02,A,BY,1,1.50\n2026-03-03,B,node:ST-1,4,\n"


def test_an_imported_file_adds_its_rows_to_the_history(engine: Engine) -> None:
    done = forecast.import_history(engine, GOOD.splitlines(), currency="EUR")
    assert done == {"rows": 3, "days": 2, "series": 2}
    assert _demand(engine) == {("A", "BY", DAY): (3.0, 450), ("B", "node:ST-1", date(2026, 3, 3)): (4.0, 0)}


def test_a_file_with_bad_rows_is_refused_whole_naming_each_row_and_field(engine: Engine) -> None:
    bad = GOOD + "2026-03-04,A,BY,-2,1.00\n2026-13-01,A,BY,1,1.00\n"
    with pytest.raises(InvalidInput) as refused:
        forecast.import_history(engine, bad.splitlines(), currency="EUR")
    assert refused.value.code == "bad_history_rows"
    assert refused.value.errors == [
        {"pointer": "/line/5/quantity", "detail": "negative (a return or a correction is not demand)"},
        {"pointer": "/line/6/date", "detail": "'2026-13-01' is not a date (YYYY-MM-DD)"},
    ]
    assert _demand(engine) == {}  # nothing half-written
