"""Store protection: the sourcing objective weighs a store's expected local demand, so an online
order does not take the units the store's own customers will buy over the next days; the
explanation shows the term and says why; the setting ``store_protection`` turns it off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine

from orderhub import wiring
from orderhub.core.clock import utcnow
from orderhub.forecast import service as forecast
from orderhub.forecast.model import DemandRow, node_location
from orderhub.orders import capture
from orderhub.orders import service as orders
from orderhub.platform.db import unit_of_work
from orderhub.platform.settings import Settings
from tests.conftest import position, put_stock


@pytest.fixture
def protection_off() -> Iterator[None]:
    wiring.wire(Settings(env="test", store_protection=False))
    yield
    wiring.wire(Settings(env="test"))


def order_to_munich(engine: Engine, ref: str) -> dict:
    doc = {
        "external_ref": ref,
        "currency": "EUR",
        "payment_status": "paid",
        "customer": {"email": "online@example.com"},
        "shipping_address": {"city": "München", "country": "DE", "region": "BY", "lat": 48.15, "lon": 11.6},
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
    }
    order_id = capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id
    decided = orders.get_sourcing(engine, order_id=order_id)
    assert decided is not None
    return decided


def test_store_protection_keeps_a_store_stock_for_its_own_customers_and_the_setting_turns_it_off(
    sqlite_engine: Engine, request: pytest.FixtureRequest
) -> None:
    engine = sqlite_engine
    # ST-MUC, a store in Munich, has 3 units of A; DC-2 (Hamburg) has plenty, 730 road km away
    put_stock(engine, {("DC-2", "A"): 20, ("ST-MUC", "A"): 3})
    today = utcnow().date()
    rng = np.random.default_rng(3)
    history = [
        DemandRow(today - timedelta(days=d), "A", node_location("ST-MUC"), float(rng.poisson(2.5)) or 1.0)
        for d in range(1, 85)
    ]
    forecast.add_demand(engine, history)
    forecast.run(engine, horizon=7, folds=2, jobs=1, as_of=today - timedelta(days=1))
    with unit_of_work(engine, write=False) as conn:
        expected = forecast.expected_at_nodes(conn, skus=["A"], days=2)["ST-MUC"]["A"]
    assert 3.0 < expected < 7.0  # the store will sell more than it has within two days

    protected = order_to_munich(engine, "web-1")
    assert protected["chosen"]["nodes"] == ["DC-2"]  # the store keeps its 3 units for its customers
    assert position(engine, "ST-MUC", "A") == (3, 0, 0)
    view = protected["store_protection"]
    assert (view["on"], view["days"], view["weight"], view["term"]) == (True, 2, 5.0, 0.0)
    assert view["stores"] == {"ST-MUC": {"A": {"expected": round(expected, 2), "atp": 3}}}
    store_plan = next(p for p in protected["alternatives"] if p["nodes"] == ["ST-MUC"])
    left_short = max(0.0, expected - 2) - max(0.0, expected - 3)  # one unit more without stock
    assert store_plan["protection"] == pytest.approx(5.0 * left_short, abs=1e-3)
    assert store_plan["objective"] - store_plan["protection"] < protected["chosen"]["objective"]  # cheaper without it
    assert view["why"] == (
        f"ST-MUC expects {expected:.1f} A from its own customers over 2 day(s) and has 3: this order would leave "
        f"{left_short:.1f} of them without stock (store protection {store_plan['protection']:.2f} on top of "
        f"{store_plan['objective'] - store_plan['protection']:.2f}), so DC-2 ({protected['chosen']['objective']:.2f}) "
        "serves it instead"
    )

    request.getfixturevalue("protection_off")  # ORDERHUB_STORE_PROTECTION=false
    unprotected = order_to_munich(engine, "web-2")  # the same order
    assert unprotected["chosen"]["nodes"] == ["ST-MUC"]  # nearest and cheapest: the store ships it
    assert unprotected["store_protection"] == {"on": False}
    assert unprotected["chosen"]["protection"] == 0.0
    assert position(engine, "ST-MUC", "A") == (3, 1, 0)
