"""The forecast guard end to end: a demand shock in a region switches it to the plain rule (the
guard publishes ``forecast.guard_switched``, the subscriber wired in ``orderhub.wiring`` flags
sourcing's ``unreliable`` condition, a capture there is decided by the nearest-node rule and
says why), and back once the shock has passed and the errors are in band again."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub import wiring
from orderhub.bus import embedded, relay
from orderhub.forecast import service as forecast
from orderhub.forecast.guard_store import guard_switches
from orderhub.forecast.model import DemandRow
from orderhub.orders import capture
from orderhub.orders import service as orders
from orderhub.sourcing import conditions
from tests.conftest import put_stock

D0 = date(2025, 9, 1)  # a Monday
DAYS = 84  # twelve weeks of history before the first forecast
WEEK = np.array([10, 12, 14, 16, 20, 30, 0.0])  # closed on Sundays
SKUS = ("G0", "G1", "G2", "G3")
rng = np.random.default_rng(7)


def day_of(d: int, factor: float = 1.0) -> list[DemandRow]:
    """Demand at BY on day ``d`` (days from D0): the weekly pattern, Poisson noise, × ``factor``."""
    return [
        DemandRow(D0 + timedelta(days=d), sku, "BY", float(q))
        for k, sku in enumerate(SKUS)
        if (q := rng.poisson(WEEK[d % 7] * (1 + 0.1 * k) * factor))
    ]


def drain(engine: Engine) -> None:
    while relay.relay_once(engine) or embedded.consume_once(engine, wiring.FORECAST_GUARD):
        pass


def capture_in_munich(engine: Engine, ref: str) -> dict:
    doc = {
        "external_ref": ref,
        "currency": "EUR",
        "payment_status": "paid",
        "customer": {"email": "guard@example.com"},
        "shipping_address": {"city": "München", "country": "DE", "region": "BY", "lat": 48.15, "lon": 11.6},
        "lines": [{"sku": "G0", "quantity": 1, "unit_price": "10.00"}],
    }
    order_id = capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id
    decided = orders.get_sourcing(engine, order_id=order_id)
    assert decided is not None
    return decided


def test_a_demand_shock_hands_the_region_to_the_plain_rule_and_back_when_it_passes(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    put_stock(engine, {("DC-1", "G0"): 50, ("ST-MUC", "G0"): 50})  # ST-MUC is in Munich (BY)
    forecast.add_demand(engine, [r for d in range(DAYS) for r in day_of(d)])
    forecast.run(engine, horizon=14, folds=2, jobs=1, as_of=D0 + timedelta(days=DAYS - 1))

    def next_day(d: int, factor: float = 1.0) -> dict:
        forecast.add_demand(engine, day_of(d, factor))
        return forecast.update(engine, jobs=1, as_of=D0 + timedelta(days=d))["guard"]

    calm = [next_day(d) for d in range(DAYS, DAYS + 3)]
    assert [g["switched"] for g in calm] == [[], [], []]  # ordinary days: nothing switches
    before = capture_in_munich(engine, "calm")
    assert before["method"] == "enumeration" and before["applied"] == "optimiser"

    shock = [next_day(d, factor=5.0) for d in range(DAYS + 3, DAYS + 6)]  # five times the demand
    switched = [s for g in shock for s in g["switched"]]
    assert [(s["location"], s["state"]) for s in switched] == [("BY", "unreliable")]
    assert not conditions.active(engine)  # the flag comes from the event, not from the guard itself
    drain(engine)
    (flag,) = conditions.active(engine)
    assert (flag["kind"], flag["scope"], flag["target"], flag["source"]) == (
        "unreliable",
        "region",
        "BY",
        "forecast:guard",
    )
    assert flag["reason"].startswith("forecast guard: forecasts unreliable: ")
    during = capture_in_munich(engine, "shock")
    assert (during["method"], during["applied"]) == ("fallback", "rule")  # the plain rule: nearest node
    assert during["chosen"]["nodes"] == ["ST-MUC"]
    assert during["unreliable"].startswith("inputs unreliable: forecast guard: forecasts unreliable")
    assert during["excluded"]["*"].startswith("optimiser off: forecast guard")

    after, back_on = [], None
    for d in range(DAYS + 6, DAYS + 27):  # the shock is over: ordinary days again
        after.append(next_day(d))
        if after[-1]["switched"]:
            back_on = d
            break
    assert back_on is not None, [g.get("alarmed") for g in after]
    assert [(s["location"], s["state"]) for s in after[-1]["switched"]] == [("BY", "reliable")]
    assert back_on - (DAYS + 6) >= 2  # hysteresis: errors must stay in band for days, not one
    drain(engine)
    assert not conditions.active(engine)
    again = capture_in_munich(engine, "after")
    assert (again["method"], again["applied"]) == ("enumeration", "optimiser")
    assert "unreliable" not in again
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(guard_switches.c.location, guard_switches.c.state).order_by(guard_switches.c.at)
        ).all()
    assert [tuple(r) for r in kept] == [("BY", "unreliable"), ("BY", "reliable")]
    assert [s["state"] for s in forecast.get_guard_switches(engine)] == ["reliable", "unreliable"]  # newest first
