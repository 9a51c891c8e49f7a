"""Planning with the demand forecast: replenishment suggestions per node and promise dates for
the lines waiting for stock (backorders, paid or on a presale lock).

Inventory reads forecast's read model through ``forecast.service`` (forecast sits below
inventory on the map). The arithmetic is pure (``model.plan_replenishment``,
``model.promise_lines``); here it is fed from one read of positions, open supply, nodes and
waiting lines, and one read of the forecast.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import InvalidInput
from orderhub.forecast import service as forecast
from orderhub.inventory import reservations, stock, store
from orderhub.inventory.model import (
    BACKORDER_POLICIES,
    Capability,
    NodeType,
    Waiting,
    backlog_order,
    plan_replenishment,
    promise_lines,
)
from orderhub.platform.db import unit_of_work

#: Service level of the safety stock: z = 1.28 covers 90 % of days' forecast errors.
SERVICE_Z = 1.28
REPLENISHED = (NodeType.store, NodeType.dark_store, NodeType.distribution_centre)


def _days_from(today: date, at: datetime) -> int:
    return (as_utc(at).date() - today).days


def _demand_of_nodes(
    outlook: dict[tuple[str, str], dict[str, Any]], nodes: dict[str, Any], held: dict[str, set[str]], days: int
) -> dict[tuple[str, str], tuple[list[float], float]]:
    """Each node's daily demand and spread per SKU: its own customers' (its ``node:`` series)
    plus an equal share, among the region's shipping nodes that stock the SKU, of the region's
    online demand (the region's forecast less the nodes' own)."""
    out: dict[tuple[str, str], tuple[list[float], float]] = {}
    own_by_region: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0] * days)
    for node_id, node in nodes.items():
        for sku in held.get(node_id, ()):
            own = outlook.get((sku, forecast.node_location(node_id)))
            if own is not None:
                out[(node_id, sku)] = (list(own["daily"]), own["sigma"] or 0.0)
                acc = own_by_region[(node.region, sku)]
                for t, v in enumerate(own["daily"]):
                    acc[t] += v
    for node_id, node in nodes.items():
        if not node.can(Capability.ships):
            continue
        for sku in held.get(node_id, ()):
            region = outlook.get((sku, node.region))
            if region is None:
                continue
            shippers = [
                n
                for n in nodes.values()
                if n.region == node.region and n.can(Capability.ships) and sku in held.get(n.id, ())
            ]
            k = len(shippers)
            nodes_own = own_by_region.get((node.region, sku), [0.0] * days)
            share = [max(0.0, r - o) / k for r, o in zip(region["daily"], nodes_own, strict=True)]
            daily, sigma = out.get((node_id, sku), ([0.0] * days, 0.0))
            out[(node_id, sku)] = (
                [a + b for a, b in zip(daily, share, strict=True)],
                (sigma**2 + ((region["sigma"] or 0.0) / k) ** 2) ** 0.5,
            )
    return out


def replenishment(
    engine: Engine,
    *,
    node_id: str | None = None,
    sku: str | None = None,
    lead_days: int = 7,
    review_days: int = 7,
    horizon_days: int = 28,
    at_risk: bool = False,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Replenishment suggestions: per node (stores, dark stores, distribution centres) and SKU
    it stocks, the forecast demand over ``horizon_days`` against ATP and incoming supply, when
    its stock runs out, and what to order by when (``model.plan_replenishment``). Sorted by the
    day to order, most urgent first; ``at_risk``: only those that run out within the horizon."""
    if not (0 <= lead_days <= 90 and 1 <= review_days <= 90 and 1 <= horizon_days <= 90):
        raise InvalidInput("lead_days 0–90, review_days and horizon_days 1–90")
    today = utcnow().date()
    with unit_of_work(engine, write=False) as conn:
        nodes = {n.id: n for n in reservations.nodes_by_id(conn).values() if n.type in REPLENISHED}
        rows = [r for r in stock.positions_for(conn, sku=sku) if r.node_id in nodes]
        S = store.supply
        stmt = sa.select(S.c.node_id, S.c.sku, S.c.quantity, S.c.expected_at).where(S.c.status == "open")
        incoming: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for r in conn.execute(stmt if sku is None else stmt.where(S.c.sku == sku)):
            incoming[(r.node_id, r.sku)].append((_days_from(today, r.expected_at), int(r.quantity)))
    held: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        held[r.node_id].add(r.sku)
    outlook = forecast.demand_outlook(engine, skus=[sku] if sku else None, start=today, days=horizon_days)
    demand = _demand_of_nodes(outlook, nodes, held, horizon_days)
    out = []
    for r in rows:
        if node_id and r.node_id != node_id:
            continue
        daily, sigma = demand.get((r.node_id, r.sku), ([0.0] * horizon_days, 0.0))
        atp = stock.position_from(r).atp
        plan = plan_replenishment(
            atp=atp, daily=daily, incoming=incoming.get((r.node_id, r.sku), []), sigma=sigma,
            lead_days=lead_days, review_days=review_days, z=SERVICE_Z,
        )  # fmt: skip
        if at_risk and plan.stockout_day is None:
            continue
        node = nodes[r.node_id]

        def on(day: int | None) -> str | None:
            return (today + timedelta(days=day)).isoformat() if day is not None else None

        out.append(
            {
                "node_id": r.node_id, "node": node.name, "node_type": node.type.value, "region": node.region,
                "sku": r.sku, "on_hand": r.on_hand, "atp": atp, "safety_stock": r.safety_stock,
                "incoming": sum(q for _, q in incoming.get((r.node_id, r.sku), [])),
                "demand_per_day": round(plan.demand / horizon_days, 2), "demand": round(plan.demand, 1),
                "forecast_safety": round(plan.safety, 1), "stockout_on": on(plan.stockout_day),
                "below_safety_on": on(plan.below_safety_day), "order_by": on(plan.order_day),
                "arrives_by": on(plan.order_day + lead_days) if plan.order_day is not None else None,
                "quantity": plan.quantity, "at_risk": plan.stockout_day is not None,
            }
        )  # fmt: skip
    out.sort(key=lambda x: (x["order_by"] or "9999", x["stockout_on"] or "9999", x["node_id"], x["sku"]))
    return out[:limit]


