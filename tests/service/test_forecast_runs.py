"""Backtests, runs and updates on small synthetic histories whose structure is known: a strongly
weekly product, where the chosen models must beat the seasonal naive forecast by far, and slow
movers, where the Croston family must be chosen; the CLI end to end on a small file."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from orderhub import cli
from orderhub.core.errors import NotFound
from orderhub.forecast import backtest, engine
from orderhub.forecast import service as forecast
from orderhub.forecast.model import DemandRow

D0 = date(2025, 9, 1)  # a Monday
DAYS = 196
WEEK = np.array([10, 12, 14, 16, 20, 30, 0.0])  # closed on Sundays
CROSTON_FAMILY = {"CrostonOptimized", "ADIDA", "IMAPA", "TSB"}


def history(weekly: int = 3, slow: int = 3, days: int = DAYS) -> list[tuple[str, str, date, float]]:
    rng = np.random.default_rng(1)
    rows = []
    for s in range(weekly):
        for d in range(days):
            if q := rng.poisson(WEEK[d % 7] * (1 + 0.2 * s)):
                rows.append((f"W{s}", "BY", D0 + timedelta(days=d), float(q)))
    for s in range(slow):
        for d in range(days):
            if rng.random() < 0.08:
                rows.append((f"S{s}", "BY", D0 + timedelta(days=d), float(rng.integers(1, 4))))
    return rows


def test_the_choice_beats_seasonal_naive_on_weekly_demand_on_the_held_out_window() -> None:
    report = backtest.run(engine.Panel.from_rows(history(slow=0)), h=14, folds=3)
    assert report["series"] == {"in_file": 3, "too_short": 0, "scored": 3, "classes": {"smooth": 3}}
    relative = report["selection"]["relative"]
    assert relative["mase"] < 0.85  # at least 15 % better than the seasonal naive forecast
    assert report["models"]["SeasonalNaive"]["relative"]["mase"] == 1.0
    assert set(report["selection"]["chosen"]) <= {"AutoETS", "AutoTheta", "SeasonalWindowAverage"}


def test_slow_movers_get_a_model_of_the_croston_family() -> None:
    panel = engine.Panel.from_rows(history(weekly=0, slow=8, days=364))
    win = engine.cross_validate(panel, np.arange(len(panel)), 28, 3)
    chosen, _ = engine.choose(win, slice(0, 3))
    # demand on 8 % of days, no weekly pattern: mostly the Croston family (a weekday average
    # wins some by chance); never the seasonal naive forecast, ETS or Theta
    assert sum(c in CROSTON_FAMILY for c in chosen) > len(chosen) / 2, chosen
    assert not set(chosen) & engine.NOT_INTERMITTENT
    assert np.isnan(win.forecast["AutoETS"]).all()  # not even fitted on intermittent demand


def test_short_flat_and_single_series_are_handled_and_counted() -> None:
    rows = [("NEW", "BY", D0 + timedelta(days=d), 1.0) for d in range(30)]  # 30 days < 4 × 7 + 28
    report = backtest.run(engine.Panel.from_rows(rows), h=7, folds=3)
    assert report["series"] == {"in_file": 1, "too_short": 1, "scored": 0}
    assert report["selection"] is None
    flat = [("Z", "BY", D0 + timedelta(days=d), 0.0) for d in range(70)]  # a row for every day, all zero
    report = backtest.run(engine.Panel.from_rows(flat), h=7, folds=3)
    assert report["series"]["classes"] == {"zero": 1}
    assert report["selection"]["unscaled"] == 1  # no MASE without a scale
    assert report["selection"]["mase"] is None
    assert report["selection"]["wape"] is None  # nothing sold in the window


def test_a_lenient_backtest_skips_bad_rows_and_says_how_many() -> None:
    lines = ["date,sku,location,quantity"] + [f"{day.isoformat()},{s},{loc},{q:g}" for s, loc, day, q in history(1, 0)]
    lines += ["2026-01-01,W0,BY,-3", "not-a-date,W0,BY,1"]
    report = forecast.backtest_file(lines, horizon=14, folds=3, jobs=1)
    assert report["rows"]["bad"] == 2
    assert report["rows"]["errors"][0].endswith("quantity: negative (a return or a correction is not demand)")
    assert report["series"]["scored"] == 1


def _load(eng: Engine, rows: list[tuple[str, str, date, float]]) -> None:
    forecast.add_demand(eng, [DemandRow(day, sku, loc, q) for sku, loc, day, q in rows])


def test_a_run_forecasts_every_series_with_intervals_and_expected_demand_adds_them_up(sqlite_engine: Engine) -> None:
    rows = [*history(weekly=1, slow=1), ("NEW", "BY", D0 + timedelta(days=DAYS - 3), 2.0)]
    _load(sqlite_engine, rows)
    last = D0 + timedelta(days=DAYS - 1)  # a Sunday: closed, no row; the history ends there all the same
    summary = forecast.run(sqlite_engine, horizon=7, folds=2, jobs=1, as_of=last)
    assert summary["series"] == 3
    assert summary["short"] == 1
    assert summary["last_day"] == last.isoformat()
    got = forecast.get_forecast(sqlite_engine, sku="W0", location="BY")
    assert got["model"] in engine.MODELS
    assert set(got["scores"]["mae"]) >= {"SeasonalNaive", "AutoETS"}
    assert [p["day"] for p in got["points"]] == [(D0 + timedelta(days=DAYS + k)).isoformat() for k in range(7)]
    assert all(p["lo95"] <= p["lo80"] <= p["mean"] <= p["hi80"] <= p["hi95"] for p in got["points"])
    sunday = next(p for p in got["points"] if date.fromisoformat(p["day"]).weekday() == 6)
    assert sunday["mean"] < 3  # the closed day is forecast near 0 by every weekly model
    new = forecast.get_forecast(sqlite_engine, sku="NEW", location="BY")
    assert (new["model"], new["note"]) == ("HistoricAverage", "3 days of history: too short to backtest")
    assert new["points"][0]["lo80"] is None
    expected = forecast.expected_demand(sqlite_engine, location="BY", skus=["W0", "NEW", "NONE"], days=3)
    assert expected["W0"] == pytest.approx(sum(p["mean"] for p in got["points"][:3]))
    assert expected["NEW"] == pytest.approx(3 * 2 / 3)
    assert expected["NONE"] == 0.0
    with pytest.raises(NotFound):
        forecast.get_forecast(sqlite_engine, sku="NONE", location="BY")


def test_an_update_reforecasts_only_the_series_that_changed_with_their_chosen_model(sqlite_engine: Engine) -> None:
    _load(sqlite_engine, history(weekly=1, slow=1))
    forecast.run(sqlite_engine, horizon=7, folds=2, jobs=1, as_of=D0 + timedelta(days=DAYS - 1))
    before = forecast.get_forecast(sqlite_engine, sku="S0", location="BY")
    chosen = forecast.get_forecast(sqlite_engine, sku="W0", location="BY")["model"]
    _load(sqlite_engine, [("W0", "BY", D0 + timedelta(days=DAYS), 15.0)])  # a day of orders
    summary = forecast.update(sqlite_engine, jobs=1)
    assert (summary["kind"], summary["series"], summary["chosen"]) == ("update", 1, {chosen: 1})
    after = forecast.get_forecast(sqlite_engine, sku="W0", location="BY")
    assert after["history_to"] == (D0 + timedelta(days=DAYS)).isoformat()
    assert after["points"][0]["day"] == (D0 + timedelta(days=DAYS + 1)).isoformat()
    assert forecast.get_forecast(sqlite_engine, sku="S0", location="BY") == before  # unchanged: kept
    assert [r["kind"] for r in forecast.get_runs(sqlite_engine)] == ["update", "run"]


def test_the_cli_backtests_a_file_and_imports_runs_and_updates(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    file = tmp_path / "history.csv"
    file.write_text(
        "date,sku,location,quantity,price\n"
        + "".join(f"{day.isoformat()},{s},{loc},{q:g},2.50\n" for s, loc, day, q in history(1, 1))
    )
    out = tmp_path / "report.json"
    args = ["forecast", "backtest", "--history", str(file), "--horizon", "7", "--folds", "2", "--jobs", "1"]
    assert cli.main([*args, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "selection" in printed and "SeasonalNaive" in printed
    report = json.loads(out.read_text())
    assert report["series"]["scored"] == 2
    assert set(report["models"]) == set(engine.MODELS)
    assert report["selection"]["relative"]["mase"] is not None

    monkeypatch.setenv("ORDERHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    bad = tmp_path / "bad.csv"
    bad.write_text("date,sku,location,quantity\n2026-01-01,A,BY,x\n")
    assert cli.main(["forecast", "import", str(bad)]) == 1
    assert "line 2, quantity: 'x' is not a number" in capsys.readouterr().err
    assert cli.main(["forecast", "import", str(file), "--currency", "EUR"]) == 0
    assert cli.main(["forecast", "run", "--horizon", "7", "--folds", "2", "--jobs", "1"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["series"] == 2
    assert cli.main(["forecast", "update", "--jobs", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["series"] == 0  # nothing changed since the run


def test_an_update_applies_the_parameters_ets_and_theta_were_fitted_with_and_fits_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    panel = engine.Panel.from_rows(history(weekly=2, slow=0))
    chosen = {0: "AutoETS", 1: "AutoTheta"}
    params: dict[int, dict] = {}
    fitted = engine.forecast(panel, chosen, 14, params=params)
    assert params[0]["fit_start"] == params[1]["fit_start"] == panel.end - engine.FIT_DAYS + 1
    assert params[0]["components"][0] == "A" and len(params[0]["par"]) == 4 + 1 + 7  # level and a week of seasons
    params = json.loads(json.dumps(params, allow_nan=False))  # kept as JSON: no NaN
    params = {int(k): v for k, v in params.items()}

    def no_fitting(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("an update fitted a model")  # the forward's fallback would show it

    def nothing_to_fit(*, optimize_params, **kwargs):  # type: ignore[no-untyped-def]
        if any(optimize_params.values()):
            no_fitting()

    from statsforecast import ets, theta

    monkeypatch.setattr(ets, "optimize_ets_target_fn", no_fitting)
    monkeypatch.setattr(theta, "optimize_theta_target_fn", nothing_to_fit)
    again = engine.forward(panel, chosen, 14, first={}, params=params)
    np.testing.assert_allclose(again[0], fitted[0], rtol=1e-6)  # the same history: the same forecast
    np.testing.assert_allclose(again[1], fitted[1], rtol=1e-6)
    longer = engine.Panel.from_rows([*history(weekly=2, slow=0), ("W0", "BY", D0 + timedelta(days=DAYS), 15.0)])
    moved = engine.forward(longer, chosen, 14, first={}, params=params)
    assert len(moved[0]) == 14 and not np.allclose(moved[0], fitted[0])  # one day more, carried forward


def test_a_run_keeps_the_fitted_parameters_and_an_update_keeps_them_too(sqlite_engine: Engine) -> None:
    _load(sqlite_engine, history(weekly=3, slow=0))
    forecast.run(sqlite_engine, horizon=7, folds=2, jobs=1, as_of=D0 + timedelta(days=DAYS - 1))
    from orderhub.forecast import store

    with sqlite_engine.connect() as conn:
        rows = store.chosen_models(conn, [(f"W{s}", "BY") for s in range(3)])
    smooth = {k: r for k, r in rows.items() if r["model"] in engine.SMOOTH_ONLY}
    assert all(r["params"]["fit_start"] for r in smooth.values())
    assert all(r["params"] is None for r in rows.values() if r["model"] not in engine.SMOOTH_ONLY)
    _load(sqlite_engine, [(sku, "BY", D0 + timedelta(days=DAYS), 15.0) for sku, _ in rows])
    summary = forecast.update(sqlite_engine, jobs=1)
    assert summary["series"] == 3
    with sqlite_engine.connect() as conn:
        after = store.chosen_models(conn, list(rows))
    assert {k: r["params"] for k, r in after.items()} == {k: r["params"] for k, r in rows.items()}
    assert {k: r["first_day"] for k, r in after.items()} == {k: r["first_day"] for k, r in rows.items()}


def test_an_update_weeks_after_the_run_reads_ets_and_theta_history_from_the_day_they_were_fitted_from(
    sqlite_engine: Engine,
) -> None:
    """An update reads ``UPDATE_DAYS`` of a changed series; when ETS or Theta were fitted from an
    earlier day (a run 5 weeks ago), it reads again from that day: the forecast is the one the
    kept parameters give on the whole history since then."""
    _load(sqlite_engine, history(weekly=3, slow=0))
    forecast.run(sqlite_engine, horizon=7, folds=2, jobs=1, as_of=D0 + timedelta(days=DAYS - 1))
    from orderhub.forecast import store

    later = [(f"W{s}", "BY", D0 + timedelta(days=DAYS + d), float(10 + d % 7)) for s in range(3) for d in range(35)]
    _load(sqlite_engine, later)
    with sqlite_engine.connect() as conn:
        rows = store.chosen_models(conn, [(f"W{s}", "BY") for s in range(3)])
    smooth = {k: r for k, r in rows.items() if r["model"] in engine.SMOOTH_ONLY}
    assert smooth  # the weekly series chose ETS or Theta
    end = D0 + timedelta(days=DAYS + 34)
    assert (
        min(r["params"]["fit_start"] for r in smooth.values())
        < (end - timedelta(days=forecast.UPDATE_DAYS - 1)).toordinal()
    )
    forecast.update(sqlite_engine, jobs=1)
    whole = engine.Panel.from_rows([*history(weekly=3, slow=0), *later])
    at = {k: i for i, k in enumerate(whole.keys)}
    expected = engine.forward(
        whole,
        {at[k]: r["model"] for k, r in smooth.items()},
        7,
        first={},
        params={at[k]: r["params"] for k, r in smooth.items()},
    )
    for key in smooth:
        points = forecast.get_forecast(sqlite_engine, sku=key[0], location=key[1])["points"]
        np.testing.assert_allclose([p["mean"] for p in points], expected[at[key]], rtol=1e-6)


def test_the_backtest_fits_ets_and_theta_again_at_the_held_out_cutoff_as_a_run_would() -> None:
    """The choosing windows carry ETS and Theta forward from one fit at the first cutoff; the
    held-out window gets a fresh fit on the history before it — what a run forecasts with."""
    panel = engine.Panel.from_rows(history(weekly=2, slow=0))
    idx = np.arange(len(panel))
    carried = engine.cross_validate(panel, idx, 14, 3)
    fresh = engine.cross_validate(panel, idx, 14, 3, refit_last=True)
    cutoff = date.fromordinal(panel.end - 14)  # the history ends on its last day with demand
    before = engine.Panel.from_rows([r for r in history(weekly=2, slow=0) if r[2] <= cutoff], end=cutoff)
    for name in sorted(engine.SMOOTH_ONLY):
        expected = engine.forecast(before, dict.fromkeys(range(len(before)), name), 14)
        for s in range(len(idx)):
            np.testing.assert_allclose(fresh.forecast[name][s, -1], expected[s], rtol=1e-6)
            np.testing.assert_allclose(fresh.forecast[name][s, :-1], carried.forecast[name][s, :-1], rtol=1e-6)
    # ETS's parameters from 6 weeks earlier forecast otherwise (Theta's nearly the same)
    assert not np.allclose(fresh.forecast["AutoETS"][:, -1], carried.forecast["AutoETS"][:, -1], rtol=1e-3)
    for name in ("SeasonalWindowAverage", "TSB"):  # the cheap models are refitted at every window anyway
        np.testing.assert_allclose(fresh.forecast[name], carried.forecast[name])
