"""JSON routes of the ISO 14083 calculator: a transport chain element by element, real rounds
(each item's share), a hub's intensity from its own data."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, model_validator

from orderhub.carbon import calculate
from orderhub.carbon import service as carbon
from orderhub.core.errors import InvalidInput
from orderhub.platform import problems
from orderhub.platform.web import Editor, EngineDep, Operator, Viewer

router = APIRouter(prefix="/api/v1/carbon", tags=["carbon"], responses=problems.READ)

Quality = Literal["default", "modelled", "primary"]
Key = Annotated[str, Field(min_length=1, max_length=80)]
Name = Annotated[str, Field(default="", max_length=80)]


class FuelPerTkm(BaseModel):
    key: Key = Field(description="an energy factor with its unit, e.g. diesel.b5.eu/l")
    per_tkm: float = Field(gt=0, le=100, description="litres (or kWh, kg) per t·km")
    bio_share: float | None = Field(default=None, ge=0, le=1, description="a blend's bio share, e.g. 0.07")


class FuelUsed(BaseModel):
    key: Key = Field(description="an energy factor, e.g. diesel.eu/l or electricity.de/kWh")
    quantity: float = Field(gt=0, le=1e12, description="litres, kWh or kg used")
    bio_share: float | None = Field(default=None, ge=0, le=1)


class TotalIn(BaseModel):
    """A round's emissions: in kg CO2e, or as the fuel and energy it used."""

    kg_co2e: float | None = Field(default=None, ge=0, le=1e9)
    ttw_kg: float | None = Field(default=None, ge=0, le=1e9)
    fuel: list[FuelUsed] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _one(self) -> TotalIn:
        if (self.kg_co2e is None) == (not self.fuel):
            raise ValueError("give kg_co2e or the fuel used, one of them")
        return self


class LegEl(BaseModel):
    """A leg: by a factor key, an intensity given per t·km, or fuel per t·km."""

    type: Literal["leg"]
    distance_km: float = Field(gt=0, le=50_000)
    mass_kg: float | None = Field(default=None, gt=0, le=1e7)
    factor: str | None = Field(default=None, max_length=80, description="e.g. rail.freight.diesel")
    edition: str | None = Field(default=None, max_length=40, description="an older edition of that factor")
    carrier: Name
    intensity_kg_per_tkm: float | None = Field(default=None, gt=0, le=10)
    ttw_kg_per_tkm: float | None = Field(default=None, ge=0, le=10)
    fuel: FuelPerTkm | None = None
    quality: Quality | None = None

    @model_validator(mode="after")
    def _one(self) -> LegEl:
        given = [x is not None for x in (self.factor, self.intensity_kg_per_tkm, self.fuel)]
        if sum(given) != 1:
            raise ValueError("give one of factor, intensity_kg_per_tkm or fuel")
        return self


class HubEl(BaseModel):
    """A hub visit: a hub type's default, a site's own figure, or an intensity given."""

    type: Literal["hub"]
    mass_kg: float | None = Field(default=None, gt=0, le=1e9)
    factor: str | None = Field(default=None, max_length=80, description="hub type, default hub.transshipment")
    site: str | None = Field(default=None, max_length=60, description="a site whose own figure was loaded")
    temperature: Literal["ambient", "controlled"] = "ambient"
    intensity_kg_per_t: float | None = Field(default=None, ge=0, le=200)
    ttw_kg_per_t: float | None = Field(default=None, ge=0, le=200)
    carrier: Name
    quality: Quality | None = None


class RoundEl(BaseModel):
    """An item's share of a round: of a recorded round (``round_id`` + ``item_id``), of a round
    given here (``total`` with ``round_tkm`` when tracked or ``items`` when not), or the default
    for the round type (a carrier's own figure for its service winning)."""

    type: Literal["round"]
    kind: Literal["delivery", "collection"] = "delivery"
    mass_kg: float | None = Field(default=None, gt=0, le=1e5)
    distance_km: float | None = Field(default=None, ge=0, le=5000, description="the item's distance from the depot")
    total: TotalIn | None = None
    round_tkm: float | None = Field(default=None, gt=0, le=1e7, description="the tracked round's t·km, all items")
    items: int | None = Field(default=None, ge=1, le=1_000_000, description="the untracked round's items")
    round_id: str | None = Field(default=None, max_length=80)
    item_id: str | None = Field(default=None, max_length=80)
    area: Literal["urban", "rural"] = "urban"
    vehicle: Literal["van.diesel", "van.electric", "cargo_bike"] = "van.diesel"
    service: Name
    carrier: Name
    quality: Quality | None = None


Element = Annotated[LegEl | HubEl | RoundEl, Field(discriminator="type")]


class ChainIn(BaseModel):
    mass_kg: float | None = Field(
        default=None, gt=0, le=1e9, description="the consignment's mass, for each element that gives none"
    )
    country: str = Field(default="", max_length=2, description="where the route runs (ISO 3166): factor region")
    carrier: Name
    elements: list[Element] = Field(min_length=1, max_length=100)