CSV_COLUMNS = (
    "node_id", "node", "node_type", "region", "sku", "on_hand", "atp", "safety_stock", "incoming", "demand_per_day",
    "demand", "forecast_safety", "stockout_on", "below_safety_on", "order_by", "arrives_by", "quantity",
)  # fmt: skip


def as_csv(rows: Iterable[dict[str, Any]]) -> str:
    """Replenishment suggestions as CSV (a header, one row per node and SKU)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# -- promise dates -------------------------------------------------------------------------------
def promise_dates(
    engine: Engine,
    *,
    sku: str | None = None,
    order_id: str | None = None,
    policy: str = "vip_first",
    horizon_days: int = 90,
) -> list[dict[str, Any]]:
    """When each waiting line (a backorder, paid or on a presale lock) can expect its stock:
    its SKU's lines are taken in the order the backlog ``policy`` serves them, against free
    stock now and open incoming supply at shipping nodes by expected date, with the demand
    still to come that the policy will serve first (``model.promise_lines``)."""
    if policy not in BACKORDER_POLICIES:
        raise InvalidInput(f"policy is one of {', '.join(BACKORDER_POLICIES)}")
    today = utcnow().date()
    B, S = store.backorders, store.supply
    with unit_of_work(engine, write=False) as conn:
        wanted = sa.select(B.c.sku).where(B.c.status == "waiting")
        if order_id:
            wanted = wanted.where(B.c.order_id == order_id)
        elif sku:
            wanted = wanted.where(B.c.sku == sku)
        skus = sorted(set(conn.execute(wanted.distinct()).scalars()))
        if not skus:
            return []
        waiting = list(conn.execute(sa.select(B).where(B.c.status == "waiting", B.c.sku.in_(skus))))
        costs = {k: item.cost_minor for k, item in reservations.items_by_sku(conn).items()}
        nodes = reservations.nodes_by_id(conn)
        supply: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for r in conn.execute(sa.select(S).where(S.c.status == "open", S.c.sku.in_(skus))):
            if r.node_id in nodes and nodes[r.node_id].can(Capability.ships):
                supply[r.sku].append((_days_from(today, r.expected_at), int(r.quantity)))
        for r in conn.execute(sa.select(stock.positions).where(stock.positions.c.sku.in_(skus))):
            free = stock.position_from(r).atp
            if free > 0 and r.node_id in nodes and nodes[r.node_id].can(Capability.ships):
                supply[r.sku].append((0, free))
    outlook = forecast.demand_outlook(engine, skus=skus, start=today, days=horizon_days)
    out = []
    for k in skus:
        lines = backlog_order([w for w in waiting if w.sku == k], policy=policy, costs=costs)
        daily = [0.0] * horizon_days
        for (s, location), entry in outlook.items():
            if s == k and not location.startswith(forecast.NODE_PREFIX):  # regions: every order once
                daily = [a + b for a, b in zip(daily, entry["daily"], strict=True)]
        promised = promise_lines(
            [Waiting(w.id, w.quantity, _rank(w, policy, costs)) for w in lines],
            supply=supply.get(k, []), daily=daily, ranked=policy != "fifo",
        )  # fmt: skip
        for w in lines:
            if order_id and w.order_id != order_id:
                continue
            p = promised[w.id]
            out.append(
                {
                    "order_id": w.order_id, "line_id": w.line_id, "sku": k, "quantity": w.quantity,
                    "waiting_since": as_utc(w.created_at).isoformat(), "presale": w.hold_ttl_s is not None,
                    "queue_ahead": p.queue_ahead, "forecast_ahead": p.forecast_ahead,
                    "promised_on": (today + timedelta(days=p.day)).isoformat() if p.day is not None else None,
                    "short": p.short,
                }
            )  # fmt: skip
    return out


def _rank(w: Any, policy: str, costs: dict[str, int]) -> float:
    if policy == "profit":
        return float(w.value_minor / max(w.quantity, 1) - costs.get(w.sku, 0))
    return float(w.priority) if policy == "vip_first" else 0.0
