"""JSON routes: the factor table, ad hoc shipment calculations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from orderhub.carbon import service as carbon
from orderhub.core.errors import InvalidInput
from orderhub.platform.web import Editor, EngineDep, Viewer

router = APIRouter(prefix="/api/v1/carbon", tags=["carbon"])

_TABLE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A factor table: CSV with the columns kind,key,value,ttw,source,edition,region,scope,quality,note "
        "(as docs/carbon.md shows), or JSON: a list of objects with the same fields.",
        "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "array"}}},
    }
}


@router.get("/factors", summary="Every emission factor in use, with provenance")
def get_factors(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"items": carbon.factor_rows(engine)}


@router.post("/factors", status_code=201, openapi_extra=_TABLE_BODY, summary="Load a factor table (all rows or none)")
async def post_factors(
    request: Request,
    engine: EngineDep,
    who: Editor,
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
    carrier: Annotated[str, Query(max_length=80, description="a carrier's own (primary) figures")] = "",
) -> dict[str, Any]:
    text = (await request.body()).decode("utf-8", errors="replace")
    n = carbon.load_factors(engine, text=text, fmt=format, actor=who.actor, carrier=carrier)
    return {"loaded": n}


class LegIn(BaseModel):
    factor: str = Field(description="transport operation category key, e.g. road.artic.gt33t.diesel")
    distance_km: float = Field(gt=0)
    mass_kg: float = Field(gt=0)
    carrier: str = ""


class HubIn(BaseModel):
    factor: str
    mass_kg: float = Field(gt=0)


class ShipmentIn(BaseModel):
    legs: list[LegIn] = Field(min_length=1)
    hubs: list[HubIn] = Field(default_factory=list)


@router.post("/shipments", summary="Emissions of a shipment given its legs and hubs")
def post_shipment(body: ShipmentIn, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """kg CO2e well-to-wheel per leg (tonne-km × intensity) and per hub (tonnes × intensity)."""
    fs = carbon.get_factor_set(engine)
    legs, hubs = [], []
    for i, leg in enumerate(body.legs):
        f = fs.get(carbon.FactorKind.transport, leg.factor, carrier=leg.carrier)
        if f is None:
            raise InvalidInput(
                f"no transport factor {leg.factor}", errors=[{"pointer": f"/legs/{i}/factor", "detail": "unknown"}]
            )
        legs.append(carbon.Leg(f, leg.distance_km, leg.mass_kg))
    for i, hub in enumerate(body.hubs):
        f = fs.get(carbon.FactorKind.hub, hub.factor)
        if f is None:
            raise InvalidInput(
                f"no hub factor {hub.factor}", errors=[{"pointer": f"/hubs/{i}/factor", "detail": "unknown"}]
            )
        hubs.append(carbon.Hub(f, hub.mass_kg))
    sf = carbon.ShipmentFootprint(tuple(legs), tuple(hubs))
    return {
        "kg_co2e": sf.kg,
        "data_quality": sf.quality.value,
        "legs": [
            {"factor": x.factor.key, "tkm": x.tkm, "kg_co2e": x.kg, "ttw_kg": x.ttw_kg, "source": x.factor.source}
            for x in legs
        ],
        "hubs": [{"factor": h.factor.key, "kg_co2e": h.kg} for h in hubs],
    }
