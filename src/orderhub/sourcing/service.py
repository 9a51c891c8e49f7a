"""Sourcing use cases: the live planner handed to reservations, what-if plans, explanations.

The planner is pure (``model``); here it is fed from the inventory read model (free stock
under the reservation's own locks, nodes) and the carbon model (kg CO2e per kg by road
distance), and its decision is kept as an explanation.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from orderhub.carbon import service as carbon
from orderhub.inventory import service as inventory
from orderhub.sourcing.model import STRATEGIES, Decision, Line, Offer, Plan, Request, Weights, plan_fast, plan_nearest

#: Cost of a shipment leaving a node, by node type (picking, packing, labour): a store's is
#: dearer than a distribution centre's.
HANDLING = {"distribution_centre": 1.2, "dark_store": 1.8, "store": 2.8, "drop_ship_supplier": 2.0}
#: Strategy by customer tier unless the channel names one; VIPs get the fastest.
TIER_STRATEGY = {"vip": "fastest"}
DEFAULT_STRATEGY = "balanced"


def strategy_for(*, tier: str = "standard", channel: str = "", override: str | None = None) -> tuple[str, Weights]:
    name = override or TIER_STRATEGY.get(tier, DEFAULT_STRATEGY)
    if name not in STRATEGIES:
        name = DEFAULT_STRATEGY
    return name, STRATEGIES[name]


class LivePlanner:
    """A planner for one order, callable by ``inventory.reserve``; keeps its decision."""

    def __init__(
        self,
        engine_or_network: Any,
        *,
        destination: tuple[float, float],
        lines: list[Line],
        strategy: str,
        weights: Weights,
    ) -> None:
        self.destination = destination
        self.lines = tuple(lines)
        self.strategy = strategy
        self.weights = weights
        self.network = engine_or_network
        self.decision: Decision | None = None

    def __call__(self, free: dict[tuple[str, str], int], nodes: dict[str, inventory.Node]) -> dict[str, str]:
        offers: dict[str, dict[str, int]] = {}
        for (node_id, sku), qty in free.items():
            if qty > 0:
                offers.setdefault(node_id, {})[sku] = qty
        candidates = [
            Offer(
                node_id,
                nodes[node_id].lat,
                nodes[node_id].lon,
                atp,
                handling=HANDLING.get(nodes[node_id].type.value, 2.0),
            )
            for node_id, atp in sorted(offers.items())
            if node_id in nodes and nodes[node_id].can(inventory.Capability.ships)
        ]
        req = Request(lines=self.lines, lat=self.destination[0], lon=self.destination[1], weights=self.weights)
        decision = plan_fast(req, candidates, self.network.kg_per_kg)
        if decision.plan is None:
            decision = plan_nearest(req, candidates, self.network.kg_per_kg)
        self.decision = decision
        if decision.plan is None:
            return {}
        return {line_id: s.node_id for s in decision.plan.shipments for line_id in s.line_ids}

    def explanation(self) -> dict[str, Any]:
        return (
            explain(self.decision, self.strategy)
            if self.decision
            else {"method": "nearest-node rule", "reason": "no plan"}
        )


def live_planner_for(
    conn: Any, *, destination: tuple[float, float], lines: list[Line], tier: str, channel: str
) -> LivePlanner:
    """The planner for an order being captured on ``conn`` (factors read from the cache)."""
    strategy, weights = strategy_for(tier=tier, channel=channel)
    network = carbon.factor_set_on(conn).network()
    return LivePlanner(network, destination=destination, lines=lines, strategy=strategy, weights=weights)


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "nodes": list(plan.nodes),
        "objective": round(plan.objective, 4),
        "cost_eur": round(plan.cost, 2),
        "days": plan.days,
        "kg_co2e": round(plan.kg_co2e, 4),
        "shipments": [
            {
                "node_id": s.node_id,
                "lines": list(s.line_ids),
                "mass_kg": round(s.mass_kg, 3),
                "road_km": round(s.road_km, 1),
                "cost_eur": round(s.cost, 2),
                "days": s.days,
                "kg_co2e": round(s.kg_co2e, 4),
            }
            for s in plan.shipments
        ],
    }


def explain(decision: Decision, strategy: str) -> dict[str, Any]:
    """What the engine considered and why it chose: the chosen plan's terms next to the best
    alternatives, the candidates, the constraints that excluded nodes, strategy and weights."""
    return {
        "method": decision.method,
        "strategy": strategy,
        "weights": asdict(decision.weights),
        "chosen": _plan_json(decision.plan) if decision.plan else None,
        "alternatives": [_plan_json(p) for p in decision.alternatives],
        "candidates": decision.candidates[:30],
        "excluded": dict(list(decision.excluded.items())[:30]),
        "excluded_count": len(decision.excluded),
    }


def what_if(
    engine: Engine,
    *,
    lines: list[tuple[str, int]],
    destination: tuple[float, float],
    channel: str = "web",
    tier: str = "standard",
    strategy: str | None = None,
) -> dict[str, Any]:
    """A plan for a basket from live ATP, reserving nothing."""
    items = inventory.get_items(engine, skus=[sku for sku, _ in lines])
    plan_lines = [
        Line(f"line-{i + 1}", sku, qty, (items[sku].weight_g if sku in items else 500) * qty / 1000)
        for i, (sku, qty) in enumerate(lines)
    ]
    name, weights = strategy_for(tier=tier, channel=channel, override=strategy)
    nodes = {n.id: n for n in inventory.get_all_nodes(engine)}
    free: dict[tuple[str, str], int] = {}
    for sku, _ in lines:
        for n in inventory.get_atp(engine, sku=sku, channel=channel)["nodes"]:
            free[(n.node_id, sku)] = n.atp
    planner = LivePlanner(
        carbon.get_factor_set(engine).network(),
        destination=destination,
        lines=plan_lines,
        strategy=name,
        weights=weights,
    )
    planner(free, nodes)
    return planner.explanation()
