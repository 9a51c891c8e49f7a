"""Sourcing use cases: the live planner handed to reservations, what-if plans, explanations.

The planner is pure (``model``); here it is fed from the inventory read model (free stock
under the reservation's own locks, nodes) and the carbon model (kg CO2e per kg by road
distance), and its decision is kept as an explanation.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.bus import service as bus
from orderhub.carbon import service as carbon
from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput
from orderhub.forecast import service as forecast
from orderhub.inventory import service as inventory
from orderhub.platform.db import unit_of_work
from orderhub.sourcing import conditions, protection, store
from orderhub.sourcing.exact import plan_exact
from orderhub.sourcing.model import (
    STRATEGIES,
    Decision,
    Offer,
    Plan,
    Request,
    Weights,
    objective,
    plan_fast,
    plan_nearest,
    shipment,
    terms,
)
from orderhub.sourcing.model import (
    Line as Line,  # re-exported: callers build lines for the planner
)

#: Cost of a shipment leaving a node, by node type (picking, packing, labour): a store's is
#: dearer than a distribution centre's.
HANDLING = {"distribution_centre": 1.2, "dark_store": 1.8, "store": 2.8, "drop_ship_supplier": 2.0}
#: Strategy by customer tier unless the channel names one; VIPs get the fastest.
TIER_STRATEGY = {"vip": "fastest"}
DEFAULT_STRATEGY = "balanced"
#: The exact solver's time cap on the live path (orders the fast path cannot settle).
EXACT_TIME_CAP_S = 0.05
#: Node types whose own customers store protection keeps stock for.
PROTECTED_TYPES = frozenset({"store"})


StoreProtection = protection.StoreProtection  # re-exported: wiring configures it
set_store_protection = protection.configure


def flag_unreliable(conn: Any, *, region: str, reason: str, source: str) -> None:
    """Flag a region's inputs unreliable (on the caller's transaction) until ``source`` lifts
    it: the plain rule decides there. Idempotent per source and region."""
    conditions.flag_unreliable(conn, region=region, reason=reason, source=source)


def lift_unreliable(conn: Any, *, region: str, source: str) -> bool:
    """Lift ``source``'s flag on a region; False when there was none (idempotent)."""
    return conditions.lift_unreliable(conn, region=region, source=source)


def strategy_for(
    *, tier: str = "standard", channel: str = "", override: str | None = None, chosen: dict[str, Any] | None = None
) -> tuple[str, Weights]:
    """The strategy for an order: an explicit override, else what business users chose for the
    customer tier, else for the channel (``chosen``: ``tier:vip`` / ``channel:web`` keys), else
    the built-in tier default (VIP → fastest), else balanced."""
    chosen = chosen or {}
    name = (
        override
        or chosen.get(f"tier:{tier}")
        or chosen.get(f"channel:{channel}")
        or TIER_STRATEGY.get(tier, DEFAULT_STRATEGY)
    )
    known = all_strategies(chosen)
    if name not in known:
        name = DEFAULT_STRATEGY
    return name, known[name]


def all_strategies(chosen: dict[str, Any]) -> dict[str, Weights]:
    """The named strategies plus the custom weights business users defined (``custom:NAME``)."""
    out = dict(STRATEGIES)
    for key, w in chosen.items():
        if key.startswith("custom:") and isinstance(w, dict):
            out[key.removeprefix("custom:")] = Weights(**w)
    return out


_strategy_cache: weakref.WeakKeyDictionary[Any, tuple[float, dict[str, Any]]] = weakref.WeakKeyDictionary()


def chosen_strategies(conn: Any) -> dict[str, Any]:
    hit = _strategy_cache.get(conn.engine)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    row = conn.execute(sa.select(store.settings.c.value).where(store.settings.c.key == "strategies")).scalar()
    _strategy_cache[conn.engine] = (time.monotonic() + 5.0, dict(row or {}))
    return dict(row or {})


def get_strategies(engine: Engine) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        return chosen_strategies(conn)


