"""Accuracy figures, series building and the choice of model, on numbers small enough to check
by hand."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from orderhub.forecast import engine, metrics

D0 = date(2026, 1, 5)


def test_summary_figures_are_exact() -> None:
    actual = np.array([[2.0, 0.0, 4.0], [1.0, 1.0, 0.0]])
    forecast = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    # abs errors 1,1,3 | 0,0,1 → 6 over 8 units; signed errors -1,1,-3 | 0,0,1 → -2
    mase = np.array([0.5, np.inf])  # the second series has no scale
    figures = metrics.summarise(actual, forecast, mase, np.array([0.25, np.nan]))
    assert figures == {"mase": 0.5, "rmsse": 0.25, "wape": 0.75, "bias": -0.25, "series": 2, "unscaled": 1}
    assert metrics.relative(figures, {"mase": 1.0, "rmsse": 0.5, "wape": 1.5, "bias": 0.5}) == {
        "mase": 0.5,
        "rmsse": 0.5,
        "wape": 0.5,
        "bias": 0.5,
    }
    assert metrics.relative({"mase": None}, {"mase": 1.0}) == {"mase": None, "rmsse": None, "wape": None, "bias": None}
    assert metrics.coverage(np.array([0.0, 2.0, 5.0]), np.array([0.0, 0.0, 0.0]), np.array([1.0, 1.0, 5.0])) == 2 / 3


def test_mase_and_rmsse_per_series_are_utilsforecasts_definitions() -> None:
    # history 14 days: weekly errors |y_t - y_{t-7}| = 1 on each of the 7 days → scale 1 (MAE), 1 (MSE)
    y = [1, 2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6, 7, 8]
    train = pd.DataFrame({"unique_id": 0, "ds": np.arange(14), "y": np.array(y, float)})
    actual = np.array([[3.0, 3.0]])
    f = {"A": np.array([[1.0, 5.0]]), "B": np.array([[3.0, 4.0]])}
    out = metrics.per_series(actual, f, train, ids=np.array([0]), first_ds=np.array([14]))
    assert out["A"][0].tolist() == [2.0]  # MAE 2 / 1
    assert out["A"][1].tolist() == [2.0]  # sqrt(MSE 4 / 1)
    assert out["B"][0].tolist() == [0.5]
    assert out["B"][1].tolist() == pytest.approx([np.sqrt(0.5)])
    assert metrics.seasonal_scale(np.array(y, float)) == 1.0


def test_a_panel_fills_missing_days_with_zero_and_ends_every_series_on_the_last_day() -> None:
    rows = [
        ("A", "BY", D0, 2.0),
        ("A", "BY", D0, 1.0),  # the same day twice: added up
        ("A", "BY", D0 + timedelta(days=3), 5.0),
        ("B", "BE", D0 + timedelta(days=4), 1.0),
    ]
    panel = engine.Panel.from_rows(rows)
    assert panel.keys == [("A", "BY"), ("B", "BE")]
    assert panel.values(0).tolist() == [3.0, 0.0, 0.0, 5.0, 0.0]
    assert panel.values(1).tolist() == [1.0]
    assert panel.end == (D0 + timedelta(days=4)).toordinal()
    frame = panel.frame([0], drop_last=1, keep_last=2)
    assert frame["y"].tolist() == [0.0, 5.0]
    assert frame["ds"].tolist() == [(D0 + timedelta(days=k)).toordinal() for k in (2, 3)]
    later = engine.Panel.from_rows(rows, end=D0 + timedelta(days=6))
    assert later.values(1).tolist() == [1.0, 0.0, 0.0]
    assert len(engine.Panel.from_rows([])) == 0


def test_demand_classes_follow_syntetos_and_boylan() -> None:
    assert engine.demand_class(np.array([5.0, 5, 6, 5, 5])) == "smooth"
    assert engine.demand_class(np.array([1.0, 20, 1, 30, 2])) == "erratic"
    assert engine.demand_class(np.array([0.0, 0, 3, 0, 0, 3, 0, 3])) == "intermittent"
    assert engine.demand_class(np.array([0.0, 0, 1, 0, 0, 40])) == "lumpy"
    assert engine.demand_class(np.zeros(10)) == "zero"
    assert "SeasonalNaive" not in engine.candidates_for("lumpy")
    assert "AutoETS" in engine.candidates_for("smooth")
    assert engine.candidates_for("lumpy", all_models=True) == engine.MODELS


def test_the_choice_is_the_candidate_with_the_lowest_error_and_ties_go_to_the_simpler() -> None:
    actual = np.array([[[1.0, 1.0]], [[0.0, 2.0]]])
    win = engine.Windows(np.array([0, 1]), 2, 1, actual)
    win.forecast = {
        "SeasonalNaive": np.array([[[1.0, 1.0]], [[0.0, 0.0]]]),
        "TSB": np.array([[[1.0, 1.0]], [[1.0, 1.0]]]),
        "ADIDA": np.array([[[2.0, 2.0]], [[0.0, 1.5]]]),
    }
    win.candidates = [engine.MODELS, ("TSB", "ADIDA")]
    chosen, err = engine.choose(win, slice(0, 1))
    assert chosen == ["SeasonalNaive", "ADIDA"]  # a tie with TSB goes to the earlier; series 2 may not have snaive
    assert err.tolist() == [0.0, 0.25]
    assert engine.picked(win, chosen, 0).tolist() == [[1.0, 1.0], [0.0, 1.5]]


def test_conformal_half_widths_are_order_statistics_of_the_absolute_errors() -> None:
    residuals = np.array([np.arange(1.0, 11.0), -np.arange(1.0, 11.0)])  # |e| = 1..10
    half = engine.spreads(residuals)
    # ceil(11 × 0.8) = 9th smallest; ceil(11 × 0.95) = 11 → capped at the largest
    assert half["80"].tolist() == [9.0, 9.0]
    assert half["95"].tolist() == [10.0, 10.0]
