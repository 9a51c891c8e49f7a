"""Forecast's reads: series, their history and forecasts, the runs, the guard's state, and what
the other contexts build on — ``expected_demand`` and ``expected_at_nodes`` (sourcing's store
protection), ``demand_outlook`` (inventory's replenishment and promise dates). Re-exported by
``forecast.service``, the context's one door."""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.forecast import guard_store, store
from orderhub.forecast.model import NODE_PREFIX
from orderhub.platform.db import unit_of_work


# -- reads ---------------------------------------------------------------------------------------
def list_series(
    engine: Engine, *, location: str | None = None, sku: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Series with a forecast (model, class, note), by location and SKU."""
    with unit_of_work(engine, write=False) as conn:
        return store.list_series(conn, location=location, sku=sku, limit=limit, offset=offset)


def get_series(engine: Engine, *, sku: str, location: str, days: int = 365) -> dict[str, Any]:
    """A series' daily history over its last ``days`` days (days without demand are 0), and
    its chosen model and backtest scores when a run has seen it. 404 when it has no history."""
    with unit_of_work(engine, write=False) as conn:
        rows = store.series_history(conn, sku=sku, location=location)
        fitted = store.get_series(conn, sku=sku, location=location)
        last = store.last_day(conn)
    if not rows:
        raise NotFound(f"no demand history for {sku} at {location}", code="no_history", sku=sku, location=location)
    assert last is not None
    by_day = {r["day"]: r for r in rows}
    first = max(rows[0]["day"], last - timedelta(days=days - 1))
    history = [
        {"day": d.isoformat(), "quantity": by_day[d]["quantity"] if d in by_day else 0.0}
        for d in (first + timedelta(days=k) for k in range((last - first).days + 1))
    ]
    return {"sku": sku, "location": location, "history": history, "fit": _fit_view(fitted)}


def get_forecast(engine: Engine, *, sku: str, location: str) -> dict[str, Any]:
    """The forecast of a series per day, with its 80 % and 95 % intervals (none for a series
    too short to backtest), its model and the backtest scores that chose it. 404 when no run
    has forecast it."""
    with unit_of_work(engine, write=False) as conn:
        fitted = store.get_series(conn, sku=sku, location=location)
        if fitted is None:
            raise NotFound(f"no forecast for {sku} at {location}", code="no_forecast", sku=sku, location=location)
        start = fitted["last_day"] + timedelta(days=1)
        rows = store.forecast_points(
            conn, location=location, skus=[sku], start=start, end=start + timedelta(days=fitted["horizon"])
        )
    points = [
        {k: (r[k].isoformat() if k == "day" else r[k]) for k in ("day", "mean", "lo80", "hi80", "lo95", "hi95")}
        for r in rows
    ]
    return {"sku": sku, "location": location, **_fit_view(fitted), "points": points}


def _fit_view(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {}
    return {
        "model": row["model"],
        "demand_class": row["demand_class"],
        "history_from": row["first_day"].isoformat(),
        "history_to": row["last_day"].isoformat(),
        "horizon": row["horizon"],
        "scores": row["scores"],
        "note": row["note"],
        "fitted_at": row["fitted_at"].isoformat(),
        "run_id": row["run_id"],
    }


def expected_demand(
    engine: Engine, *, location: str, skus: Sequence[str], days: int, start: date | None = None
) -> dict[str, float]:
    """Units of each of ``skus`` expected at ``location`` (a region code, or
    ``node_location(node_id)`` for a node's own demand) over ``days`` days from ``start``
    (default: the first day the latest run or update forecast), from the latest forecasts. A
    SKU without a forecast there expects 0; days past a forecast's horizon count nothing."""
    if days < 1:
        raise InvalidInput("days must be at least 1", errors=[{"pointer": "/days", "detail": "must be ≥ 1"}])
    with unit_of_work(engine, write=False) as conn:
        if start is None:
            run = store.last_run(conn)
            last = (run["summary"] or {}).get("last_day") if run else None
            start = date.fromisoformat(last) + timedelta(days=1) if last else utcnow().date()
        rows = store.forecast_points(conn, location=location, skus=skus, start=start, end=start + timedelta(days=days))
    out = dict.fromkeys(skus, 0.0)
    for r in rows:
        out[r["sku"]] += r["mean"]
    return out


def demand_outlook(
    engine: Engine,
    *,
    skus: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    start: date | None = None,
    days: int = 28,
) -> dict[tuple[str, str], dict[str, Any]]:
    """For inventory's planning (replenishment, promise dates): per (sku, location) with a
    forecast, the units expected on each of ``days`` days from ``start`` (default today, UTC;
    0 on days past the forecast) and ``sigma``, the daily spread of its errors (from the 80 %
    interval; None for a series too short to backtest). Two reads, however many series."""
    if days < 1:
        raise InvalidInput("days must be at least 1", errors=[{"pointer": "/days", "detail": "must be ≥ 1"}])
    start = start or utcnow().date()
    with unit_of_work(engine, write=False) as conn:
        rows = store.outlook_points(conn, skus=skus, locations=locations, start=start, end=start + timedelta(days=days))
        spread = store.spreads_of(conn, skus=skus, locations=locations)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for sku, location, day, mean in rows:
        entry = out.get((sku, location))
        if entry is None:
            q80 = spread.get((sku, location), {}).get("80")
            entry = out[(sku, location)] = {"daily": [0.0] * days, "sigma": q80 / 1.2816 if q80 is not None else None}
        entry["daily"][(day - start).days] = mean
    return out


# -- the guard -----------------------------------------------------------------------------------
def get_guard(engine: Engine, *, location: str | None = None, limit: int = 200) -> dict[str, Any]:
    """The guard's state: every region watched (reliable or not, why, the share of its volume
    out of band, its demand and forecast levels) and the series out of band, newest first."""
    with unit_of_work(engine, write=False) as conn:
        regions = guard_store.guard_region_rows(conn)
        series = guard_store.alarmed_series(conn, location=location, limit=limit)
    if location is not None:
        regions = {k: v for k, v in regions.items() if k == location}
    return {
        "regions": [_dated(r) for _, r in sorted(regions.items())],
        "series": [_dated(r) for r in series],
    }


def get_guard_series(engine: Engine, *, sku: str, location: str) -> dict[str, Any]:
    """One series' guard state (the default one when the guard holds nothing on it)."""
    with unit_of_work(engine, write=False) as conn:
        row = guard_store.guard_states(conn, keys=[(sku, location)]).get((sku, location))
    if row is None:
        return {"sku": sku, "location": location, "alarmed": False, "up": 0.0, "down": 0.0, "reason": ""}
    return _dated(row)


def get_guard_switches(engine: Engine, *, location: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The guard's switches, newest first: region, state, reason, the day that decided it."""
    with unit_of_work(engine, write=False) as conn:
        return [_dated(r) for r in guard_store.recent_switches(conn, location=location, limit=limit)]


def _dated(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, (date, datetime)) else v for k, v in row.items()}


@dataclass(slots=True)
class _NodeDemand:
    run_id: str | None
    start: date
    days: int
    checked: float  # time.monotonic() of the last look at the latest run
    by_sku: dict[str, dict[str, float]] = field(default_factory=dict)  # sku → node id → units


_node_cache: weakref.WeakKeyDictionary[Any, _NodeDemand] = weakref.WeakKeyDictionary()
NODE_CACHE_S = 5.0  # how often the hot path looks whether a newer run replaced the forecasts
NODE_CACHE_SKUS = 50_000


def expected_at_nodes(
    conn: Connection, *, skus: Sequence[str], days: int, start: date | None = None
) -> dict[str, dict[str, float]]:
    """For sourcing's hot path, on the caller's connection: the units of each of ``skus``
    expected at each node with a forecast of its own demand (in-store sales, pickups), over
    ``days`` days from ``start`` (default: today, UTC), as ``{node id: {sku: units}}``. SKUs
    are read in one statement and kept per forecast run, so repeated SKUs cost a dict lookup;
    whether a newer run or update replaced the forecasts is looked up every few seconds."""
    start = start or utcnow().date()
    now = time.monotonic()
    cache = _node_cache.get(conn.engine)
    if cache is None or cache.start != start or cache.days != days or now - cache.checked > NODE_CACHE_S:
        run_id = store.last_run_id(conn)
        if cache is None or cache.start != start or cache.days != days or cache.run_id != run_id:
            cache = _NodeDemand(run_id, start, days, now)
            _node_cache[conn.engine] = cache
        cache.checked = now
    missing = [s for s in dict.fromkeys(skus) if s not in cache.by_sku]
    if missing:
        if len(cache.by_sku) > NODE_CACHE_SKUS:
            cache.by_sku.clear()
        found: dict[str, dict[str, float]] = {s: {} for s in missing}
        for sku, location, units in store.node_expected(
            conn, skus=missing, start=start, end=start + timedelta(days=days)
        ):
            found[sku][location.removeprefix(NODE_PREFIX)] = units
        cache.by_sku.update(found)
    out: dict[str, dict[str, float]] = {}
    for sku in skus:
        for node_id, units in cache.by_sku[sku].items():
            if units > 0:
                out.setdefault(node_id, {})[sku] = units
    return out


def get_runs(engine: Engine, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs and updates, newest first, with their summaries."""
    with unit_of_work(engine, write=False) as conn:
        rows = store.recent_runs(conn, limit=limit)
    return [
        {
            **{k: rows_v for k, rows_v in r.items() if k not in ("started_at", "finished_at")},
            "started_at": r["started_at"].isoformat(),
            "finished_at": r["finished_at"].isoformat() if r["finished_at"] else None,
        }
        for r in rows
    ]
