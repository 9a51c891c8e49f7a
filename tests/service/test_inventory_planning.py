"""Replenishment suggestions and promise dates from the forecast: a store's own demand plus its
share of its region's online demand against its ATP and incoming supply; waiting lines promised
the supply that covers them after the lines and the demand their policy serves first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.forecast import service as forecast
from orderhub.forecast.model import DemandRow, node_location
from orderhub.inventory import adjustments
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from tests.conftest import put_stock


def _forecast(engine: Engine, per_day: dict[tuple[str, str], float]) -> None:
    """Constant daily demand for 84 days up to yesterday, then a run: forecasts from today."""
    today = utcnow().date()
    forecast.add_demand(
        engine,
        [DemandRow(today - timedelta(days=d), sku, loc, q) for (sku, loc), q in per_day.items() for d in range(1, 85)],
    )
    forecast.run(engine, horizon=28, folds=2, jobs=1, as_of=today - timedelta(days=1))


def _day(days: int) -> str:
    return (utcnow().date() + timedelta(days=days)).isoformat()


def test_a_store_running_out_is_told_what_to_order_by_when_and_the_csv_says_the_same(engine: Engine) -> None:
    put_stock(engine, {("ST-MUC", "A"): 12, ("DC-1", "A"): 500})  # ST-MUC in BY, DC-1 in HE
    # ST-MUC sells 3 a day to its own customers; BY orders 5 a day, 2 of them online: ST-MUC is
    # the only node of BY that ships A, so those 2 are its too
    _forecast(engine, {("A", node_location("ST-MUC")): 3.0, ("A", "BY"): 5.0})
    rows = inventory.replenishment(engine, lead_days=7, review_days=7)
    store = next(r for r in rows if r["node_id"] == "ST-MUC")
    assert store["demand_per_day"] == pytest.approx(5.0, abs=0.01)
    assert store["forecast_safety"] == pytest.approx(0.0, abs=0.1)  # constant demand: no spread
    # 12 − 5 a day runs out on day 2: order today (lead 7 days), enough for 14 days less the 12
    assert (store["stockout_on"], store["order_by"], store["arrives_by"]) == (_day(2), _day(0), _day(7))
    assert store["quantity"] == 58 and store["at_risk"]
    dc = next(r for r in rows if r["node_id"] == "DC-1")
    assert (dc["demand"], dc["quantity"], dc["at_risk"]) == (0.0, 0, False)  # nothing forecast for HE
    assert [r["node_id"] for r in inventory.replenishment(engine, at_risk=True)] == ["ST-MUC"]

    adjustments.add_supply(
        engine, node_id="ST-MUC", sku="A", quantity=30,
        expected_at=datetime.combine(utcnow().date() + timedelta(days=1), time(8), tzinfo=UTC),
    )  # fmt: skip
    later = inventory.replenishment(engine, node_id="ST-MUC")[0]
    assert (later["incoming"], later["stockout_on"], later["order_by"]) == (30, _day(8), _day(1))
    csv = inventory.replenishment_csv(inventory.replenishment(engine, node_id="ST-MUC")).splitlines()
    assert csv[0].startswith("node_id,node,node_type,region,sku,on_hand,atp,")
    assert csv[1].startswith("ST-MUC,ST-MUC,store,BY,A,12,12,0,30,5.0,")


def _backorder(engine: Engine, ref: str, tier: str, quantity: int) -> str:
    doc = {
        "external_ref": ref,
        "currency": "EUR",
        "payment_status": "paid",
        "customer": {"email": f"{ref}@example.com", "tier": tier},
        "shipping_address": {"city": "Kassel", "country": "DE", "region": "HE", "lat": 51.31, "lon": 9.49},
        "lines": [{"sku": "P", "quantity": quantity, "unit_price": "20.00"}],
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def test_waiting_lines_are_promised_the_supply_that_covers_them_after_what_the_policy_serves_first(
    engine: Engine,
) -> None:
    put_stock(engine, {("DC-1", "Q"): 1})  # a node, and no P anywhere
    _forecast(engine, {("P", "HE"): 1.0})  # a unit of P a day will keep being ordered in HE
    standard = _backorder(engine, "std", "standard", 5)  # first come …
    vip = _backorder(engine, "vip", "vip", 2)
    for days, qty in ((3, 4), (10, 4), (20, 10)):
        adjustments.add_supply(
            engine, node_id="DC-1", sku="P", quantity=qty, expected_at=utcnow() + timedelta(days=days)
        )
    by_order = {p["order_id"]: p for p in inventory.promise_dates(engine, sku="P")}
    assert (by_order[vip]["promised_on"], by_order[vip]["queue_ahead"]) == (_day(3), 0)
    # the standard line waits behind the VIP's 2 units and the VIP orders still to come (2 of the
    # 7 units waiting are VIP's: that share of the 10 units forecast by day 10), so 8 by day 10
    # are not enough: day 20
    std = by_order[standard]
    assert (std["promised_on"], std["queue_ahead"], std["forecast_ahead"]) == (_day(20), 2, 5.71)
    assert std["presale"] is False and std["short"] == 0.0
    fifo = {p["order_id"]: p for p in inventory.promise_dates(engine, sku="P", policy="fifo")}
    assert (fifo[standard]["promised_on"], fifo[vip]["promised_on"]) == (_day(10), _day(10))
    assert [p["order_id"] for p in inventory.promise_dates(engine, order_id=vip)] == [vip]
