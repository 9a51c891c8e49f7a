"""The edge's pure rules (docs/edge.md): hybrid logical clocks, escrow targets, the till's
decisions, lease margins, and the effects a gateway expects of its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderhub.core.errors import InvalidInput
from orderhub.edge.model import (
    BeyondEscrow,
    EdgePolicy,
    Figures,
    HybridClock,
    effect,
    escrow_excess,
    escrow_target,
    hlc_time,
    loss_from_escrow,
    may_hand_over,
    pack,
    pending_effects,
    plan_sale,
    unpack,
)

POLICY = EdgePolicy()


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 2**40), st.integers(0, 2**40)), max_size=60))
def test_an_hlc_never_goes_backwards_and_orders_what_it_received_before_what_follows(steps) -> None:
    clock = HybridClock()
    last = 0
    for receive, wall, remote_wall in steps:
        remote = pack(remote_wall, 3)
        now = clock.observe(remote, wall) if receive else clock.tick(wall)
        assert now > last
        if receive:
            assert now > remote
        assert unpack(now)[0] >= wall  # never behind the wall clock it was given
        last = now


def test_an_hlc_stays_at_wall_time_and_counts_within_a_millisecond() -> None:
    clock = HybridClock()
    assert clock.tick(1000) == pack(1000, 0)
    assert clock.tick(1000) == pack(1000, 1)
    assert clock.tick(999) == pack(1000, 2)  # the wall clock stepped back: the counter goes on
    assert clock.observe(pack(5000, 7), 1001) == pack(5000, 8)  # a clock ahead pulls it forward
    assert clock.tick(6000) == pack(6000, 0)
    assert hlc_time(pack(6000, 0)) == datetime.fromtimestamp(6, UTC)
    assert hlc_time(0) is None


def test_the_escrow_of_a_hot_sku_covers_the_store_s_own_sales_and_a_slow_mover_gets_the_shelf() -> None:
    hot = escrow_target(available=40, store_rate=1.0, central_rate=10.0, policy=POLICY)
    slow = escrow_target(available=40, store_rate=1.0, central_rate=0.5, policy=POLICY)
    assert (hot, slow) == (8, 40)  # 8 h of the store's sales; the whole unpromised shelf
    assert escrow_target(available=40, store_rate=0.0, central_rate=10.0, policy=POLICY) == 2  # min_units
    assert escrow_target(available=1, store_rate=5.0, central_rate=10.0, policy=POLICY) == 1  # never more than free
    half = EdgePolicy(slow_share=0.5)
    assert escrow_target(available=9, store_rate=0.0, central_rate=0.0, policy=half) == 4


def test_a_policy_refuses_bad_values() -> None:
    with pytest.raises(InvalidInput):
        EdgePolicy.from_dict({"slow_share": 2})
    with pytest.raises(InvalidInput):
        EdgePolicy.from_dict({"beyond": "oversell"})
    assert EdgePolicy.from_dict({"lease_s": 120, "unknown": 1}).lease_s == 120


def test_the_till_sells_within_the_escrow_refuses_beyond_or_backorders_by_policy() -> None:
    assert plan_sale({"A": 2}, {"A": 3}, beyond="refuse", online=False).taken == {"A": 2}
    with pytest.raises(BeyondEscrow) as refused:
        plan_sale({"A": 3, "B": 1}, {"A": 1, "B": 0}, beyond="refuse", online=False)
    assert refused.value.detail == (
        "Only 1 of A may be sold while the hub is unreachable (the store's allotment), 3 asked; "
        "only 0 of B may be sold while the hub is unreachable (the store's allotment), 1 asked."
    )
    assert refused.value.fields["short"] == {"A": 2, "B": 1}
    plan = plan_sale({"A": 3, "B": 1}, {"A": 1}, beyond="backorder", online=False)
    assert (plan.taken, plan.backordered) == ({"A": 1}, {"A": 2, "B": 1})


def test_what_the_till_may_sell_is_the_escrow_never_more_than_is_on_hand() -> None:
    assert Figures(on_hand=5, escrow=3).sellable == 3
    assert Figures(on_hand=2, escrow=3).sellable == 2
    assert Figures(on_hand=-1, escrow=3).sellable == 0
    assert loss_from_escrow(5, Figures(on_hand=9, escrow=3)) == 3
    assert escrow_excess(Figures(on_hand=9, escrow=7), 4) == 3
    assert escrow_excess(Figures(on_hand=9, escrow=2), 4) == 0


def test_each_event_moves_on_hand_and_escrow_as_the_hub_will() -> None:
    valid = lambda order_id, token: (order_id, token) == ("o1", 2)  # noqa: E731
    sale = {"lines": [{"sku": "A", "qty": 2}, {"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]}
    assert effect("till.sale", sale, valid) == {"A": (-3, -3), "B": (-1, -1)}
    assert effect("till.backorder", sale, valid) == {}
    assert effect("till.return", {"lines": [{"sku": "A", "qty": 1}]}, valid) == {"A": (1, 0)}
    handover = {"order_id": "o1", "token": 2, "lines": [{"line_id": "l", "sku": "A", "quantity": 2}]}
    assert effect("pickup.handed_over", handover, valid) == {"A": (-2, 0)}  # from the order's allocation
    stale = {**handover, "token": 1}
    assert effect("pickup.handed_over", stale, valid) == {"A": (-2, -2)}  # from the escrow the hub kept them in
    assert effect("stock.adjusted", {"sku": "A", "delta": -3, "from_escrow": 1}, valid) == {"A": (-3, -1)}
    assert effect("escrow.released", {"sku": "A", "quantity": 2}, valid) == {"A": (0, -2)}
    assert effect("pickup.released", {"order_id": "o1", "token": 2}, valid) == {}
    total = pending_effects([("till.sale", sale), ("till.return", {"lines": [{"sku": "A", "qty": 1}]})], valid)
    assert {s: (f.on_hand, f.escrow) for s, f in total.items()} == {"A": (-2, -3), "B": (-1, -1)}


def test_the_store_stops_handing_over_a_margin_before_its_lease_ends() -> None:
    end = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    margin = timedelta(seconds=POLICY.skew_s)
    assert may_hand_over(end, end - margin - timedelta(seconds=1), POLICY)
    assert not may_hand_over(end, end - margin, POLICY)
    assert not may_hand_over(None, end, POLICY)
