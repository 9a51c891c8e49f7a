"""JSON routes: what-if plans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from orderhub.platform import problems
from orderhub.platform.web import Editor, EngineDep, Viewer
from orderhub.sourcing import conditions
from orderhub.sourcing import service as sourcing
from orderhub.sourcing.model import STRATEGIES, Weights

router = APIRouter(prefix="/api/v1/sourcing", tags=["sourcing"], responses=problems.READ)


class PlanLine(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=100_000, strict=True)


class Destination(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class PlanIn(BaseModel):
    lines: list[PlanLine] = Field(min_length=1, max_length=200)
    destination: Destination
    channel: str = Field(default="web", max_length=40)
    tier: str = Field(default="standard", max_length=20)
    strategy: str | None = Field(default=None, description=f"one of {', '.join(STRATEGIES)}; default by tier")
    region: str = Field(default="", max_length=40, description="the address's region (conditions, pilot scope)")
    country: str = Field(default="", max_length=2, description="the address's country (carbon factors' region)")
    promise_days: int | None = Field(default=None, ge=0, le=60, strict=True, description="a promised delivery")


@router.post("/plan", responses=problems.WRITE, summary="What-if: the plan for a basket, reserving nothing")
def post_plan(body: PlanIn, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """The plan capture would make now — the chosen nodes with cost, days and kg CO2e, the best
    alternatives, the candidates and the constraints that excluded nodes — from live ATP, with
    the conditions, calendars, capacity, eligibility and pilot scope that capture applies."""
    return sourcing.what_if(
        engine,
        lines=[(line.sku, line.quantity) for line in body.lines],
        destination=(body.destination.lat, body.destination.lon),
        channel=body.channel,
        tier=body.tier,
        strategy=body.strategy,
        region=body.region,
        country=body.country,
        promise_days=body.promise_days,
    )


class PilotIn(BaseModel):
    mode: Literal["live", "pilot", "shadow"] = Field(
        description="live (the optimiser decides everywhere), pilot (only in scope), shadow (nowhere)"
    )
    channels: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)


@router.put("/pilot", responses=problems.WRITE, summary="Where the optimiser decides; elsewhere it runs in shadow")
def put_pilot(body: PilotIn, engine: EngineDep, _: Editor) -> dict[str, Any]:
    pilot = sourcing.set_pilot(engine, mode=body.mode, channels=body.channels, regions=body.regions, skus=body.skus)
    return {
        "mode": pilot.mode,
        "channels": list(pilot.channels),
        "regions": list(pilot.regions),
        "skus": list(pilot.skus),
    }


@router.get("/shadow-report", summary="Optimiser versus the plain rule on the same orders")
def get_shadow_report(
    engine: EngineDep,
    _: Viewer,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> dict[str, Any]:
    """Cost, delivery days, kg CO2e and shipments of both policies, summed over the orders
    decided in the period, and what the optimiser saves (the ROI case before a rollout)."""
    return sourcing.shadow_report(engine, start=start, end=end)


class ConditionIn(BaseModel):
    kind: Literal["delay", "outage", "capacity", "unreliable"] = Field(
        description="delay (days added), outage (node closed), capacity (% lost) or unreliable (optimiser off)"
    )
    scope: Literal["node", "region", "all"] = Field(description="node, region or all")
    target: str = Field(min_length=1, max_length=40, description="a node id or a region code")
    value: float = 0
    reason: str = Field(default="", max_length=200)
    expires_at: datetime


@router.post(
    "/conditions",
    responses=problems.WRITE,
    status_code=201,
    summary="Set a dynamic condition (delay, outage, capacity) until it expires",
)
def post_condition(body: ConditionIn, engine: EngineDep, _: Editor) -> dict[str, Any]:
    return conditions.add(engine, **body.model_dump())


@router.get("/conditions", summary="The conditions in force")
def get_conditions(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"items": conditions.active(engine)}


@router.delete(
    "/conditions/{condition_id}",
    responses=problems.WRITE,
    status_code=204,
    summary="Lift a condition before it expires",
)
def delete_condition(condition_id: str, engine: EngineDep, _: Editor) -> Response:
    conditions.remove(engine, condition_id=condition_id)
    return Response(status_code=204)


class StrategyIn(BaseModel):
    scope: Literal["channel", "tier"] = Field(description="channel or tier")
    name: str = Field(min_length=1, max_length=40, description="the channel (web, shopify …) or tier (vip, gold …)")
    strategy: str | None = Field(default=None, description=f"one of {', '.join(STRATEGIES)}; null removes the choice")


@router.get("/strategies", summary="Strategies chosen per channel and customer tier")
def get_strategies(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"chosen": sourcing.get_strategies(engine), "strategies": {k: vars_of(w) for k, w in STRATEGIES.items()}}


@router.put("/strategies", responses=problems.WRITE, summary="Choose the strategy for a channel or a customer tier")
def put_strategy(body: StrategyIn, engine: EngineDep, _: Editor) -> dict[str, Any]:
    return {"chosen": sourcing.set_strategy(engine, scope=body.scope, name=body.name, strategy=body.strategy)}


class CustomIn(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    cost: float = 1.0
    late: float = 5.0
    carbon: float = 0.0
    split: float = 2.0


@router.put("/strategies/custom", responses=problems.WRITE, summary="Define a strategy with custom weights")
def put_custom(body: CustomIn, engine: EngineDep, _: Editor) -> dict[str, Any]:
    weights = Weights(cost=body.cost, late=body.late, carbon=body.carbon, split=body.split)
    return {"chosen": sourcing.define_strategy(engine, name=body.name, weights=weights)}


def vars_of(w: Any) -> dict[str, float]:
    return {"cost": w.cost, "late": w.late, "carbon": w.carbon, "split": w.split}
