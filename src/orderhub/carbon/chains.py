"""Transport chains element by element (GLEC Framework v3, ISO 14083), shared rounds and a
hub's intensity from its own annual data. No I/O: the service resolves nothing but the factor
set it passes in.

- A **leg** is ``t·km × intensity``; the intensity is a factor key (a published default), a
  figure given per t·km (an operator's own), or fuel per t·km × the fuel's factor (GLEC's
  example E2: 0.15 l/t·km × 3.32 kg CO2e/l).
- A **hub** visit is ``t × intensity``: a hub type's default, a site's own figure, or one given.
- A **round** is a shared operation. Tracked (every item with its mass and distance from the
  depot): an item carries ``round emissions × its t·km ÷ the round's t·km``. Untracked:
  ``round emissions ÷ items``. The round's emissions are given in kg CO2e or as fuel or energy
  used (litres or kWh × the fuel's factor).
- A fuel **blend** (diesel with 7 % bio) is linear in the bio share between the blends the
  table holds (GLEC's EU diesel B0 and B5): a blend is a mix by volume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from orderhub.carbon.factors import FactorSet
from orderhub.carbon.model import DataQuality, Factor, FactorKind, hub_kg, leg_kg
from orderhub.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Energy:
    """kg CO2e per unit of a fuel or of electricity, well-to-wheel and tank-to-wheel."""

    value: float
    ttw: float | None
    unit: str
    label: str
    quality: DataQuality
    source: str


_BLEND = re.compile(r"^(?P<name>[a-z_]+)(?:\.b(?P<bio>\d{1,3}))?(?P<tail>(?:\.[a-z0-9_]+)*/(?:l|kWh|kg))$")


def energy(fs: FactorSet, key: str, *, bio_share: float | None = None, region: str = "") -> Energy | None:
    """The factor of a fuel or of electricity (``diesel.eu/l``, ``electricity.de/kWh``). With
    ``bio_share``, the blend's figure, linear between the blends the table holds."""
    if "/" not in key:
        units = [u for u in ("l", "kWh", "kg") if fs.get(FactorKind.energy, f"{key}/{u}", region=region)]
        if len(units) != 1:
            return None
        key = f"{key}/{units[0]}"
    row = fs.get(FactorKind.energy, key, region=region)
    if bio_share is None:
        if row is None:
            return None
        return Energy(row.value, row.ttw, row.unit, row.key, row.quality, row.source)
    m = _BLEND.match(key)
    if m is None:
        return None
    known: dict[float, Factor] = {}
    for f in fs.rows:
        fm = _BLEND.match(f.key) if f.kind == FactorKind.energy else None
        if fm and fm["name"] == m["name"] and fm["tail"] == m["tail"]:
            share = int(fm["bio"] or 0) / 100
            best = fs.get(FactorKind.energy, f.key, region=region)
            if best is not None:
                known[share] = best
    if len(known) < 2:
        return None if row is None else Energy(row.value, row.ttw, row.unit, row.key, row.quality, row.source)
    (s0, f0), (s1, f1) = sorted(known.items())[:2]
    t = (bio_share - s0) / (s1 - s0)
    value = f0.value + t * (f1.value - f0.value)
    ttw = None if f0.ttw is None or f1.ttw is None else f0.ttw + t * (f1.ttw - f0.ttw)
    label = f"{m['name']} with {bio_share:.0%} bio{m['tail']} (linear between {f0.key} and {f1.key})"
    return Energy(value, ttw, f0.unit, label, DataQuality.modelled, f0.source)


# -- rounds -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RoundItem:
    """An item of a round: its mass and distance from the depot when the round is tracked."""

    item_id: str
    order_id: str = ""
    mass_kg: float | None = None
    distance_km: float | None = None

    @property
    def tkm(self) -> float | None:
        if self.mass_kg is None or self.distance_km is None:
            return None
        return self.mass_kg * 1e-3 * self.distance_km


@dataclass(frozen=True, slots=True)
class ItemShare:
    item_id: str
    order_id: str
    kg: float
    ttw_kg: float | None
    tkm: float | None


