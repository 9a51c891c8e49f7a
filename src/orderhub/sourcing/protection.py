"""Store protection: its setting, and what the decision's explanation says of it. The term itself
is the planner's (``model.protection``, in every plan's objective); its input, a store's
expected local demand, is read from forecast's service when the planner is built."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orderhub.sourcing.model import Line, Offer, Plan, uncovered


@dataclass(frozen=True, slots=True)
class StoreProtection:
    """Store protection (settings ``store_protection*``): the objective weighs a store's
    expected local demand over the next ``days`` days, ``weight`` per unit an order would
    leave uncovered, so an online order does not empty a store that will sell out."""

    enabled: bool = True
    days: int = 2
    weight: float = 5.0


_configured = StoreProtection()


def configure(protection: StoreProtection) -> None:
    """Set store protection for this process (``orderhub.wiring`` does, from the settings)."""
    global _configured
    _configured = protection


def configured() -> StoreProtection:
    return _configured


def explain(
    p: StoreProtection,
    lines: Iterable[Line],
    offers: Mapping[str, Offer],
    chosen: Plan | None,
    alternatives: Iterable[Plan],
) -> dict[str, Any]:
    """Store protection in the explanation: the stores' expected local demand the order met,
    the chosen plan's term, and — when it changed the decision — why."""
    if not p.enabled:
        return {"on": False}
    lines = list(lines)
    skus = {ln.sku for ln in lines}
    stores = {
        node_id: {
            sku: {"expected": round(o.local_demand[sku], 2), "atp": o.atp.get(sku, 0)}
            for sku in skus
            if sku in o.local_demand
        }
        for node_id, o in offers.items()
        if o.local_demand and skus & set(o.local_demand)
    }
    view: dict[str, Any] = {"on": True, "days": p.days, "weight": p.weight, "stores": stores}
    if chosen is None or not stores:
        return view
    view["term"] = round(chosen.protection, 4)
    unprotected = min([chosen, *alternatives], key=lambda x: (x.objective - x.protection, x.nodes))
    if unprotected is not chosen and unprotected.protection > 0:
        view["why"] = _said(p, lines, offers, unprotected, chosen)
    elif chosen.protection > 0:
        view["why"] = "chosen all the same: " + _said(p, lines, offers, chosen, None)
    return view


def _said(p: StoreProtection, lines: list[Line], offers: Mapping[str, Offer], plan: Plan, instead: Plan | None) -> str:
    by_id = {ln.line_id: ln for ln in lines}
    parts = []
    for s in plan.shipments:
        offer = offers.get(s.node_id)
        if offer is None or not s.protection:
            continue
        for sku, short in uncovered(offer, [by_id[x] for x in s.line_ids]).items():
            parts.append(
                f"{s.node_id} expects {offer.local_demand[sku]:.1f} {sku} from its own customers over "
                f"{p.days} day(s) and has {offer.atp.get(sku, 0)}: this order would leave {short:.1f} of them "
                "without stock"
            )
    said = (
        "; ".join(parts) + f" (store protection {plan.protection:.2f} on top of {plan.objective - plan.protection:.2f})"
    )
    if instead is not None:
        said += f", so {'+'.join(instead.nodes)} ({instead.objective:.2f}) serves it instead"
    return said