@router.post("/chains", responses=problems.WRITE, summary="Emissions of a transport chain, element by element")
def post_chain(body: ChainIn, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """kg CO2e well-to-wheel (and tank-to-wheel where known) of each element — legs (t·km ×
    intensity), hub visits (t × intensity), round shares — and of the chain, with the source
    of every figure (GLEC Framework v3 / ISO 14083). Reads only."""
    elements = []
    for i, el in enumerate(body.elements):
        data = el.model_dump()
        data["mass_kg"] = data.get("mass_kg") or body.mass_kg
        if data["mass_kg"] is None:
            raise InvalidInput(
                "no mass for this element", errors=[{"pointer": f"/elements/{i}/mass_kg", "detail": "or /mass_kg"}]
            )
        elements.append(data)
    return calculate.chain(engine, elements=elements, region=carbon.region_of(body.country), carrier=body.carrier)


class RoundItemIn(BaseModel):
    item_id: str = Field(min_length=1, max_length=80)
    order_id: str | None = Field(default=None, max_length=40, description="the order it belongs to")
    mass_kg: float | None = Field(default=None, gt=0, le=1e5)
    distance_km: float | None = Field(default=None, ge=0, le=5000, description="from the depot")


class StopIn(BaseModel):
    distance_km: float | None = Field(default=None, ge=0, le=5000, description="from the depot")
    items: list[RoundItemIn] = Field(min_length=1, max_length=1000)


class RoundIn(BaseModel):
    round_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,80}$", description="yours; again = replace")
    kind: Literal["delivery", "collection"] = "delivery"
    carrier: Name
    service: Name
    country: str = Field(default="", max_length=2)
    total: TotalIn
    items: list[RoundItemIn] = Field(default_factory=list, max_length=5000)
    stops: list[StopIn] = Field(default_factory=list, max_length=2000)
    unlisted_items: int = Field(default=0, ge=0, le=1_000_000, description="the round's other items, not listed")
    unlisted_tkm: float | None = Field(default=None, ge=0, le=1e7, description="their t·km (tracked rounds)")
    allocation: Literal["auto", "tkm", "items"] = "auto"


@router.post("/rounds", responses=problems.WRITE, status_code=201, summary="Record a real round: each item's share")
def post_round(body: RoundIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    """A round's total (kg CO2e, or fuel and energy used) and its items or stops; answers each
    item's share — by t·km (mass × distance from the depot) when tracked, per item when not.
    Items naming an order replace the default round share in that order's footprint."""
    items = [i.model_dump() for i in body.items]
    for stop in body.stops:
        items.extend({**i.model_dump(), "distance_km": i.distance_km or stop.distance_km} for i in stop.items)
    if not items and not body.unlisted_items:
        raise InvalidInput("a round needs items", errors=[{"pointer": "/items", "detail": "items, stops or unlisted"}])
    return calculate.record_round(
        engine,
        kind=body.kind,
        total=body.total.model_dump(),
        items=items,
        actor=who.actor,
        round_id=body.round_id,
        unlisted_items=body.unlisted_items,
        unlisted_tkm=body.unlisted_tkm,
        method=body.allocation,
        carrier=body.carrier,
        service=body.service,
        region=carbon.region_of(body.country),
    )


@router.get("/rounds/{round_id}", responses=problems.FOUND, summary="A recorded round with each item's share")
def get_round(round_id: Annotated[str, Path(max_length=80)], engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return calculate.get_round(engine, round_id=round_id)


class EnergyIn(FuelUsed):
    controlled_only: bool = Field(default=False, description="serves only temperature-controlled goods (reefers)")


class SiteIn(BaseModel):
    tonnes: float = Field(gt=0, le=1e12, description="all tonnes handled over the period")
    controlled_tonnes: float = Field(default=0, ge=0, le=1e12, description="of which temperature-controlled")
    energy: list[EnergyIn] = Field(min_length=1, max_length=100)
    year: str = Field(default="", pattern=r"^(\d{4})?$", description="the period's year (the edition when saved)")


@router.post("/hubs/intensity", responses=problems.WRITE, summary="A hub's intensity from its own annual data")
def post_hub_intensity(body: SiteIn, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """kg CO2e per tonne handled (GLEC v3 Module 4 §5): all, ambient (every tonne carries the
    shared energy) and temperature-controlled (ambient plus what only they use). Reads only."""
    return calculate.site_intensity(
        engine,
        tonnes=body.tonnes,
        controlled_tonnes=body.controlled_tonnes,
        energy=[e.model_dump() for e in body.energy],
    )


@router.post(
    "/hubs/{site}/intensity",
    responses=problems.WRITE,
    status_code=201,
    summary="A site's own intensity from its data, loaded as its primary factor",
)
def post_site_intensity(
    site: Annotated[str, Path(max_length=60, pattern=r"^[A-Za-z0-9._:-]+$")],
    body: SiteIn,
    engine: EngineDep,
    who: Editor,
) -> dict[str, Any]:
    """As ``/hubs/intensity``, and the figures become ``hub.site:<site>`` (and ``….controlled``),
    primary data that wins over the hub defaults for visits to this site — a node's id makes
    them its fulfilment-hub figure in every order footprint and plan."""
    return calculate.site_intensity(
        engine,
        tonnes=body.tonnes,
        controlled_tonnes=body.controlled_tonnes,
        energy=[e.model_dump() for e in body.energy],
        site=site,
        actor=who.actor,
        year=body.year,
    )
