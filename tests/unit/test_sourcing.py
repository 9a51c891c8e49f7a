"""The sourcing planner: exact within its space, explained, and never worse than the plain rule
on its own objective."""

from __future__ import annotations

import pytest

from orderhub.sourcing import synthetic
from orderhub.sourcing.exact import plan_exact
from orderhub.sourcing.model import STRATEGIES, Line, Offer, Request, Weights, plan_fast, plan_nearest


def co2(road_km: float, offer: Offer) -> tuple[float, float]:
    return 0.0, road_km * 0.0002  # nothing per parcel; kg CO2e per kg shipped: 200 g per tonne-km


KASSEL = (51.31, 9.49)
NEAR = Offer("NEAR", 51.30, 9.50, {"A": 5}, handling=1.0)  # has A only
FAR = Offer("FAR", 53.55, 9.99, {"A": 5, "B": 5}, handling=1.0)  # Hamburg, has both


def req(**kw) -> Request:
    base = {"lines": (Line("l1", "A", 1, 1.0), Line("l2", "B", 1, 1.0)), "lat": KASSEL[0], "lon": KASSEL[1]}
    base.update(kw)
    return Request(**base)


def test_split_penalty_decides_between_one_far_parcel_and_two():
    heavy = (Line("l1", "A", 1, 60.0), Line("l2", "B", 1, 1.0))  # 60 kg of A: shipping it far costs
    one = plan_fast(req(lines=heavy, weights=Weights(split=10.0)), [NEAR, FAR], co2).plan
    two = plan_fast(req(lines=heavy, weights=Weights(split=0.0)), [NEAR, FAR], co2).plan
    assert one.nodes == ("FAR",)
    assert sorted(two.nodes) == ["FAR", "NEAR"] and len(two.shipments) == 2


def test_decision_is_explained_candidates_exclusions_alternatives():
    closed = Offer("CLOSED", 51.3, 9.5, {"A": 9, "B": 9}, capacity_left=0)
    banned = Offer("BANNED", 51.3, 9.5, {"A": 9, "B": 9}, eligible=False)
    empty = Offer("EMPTY", 51.3, 9.5, {"Z": 9})
    d = plan_fast(req(), [NEAR, FAR, closed, banned, empty], co2)
    assert d.excluded == {
        "CLOSED": "no capacity left today",
        "BANNED": "not eligible for this order",
        "EMPTY": "has none of the lines",
    }
    assert {c["node_id"] for c in d.candidates} == {"NEAR", "FAR"}
    assert d.alternatives and all(alt.objective >= d.plan.objective for alt in d.alternatives)
    assert d.method == "enumeration" and d.weights == Weights()


def test_promise_required_excludes_slow_nodes():
    slow = Offer("SLOW", 51.3, 9.5, {"A": 5, "B": 5}, delay_days=5)
    d = plan_fast(req(promise_required=True, promise_days=2), [slow, FAR], co2)
    assert d.excluded["SLOW"].startswith("cannot deliver") and d.plan.nodes == ("FAR",)


def test_no_plan_when_stock_is_short_everywhere():
    assert plan_fast(req(lines=(Line("l1", "A", 50, 1.0),)), [NEAR, FAR], co2).plan is None


@pytest.mark.parametrize("seed", range(6))
def test_fast_path_matches_the_exact_optimum_on_small_networks(seed):
    net = synthetic.network(30, skus=200, seed=seed)
    for r in synthetic.orders(15, lines=(1, 6), skus=200, seed=seed + 100, weights=STRATEGIES["balanced"]):
        fast, exact = plan_fast(r, net, co2, keep=30).plan, plan_exact(r, net, co2).plan
        if exact is None:
            assert fast is None  # no feasible plan at all: the fast path must not invent one
        if fast is not None and exact is not None:
            assert fast.objective == pytest.approx(exact.objective, rel=1e-6, abs=1e-6) or len(exact.shipments) > 2


def test_the_plan_never_costs_more_than_the_nearest_node_rule_on_its_objective():
    net = synthetic.network(60, skus=300, seed=9)
    for r in synthetic.orders(40, lines=(1, 4), skus=300, seed=19):
        fast, near = plan_fast(r, net, co2, keep=60).plan, plan_nearest(r, net, co2).plan
        if fast is not None and near is not None and len(near.shipments) <= 2:
            assert fast.objective <= near.objective + 1e-9


def test_days_until_dispatch_counts_the_cutoff_and_closed_days():
    from datetime import UTC, datetime

    from orderhub.inventory.model import Node, NodeType

    node = Node(
        "DC",
        "DC",
        NodeType.distribution_centre,
        50.0,
        9.0,
        "HE",
        cutoff_hour_utc=15,
        closed_dates=["2026-12-25", "2026-12-26"],
    )
    assert node.days_until_dispatch(datetime(2026, 12, 23, 10, tzinfo=UTC)) == 0
    assert node.days_until_dispatch(datetime(2026, 12, 23, 16, tzinfo=UTC)) == 1  # past the cut-off
    assert node.days_until_dispatch(datetime(2026, 12, 24, 16, tzinfo=UTC)) == 3  # 25th and 26th closed
    assert (
        Node("S", "S", NodeType.store, 50.0, 9.0, "HE").days_until_dispatch(datetime(2026, 12, 25, 23, tzinfo=UTC)) == 0
    )