def define_strategy(engine: Engine, *, name: str, weights: Weights) -> dict[str, Any]:
    """Custom weights under a name, then chosen like the named strategies."""
    if name in STRATEGIES:
        raise InvalidInput(
            f"{name} is a built-in strategy", errors=[{"pointer": "/name", "detail": "choose another name"}]
        )
    if min(weights.cost, weights.late, weights.carbon, weights.split) < 0:
        raise InvalidInput("weights must not be negative", errors=[{"pointer": "/weights", "detail": "≥ 0"}])
    chosen = get_strategies(engine)
    chosen[f"custom:{name}"] = asdict(weights)
    _save_strategies(engine, chosen)
    return chosen


def _save_strategies(engine: Engine, chosen: dict[str, Any]) -> None:
    with unit_of_work(engine) as conn:
        conn.execute(store.settings.delete().where(store.settings.c.key == "strategies"))
        conn.execute(store.settings.insert().values(key="strategies", value=chosen))
    _strategy_cache.pop(engine, None)


def set_strategy(engine: Engine, *, scope: str, name: str, strategy: str | None) -> dict[str, Any]:
    """Choose a strategy for a channel (``scope`` channel) or a customer tier (``scope`` tier);
    ``strategy`` None removes the choice."""
    if scope not in ("channel", "tier"):
        raise InvalidInput("scope is channel or tier", errors=[{"pointer": "/scope", "detail": "channel or tier"}])
    chosen = get_strategies(engine)
    known = all_strategies(chosen)
    if strategy is not None and strategy not in known:
        raise InvalidInput(
            f"strategy is one of {', '.join(known)}", errors=[{"pointer": "/strategy", "detail": "unknown"}]
        )
    chosen.pop(f"{scope}:{name}", None)
    if strategy:
        chosen[f"{scope}:{name}"] = strategy
    _save_strategies(engine, chosen)
    return chosen


