"""JSON routes: the factor table, ad hoc shipment calculations, delivery options, reward points,
the footprint of an order and the footprints of a period (CSV or iLEAP-style JSON)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from orderhub.carbon import calculate
from orderhub.carbon import service as carbon
from orderhub.core.errors import InvalidInput
from orderhub.core.jsondoc import control_character
from orderhub.platform import problems
from orderhub.platform.web import Editor, EngineDep, Operator, Viewer

router = APIRouter(prefix="/api/v1/carbon", tags=["carbon"], responses=problems.READ)

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


@router.post(
    "/factors",
    responses=problems.WRITE,
    status_code=201,
    openapi_extra=_TABLE_BODY,
    summary="Load a factor table (all rows or none)",
)
async def post_factors(
    request: Request,
    engine: EngineDep,
    who: Editor,
    format: Annotated[
        Literal["csv", "json", "desnz"],
        Query(description="csv or json (our columns), or desnz: a DESNZ flat file as CSV, read by label"),
    ] = "csv",
    carrier: Annotated[str, Query(max_length=80, description="a carrier's own (primary) figures")] = "",
    edition: Annotated[
        str, Query(max_length=40, description="desnz: the edition, when the factor column does not name it")
    ] = "",
) -> dict[str, Any]:
    """All rows or none. ``format=desnz`` finds the header and the freighting-goods rows of a
    DESNZ flat file by their labels (any column order, any edition) and answers which rows
    it loaded and which freight rows it did not know."""
    text = (await request.body()).decode("utf-8", errors="replace")
    problem = control_character(text)
    if problem:
        raise InvalidInput(f"the table holds a {problem}", errors=[{"pointer": "", "detail": problem}])
    if format == "desnz":
        return calculate.load_desnz(engine, text=text, actor=who.actor, edition=edition)
    n = carbon.load_factors(engine, text=text, fmt=format, actor=who.actor, carrier=carrier)
    return {"loaded": n}


class LegIn(BaseModel):
    factor: str = Field(max_length=80, description="transport operation category key, e.g. road.artic.gt33t.diesel")
    distance_km: float = Field(gt=0)
    mass_kg: float = Field(gt=0)
    carrier: str = Field(default="", max_length=80)


class HubIn(BaseModel):
    factor: str = Field(max_length=80)
    mass_kg: float = Field(gt=0)


class ShipmentIn(BaseModel):
    legs: list[LegIn] = Field(min_length=1, max_length=100)
    hubs: list[HubIn] = Field(default_factory=list, max_length=100)


@router.post("/shipments", responses=problems.WRITE, summary="Emissions of a shipment given its legs and hubs")
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


class BasketLineIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=100_000, strict=True)


class PointIn(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class OptionsIn(BaseModel):
    lines: list[BasketLineIn] = Field(min_length=1, max_length=500)
    destination: PointIn
    channel: str = Field(default="web", max_length=40)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="the basket's currency (ISO 4217)")
    subtotal: str | None = Field(
        default=None,
        pattern=r"^\d{1,12}(\.\d{1,4})?$",
        description="the basket's value in its currency; default: the item master's prices when in EUR",
    )
    country: str = Field(default="", max_length=2, description="the destination's country (ISO 3166): factor region")


def option_json(o: Any, *, detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "option": o.name,
        "price": None if o.price is None else str(o.price),
        "currency": o.currency,
        "promised_date": o.promised.isoformat(),
        "kg_co2e": round(o.kg_co2e, 3),
        "parcels": len(o.parcels),
        "points": o.points,
        "kg_saved": round(o.savings_kg, 3),
        "note": o.note,
    }
    if detail:
        out["breakdown"] = [
            {
                "from": node,
                "road_km": round(km, 1),
                "kg_co2e": round(sf.kg, 4),
                "legs": [
                    {"factor": leg.factor.key, "distance_km": round(leg.distance_km, 1), "kg_co2e": round(leg.kg, 4)}
                    for leg in sf.legs
                ],
                "hubs": [{"factor": h.factor.key, "kg_co2e": round(h.kg, 4)} for h in sf.hubs],
                "rounds": [{"factor": r.factor.key, "share": r.share, "kg_co2e": round(r.kg, 4)} for r in sf.rounds],
            }
            for node, km, sf in o.parcels
        ]
    return out


@router.post(
    "/options", responses=problems.WRITE, summary="Delivery options for a basket: price, promised date, kg CO2e"
)
def post_options(
    body: OptionsIn, request: Request, engine: EngineDep, _: Viewer, detail: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    """Short figures by default; ``detail=true`` itemises each parcel's legs, hub visits and
    round shares. Prices are in the basket's ``currency`` (none where it has no fee schedule)."""
    opts = carbon.delivery_options(
        engine,
        lines=[carbon.BasketItem(line.sku, line.quantity) for line in body.lines],
        destination=(body.destination.lat, body.destination.lon),
        channel=body.channel,
        points_per_kg=request.app.state.settings.points_per_kg,
        currency=body.currency,
        subtotal=None if body.subtotal is None else Decimal(body.subtotal),
        country=body.country,
    )
    if not opts:
        raise InvalidInput("no node can serve this basket now", code="no_delivery_option")
    return {"options": [option_json(o, detail=detail) for o in opts]}


