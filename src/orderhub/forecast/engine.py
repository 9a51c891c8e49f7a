"""The numeric core: daily series, statsforecast's models, rolling-origin cross-validation, the
per-series choice of model, conformal intervals.

numpy, pandas and statsforecast are imported here and by ``metrics.py`` only; the service
imports this module when a run or a backtest starts, so the app and the CLI start without
them (importing statsforecast costs seconds).

A series runs from its first day with demand to the common last day of the history; days
without a row are days without demand (0). Backtest windows are ``h`` days long and follow
each other (rolling origin, ``step = h``): windows ``0 … n-1`` end at the last day.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

SEASON = 7  # days: the weekly cycle of retail demand
#: The candidates, in the order that breaks a tie (the simpler and cheaper first).
MODELS = (
    "SeasonalNaive",
    "SeasonalWindowAverage",
    "TSB",
    "ADIDA",
    "IMAPA",
    "CrostonOptimized",
    "AutoETS",
    "AutoTheta",
)
BASELINE = "SeasonalNaive"
#: Fitted only where demand is not intermittent (average interval between demand days < 1.32):
#: on intermittent demand they are out of their depth and cost 10-100× an intermittent model.
SMOOTH_ONLY = frozenset({"AutoETS", "AutoTheta"})
#: Not chosen for intermittent demand, though always computed (it is the baseline): a copy of
#: last week is mostly zeros there, and zeros win on absolute error (the median of intermittent
#: demand is 0) while they forecast nothing (docs/forecast.md).
NOT_INTERMITTENT = SMOOTH_ONLY | {"SeasonalNaive"}
ADI_CUT, CV2_CUT = 1.32, 0.49  # Syntetos, Boylan & Croston (2005)
MIN_TRAIN = 4 * SEASON  # days of history a model gets at the first backtest window, at least
FIT_DAYS = 16 * SEASON  # ETS and Theta fit on at most the last 16 weeks (cost grows faster than length)
LEVELS = (80, 95)


def make_model(name: str) -> Any:
    """A fresh statsforecast model by its candidate name."""
    from statsforecast import models as m

    build: Callable[[], Any] = {
        "SeasonalNaive": lambda: m.SeasonalNaive(season_length=SEASON),
        "AutoETS": lambda: m.AutoETS(season_length=SEASON, model="ZNZ"),  # no trend over 28 days
        # the standard theta method only: as accurate as the four variants chosen by fit, at a
        # third of their cost (docs/forecast.md, "Performance")
        "AutoTheta": lambda: m.AutoTheta(season_length=SEASON, model="STM"),
        "CrostonOptimized": lambda: m.CrostonOptimized(),
        "ADIDA": lambda: m.ADIDA(),
        "IMAPA": lambda: m.IMAPA(),
        "TSB": lambda: m.TSB(alpha_d=0.1, alpha_p=0.1),
        # the mean of the same weekday over the last 8 weeks: keeps closed days at 0
        "SeasonalWindowAverage": lambda: m.SeasonalWindowAverage(
            season_length=SEASON, window_size=8, alias="SeasonalWindowAverage"
        ),
        "HistoricAverage": lambda: m.HistoricAverage(),
    }[name]
    model = build()
    assert repr(model) == name, f"statsforecast names {name} {model!r}"  # the output's column
    return model


def default_jobs() -> int:
    """Worker processes for a run: the machine's cores, at most 4 (fitting is CPU-bound)."""
    return max(1, min(os.cpu_count() or 1, 4))


