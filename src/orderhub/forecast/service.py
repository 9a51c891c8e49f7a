"""Forecast's use cases: the demand history (imported, or kept from the bus by ``DEMAND``), the
runs that choose a model per series and forecast, with the guard watching the days they add;
and, re-exported from ``reads``, the reads the console and the other contexts build on
(``expected_at_nodes`` for sourcing's store protection, ``demand_outlook`` for inventory's
replenishment and promise dates).

Runs are batch work: ``run`` backtests every series and chooses again; ``update`` re-forecasts
only the series whose history changed since the last run, with the models already chosen and
the parameters already fitted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.events import DomainEvent
from orderhub.core.ids import new_id
from orderhub.core.money import currency_exponent, is_known_currency
from orderhub.forecast import store, watch
from orderhub.forecast.model import NODE_PREFIX, DemandRow, ParsedHistory, node_location, parse_history, total_by_key
from orderhub.forecast.reads import (
    demand_outlook,
    expected_at_nodes,
    expected_demand,
    get_forecast,
    get_guard,
    get_guard_series,
    get_guard_switches,
    get_runs,
    get_series,
    list_series,
)
from orderhub.forecast.subscribers import DEMAND, record_demand_batch
from orderhub.platform.db import unit_of_work

if TYPE_CHECKING:
    from orderhub.forecast.engine import Fitted, Panel

__all__ = [
    "DEMAND",
    "NODE_PREFIX",
    "backtest_file",
    "demand_outlook",
    "expected_at_nodes",
    "expected_demand",
    "get_forecast",
    "get_guard",
    "get_guard_series",
    "get_guard_switches",
    "get_runs",
    "get_series",
    "import_history",
    "list_series",
    "node_location",
    "read_history",
    "record_orders",
    "run",
    "update",
]

MAX_SHOWN_ERRORS = 50


# -- history -------------------------------------------------------------------------------------
def read_history(lines: Iterable[str], *, currency: str = "") -> ParsedHistory:
    """A history file parsed (see ``model.parse_history``); nothing is written."""
    if currency and not is_known_currency(currency):
        raise InvalidInput(
            f"unknown currency {currency!r}", errors=[{"pointer": "/currency", "detail": "not ISO 4217"}]
        )
    return parse_history(lines, currency=currency, exponent=currency_exponent(currency) if currency else 2)


def import_history(engine: Engine, lines: Iterable[str], *, currency: str = "") -> dict[str, int]:
    """Add a history file's demand to the history, all rows or none: a file with any bad row is
    refused with every bad row listed (line, field, what is wrong), and nothing is written.
    Rows add to what a day already has (an import of the same file twice counts it twice)."""
    parsed = read_history(lines, currency=currency)
    if parsed.errors:
        shown = parsed.errors[:MAX_SHOWN_ERRORS]
        raise InvalidInput(
            f"{len(parsed.errors)} bad row(s) in the history file; nothing was imported",
            code="bad_history_rows",
            errors=[{"pointer": f"/line/{e.line}/{e.field}", "detail": e.detail} for e in shown],
        )
    rows = list(total_by_key(parsed.rows).values())
    with unit_of_work(engine) as conn:
        for i in range(0, len(rows), 20_000):
            store.add_demand(conn, rows[i : i + 20_000], now=utcnow())
    return {"rows": len(parsed.rows), "days": len(rows), "series": len({(r.sku, r.location) for r in rows})}


def add_demand(engine: Engine, rows: Sequence[DemandRow]) -> None:
    """Add demand rows to the history (tests, benchmarks, feeds)."""
    with unit_of_work(engine) as conn:
        store.add_demand(conn, list(total_by_key(rows).values()), now=utcnow())


def record_orders(engine: Engine, events: Sequence[DomainEvent]) -> None:
    """Demand of orders loaded without publishing their events (a bulk import of past orders,
    the demo's history): their ``order.captured`` and later events (cancellations, edits), in
    order, counted exactly as the ``forecast.demand`` subscriber counts them from the bus, in
    one transaction. Other event types are ignored; an order counted before counts nothing."""
    with unit_of_work(engine) as conn:
        record_demand_batch(conn, list(events))


# -- backtest ------------------------------------------------------------------------------------
def backtest_file(
    lines: Iterable[str],
    *,
    horizon: int = 28,
    folds: int = 3,
    top: int | None = None,
    jobs: int = 1,
    all_models: bool = False,
) -> dict[str, Any]:
    """Backtest a history file (``forecast.backtest``). Lenient where the import is strict:
    bad rows are skipped and reported (how many, the first ones), so any file in the format
    gives an answer."""
    if horizon < 1 or folds < 1:
        raise InvalidInput("horizon and folds must be at least 1")
    from orderhub.forecast import backtest, engine

    jobs = jobs or engine.default_jobs()
    parsed = read_history(lines)
    panel = engine.Panel.from_rows((r.sku, r.location, r.day, r.quantity) for r in parsed.rows)
    report = backtest.run(panel, h=horizon, folds=folds, top=top, jobs=jobs, all_models=all_models)
    report["rows"] = {
        "read": len(parsed.rows),
        "bad": len(parsed.errors),
        "errors": [str(e) for e in parsed.errors[:10]],
    }
    return report


# -- runs ----------------------------------------------------------------------------------------
def _panel(
    conn: Any, keys: Iterable[tuple[str, str]] | None = None, *, end: date | None = None, since: date | None = None
) -> Panel:
    from orderhub.forecast.engine import Panel

    return Panel.from_rows(store.demand_rows(conn, keys=keys, since=since), end=end)


def run(
    engine: Engine, *, horizon: int = 28, folds: int = 2, jobs: int | None = None, as_of: date | None = None
) -> dict[str, Any]:
    """Choose a model for every series by its backtest and forecast the next ``horizon`` days
    after ``as_of`` (default: the history's last day), replacing every earlier forecast. The
    history is read in one transaction, the forecasts written in another; a series whose
    history changes meanwhile is picked up by the next ``update``."""
    from orderhub.forecast import engine as numeric

    jobs = jobs or numeric.default_jobs()
    run_id, started = new_id("fcr"), utcnow()
    clock = time.perf_counter()
    with unit_of_work(engine, write=False) as conn:
        panel = _panel(conn, end=as_of)
    read_s = time.perf_counter() - clock
    guarded = _watch(engine, panel, run_id=run_id)
    guard_s = guarded.pop("seconds", 0.0)
    fitted = numeric.fit_all(panel, h=horizon, folds=folds, jobs=jobs)
    fit_s = time.perf_counter() - clock - read_s - guard_s
    summary = _save(engine, panel, fitted, run_id=run_id, kind="run", started=started, horizon=horizon, folds=folds)
    summary["guard"] = guarded
    summary["seconds"] = {
        "read": round(read_s, 2),
        "guard": round(guard_s, 2),
        "fit": round(fit_s, 2),
        "write": round(time.perf_counter() - clock - read_s - guard_s - fit_s, 2),
    }
    with unit_of_work(engine) as conn:
        store.finish_run(conn, run_id, summary=summary)
    return summary


#: Days of history an update reads per changed series (at least): ETS and Theta need theirs from
#: the day they were fitted from; the cheaper models forget older days (an 8-week weekday
#: average; smoothing with α = 0.1), so 20 weeks give them what a full history would, nearly.
UPDATE_DAYS = 140


def update(engine: Engine, *, jobs: int | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Re-forecast, with the models already chosen, every series whose history changed since
    the last run or update started (new demand, a cancellation), from its history through
    ``as_of`` (default: the history's last day); a new series gets the short-history
    fallback. Other series keep their forecast until the next ``run``.

    Nothing chosen is chosen again and nothing fitted is fitted again: ETS and Theta apply the
    parameters the run fitted to the new history (``engine.forward``), the cheaper models
    (weekday averages, the Croston family) are recomputed from the last ``UPDATE_DAYS`` days,
    in this process. ``jobs`` is accepted for symmetry with ``run`` and not used."""
    from orderhub.forecast import engine as numeric
    from orderhub.forecast.engine import Panel

    run_id, started = new_id("fcr"), utcnow()
    clock = time.perf_counter()
    with unit_of_work(engine, write=False) as conn:
        last = store.last_run(conn)
        if last is None:
            raise NotFound("no forecast run yet: run one first (orderhub forecast run)", code="no_forecast_run")
        end = as_of or store.last_day(conn)
        # the changed series from UPDATE_DAYS back; then, in the rare case that ETS or Theta was
        # fitted from an earlier day (a run more than 4 weeks ago), again from that day
        since = end - timedelta(days=UPDATE_DAYS - 1) if end else None
        panel = Panel.from_rows(store.demand_rows(conn, since=since, changed_since=last["started_at"]), end=end)
        known = store.chosen_models(conn, panel.keys)
        earlier = _update_since(end, known.values()) if end else None
        if earlier is not None and since is not None and earlier < since:
            since = earlier
            panel = Panel.from_rows(store.demand_rows(conn, since=since, changed_since=last["started_at"]), end=end)
    read_s = time.perf_counter() - clock
    guarded = _watch(engine, panel, run_id=run_id, end=end)
    guard_s = guarded.pop("seconds", 0.0)
    horizon, folds = int(last["horizon"]), int(last["folds"])
    chosen = {i: known[k]["model"] if k in known else numeric.FALLBACK for i, k in enumerate(panel.keys)}
    first = {
        i: max(known[k]["first_day"].toordinal(), since.toordinal() if since else 0)
        for i, k in enumerate(panel.keys)
        if k in known
    }
    params = {i: known[k]["params"] for i, k in enumerate(panel.keys) if k in known and known[k]["params"]}
    values = numeric.forward(panel, chosen, horizon, first=first, params=params)
    fitted, first_days = [], {}
    for i, key in enumerate(panel.keys):
        before = known.get(key)
        if before is None:
            f = numeric.Fitted(numeric.FALLBACK, numeric.demand_class(panel.values(i)), {"windows": 0}, {}, values[i])
            f.note = f"{len(panel.values(i))} days of history: too short to backtest"
        else:
            f = numeric.Fitted(
                before["model"], before["demand_class"], before["scores"], before["spread"], values[i],
                before["note"], before["params"],
            )  # fmt: skip
            first_days[i] = before["first_day"]
        fitted.append(f)
    fit_s = time.perf_counter() - clock - read_s - guard_s
    summary = _save(
        engine, panel, fitted, run_id=run_id, kind="update", started=started, horizon=horizon, folds=folds,
        first_days=first_days,
    )  # fmt: skip
    summary["guard"] = guarded
    summary["seconds"] = {
        "read": round(read_s, 2),
        "guard": round(guard_s, 2),
        "fit": round(fit_s, 2),
        "write": round(time.perf_counter() - clock - read_s - guard_s - fit_s, 2),
    }
    with unit_of_work(engine) as conn:
        store.finish_run(conn, run_id, summary=summary)
    return summary


def _update_since(end: date, known: Iterable[dict[str, Any]]) -> date:
    since = end - timedelta(days=UPDATE_DAYS - 1)
    starts = [s["params"]["fit_start"] for s in known if s.get("params")]
    return min(since, date.fromordinal(min(starts))) if starts else since


def _watch(engine: Engine, panel: Panel, *, run_id: str, end: date | None = None) -> dict[str, Any]:
    """The guard looks at the days of demand the history now has (``watch.watch``), before the
    forecasts that were live for them are replaced; ``seconds`` says how long it took."""
    clock = time.perf_counter()
    through = end or (date.fromordinal(panel.end) if len(panel) else None)
    out = watch.watch(engine, through=through, run_id=run_id) if through else {}
    return {**out, "seconds": time.perf_counter() - clock}


def _save(
    engine: Engine,
    panel: Panel,
    fitted: list[Fitted],
    *,
    run_id: str,
    kind: str,
    started: Any,
    horizon: int,
    folds: int,
    first_days: dict[int, date] | None = None,
) -> dict[str, Any]:
    now = utcnow()
    series_rows: list[dict[str, Any]] = []
    point_rows: list[tuple[Any, ...]] = []
    last = date.fromordinal(panel.end) if len(panel) else None
    days = [last + timedelta(days=t + 1) for t in range(horizon)] if last else []
    for i, (key, f) in enumerate(zip(panel.keys, fitted, strict=True)):
        first = (first_days or {}).get(i) or date.fromordinal(int(panel.start[i]))
        series_rows.append(
            {
                "sku": key[0],
                "location": key[1],
                "model": f.model,
                "demand_class": f.demand_class,
                "first_day": first,
                "last_day": last,
                "horizon": horizon,
                "scores": f.scores,
                "spread": f.spread,
                "note": f.note[:200],
                "params": f.params,
                "run_id": run_id,
                "fitted_at": now,
            }
        )
        q80, q95 = f.spread.get("80"), f.spread.get("95")
        sku, location = key
        for day, mean in zip(days, f.forecast.tolist(), strict=False):  # store.POINT_COLUMNS
            point_rows.append(
                (
                    sku, location, day, mean,
                    None if q80 is None else max(mean - q80, 0.0), None if q80 is None else mean + q80,
                    None if q95 is None else max(mean - q95, 0.0), None if q95 is None else mean + q95,
                )
            )  # fmt: skip
    summary = {
        "run_id": run_id,
        "kind": kind,
        "series": len(fitted),
        "last_day": date.fromordinal(panel.end).isoformat() if len(panel) else None,
        "chosen": dict(Counter(f.model for f in fitted).most_common()),
        "short": sum(1 for f in fitted if f.scores.get("windows") == 0),
    }
    with unit_of_work(engine) as conn:
        store.start_run(
            conn, id=run_id, kind=kind, started_at=started, horizon=horizon, folds=folds, series=len(fitted)
        )
        store.save_forecasts(conn, series_rows, point_rows, replace_all=kind == "run")
        store.finish_run(conn, run_id, finished_at=utcnow())
    return summary
