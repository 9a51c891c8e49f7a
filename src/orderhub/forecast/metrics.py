"""Accuracy of forecasts against what happened: MASE and RMSSE per series (utilsforecast's
definitions: errors scaled by the in-sample error of the seasonal naive forecast on the
series' history before the window), and over a set of series their means, with WAPE and bias
over all units.

- ``mase``: mean over series of MAE / in-sample seasonal-naive MAE; series whose history has
  no such error (all zero, or exactly repeating weeks) have no scale and are left out of MASE
  and RMSSE (counted in ``unscaled``), but not out of WAPE and bias;
- ``rmsse``: the same with squared errors, square-rooted per series;
- ``wape``: Σ|forecast − actual| / Σ actual;
- ``bias``: Σ(forecast − actual) / Σ actual (positive: over-forecast).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

SEASON = 7


def per_series(
    actual: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    train: pd.DataFrame,
    *,
    ids: np.ndarray,
    first_ds: np.ndarray,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """MASE and RMSSE of each model for each series, computed by ``utilsforecast.losses``:
    ``actual[s, t]`` and ``forecasts[m][s, t]`` cover days ``first_ds[s] + t``; ``train``
    (``unique_id``, ``ds``, ``y``) is each series' history before its first day."""
    from utilsforecast import losses

    _n, h = actual.shape
    names = list(forecasts)
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, h),
            "ds": (first_ds[:, None] + np.arange(h)[None, :]).ravel(),
            "y": actual.ravel(),
            **{m: forecasts[m].ravel() for m in names},
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        mase = losses.mase(frame, names, SEASON, train).set_index("unique_id").reindex(ids)
        rmsse = losses.rmsse(frame, names, SEASON, train).set_index("unique_id").reindex(ids)
    return {m: (mase[m].to_numpy(float), rmsse[m].to_numpy(float)) for m in names}


def summarise(actual: np.ndarray, forecast: np.ndarray, mase: np.ndarray, rmsse: np.ndarray) -> dict[str, Any]:
    """One model over a set of series: mean MASE and RMSSE over the scaled series, WAPE and
    bias over all units."""
    scaled = np.isfinite(mase) & np.isfinite(rmsse)
    total = float(actual.sum())
    err = forecast - actual
    return {
        "mase": float(mase[scaled].mean()) if scaled.any() else None,
        "rmsse": float(rmsse[scaled].mean()) if scaled.any() else None,
        "wape": float(np.abs(err).sum() / total) if total else None,
        "bias": float(err.sum() / total) if total else None,
        "series": len(actual),
        "unscaled": int((~scaled).sum()),
    }


def relative(figures: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, float | None]:
    """Each figure over the baseline's (MASE, RMSSE, WAPE; bias as |bias| over |bias|):
    below 1 is better than the baseline."""
    out: dict[str, float | None] = {}
    for key in ("mase", "rmsse", "wape", "bias"):
        a, b = figures.get(key), baseline.get(key)
        if a is None or b is None or b == 0:
            out[key] = None
        else:
            out[key] = abs(a) / abs(b) if key == "bias" else a / b
    return out


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float | None:
    """Share of actual days inside [lo, hi]."""
    if actual.size == 0:
        return None
    return float(((actual >= lo) & (actual <= hi)).mean())


def seasonal_scale(y: np.ndarray) -> float:
    """The in-sample MAE of the seasonal naive forecast on ``y`` (0 when too short)."""
    if len(y) <= SEASON:
        return 0.0
    return float(np.abs(y[SEASON:] - y[:-SEASON]).mean())
