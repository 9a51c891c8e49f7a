"""The exact plan: a mixed-integer program solved by HiGHS, under a time cap.

x[l, n] = 1 when line l ships from node n; y[n] = 1 when node n sends a shipment.
    min  Σ_n fixed_n · y_n + Σ_{l,n} per_kg_n · weight_l · x_ln + w_split · (Σ_n y_n − 1)
    s.t. Σ_n x_ln = 1                     every line ships from one node
         x_ln ≤ y_n                       only from nodes that ship
         Σ_{l of sku} qty_l · x_ln ≤ atp_n,sku
         Σ_n y_n ≤ max_shipments
Same terms as the fast path (``model.terms``), so the two objectives are comparable exactly.
"""

from __future__ import annotations

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
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", time_limit_s)
    y = {t.offer.node_id: h.addBinary(obj=t.fixed + req.weights.split) for t in usable}
    x = {}
    for line in req.lines:
        row = []
        for t in usable:
            if t.offer.atp.get(line.sku, 0) >= line.quantity:
                # store protection of the line alone: exact when a SKU is on one line of the order
                kept = protection(t.offer, [line], req.protect_weight)
                var = h.addBinary(obj=t.per_kg * line.weight_kg + kept)
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
    parts = []
    by_id = {t.offer.node_id: t for t in usable}
    for node_id in y:
        chosen = [ln for ln in req.lines if (ln.line_id, node_id) in x and h.val(x[(ln.line_id, node_id)]) > 0.5]
        if chosen:
            parts.append((by_id[node_id], chosen))
    if not parts:
        return decision
    decision.plan = Plan(tuple(shipment(t, ls, req.protect_weight) for t, ls in parts), objective(req, parts))
    return decision
