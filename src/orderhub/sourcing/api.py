"""JSON routes: what-if plans."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from orderhub.platform.web import EngineDep, Viewer
from orderhub.sourcing import service as sourcing
from orderhub.sourcing.model import STRATEGIES

router = APIRouter(prefix="/api/v1/sourcing", tags=["sourcing"])


class PlanLine(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)


class Destination(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class PlanIn(BaseModel):
    lines: list[PlanLine] = Field(min_length=1, max_length=200)
    destination: Destination
    channel: str = "web"
    tier: str = "standard"
    strategy: str | None = Field(default=None, description=f"one of {', '.join(STRATEGIES)}; default by tier")


@router.post("/plan", summary="What-if: the plan for a basket, reserving nothing")
def post_plan(body: PlanIn, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """The chosen nodes with cost, days and kg CO2e, the best alternatives, the candidates and
    the constraints that excluded nodes — from live ATP."""
    return sourcing.what_if(
        engine,
        lines=[(line.sku, line.quantity) for line in body.lines],
        destination=(body.destination.lat, body.destination.lon),
        channel=body.channel,
        tier=body.tier,
        strategy=body.strategy,
    )