# -- series --------------------------------------------------------------------------------------
@dataclass
class Panel:
    """Daily series of one history, gaps filled with 0, all ending on ``end`` (a day ordinal)."""

    keys: list[tuple[str, str]]
    start: np.ndarray  # first day (ordinal) of each series
    data: np.ndarray  # every series' days, one after the other
    indptr: np.ndarray  # series i is data[indptr[i]:indptr[i+1]]
    end: int

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, date | int, float]], *, end: date | None = None) -> Panel:
        """Rows (sku, location, day, quantity), in any order, the day a ``date`` or its ordinal;
        a key's rows of one day add up. Series run from their first day with a row to ``end``
        (default: the last day seen); rows after ``end`` are left out."""
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return cls([], np.zeros(0, np.int64), np.zeros(0), np.zeros(1, np.int64), end.toordinal() if end else 0)
        # one column at a time: ``zip(*rows)`` over a million rows costs seconds
        skus, locations = [r[0] for r in rows], [r[1] for r in rows]
        days = [r[2] for r in rows]
        if isinstance(days[0], date):
            days = [x.toordinal() for x in days]  # type: ignore[union-attr]
        d = np.asarray(days, dtype=np.int64)
        q = np.asarray([r[3] for r in rows], dtype=float)
        last = end.toordinal() if end else int(d.max())
        sku_codes, sku_names = pd.factorize(pd.Index(skus, dtype=object), sort=True)
        loc_codes, loc_names = pd.factorize(pd.Index(locations, dtype=object), sort=True)
        keep = d <= last
        pair = sku_codes[keep].astype(np.int64) * max(1, len(loc_names)) + loc_codes[keep]
        d, q = d[keep], q[keep]
        if len(d) == 0:
            return cls([], np.zeros(0, np.int64), np.zeros(0), np.zeros(1, np.int64), last)
        pairs, codes = np.unique(pair, return_inverse=True)  # keys in (sku, location) order
        first = np.full(len(pairs), last + 1, np.int64)
        np.minimum.at(first, codes, d)
        indptr = np.zeros(len(pairs) + 1, np.int64)
        np.cumsum(last - first + 1, out=indptr[1:])
        data = np.zeros(int(indptr[-1]))
        np.add.at(data, indptr[codes] + (d - first[codes]), q)
        n_loc = max(1, len(loc_names))
        keys = [(str(sku_names[k // n_loc]), str(loc_names[k % n_loc])) for k in pairs.tolist()]
        return cls(keys, first, data, indptr, last)

    def __len__(self) -> int:
        return len(self.keys)

    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def values(self, i: int) -> np.ndarray:
        return self.data[self.indptr[i] : self.indptr[i + 1]]

    def values_from(self, i: int, first: int) -> np.ndarray:
        """Series ``i`` from day ordinal ``first`` to the end: days before its first row are 0
        (a history read from a window starts at the window's first row, not at the series')."""
        y = self.values(i)
        start = int(self.start[i])
        if first >= start:
            return y[first - start :]
        return np.concatenate([np.zeros(start - first), y])

    def frame(
        self, idx: Sequence[int] | np.ndarray, *, drop_last: int = 0, keep_last: int | None = None
    ) -> pd.DataFrame:
        """``unique_id`` (the series' index), ``ds`` (day ordinal), ``y`` for the series ``idx``:
        without their last ``drop_last`` days, and at most the ``keep_last`` days before that."""
        parts_y, parts_id, parts_ds = [], [], []
        for i in idx:
            y = self.values(i)
            stop = len(y) - drop_last
            begin = 0 if keep_last is None else max(0, stop - keep_last)
            parts_y.append(y[begin:stop])
            parts_id.append(np.full(stop - begin, i, np.int64))
            parts_ds.append(np.arange(self.start[i] + begin, self.start[i] + stop, dtype=np.int64))
        if not parts_y:
            return pd.DataFrame({"unique_id": np.zeros(0, np.int64), "ds": np.zeros(0, np.int64), "y": np.zeros(0)})
        return pd.DataFrame(
            {"unique_id": np.concatenate(parts_id), "ds": np.concatenate(parts_ds), "y": np.concatenate(parts_y)}
        )


def demand_class(y: np.ndarray) -> str:
    """Syntetos-Boylan class of a series: ``smooth``, ``erratic``, ``intermittent``, ``lumpy``
    (average demand interval ADI ≥ 1.32 and/or squared coefficient of variation of the
    non-zero sizes CV² ≥ 0.49), or ``zero`` when it has no demand at all."""
    sizes = y[y > 0]
    if len(sizes) == 0:
        return "zero"
    adi = len(y) / len(sizes)
    cv2 = float(np.var(sizes) / np.mean(sizes) ** 2) if len(sizes) > 1 else 0.0
    if adi < ADI_CUT:
        return "smooth" if cv2 < CV2_CUT else "erratic"
    return "intermittent" if cv2 < CV2_CUT else "lumpy"


def is_intermittent(cls: str) -> bool:
    return cls not in ("smooth", "erratic")


def candidates_for(cls: str, *, all_models: bool = False) -> tuple[str, ...]:
    """The models a series of class ``cls`` may be given (``all_models``: every one)."""
    if all_models or not is_intermittent(cls):
        return MODELS
    return tuple(m for m in MODELS if m not in NOT_INTERMITTENT)


# -- cross-validation ----------------------------------------------------------------------------
@dataclass
class Windows:
    """Backtest forecasts of the series ``idx`` over ``n`` windows of ``h`` days:
    ``actual[s, w, t]`` and ``forecast[model][s, w, t]`` (NaN where a model was not tried)."""

    idx: np.ndarray
    h: int
    n: int
    actual: np.ndarray
    forecast: dict[str, np.ndarray] = field(default_factory=dict)
    candidates: list[tuple[str, ...]] = field(default_factory=list)  # per series


def _cv(
    panel: Panel, idx: np.ndarray, names: Sequence[str], h: int, n: int, *, jobs: int, refit: bool, drop_last: int = 0
) -> pd.DataFrame:
    from statsforecast import StatsForecast

    frame = panel.frame(idx, drop_last=drop_last, keep_last=None if refit else n * h + FIT_DAYS)
    sf = StatsForecast(
        models=[make_model(x) for x in names],
        freq=1,
        n_jobs=min(jobs, max(1, len(idx) // 50)),
        fallback_model=make_model(BASELINE),
    )
    with warnings.catch_warnings():  # statsmodels' and numpy's warnings on flat series
        warnings.simplefilter("ignore")
        out = sf.cross_validation(
            h=h, df=frame, n_windows=n, step_size=h, refit=refit, input_size=None if refit else FIT_DAYS
        )
    return out.sort_values(["unique_id", "cutoff", "ds"], kind="stable")


def cross_validate(
    panel: Panel,
    idx: np.ndarray,
    h: int,
    n: int,
    *,
    jobs: int = 1,
    all_models: bool = False,
    refit_last: bool = False,
) -> Windows:
    """Forecasts of every candidate over ``n`` rolling windows for the series ``idx`` (each
    at least ``n·h + MIN_TRAIN`` days long). The intermittent models and the seasonal naive
    are refitted at each window; ETS and Theta are fitted once, at the first window's cutoff,
    on at most ``FIT_DAYS`` days, then carried forward over the later windows with the same
    parameters (statsforecast's ``refit=False``). With ``refit_last`` (the backtest's held-out
    window) they are fitted again at the last window's cutoff, as a run fits the chosen model
    again on all of the history before it forecasts."""
    idx = np.sort(np.asarray(idx, np.int64))  # statsforecast answers in the order of the ids
    win = Windows(idx, h, n, np.zeros((len(idx), n, h)))
    if len(idx) == 0:
        return win
    cheap = [m for m in MODELS if m not in SMOOTH_ONLY]
    out = _cv(panel, idx, cheap, h, n, jobs=jobs, refit=True)
    win.actual = out["y"].to_numpy().reshape(len(idx), n, h)
    for m in cheap:
        win.forecast[m] = out[m].to_numpy().reshape(len(idx), n, h)
    cut = panel.lengths()[idx] - n * h  # the first window's cutoff, as an offset in each series
    classes = [demand_class(panel.values(int(i))[: int(c)]) for i, c in zip(idx, cut, strict=True)]
    win.candidates = [candidates_for(c, all_models=all_models) for c in classes]
    rich = np.array([k for k, c in enumerate(win.candidates) if set(c) >= SMOOTH_ONLY], dtype=np.int64)
    for m in SMOOTH_ONLY:
        win.forecast[m] = np.full((len(idx), n, h), np.nan)
    if len(rich):
        carried = n - 1 if refit_last and n > 1 else n
        out = _cv(
            panel, idx[rich], sorted(SMOOTH_ONLY), h, carried, jobs=jobs, refit=False, drop_last=(n - carried) * h
        )
        for m in SMOOTH_ONLY:
            win.forecast[m][rich, :carried] = out[m].to_numpy().reshape(len(rich), carried, h)
        if carried < n:
            out = _cv(panel, idx[rich], sorted(SMOOTH_ONLY), h, 1, jobs=jobs, refit=False)
            for m in SMOOTH_ONLY:
                win.forecast[m][rich, n - 1] = out[m].to_numpy().reshape(len(rich), h)
    for m in win.forecast:
        np.maximum(win.forecast[m], 0.0, out=win.forecast[m])  # demand is never negative
    return win


def choose(win: Windows, windows: slice) -> tuple[list[str], np.ndarray]:
    """Per series, the candidate with the lowest mean absolute error over ``windows`` (ties go
    to the earlier of ``MODELS``); and that error per series."""
    names = [m for m in MODELS if m in win.forecast]
    with warnings.catch_warnings():  # a model not fitted for a series has NaN forecasts there
        warnings.simplefilter("ignore")
        err = np.stack(
            [np.nanmean(np.abs(win.forecast[m][:, windows] - win.actual[:, windows]), axis=(1, 2)) for m in names],
            axis=1,
        )
    allowed = np.array([[m in c for m in names] for c in win.candidates], dtype=bool).reshape(err.shape)
    err = np.where(np.isnan(err) | ~allowed, np.inf, err)
    best = np.argmin(err, axis=1)
    return [names[b] for b in best], err[np.arange(len(best)), best]


def picked(win: Windows, chosen: Sequence[str], w: int | slice) -> np.ndarray:
    """The chosen model's forecasts of each series in window(s) ``w``."""
    return np.stack([win.forecast[m][s, w] for s, m in enumerate(chosen)]) if chosen else np.zeros((0, win.h))


def spreads(residuals: np.ndarray, levels: Sequence[int] = LEVELS) -> dict[str, np.ndarray]:
    """Split-conformal half-widths per series from its backtest errors (``residuals[s, k]``,
    all windows and days pooled): the ⌈(n+1)·level⌉-th smallest absolute error."""
    a = np.sort(np.abs(residuals), axis=1)
    n = a.shape[1]
    out = {}
    for level in levels:
        k = min(n, math.ceil((n + 1) * level / 100)) - 1
        out[str(level)] = a[:, k] if n else np.zeros(a.shape[0])
    return out


# -- forecasts -----------------------------------------------------------------------------------
def forecast(
    panel: Panel,
    chosen: dict[int, str],
    h: int,
    *,
    jobs: int = 1,
    params: dict[int, dict[str, Any]] | None = None,
) -> dict[int, np.ndarray]:
    """The next ``h`` days of each series ``i`` with its model ``chosen[i]``, fitted on all of
    its history (ETS and Theta on the last ``FIT_DAYS`` days). With ``params``, the fitted
    parameters of each ETS and Theta model are put there (``params_of``), for ``forward``."""
    from statsforecast import StatsForecast

    by_model: dict[str, list[int]] = {}
    for i, m in chosen.items():
        by_model.setdefault(m, []).append(i)
    out: dict[int, np.ndarray] = {}
    for m, idx in by_model.items():
        frame = panel.frame(idx, keep_last=FIT_DAYS if m in SMOOTH_ONLY else None)
        sf = StatsForecast(
            models=[make_model(m)],
            freq=1,
            # the cheap models forecast 10,000 series in a second: a worker pool costs more than it saves
            n_jobs=min(jobs, max(1, len(idx) // 50)) if m in SMOOTH_ONLY else 1,
            fallback_model=make_model(BASELINE),
        )
        keep = params is not None and m in SMOOTH_ONLY
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sf.fit(df=frame).predict(h=h) if keep else sf.forecast(h=h, df=frame)
        res = res.sort_values(["unique_id", "ds"], kind="stable")
        values = np.maximum(res[m].to_numpy().reshape(len(idx), h), 0.0)
        for k, i in enumerate(sorted(idx)):
            out[i] = values[k]
            if keep and params is not None:
                found = params_of(m, sf.fitted_[k, 0], max(int(panel.start[i]), panel.end - FIT_DAYS + 1))
                if found is not None:
                    params[i] = found
    return out


def params_of(name: str, model: Any, fit_start: int) -> dict[str, Any] | None:
    """What ``forward`` needs of a fitted ETS or Theta model, as JSON (NaN as null), with the
    first day (ordinal) of the history it was fitted on; None for a model that fell back."""
    fitted = getattr(model, "model_", None)
    if not isinstance(fitted, dict) or repr(model) != name:
        return None
    if name == "AutoETS":
        par = [None if math.isnan(float(x)) else float(x) for x in fitted["par"]]
        return {"fit_start": fit_start, "m": int(fitted["m"]), "components": str(fitted["components"]),
                "par": par, "n_params": int(fitted["n_params"])}  # fmt: skip
    if name == "AutoTheta":
        theta = {k: float(v) for k, v in fitted["par"].items()}
        return {"fit_start": fit_start, "m": int(fitted["m"]), "modeltype": str(fitted["modeltype"]), "par": theta}
    return None


def _restore(name: str, params: dict[str, Any]) -> Any:
    model = make_model(name)
    if name == "AutoETS":
        par = np.array([np.nan if x is None else x for x in params["par"]], dtype=float)
        model.model_ = {"m": params["m"], "components": params["components"], "par": par,
                        "n_params": params["n_params"], "fit": None}  # fmt: skip
    else:
        model.model_ = {"m": params["m"], "modeltype": params["modeltype"], "par": dict(params["par"])}
    return model


def _fallback(y: np.ndarray, h: int) -> Any:
    try:
        return make_model(BASELINE).forecast(y, h)["mean"]
    except Exception:  # a series shorter than a week: its mean
        return np.full(h, float(np.mean(y)) if len(y) else 0.0)


def forward(
    panel: Panel, chosen: dict[int, str], h: int, *, first: dict[int, int], params: dict[int, dict[str, Any]]
) -> dict[int, np.ndarray]:
    """An update's forecasts, in this process, one series at a time: ETS and Theta with the
    parameters a run fitted (statsforecast's ``forward``: the model applied to the new
    history, nothing fitted), on the history from the day they were fitted from; the cheaper
    models fitted again from ``first[i]`` (a day ordinal). A model that fails, or an ETS or
    Theta model without parameters, is fitted again; then the seasonal naive forecast."""
    out: dict[int, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, name in chosen.items():
            p = params.get(i) if name in SMOOTH_ONLY else None
            y = panel.values_from(i, p["fit_start"] if p else first.get(i, int(panel.start[i])))
            if name in SMOOTH_ONLY and p is None:
                y = y[-FIT_DAYS:]
            try:
                mean = _restore(name, p).forward(y, h)["mean"] if p else make_model(name).forecast(y, h)["mean"]
            except Exception:  # statsforecast's own fallback does the same
                mean = _fallback(y, h)
            out[i] = np.maximum(np.nan_to_num(np.asarray(mean, dtype=float)), 0.0)
    return out


# -- a whole run ---------------------------------------------------------------------------------
@dataclass
class Fitted:
    """One series after a run: its chosen model, class, backtest scores (mean absolute error
    and MASE of every candidate over the windows), interval half-widths, and forecast."""

    model: str
    demand_class: str
    scores: dict[str, Any]
    spread: dict[str, float]
    forecast: np.ndarray
    note: str = ""
    params: dict[str, Any] | None = None  # ETS's and Theta's fitted parameters (``params_of``)


FALLBACK = "HistoricAverage"  # a series too short to backtest: the mean of the days it has


def fit_all(panel: Panel, *, h: int, folds: int, jobs: int = 1, all_models: bool = False) -> list[Fitted]:
    """Choose a model per series on ``folds`` backtest windows of ``h`` days ending at the
    last day, and forecast the next ``h`` days with it (refitted on all of the history).
    Series too short for the windows get ``FALLBACK``, with a note and no intervals."""
    lengths = panel.lengths()
    ok = np.flatnonzero(lengths >= folds * h + MIN_TRAIN)
    out: list[Fitted | None] = [None] * len(panel)
    chosen: dict[int, str] = {}
    if len(ok):
        win = cross_validate(panel, ok, h, folds, jobs=jobs, all_models=all_models)
        names, _ = choose(win, slice(0, folds))
        half = spreads((picked(win, names, slice(0, folds)) - win.actual).reshape(len(ok), -1))
        for k, i in enumerate(ok.tolist()):
            y = panel.values(i)
            scale = _scale(y[: len(y) - folds * h])
            mae = {m: float(np.mean(np.abs(win.forecast[m][k] - win.actual[k]))) for m in win.forecast}
            mae = {m: round(v, 4) for m, v in mae.items() if not math.isnan(v)}
            scores = {
                "windows": folds,
                "mae": mae,
                "mase": {m: round(v / scale, 4) for m, v in mae.items()} if scale > 0 else None,
            }
            cls = demand_class(y[: len(y) - folds * h])
            out[i] = Fitted(names[k], cls, scores, {lv: float(q[k]) for lv, q in half.items()}, np.zeros(h))
            chosen[i] = names[k]
    for i in np.flatnonzero(lengths < folds * h + MIN_TRAIN).tolist():
        note = f"{lengths[i]} days of history: too short to backtest"
        out[i] = Fitted(FALLBACK, demand_class(panel.values(i)), {"windows": 0}, {}, np.zeros(h), note)
        chosen[i] = FALLBACK
    params: dict[int, dict[str, Any]] = {}
    for i, values in forecast(panel, chosen, h, jobs=jobs, params=params).items():
        fitted = out[i]
        assert fitted is not None
        fitted.forecast = values
        fitted.params = params.get(i)
    return [f for f in out if f is not None]


def _scale(y: np.ndarray) -> float:
    return float(np.abs(y[SEASON:] - y[:-SEASON]).mean()) if len(y) > SEASON else 0.0