class LivePlanner:
    """A planner for one order, callable by ``inventory.reserve``; keeps its decision."""

    def __init__(
        self,
        parcels: carbon.ParcelModel,
        *,
        destination: tuple[float, float],
        lines: list[Line],
        strategy: str,
        weights: Weights,
        live: bool = True,
        channel: str = "",
        promise_days: int | None = None,
    ) -> None:
        self.destination = destination
        self.lines = tuple(lines)
        self.strategy = strategy
        self.weights = weights
        self.parcels = parcels  # the carbon context's parcel network, node origins resolved
        self.live = live  # False: shadow mode — the plain rule decides, the optimiser's plan is recorded
        self.decision: Decision | None = None
        self.rule: Decision | None = None
        self.states: dict[str, conditions.NodeState] = {}
        self.channel = channel
        self.promise_days = promise_days  # a date the customer was promised: a hard constraint
        self.unreliable = ""  # set when a condition flags the inputs: the plain rule decides
        self.strategy_by = ""  # who chose the strategy when a rule did ("rules:NAME@vN")
        self.protection = protection.StoreProtection(enabled=False)
        self.local_demand: dict[str, dict[str, float]] = {}  # node id → sku → units expected there
        self.offers: dict[str, Offer] = {}

    def __call__(self, free: dict[tuple[str, str], int], nodes: dict[str, inventory.Node]) -> dict[str, str]:
        offers: dict[str, dict[str, int]] = {}
        for (node_id, sku), qty in free.items():
            if qty > 0:
                offers.setdefault(node_id, {})[sku] = qty
        state = self.states
        none = conditions.NodeState()
        candidates = [
            Offer(
                node_id,
                nodes[node_id].lat,
                nodes[node_id].lon,
                atp,
                handling=HANDLING.get(nodes[node_id].type.value, 2.0),
                capacity_left=state.get(node_id, none).capacity_left,
                eligible=state.get(node_id, none).eligible and nodes[node_id].serves(self.channel),
                delay_days=state.get(node_id, none).delay_days,
                kind=nodes[node_id].type.value,
                local_demand=self.local_demand.get(node_id, {}) if nodes[node_id].type.value in PROTECTED_TYPES else {},
            )
            for node_id, atp in sorted(offers.items())
            if node_id in nodes and nodes[node_id].can(inventory.Capability.ships)
        ]
        self.offers = {o.node_id: o for o in candidates}
        req = Request(
            lines=self.lines,
            lat=self.destination[0],
            lon=self.destination[1],
            weights=self.weights,
            promise_days=self.promise_days or 3,
            promise_required=self.promise_days is not None,
            protect_weight=self.protection.weight if self.protection.enabled else 0.0,
        )
        self.rule = plan_nearest(req, candidates, self.carbon)
        if self.unreliable:
            self.rule.excluded = {"*": f"optimiser off: {self.unreliable}"}
            self.decision = self.rule
            return (
                {line_id: s.node_id for s in self.rule.plan.shipments for line_id in s.line_ids}
                if self.rule.plan
                else {}
            )
        decision = plan_fast(req, candidates, self.carbon)
        if decision.plan is None and candidates:
            # no plan of one or two shipments: the exact solver, allowed more, under a time cap
            wide = Request(lines=req.lines, lat=req.lat, lon=req.lon, weights=req.weights, max_shipments=len(req.lines))
            exact = plan_exact(wide, candidates, self.carbon, time_limit_s=EXACT_TIME_CAP_S)
            if exact.plan is not None:
                exact.candidates, exact.excluded = decision.candidates, decision.excluded
                decision = exact
        if decision.plan is None:
            decision = self.rule
        self.decision = decision
        applied = decision if self.live else self.rule
        if applied.plan is None:
            return {}
        return {line_id: s.node_id for s in applied.plan.shipments for line_id in s.line_ids}

    @property
    def carbon(self) -> Any:
        """kg CO2e of a parcel from an offer over a road distance: (per parcel, per kg)."""
        return self.parcels.offer_terms

    def explanation(self) -> dict[str, Any]:
        if self.decision is None:
            return {"method": "nearest-node rule", "reason": "no plan"}
        out = explain(self.decision, self.strategy)
        out["conditions"] = {n: st.why for n, st in self.states.items() if st.why}
        out["mode"] = "live" if self.live else "shadow"
        out["destination"] = [round(self.destination[0], 4), round(self.destination[1], 4)]
        out["applied"] = "optimiser" if self.live and not self.unreliable else "rule"
        if self.unreliable:
            out["unreliable"] = f"inputs unreliable: {self.unreliable}"
        out["store_protection"] = protection.explain(
            self.protection, self.lines, self.offers, self.decision.plan, self.decision.alternatives
        )
        if self.strategy_by:
            out["strategy_by"] = self.strategy_by
        # both policies on the same order, for the shadow-mode report
        out["compare"] = {
            "optimiser": _summary(self.decision.plan),
            "rule": _summary(self.rule.plan if self.rule else None),
        }
        return out


def score(planner: LivePlanner, nodes: dict[str, inventory.Node], assignment: dict[str, str]) -> Plan | None:
    """The objective terms of an existing assignment (where an order's stock is held now)."""
    by_node: dict[str, list[Line]] = {}
    lines = {ln.line_id: ln for ln in planner.lines}
    for line_id, node_id in assignment.items():
        if line_id in lines and node_id in nodes:
            by_node.setdefault(node_id, []).append(lines[line_id])
    if not by_node or sum(len(v) for v in by_node.values()) != len(lines):
        return None
    req = Request(lines=planner.lines, lat=planner.destination[0], lon=planner.destination[1], weights=planner.weights)
    parts = [
        (
            terms(
                Offer(
                    n,
                    nodes[n].lat,
                    nodes[n].lon,
                    {},
                    handling=HANDLING.get(nodes[n].type.value, 2.0),
                    kind=nodes[n].type.value,
                ),
                req,
                planner.carbon,
            ),
            ls,
        )
        for n, ls in sorted(by_node.items())
    ]
    return Plan(tuple(shipment(t, ls) for t, ls in parts), objective(req, parts))