@dataclass(slots=True)
class RoundAllocation:
    """A round's emissions split over its items (``method``: ``tkm`` or ``items``)."""

    method: str
    kg: float
    ttw_kg: float | None
    items: int
    tkm: float | None
    shares: list[ItemShare] = field(default_factory=list)


def allocate_round(
    kg: float,
    ttw_kg: float | None,
    items: list[RoundItem],
    *,
    unlisted_items: int = 0,
    unlisted_tkm: float | None = None,
    method: str = "auto",
) -> RoundAllocation:
    """Each listed item's share of a round's ``kg``. ``auto`` allocates by t·km when every
    listed item has its mass and distance (and the unlisted rest its t·km), else by items.
    ``unlisted_*`` stand for the round's items not listed one by one."""
    tracked = all(i.tkm is not None for i in items) and (unlisted_items == 0 or unlisted_tkm is not None)
    if method == "tkm" and not tracked:
        raise InvalidInput(
            "allocation by t·km needs every item's mass and distance (and the unlisted items' t·km)",
            errors=[{"pointer": "/items", "detail": "mass_kg and distance_km on every item"}],
        )
    by_tkm = tracked if method == "auto" else method == "tkm"
    count = len(items) + unlisted_items
    if by_tkm:
        total_tkm = sum(i.tkm or 0.0 for i in items) + (unlisted_tkm or 0.0)
        if total_tkm <= 0:
            raise InvalidInput("the round moved no t·km", errors=[{"pointer": "/items", "detail": "t·km > 0"}])
        weights = [(i.tkm or 0.0) / total_tkm for i in items]
    else:
        total_tkm = None
        if count <= 0:
            raise InvalidInput("a round needs items", errors=[{"pointer": "/items", "detail": "at least one"}])
        weights = [1 / count] * len(items)
    return RoundAllocation(
        method="tkm" if by_tkm else "items",
        kg=kg,
        ttw_kg=ttw_kg,
        items=count,
        tkm=total_tkm,
        shares=[
            ItemShare(i.item_id, i.order_id, kg * w, None if ttw_kg is None else ttw_kg * w, i.tkm)
            for i, w in zip(items, weights, strict=True)
        ],
    )


# -- a hub's intensity from its own data (GLEC v3 Module 4 §5) --------------------------------
@dataclass(frozen=True, slots=True)
class EnergyUse:
    """Energy a site used over a period; ``controlled_only`` for what serves only the
    temperature-controlled goods (a reefer station)."""

    quantity: float
    energy: Energy
    controlled_only: bool = False

    @property
    def kg(self) -> float:
        return self.quantity * self.energy.value


@dataclass(frozen=True, slots=True)
class HubIntensity:
    tonnes: float
    controlled_tonnes: float
    kg: float
    kg_per_t: float  # all energy over all tonnes
    ambient_kg_per_t: float  # what every tonne causes
    controlled_kg_per_t: float | None  # ambient + the controlled-only energy over controlled tonnes


def hub_intensity(tonnes: float, controlled_tonnes: float, uses: list[EnergyUse]) -> HubIntensity:
    """A site's intensity per tonne handled: every tonne carries the shared energy; the
    temperature-controlled tonnes carry, on top, what only they use."""
    total = sum(u.kg for u in uses)
    controlled = sum(u.kg for u in uses if u.controlled_only)
    ambient = (total - controlled) / tonnes
    return HubIntensity(
        tonnes=tonnes,
        controlled_tonnes=controlled_tonnes,
        kg=total,
        kg_per_t=total / tonnes,
        ambient_kg_per_t=ambient,
        controlled_kg_per_t=ambient + controlled / controlled_tonnes if controlled_tonnes > 0 else None,
    )


# -- chain elements ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Element:
    """One element of a transport chain, computed: what it is, its activity and intensity,
    kg CO2e well-to-wheel (and tank-to-wheel when known), and where the figure came from."""

    type: str  # leg | hub | round
    kg: float
    ttw_kg: float | None
    activity: float
    activity_unit: str  # t.km | t | item share
    intensity: float
    intensity_unit: str
    basis: str  # a factor key, or what the caller gave
    source: str
    quality: DataQuality

    def as_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "kg_co2e": self.kg,
            "ttw_kg": self.ttw_kg,
            "activity": self.activity,
            "activity_unit": self.activity_unit,
            "intensity": self.intensity,
            "intensity_unit": self.intensity_unit,
            "basis": self.basis,
            "source": self.source,
            "data_quality": self.quality.value,
        }


