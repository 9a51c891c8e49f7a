"""Replenishment and promise arithmetic on known numbers: the projected stock, the day to order
and how much; which supply a waiting line gets, with the demand the policy serves first."""

from __future__ import annotations

import pytest

from orderhub.inventory.model import Promise, Waiting, plan_replenishment, promise_lines


def test_an_order_is_placed_lead_days_before_the_stock_runs_out_and_covers_until_the_next_one_arrives() -> None:
    plan = plan_replenishment(atp=10, daily=[2.0] * 28, incoming=[], sigma=0.0, lead_days=3, review_days=7, z=1.28)
    # 10 − 2·6 < 0 on day 5: order on day 2, to cover days 0–11 (24 units) less the 10 on hand
    assert (plan.stockout_day, plan.below_safety_day, plan.order_day, plan.quantity) == (5, 5, 2, 14)
    assert plan.demand == 56.0


def test_incoming_supply_moves_the_order_and_the_safety_stock_comes_from_the_forecast_spread() -> None:
    plan = plan_replenishment(
        atp=10, daily=[2.0] * 28, incoming=[(4, 20)], sigma=0.0, lead_days=3, review_days=7, z=1.28
    )
    assert (plan.stockout_day, plan.order_day, plan.quantity) == (15, 12, 14)  # 20 more: ten days later
    safe = plan_replenishment(atp=10, daily=[2.0] * 28, incoming=[], sigma=2.0, lead_days=3, review_days=7, z=1.28)
    assert safe.safety == pytest.approx(1.28 * 2.0 * 10**0.5)  # 8.1 units
    assert (safe.below_safety_day, safe.stockout_day, safe.order_day) == (0, 5, 0)  # below it already tomorrow
    assert safe.quantity == 19  # 20 units over days 0–9 + 8.1 of safety − 10 on hand = 18.1: 19 whole units
    none = plan_replenishment(atp=100, daily=[2.0] * 28, incoming=[], sigma=0.0, lead_days=3, review_days=7, z=1.28)
    assert (none.quantity, none.order_day, none.stockout_day) == (0, None, None)


def test_a_waiting_line_gets_the_first_supply_that_covers_it_and_the_lines_and_demand_served_first() -> None:
    lines = [Waiting("vip", 2, 3.0), Waiting("std", 5, 0.0)]  # in serving order: the VIP first
    supply = [(3, 4), (10, 4), (20, 10)]
    ranked = promise_lines(lines, supply=supply, daily=[1.0] * 30, ranked=True)
    assert ranked["vip"] == Promise(3, 0, 0.0, 0.0)
    # 2/7 of the demand to come ranks above the standard line (the backlog's mix): by day 10,
    # 2.86 units more than the 2 + 5 waiting, and only 8 arrived
    assert ranked["std"] == Promise(20, 2, 5.71, 0.0)
    fifo = promise_lines(lines, supply=supply, daily=[1.0] * 30, ranked=False)
    assert fifo["std"] == Promise(10, 2, 0.0, 0.0)  # first come, first served: nobody passes
    short = promise_lines(lines, supply=[(3, 4)], daily=[1.0] * 30, ranked=False)
    assert short["std"] == Promise(None, 2, 0.0, 3.0)  # 3 of its 5 units have no supply
