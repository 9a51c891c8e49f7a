"""The forecast console: the guard (regions, series out of band, switches), the latest runs, the
series; per SKU × location its history and forecast with intervals (an SVG chart drawn here,
server-side), the backtest scores of every candidate, the chosen model and the guard's state.
What is at risk of running out, node by node, is inventory's (``/console/replenishment``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.core.errors import NotFound
from orderhub.forecast import service as forecast
from orderhub.platform.auth.model import Principal
from orderhub.web.templating import console_user, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Key = Annotated[str, Query(max_length=64)]

WIDTH, HEIGHT, PAD = 760, 240, 30


@router.get("/forecast", response_class=HTMLResponse)
def forecast_page(request: Request, user: User, location: Key = "", sku: Key = "") -> Response:
    """The guard's regions and switches, the series out of band, the runs, and the series."""
    engine = request.app.state.engine
    return render(
        request,
        "forecast/forecast.html",
        {
            "user": user,
            "nav": "forecast",
            "location": location,
            "sku": sku,
            "guard": forecast.get_guard(engine, limit=50),
            "switches": forecast.get_guard_switches(engine, limit=20),
            "runs": forecast.get_runs(engine, limit=5),
            "series": forecast.list_series(engine, location=location or None, sku=sku or None, limit=200),
        },
    )


@router.get("/forecast/series", response_class=HTMLResponse)
def series_page(request: Request, user: User, sku: Key, location: Key) -> Response:
    """One series: its last 12 weeks and its forecast with 80 % and 95 % bands, the backtest
    scores that chose its model, and what the guard thinks of it."""
    engine = request.app.state.engine
    try:
        history = forecast.get_series(engine, sku=sku, location=location, days=84)
    except NotFound as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    try:
        fc: dict[str, Any] = forecast.get_forecast(engine, sku=sku, location=location)
    except NotFound:
        fc = {"points": []}
    fit = history["fit"] or {}
    scores = _score_rows(fit.get("scores") or {}, fit.get("model", ""))
    return render(
        request,
        "forecast/series.html",
        {
            "user": user,
            "nav": "forecast",
            "sku": sku,
            "location": location,
            "fit": fit,
            "scores": scores,
            "points": fc["points"],
            "guard": forecast.get_guard_series(engine, sku=sku, location=location),
            "chart": chart(history["history"], fc["points"]),
        },
    )


def _score_rows(scores: dict[str, Any], chosen: str) -> list[dict[str, Any]]:
    mae, mase = scores.get("mae") or {}, scores.get("mase") or {}
    rows = [{"model": m, "mae": v, "mase": mase.get(m), "chosen": m == chosen} for m, v in mae.items()]
    return sorted(rows, key=lambda r: (r["mae"], r["model"]))


def chart(history: list[dict[str, Any]], points: list[dict[str, Any]]) -> dict[str, Any]:
    """SVG geometry of a series' chart: the history as a line, the forecast's mean as a dashed
    line, its 95 % and 80 % intervals as bands; x by day, y from 0 to the highest value."""
    n = len(history) + len(points)
    if n == 0:
        return {}
    top = float(max([h["quantity"] for h in history] + [p["hi95"] or p["mean"] for p in points] + [1.0]))

    def x(i: int) -> float:
        return round(PAD + i * (WIDTH - 2 * PAD) / max(n - 1, 1), 1)

    def y(v: float) -> float:
        return round(HEIGHT - PAD - v / top * (HEIGHT - 2 * PAD), 1)

    def line(pairs: list[tuple[int, float]]) -> str:
        return " ".join(f"{x(i)},{y(v)}" for i, v in pairs)

    k = len(history)
    fc = [(k + j, p) for j, p in enumerate(points)]

    def band(lo: str, hi: str) -> str:
        inside = [(i, p) for i, p in fc if p[lo] is not None and p[hi] is not None]
        return line([(i, p[hi]) for i, p in inside] + [(i, p[lo]) for i, p in reversed(inside)]) if inside else ""

    return {
        "width": WIDTH,
        "height": HEIGHT,
        "history": line([(i, h["quantity"]) for i, h in enumerate(history)]),
        "mean": line([(i, p["mean"]) for i, p in fc]),
        "band95": band("lo95", "hi95"),
        "band80": band("lo80", "hi80"),
        "split": x(k) if points and history else None,
        "top": round(top, 1),
        "y_top": y(top),
        "y_zero": y(0.0),
        "first": history[0]["day"] if history else points[0]["day"],
        "last": points[-1]["day"] if points else history[-1]["day"],
        "x_first": x(0),
        "x_last": x(n - 1),
    }