def leg_element(
    mass_kg: float, distance_km: float, g_per_tkm: float, ttw_g: float | None, basis: str, source: str, q: DataQuality
) -> Element:
    tkm = mass_kg * 1e-3 * distance_km
    return Element(
        "leg",
        leg_kg(mass_kg, distance_km, g_per_tkm),
        None if ttw_g is None else leg_kg(mass_kg, distance_km, ttw_g),
        tkm,
        "t.km",
        g_per_tkm / 1000,
        "kg CO2e/t.km",
        basis,
        source,
        q,
    )


def hub_element(mass_kg: float, kg_per_t: float, ttw: float | None, basis: str, source: str, q: DataQuality) -> Element:
    return Element(
        "hub",
        hub_kg(mass_kg, kg_per_t),
        None if ttw is None else hub_kg(mass_kg, ttw),
        mass_kg * 1e-3,
        "t",
        kg_per_t,
        "kg CO2e/t",
        basis,
        source,
        q,
    )


def round_element(share: ItemShare, allocation: RoundAllocation, basis: str, source: str, q: DataQuality) -> Element:
    part = share.kg / allocation.kg if allocation.kg else 0.0
    return Element(
        "round",
        share.kg,
        share.ttw_kg,
        part,
        f"share of the round ({allocation.method})",
        allocation.kg,
        "kg CO2e/round",
        basis,
        source,
        q,
    )


# -- a chain given element by element (the API's calculator) ----------------------------------
def _bad(where: str, detail: str) -> InvalidInput:
    return InvalidInput(f"{where}: {detail}", errors=[{"pointer": where, "detail": detail}])


def _quality(el: dict[str, Any], fallback: DataQuality) -> DataQuality:
    return DataQuality(el["quality"]) if el.get("quality") else fallback


def _energy_of(fs: FactorSet, fuel: dict[str, Any], where: str, region: str) -> Energy:
    e = energy(fs, fuel["key"], bio_share=fuel.get("bio_share"), region=region)
    if e is None:
        raise _bad(f"{where}/key", f"no energy factor {fuel['key']} (nor a blend of it)")
    return e


def _leg(fs: FactorSet, el: dict[str, Any], where: str, region: str, carrier: str) -> Element:
    mass, km = el["mass_kg"], el["distance_km"]
    if el.get("intensity_kg_per_tkm") is not None:
        g = el["intensity_kg_per_tkm"] * 1000
        ttw = el.get("ttw_kg_per_tkm")
        q = _quality(el, DataQuality.primary)
        return leg_element(mass, km, g, None if ttw is None else ttw * 1000, "given per t·km", "given", q)
    if el.get("fuel"):
        fuel = el["fuel"]
        e = _energy_of(fs, fuel, f"{where}/fuel", region)
        per = fuel["per_tkm"]
        basis = f"{per} {e.unit.rsplit('/', 1)[1]}/t·km × {e.value:.4g} {e.unit} ({e.label})"
        ttw_g = None if e.ttw is None else per * e.ttw * 1000
        return leg_element(mass, km, per * e.value * 1000, ttw_g, basis, e.source, _quality(el, DataQuality.primary))
    key = el.get("factor") or ""
    f = fs.get(
        FactorKind.transport, key, carrier=el.get("carrier") or carrier, region=region, edition=el.get("edition") or ""
    )
    if f is None:
        raise _bad(f"{where}/factor", f"no transport factor {key!r}")
    return leg_element(mass, km, f.value, f.ttw, f.key, f"{f.source}, {f.edition}, {f.region}", f.quality)


def _hub(fs: FactorSet, el: dict[str, Any], where: str, region: str, carrier: str) -> Element:
    mass = el["mass_kg"]
    if el.get("intensity_kg_per_t") is not None:
        q = _quality(el, DataQuality.primary)
        return hub_element(mass, el["intensity_kg_per_t"], el.get("ttw_kg_per_t"), "given per tonne", "given", q)
    controlled = el.get("temperature") == "controlled"
    suffix = ".controlled" if controlled else ""
    key = f"hub.site:{el['site']}{suffix}" if el.get("site") else f"{el.get('factor') or 'hub.transshipment'}{suffix}"
    f = fs.get(FactorKind.hub, key, carrier=el.get("carrier") or carrier, region=region)
    if f is None:
        raise _bad(f"{where}/{'site' if el.get('site') else 'factor'}", f"no hub factor {key!r}")
    return hub_element(mass, f.value, f.ttw, f.key, f"{f.source}, {f.edition}", f.quality)