def _summary(plan: Plan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "cost_eur": round(plan.cost, 4),
        "days": plan.days,
        "kg_co2e": round(plan.kg_co2e, 5),
        "shipments": len(plan.shipments),
    }


def live_planner_for(
    conn: Any,
    *,
    destination: tuple[float, float],
    lines: list[Line],
    tier: str,
    channel: str,
    region: str = "",
    country: str = "",
    promise_days: int | None = None,
    strategy: str | None = None,
    strategy_by: str = "",
) -> LivePlanner:
    """The planner for an order being captured on ``conn`` (factors and pilot scope cached).
    ``strategy``, when given (a rule chose it: ``strategy_by``), wins over the configured one.
    ``country`` chooses the carbon factors' region (DESNZ for GB, GLEC EU defaults elsewhere),
    the destination its delivery round (urban or rural, ``carbon.area_on``)."""
    asked = strategy
    strategy, weights = strategy_for(tier=tier, channel=channel, override=asked, chosen=chosen_strategies(conn))
    area = carbon.area_on(conn, destination)
    network = carbon.factor_set_on(conn).parcel_model(carbon.region_of(country), area=area)
    live = pilot_scope(conn).covers(channel=channel, region=region, skus=[ln.sku for ln in lines])
    planner = LivePlanner(
        network,
        destination=destination,
        lines=lines,
        strategy=strategy,
        weights=weights,
        live=live,
        channel=channel,
        promise_days=promise_days,
    )
    planner.states = conditions.node_states(conn, inventory.nodes_by_id(conn))
    planner.unreliable = conditions.unreliable(conn, region=region)
    _protect(conn, planner)
    planner.strategy_by = strategy_by if asked and strategy == asked else ""
    return planner


def _protect(conn: Any, planner: LivePlanner) -> None:
    """Store protection's inputs: the stores' expected local demand for the order's SKUs (one
    read, kept per forecast run by ``forecast.expected_at_nodes``)."""
    planner.protection = configured = protection.configured()
    if configured.enabled:
        skus = sorted({ln.sku for ln in planner.lines})
        planner.local_demand = forecast.expected_at_nodes(conn, skus=skus, days=configured.days)


# -- pilot scope and shadow mode --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Pilot:
    """Where the optimiser decides; everywhere else it runs in shadow (the plain rule decides,
    the optimiser's plan is recorded). Empty lists mean "all"; ``mode`` live covers all."""

    mode: str = "live"  # live | pilot | shadow
    channels: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()

    def covers(self, *, channel: str, region: str, skus: list[str]) -> bool:
        if self.mode == "live":
            return True
        if self.mode == "shadow":
            return False
        return (
            (not self.channels or channel in self.channels)
            and (not self.regions or region in self.regions)
            and (not self.skus or all(s in self.skus for s in skus))
        )


_pilot_cache: weakref.WeakKeyDictionary[Any, tuple[float, Pilot]] = weakref.WeakKeyDictionary()


def pilot_scope(conn: Any) -> Pilot:
    hit = _pilot_cache.get(conn.engine)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    row = conn.execute(sa.select(store.settings.c.value).where(store.settings.c.key == "pilot")).scalar()
    pilot = (
        Pilot(str(row["mode"]), tuple(row["channels"]), tuple(row["regions"]), tuple(row["skus"])) if row else Pilot()
    )
    _pilot_cache[conn.engine] = (time.monotonic() + 5.0, pilot)
    return pilot


def set_pilot(engine: Engine, *, mode: str, channels: list[str], regions: list[str], skus: list[str]) -> Pilot:
    """Switch the optimiser on for a scope (``pilot``), everywhere (``live``) or nowhere (``shadow``)."""
    if mode not in ("live", "pilot", "shadow"):
        raise InvalidInput(
            "mode is live, pilot or shadow", errors=[{"pointer": "/mode", "detail": "live, pilot or shadow"}]
        )
    value = {"mode": mode, "channels": channels, "regions": regions, "skus": skus}
    with unit_of_work(engine) as conn:
        conn.execute(store.settings.delete().where(store.settings.c.key == "pilot"))
        conn.execute(store.settings.insert().values(key="pilot", value=value))
    _pilot_cache.pop(engine, None)
    return Pilot(mode, tuple(channels), tuple(regions), tuple(skus))


