"""JSON routes of the forecast context: series, their history, forecasts with intervals and
the backtest scores that chose each model, expected demand, and the runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orderhub.forecast import service as forecast
from orderhub.platform import problems
from orderhub.platform.web import EngineDep, Viewer

router = APIRouter(prefix="/api/v1/forecast", tags=["forecast"], responses=problems.READ)

Sku = Annotated[str, Query(min_length=1, max_length=64, description="the SKU")]
Location = Annotated[
    str, Query(min_length=1, max_length=64, description="a region code, or node:<node id> for a node's own demand")
]


@router.get("/series", summary="Series with a forecast: model, demand class, note")
def get_series_list(
    engine: EngineDep,
    _: Viewer,
    location: Annotated[str | None, Query(max_length=64)] = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    items = forecast.list_series(engine, location=location, sku=sku, limit=limit, offset=offset)
    return {"items": [{**i, "fitted_at": i["fitted_at"].isoformat()} for i in items]}


@router.get("/history", summary="A series' daily demand (days without demand are 0)", responses=problems.FOUND)
def get_history(
    engine: EngineDep,
    _: Viewer,
    sku: Sku,
    location: Location,
    days: Annotated[int, Query(ge=1, le=3660)] = 365,
) -> dict[str, Any]:
    """The last ``days`` days of the series, with its chosen model and scores once a run has
    seen it."""
    return forecast.get_series(engine, sku=sku, location=location, days=days)


@router.get("/forecast", summary="A series' forecast per day with 80 % and 95 % intervals", responses=problems.FOUND)
def get_forecast(engine: EngineDep, _: Viewer, sku: Sku, location: Location) -> dict[str, Any]:
    """The points of the latest run or update, the model, and the backtest scores (mean
    absolute error and MASE of every candidate) that chose it."""
    return forecast.get_forecast(engine, sku=sku, location=location)


@router.get("/expected", summary="Units expected at a location over the next days, per SKU")
def get_expected(
    engine: EngineDep,
    _: Viewer,
    location: Location,
    sku: Annotated[list[str], Query(min_length=1, max_length=200)],
    days: Annotated[int, Query(ge=1, le=366)] = 7,
) -> dict[str, Any]:
    """The sum of the forecast means over ``days`` days after the history's last day (0 for a
    SKU without a forecast there)."""
    skus = [s[:64] for s in sku]
    return {
        "location": location,
        "days": days,
        "expected": forecast.expected_demand(engine, location=location, skus=skus, days=days),
    }


@router.get("/runs", summary="The latest forecast runs and updates")
def get_runs(engine: EngineDep, _: Viewer, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
    return {"items": forecast.get_runs(engine, limit=limit)}


@router.get("/guard", summary="The forecast guard: regions (reliable or not, why) and series out of band")
def get_guard(
    engine: EngineDep,
    _: Viewer,
    location: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Every region the guard watches with its state, the share of its volume out of band and
    its demand and forecast levels; the series out of band with their CUSUM sums and reason."""
    return forecast.get_guard(engine, location=location, limit=limit)


@router.get("/guard/switches", summary="The forecast guard's switches, newest first")
def get_guard_switches(
    engine: EngineDep,
    _: Viewer,
    location: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Each switch of a region to ``unreliable`` (sourcing's plain rule decides there) or back
    to ``reliable``, with its reason and the day of demand that decided it."""
    return {"items": forecast.get_guard_switches(engine, location=location, limit=limit)}