def round_total(fs: FactorSet, total: dict[str, Any], where: str, region: str) -> tuple[float, float | None, str]:
    """A round's kg CO2e (WTW, TTW) from what was given: kg, or fuel and energy used."""
    if total.get("kg_co2e") is not None:
        return total["kg_co2e"], total.get("ttw_kg"), "kg CO2e given"
    uses = total.get("fuel") or []
    if not uses:
        raise _bad(where, "give kg_co2e or the fuel and energy used")
    kg, parts = 0.0, []
    ttw: float | None = 0.0
    for j, fuel in enumerate(uses):
        e = _energy_of(fs, fuel, f"{where}/fuel/{j}", region)
        kg += fuel["quantity"] * e.value
        ttw = None if ttw is None or e.ttw is None else ttw + fuel["quantity"] * e.ttw
        parts.append(f"{fuel['quantity']} {e.unit.rsplit('/', 1)[1]} × {e.value:.4g} ({e.label})")
    return kg, ttw, " + ".join(parts)


def _round(
    fs: FactorSet, el: dict[str, Any], where: str, region: str, carrier: str, recorded: dict[str, RoundAllocation]
) -> Element:
    if el.get("round_id"):
        alloc = recorded.get(el["round_id"])
        share = next((s for s in alloc.shares if s.item_id == el.get("item_id")), None) if alloc else None
        if alloc is None or share is None:
            raise _bad(f"{where}/item_id", f"no item {el.get('item_id')!r} in round {el['round_id']!r}")
        return round_element(share, alloc, f"round {el['round_id']}", "recorded round", DataQuality.primary)
    if el.get("total"):
        kg, ttw, basis = round_total(fs, el["total"], f"{where}/total", region)
        item = RoundItem("item", mass_kg=el["mass_kg"], distance_km=el.get("distance_km"))
        if el.get("round_tkm") is not None:
            if item.tkm is None:
                raise _bad(f"{where}/distance_km", "a tracked round allocates by t·km: give the item's distance")
            alloc = allocate_round(kg, ttw, [item], unlisted_items=1, unlisted_tkm=el["round_tkm"] - item.tkm)
        elif el.get("items"):
            alloc = allocate_round(kg, ttw, [RoundItem("item")], unlisted_items=el["items"] - 1)
        else:
            raise _bad(where, "a round needs round_tkm (tracked) or items (untracked)")
        return round_element(alloc.shares[0], alloc, basis, "given", _quality(el, DataQuality.primary))
    kind = el.get("kind") or "delivery"
    f = fs.round(
        kind,
        area=el.get("area") or "urban",
        vehicle=el.get("vehicle") or "van.diesel",
        carrier=el.get("carrier") or carrier,
        service=el.get("service") or "",
    )
    if f is None:
        raise _bad(f"{where}/kind", f"no {kind} round factor")
    share = ItemShare("item", "", f.value, f.ttw, None)
    alloc = RoundAllocation("items", f.value, f.ttw, 1, None, [share])
    return round_element(share, alloc, f.key, f"{f.source}, {f.edition}", f.quality)


def compute(
    fs: FactorSet,
    elements: list[dict[str, Any]],
    *,
    region: str = "",
    carrier: str = "",
    recorded: dict[str, RoundAllocation] | None = None,
) -> list[Element]:
    """Every element of a chain computed in order (``elements`` as the API takes them, with
    each element's mass filled in)."""
    out = []
    for i, el in enumerate(elements):
        where = f"/elements/{i}"
        if el["type"] == "leg":
            out.append(_leg(fs, el, where, region, carrier))
        elif el["type"] == "hub":
            out.append(_hub(fs, el, where, region, carrier))
        else:
            out.append(_round(fs, el, where, region, carrier, recorded or {}))
    return out