def get_pilot(engine: Engine) -> Pilot:
    with unit_of_work(engine, write=False) as conn:
        return pilot_scope(conn)


def destinations_since(engine: Engine, *, since: Any) -> list[tuple[float, float]]:
    """Delivery coordinates of the orders routed since ``since`` (for the map)."""
    with unit_of_work(engine, write=False) as conn:
        rows = bus.get_events_of_type(conn, type="order.sourced", start=since, end=utcnow())
    out = []
    for data in rows:
        dest = data.get("destination")
        if dest:
            out.append((float(dest[0]), float(dest[1])))
    return out


def shadow_report(engine: Engine, *, start: Any, end: Any) -> dict[str, Any]:
    """Both policies on the same orders: cost, delivery days, kg CO2e and shipments of the
    optimiser's plans and the plain rule's, summed over the decisions made in the period."""
    with unit_of_work(engine, write=False) as conn:
        rows = bus.get_events_of_type(conn, type="order.sourced", start=start, end=end)
    totals = {
        p: {"orders": 0, "cost_eur": 0.0, "days": 0, "kg_co2e": 0.0, "shipments": 0} for p in ("optimiser", "rule")
    }
    modes: dict[str, int] = {}
    for data in rows:
        compare = data.get("compare") or {}
        if not compare.get("optimiser") or not compare.get("rule"):
            continue
        mode = data.get("mode", "live")
        modes[mode] = modes.get(mode, 0) + 1
        for policy, t in totals.items():
            c = compare[policy]
            t["orders"] += 1
            for key in ("cost_eur", "days", "kg_co2e", "shipments"):
                t[key] += c[key]

    def saving(key: str) -> float | None:
        rule = totals["rule"][key]
        return round(100 * (1 - totals["optimiser"][key] / rule), 2) if rule else None

    return {
        "orders": totals["rule"]["orders"],
        "by_mode": modes,
        "optimiser": {k: round(v, 3) for k, v in totals["optimiser"].items()},
        "rule": {k: round(v, 3) for k, v in totals["rule"].items()},
        "saving_pct": {k: saving(k) for k in ("cost_eur", "days", "kg_co2e", "shipments")},
    }


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "nodes": list(plan.nodes),
        "objective": round(plan.objective, 4),
        "protection": round(plan.protection, 4),
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
                "protection": round(s.protection, 4),
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
    region: str = "",
    country: str = "",
    promise_days: int | None = None,
) -> dict[str, Any]:
    """The plan capture would make for this basket now, reserving nothing: the same planner
    (``live_planner_for``) on the same free stock (the channel's buffer applied), so the
    conditions in force (delays, outages, capacity cuts, unreliable inputs), node calendars
    and cut-offs, capacity left today, channel eligibility, the promise date and the pilot
    scope all apply as they would at capture. A strategy a rule would choose for an order is
    not asked here: name it with ``strategy``."""
    items = inventory.get_items(engine, skus=[sku for sku, _ in lines])
    plan_lines = [
        Line(f"line-{i + 1}", sku, qty, inventory.shipping_weight_g(items, sku) * qty / 1000)
        for i, (sku, qty) in enumerate(lines)
    ]
    free: dict[tuple[str, str], int] = {}
    for sku in dict.fromkeys(sku for sku, _ in lines):
        for n in inventory.get_atp(engine, sku=sku, channel=channel)["nodes"]:
            free[(n.node_id, sku)] = n.atp
    with unit_of_work(engine, write=False) as conn:
        planner = live_planner_for(
            conn,
            destination=destination,
            lines=plan_lines,
            tier=tier,
            channel=channel,
            region=region,
            country=country,
            promise_days=promise_days,
            strategy=strategy,
        )
        nodes = inventory.nodes_by_id(conn)
    planner(free, nodes)
    return planner.explanation()
