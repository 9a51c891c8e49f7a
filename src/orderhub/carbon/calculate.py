"""Use cases of the ISO 14083 calculator beyond orders: a transport chain element by element,
real rounds recorded with each item's share, a hub's intensity from its own annual data, and
a DESNZ workbook read by label. The service of the same context keeps orders and options."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from orderhub.carbon import chains, desnz, store
from orderhub.carbon import factors as tables
from orderhub.carbon.chains import EnergyUse, RoundAllocation, RoundItem
from orderhub.carbon.model import DataQuality, Factor, FactorKind
from orderhub.carbon.service import get_factor_set, invalidate
from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.platform.db import unit_of_work


def chain(engine: Engine, *, elements: list[dict[str, Any]], region: str = "", carrier: str = "") -> dict[str, Any]:
    """kg CO2e of a transport chain, element by element (legs, hub visits, round shares) and in
    total, well-to-wheel and tank-to-wheel where known, each with where its figure came from.
    Rounds may name a recorded round and one of its items. Reads only."""
    wanted = sorted({el["round_id"] for el in elements if el.get("round_id")})
    recorded: dict[str, RoundAllocation] = {}
    with unit_of_work(engine, write=False) as conn:
        for round_id in wanted:
            found = store.get_round(conn, round_id)
            if found is not None:
                recorded[round_id] = _allocation(*found)
    computed = chains.compute(get_factor_set(engine), elements, region=region, carrier=carrier, recorded=recorded)
    total = sum(e.kg for e in computed)
    ttws = [e.ttw_kg for e in computed]
    return {
        "kg_co2e": total,
        "ttw_kg": None if any(t is None for t in ttws) else sum(t or 0.0 for t in ttws),
        "data_quality": min((e.quality for e in computed), key=lambda q: q.rank).value,
        "elements": [{**e.as_dict(), "share_of_total": e.kg / total if total else 0.0} for e in computed],
    }


def _allocation(row: dict[str, Any], items: list[dict[str, Any]]) -> RoundAllocation:
    return RoundAllocation(
        method=row["method"],
        kg=row["kg"],
        ttw_kg=row["ttw_kg"],
        items=row["items"],
        tkm=row["tkm"],
        shares=[
            chains.ItemShare(
                i["item_id"],
                i["order_id"] or "",
                i["kg"],
                i["ttw_kg"],
                None if i["mass_kg"] is None or i["distance_km"] is None else i["mass_kg"] * 1e-3 * i["distance_km"],
            )
            for i in items
        ],
    )


def record_round(
    engine: Engine,
    *,
    kind: str,
    total: dict[str, Any],
    items: list[dict[str, Any]],
    actor: str,
    round_id: str | None = None,
    unlisted_items: int = 0,
    unlisted_tkm: float | None = None,
    method: str = "auto",
    carrier: str = "",
    service: str = "",
    region: str = "",
) -> dict[str, Any]:
    """Record a real round — its total (kg CO2e, or fuel and energy used) and its items (each
    with its mass and distance from the depot when tracked) — and answer each item's share: by
    t·km when tracked, else per item. Items that name an order count in that order's
    footprint instead of the default round share. Recording a round again under its id
    replaces it. Items are listed one by one or by stop (a stop's items share its distance)."""
    kg, ttw, basis = chains.round_total(get_factor_set(engine), total, "/total", region)
    listed = [RoundItem(i["item_id"], i.get("order_id") or "", i.get("mass_kg"), i.get("distance_km")) for i in items]
    if len({i.item_id for i in listed}) != len(listed):
        raise InvalidInput("item ids repeat", errors=[{"pointer": "/items", "detail": "each item once"}])
    alloc = chains.allocate_round(
        kg, ttw, listed, unlisted_items=unlisted_items, unlisted_tkm=unlisted_tkm, method=method
    )
    round_id = round_id or new_id("rnd")
    row = {
        "id": round_id,
        "kind": kind,
        "carrier": carrier,
        "service": service,
        "method": alloc.method,
        "kg": alloc.kg,
        "ttw_kg": alloc.ttw_kg,
        "items": alloc.items,
        "tkm": alloc.tkm,
        "basis": basis,
        "quality": DataQuality.primary.value,
        "recorded_at": utcnow(),
        "recorded_by": actor,
    }
    item_rows = [
        {
            "item_id": i.item_id,
            "order_id": i.order_id or None,
            "mass_kg": i.mass_kg,
            "distance_km": i.distance_km,
            "kg": s.kg,
            "ttw_kg": s.ttw_kg,
        }
        for i, s in zip(listed, alloc.shares, strict=True)
    ]
    with unit_of_work(engine) as conn:
        store.replace_round(conn, row, item_rows)
        store.touch_days(conn, store.days_of_orders(conn, sorted({i.order_id for i in listed if i.order_id})))
    return round_json(row, item_rows)


def get_round(engine: Engine, *, round_id: str) -> dict[str, Any]:
    """A recorded round with each item's share; 404 ``round_not_found``."""
    with unit_of_work(engine, write=False) as conn:
        found = store.get_round(conn, round_id)
    if found is None:
        raise NotFound(f"no round {round_id}", code="round_not_found", round_id=round_id)
    return round_json(*found)


def round_json(row: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "round_id": row["id"],
        "kind": row["kind"],
        "carrier": row["carrier"],
        "service": row["service"],
        "allocation": row["method"],
        "kg_co2e": row["kg"],
        "ttw_kg": row["ttw_kg"],
        "items": row["items"],
        "tkm": row["tkm"],
        "basis": row["basis"],
        "shares": [
            {"item_id": i["item_id"], "order_id": i["order_id"], "kg_co2e": i["kg"], "ttw_kg": i["ttw_kg"]}
            for i in items
        ],
    }


def site_intensity(
    engine: Engine,
    *,
    tonnes: float,
    controlled_tonnes: float,
    energy: list[dict[str, Any]],
    site: str = "",
    actor: str = "",
    year: str = "",
) -> dict[str, Any]:
    """A hub's intensity from its own data over a period (GLEC v3 Module 4 §5): all energy over
    all tonnes handled; every tonne carries the shared energy, temperature-controlled tonnes
    carry also what serves only them. With ``site``, the figures are loaded as that site's own
    (primary) factors ``hub.site:<site>`` and ``hub.site:<site>.controlled``, which win over
    the defaults for visits to it (a node's id makes them its fulfilment hub figure)."""
    fs = get_factor_set(engine)
    uses = []
    for j, e in enumerate(energy):
        found = chains.energy(fs, e["key"], bio_share=e.get("bio_share"))
        if found is None:
            raise InvalidInput(
                f"no energy factor {e['key']}", errors=[{"pointer": f"/energy/{j}/key", "detail": "unknown"}]
            )
        uses.append(EnergyUse(e["quantity"], found, bool(e.get("controlled_only"))))
    if controlled_tonnes > tonnes:
        raise InvalidInput(
            "controlled tonnes are part of all tonnes handled",
            errors=[{"pointer": "/controlled_tonnes", "detail": "≤ tonnes"}],
        )
    if any(u.controlled_only for u in uses) and controlled_tonnes <= 0:
        raise InvalidInput(
            "energy for temperature-controlled goods needs their tonnes",
            errors=[{"pointer": "/controlled_tonnes", "detail": "> 0"}],
        )
    h = chains.hub_intensity(tonnes, controlled_tonnes, uses)
    out: dict[str, Any] = {
        "tonnes": h.tonnes,
        "controlled_tonnes": h.controlled_tonnes,
        "kg_co2e": h.kg,
        "kg_per_t": h.kg_per_t,
        "ambient_kg_per_t": h.ambient_kg_per_t,
        "controlled_kg_per_t": h.controlled_kg_per_t,
        "energy": [
            {"key": u.energy.label, "quantity": u.quantity, "kg_co2e": u.kg, "controlled_only": u.controlled_only}
            for u in uses
        ],
    }
    if site:
        edition = year or str(utcnow().year)
        src = f"site's own energy and throughput data ({site}), GLEC v3 Module 4 §5 method"
        rows = [
            Factor(FactorKind.hub, f"hub.site:{site}", h.ambient_kg_per_t, src, edition, quality=DataQuality.primary)
        ]
        if h.controlled_kg_per_t is not None:
            rows.append(
                Factor(
                    FactorKind.hub,
                    f"hub.site:{site}.controlled",
                    h.controlled_kg_per_t,
                    src,
                    edition,
                    quality=DataQuality.primary,
                )
            )
        with unit_of_work(engine) as conn:
            store.replace_factors(conn, rows, at=utcnow(), by=actor)
        invalidate(engine)
        out["saved"] = [f.key for f in rows]
    return out


def load_desnz(engine: Engine, *, text: str, actor: str, edition: str = "") -> dict[str, Any]:
    """Load the freighting-goods rows of a DESNZ flat file (CSV), found by their labels; all or
    none. Answers how many were loaded, their keys, and the freight rows it did not know."""
    rows, skipped = desnz.parse(text, edition=edition)
    factors = tables.parse_rows(rows)
    with unit_of_work(engine) as conn:
        store.replace_factors(conn, factors, at=utcnow(), by=actor)
    invalidate(engine)
    return {"loaded": len(factors), "edition": factors[0].edition, "keys": [f.key for f in factors], "skipped": skipped}
