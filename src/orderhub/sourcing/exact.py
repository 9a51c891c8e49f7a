"""The exact plan: a mixed-integer program solved by HiGHS, under a time cap.

x[l, n] = 1 when line l ships from node n; y[n] = 1 when node n sends a shipment.
    min  Σ_n fixed_n · y_n + Σ_{l,n} per_kg_n · weight_l · x_ln + w_split · (Σ_n y_n − 1)
    s.t. Σ_n x_ln = 1                     every line ships from one node
         x_ln ≤ y_n                       only from nodes that ship
         Σ_{l of sku} qty_l · x_ln ≤ atp_n,sku
         Σ_n y_n ≤ max_shipments
Same terms as the fast path (``model.terms``), so the two objectives are comparable exactly.

Ties break as in the fast path (``model.tie_break``), lexicographically: among plans whose
objective is within a millionth of the best, the one with the least kg CO2e, then among those
the shortest road distance (each a further solve in the remaining time; when time runs out the
best plan found so far stands).
"""

from __future__ import annotations

import time
from typing import Any

import highspy

from orderhub.sourcing.model import (
    DEFAULT_ZONES,
    CarbonTerms,
    Decision,
    Offer,
    Plan,
    Request,
    Zone,
    objective,
    protection,
    shipment,
    terms,
)


def plan_exact(
    req: Request,
    offers: list[Offer],
    carbon_per_kg: CarbonTerms,
    *,
    time_limit_s: float = 1.0,
    zones: tuple[Zone, ...] = DEFAULT_ZONES,
) -> Decision:
    decision = Decision(plan=None, method="exact", weights=req.weights)
    usable = [
        terms(o, req, carbon_per_kg, zones)
        for o in offers
        if o.eligible and o.capacity_left > 0 and any(o.atp.get(ln.sku, 0) >= ln.quantity for ln in req.lines)
    ]
    if req.promise_required:
        usable = [t for t in usable if t.days <= req.promise_days]
    deadline = time.monotonic() + time_limit_s
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", time_limit_s)
    # each variable's coefficient in the objective, the kg CO2e and the road km: the tie-breaks
    coef: list[tuple[Any, float, float, float]] = []
    y = {}
    for t in usable:
        y[t.offer.node_id] = var = h.addBinary(obj=t.fixed + req.weights.split)
        coef.append((var, t.fixed + req.weights.split, t.co2_fixed, t.road_km))
    x = {}
    for line in req.lines:
        row = []
        for t in usable:
            if t.offer.atp.get(line.sku, 0) >= line.quantity:
                # store protection of the line alone: exact when a SKU is on one line of the order
                kept = protection(t.offer, [line], req.protect_weight)
                var = h.addBinary(obj=t.per_kg * line.weight_kg + kept)
                coef.append((var, t.per_kg * line.weight_kg + kept, t.co2_per_kg * line.weight_kg, 0.0))
                x[(line.line_id, t.offer.node_id)] = var
                h.addConstr(var <= y[t.offer.node_id])
                row.append(var)
        if not row:
            return decision
        h.addConstr(sum(row[1:], row[0]) == 1)
    for t in usable:
        by_sku: dict[str, list[tuple[int, Any]]] = {}
        for line in req.lines:
            var = x.get((line.line_id, t.offer.node_id))
            if var is not None:
                by_sku.setdefault(line.sku, []).append((line.quantity, var))
        for sku, terms_ in by_sku.items():
            if len(terms_) > 1:
                total: Any = sum((q * v for q, v in terms_[1:]), terms_[0][0] * terms_[0][1])
                h.addConstr(total <= t.offer.atp[sku])
    ys = list(y.values())
    if ys:
        h.addConstr(sum(ys[1:], ys[0]) <= req.max_shipments)
    h.minimize()
    if h.getModelStatus() not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
        return decision
    if not _has_solution(h):
        return decision
    picked = [h.val(row[0]) > 0.5 for row in coef]
    # ties: objective equal to a millionth → less kg CO2e → shorter road km (columns 1, 2, 3)
    for stage, slack in ((1, 1e-6), (2, 1e-9)):
        left = deadline - time.monotonic()
        if left <= 0.002:
            break
        bound, goal = _expr(coef, stage), _expr(coef, stage + 1)
        if bound is None or goal is None:
            break
        value = sum(row[stage] for row, on in zip(coef, picked, strict=True) if on)
        h.addConstr(bound <= value + slack)
        h.setOptionValue("time_limit", left)
        h.setOptionValue("mip_rel_gap", 0.0)  # a tie-break is settled exactly, or not at all
        h.minimize(goal)
        if not _has_solution(h):
            break
        picked = [h.val(row[0]) > 0.5 for row in coef]
    on = {id(row[0]) for row, chosen in zip(coef, picked, strict=True) if chosen}
    parts = []
    by_id = {t.offer.node_id: t for t in usable}
    for node_id in y:
        chosen = [ln for ln in req.lines if (ln.line_id, node_id) in x and id(x[(ln.line_id, node_id)]) in on]
        if chosen:
            parts.append((by_id[node_id], chosen))
    if not parts:
        return decision
    decision.plan = Plan(tuple(shipment(t, ls, req.protect_weight) for t, ls in parts), objective(req, parts))
    return decision


def _has_solution(h: Any) -> bool:
    """A feasible solution is at hand (a solve stopped by the time cap may have none)."""
    return bool(h.getInfo().primal_solution_status == 2)


def _expr(coef: list[tuple[Any, float, float, float]], column: int) -> Any:
    """Σ coefficient × variable of one column as a HiGHS linear expression (None: all zero)."""
    expr: Any = None
    for row in coef:
        if row[column]:
            expr = row[column] * row[0] if expr is None else expr + row[column] * row[0]
    return expr