def test_live_planner_calls_the_exact_solver_when_two_shipments_cannot_serve():
    from orderhub.inventory.model import Capability, Node, NodeType
    from orderhub.sourcing.service import LivePlanner

    class Net:
        @staticmethod
        def offer_terms(road_km: float, offer: Offer) -> tuple[float, float]:
            return 0.0, road_km * 0.0002

    nodes = {
        n: Node(n, n, NodeType.distribution_centre, 50.0 + i, 9.0, "HE", capabilities=[Capability.ships])
        for i, n in enumerate(["N1", "N2", "N3"])
    }
    free = {("N1", "A"): 1, ("N2", "B"): 1, ("N3", "C"): 1}  # three SKUs, one per node
    lines = [Line("a", "A", 1, 1.0), Line("b", "B", 1, 1.0), Line("c", "C", 1, 1.0)]
    planner = LivePlanner(Net(), destination=(50.5, 9.0), lines=lines, strategy="balanced", weights=Weights())
    assert planner(free, nodes) == {"a": "N1", "b": "N2", "c": "N3"}
    assert planner.decision is not None and planner.decision.method == "exact"


def test_equal_objectives_break_toward_less_carbon_then_the_shorter_distance():
    """Issue 14: with equal price and days the planner picked a store 32 km away over one 1.4 km
    away holding the same basket (by node id). Now the tie goes to less kg CO2e, then fewer km."""
    from orderhub.carbon.factors import FactorSet, default_factors

    model = FactorSet(default_factors()).parcel_model("EU")

    def carbon(road_km, offer):
        return model.terms(road_km, offer.node_id, offer.kind)

    berlin = (52.52, 13.40)
    far = Offer("ST-A", 52.52 + 0.2398, 13.40, {"A": 5}, handling=2.8, kind="store")  # 32 km by road
    near = Offer("ST-B", 52.52 + 0.0105, 13.40, {"A": 5}, handling=2.8, kind="store")  # 1.4 km by road
    lines = (Line("l1", "A", 1, 0.4),)
    for name in ("cheapest", "fastest", "balanced", "greenest"):
        r = Request(lines=lines, lat=berlin[0], lon=berlin[1], weights=STRATEGIES[name])
        d = plan_fast(r, [far, near], carbon)
        assert d.plan.nodes == ("ST-B",), name
        assert round(d.plan.shipments[0].road_km, 1) == 1.4 and round(d.alternatives[0].shipments[0].road_km) == 32
    # both are local stores: one depot, the same rounds, so the same kg — the distance decides
    r = Request(lines=lines, lat=berlin[0], lon=berlin[1], weights=STRATEGIES["cheapest"])
    both = plan_fast(r, [far, near], carbon)
    assert both.plan.kg_co2e == pytest.approx(both.alternatives[0].kg_co2e)
    # a DC at the same price and days but with less carbon (no collection round) wins the tie first
    dc = Offer("DC-Z", 52.52 + 0.2398, 13.40, {"A": 5}, handling=2.8, kind="distribution_centre")
    d = plan_fast(r, [near, dc], carbon)
    assert d.plan.nodes == ("DC-Z",) and d.plan.kg_co2e < d.alternatives[0].kg_co2e


def test_the_exact_solver_breaks_ties_as_the_fast_path_does():
    """Equal objective → less kg CO2e → shorter road distance, in HiGHS too, whatever order the
    nodes come in (the solver alone returns whichever optimum it meets first)."""
    from orderhub.carbon.factors import FactorSet, default_factors

    model = FactorSet(default_factors()).parcel_model("EU")

    def carbon(road_km, offer):
        return model.terms(road_km, offer.node_id, offer.kind)

    berlin = (52.52, 13.40)
    far = Offer("ST-A", 52.52 + 0.2398, 13.40, {"A": 5, "B": 5}, handling=2.8, kind="store")  # 32 km by road
    near = Offer("ST-B", 52.52 + 0.0105, 13.40, {"A": 5, "B": 5}, handling=2.8, kind="store")  # 1.4 km
    dc = Offer("DC-Z", 52.52 + 0.2398, 13.40, {"A": 5, "B": 5}, handling=2.8, kind="distribution_centre")
    lines = (Line("l1", "A", 1, 0.4), Line("l2", "B", 1, 0.3))
    r = Request(lines=lines, lat=berlin[0], lon=berlin[1], weights=STRATEGIES["cheapest"])
    for offers in ([far, near], [near, far]):
        exact = plan_exact(r, offers, carbon).plan
        assert exact.nodes == ("ST-B",) and exact.objective == pytest.approx(
            plan_fast(r, offers, carbon).plan.objective
        )
        assert round(exact.shipments[0].road_km, 1) == 1.4
    for offers in ([near, dc], [dc, near], [far, dc, near]):
        exact = plan_exact(r, offers, carbon).plan
        assert exact.nodes == ("DC-Z",)  # same price and days, no collection round: less kg CO2e
        assert exact.kg_co2e == pytest.approx(plan_fast(r, offers, carbon).plan.kg_co2e)