@router.get("/report", summary="Shipments and kg CO2e saved by greener choices over a period")
def get_report(
    engine: EngineDep,
    _: Viewer,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> dict[str, Any]:
    return carbon.green_report(engine, start=start, end=end)


@router.get(
    "/export",
    summary="Footprints of a period, as CSV or iLEAP-style JSON",
    responses={
        200: {
            "description": "JSON (``format=json``) or CSV (``format=csv``)",
            "content": {"application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def get_carbon_export(
    engine: EngineDep,
    _: Viewer,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    customer: str | None = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """Per order (and per customer with ``customer``): kg CO2e with transport / product /
    packaging parts and data quality. JSON follows the iLEAP shape (shipment footprints made of
    transport chain elements with mass, distance, t·km, WTW and TTW), with method and factors."""
    if format == "json":
        return JSONResponse(carbon.get_disclosure(engine, start=start, end=end, customer=customer))
    rows = carbon.get_footprints(engine, start=start, end=end, customer=customer)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "order_id",
            "created_at",
            "channel",
            "customer_email",
            "kg_co2e",
            "transport_kg",
            "product_kg",
            "packaging_kg",
            "data_quality",
        ]
    )
    for order, fp in rows:
        d = fp.as_dict(detail=False)
        w.writerow(
            [
                order.order_id,
                order.created_at.isoformat(),
                order.channel,
                order.customer_email,
                d["kg_co2e"],
                d["transport_kg"],
                d["product_kg"],
                d["packaging_kg"],
                d["data_quality"],
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": "attachment; filename=footprints.csv"},
    )


orders_router = APIRouter(prefix="/api/v1/orders", tags=["carbon"], responses=problems.READ)


@orders_router.get(
    "/{order_id}/footprint", responses=problems.FOUND, summary="The order's carbon footprint (ISO 14083 / GLEC)"
)
def get_order_footprint(
    order_id: str,
    engine: EngineDep,
    _: Viewer,
    detail: Annotated[bool, Query(description="itemise legs, products, packaging")] = False,
) -> dict[str, Any]:
    """Short by default (kg CO2e with its split and data quality); ``detail=true`` adds every
    leg with its factor and source, and what was not counted for want of a factor."""
    return {"order_id": order_id, **carbon.get_order_footprint(engine, order_id=order_id).as_dict(detail=detail)}


points_router = APIRouter(prefix="/api/v1/customers", tags=["carbon"], responses=problems.READ)


class RedeemIn(BaseModel):
    points: int = Field(gt=0, le=2**31 - 1, strict=True)
    reason: str = Field(default="redeemed", max_length=80)


def _points_json(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "entries": [{**e, "at": e["at"].isoformat()} for e in p["entries"]]}


@points_router.get("/{email}/points", responses=problems.FOUND, summary="A customer's reward points ledger and balance")
def get_points(email: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return _points_json(carbon.get_points(engine, email=email))


@points_router.post("/{email}/points/redeem", responses=problems.WRITE, summary="Spend reward points")
def post_redeem(email: str, body: RedeemIn, engine: EngineDep, _: Operator) -> dict[str, Any]:
    return _points_json(carbon.redeem_points(engine, email=email, points=body.points, reason=body.reason))
