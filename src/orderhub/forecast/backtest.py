"""The honest backtest of a whole history: per model and for the per-series choice, MASE,
RMSSE, WAPE and bias on a held-out window, each also relative to the seasonal naive forecast.

The last ``h`` days are held out. Before them, ``folds`` windows of ``h`` days each choose one
model per series (lowest mean absolute error); the held-out window, which no choice and no fit
saw, scores both the candidates and the choice. ETS and Theta are fitted again at its cutoff,
as a run fits the chosen model again before it forecasts. Series shorter than ``(folds + 1)·h +
MIN_TRAIN`` days cannot be backtested this way: they are counted and left out.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np

from orderhub.forecast import engine, metrics
from orderhub.forecast.engine import BASELINE, Panel


def run(
    panel: Panel, *, h: int = 28, folds: int = 3, top: int | None = None, jobs: int = 1, all_models: bool = False
) -> dict[str, Any]:
    """The backtest report (a JSON-ready dict); see the module's docstring."""
    started = time.perf_counter()
    n = folds + 1
    lengths = panel.lengths()
    ok = np.flatnonzero(lengths >= n * h + engine.MIN_TRAIN)
    report: dict[str, Any] = {
        "horizon": h,
        "folds": folds,
        "days": {"first": _day(int(panel.start.min())) if len(panel) else None, "last": _day(panel.end)},
        "series": {"in_file": len(panel), "too_short": int(len(panel) - len(ok))},
    }
    if top is not None and len(ok) > top:
        sold = np.array([panel.values(int(i))[:-h].sum() for i in ok])
        ok = np.sort(ok[np.argsort(-sold, kind="stable")[:top]])
        report["series"]["top"] = top
    report["series"]["scored"] = len(ok)
    if len(ok) == 0:
        report.update(models={}, selection=None, seconds=round(time.perf_counter() - started, 2))
        return report
    win = engine.cross_validate(panel, ok, h, n, jobs=jobs, all_models=all_models, refit_last=True)
    chosen, _ = engine.choose(win, slice(0, folds))
    actual = win.actual[:, -1]
    forecasts = {m: win.forecast[m][:, -1] for m in engine.MODELS if m in win.forecast}
    forecasts["selection"] = engine.picked(win, chosen, -1)
    train = panel.frame(ok, drop_last=h)
    scores = metrics.per_series(actual, forecasts, train, ids=ok, first_ds=panel.start[ok] + lengths[ok] - h)
    report["models"] = {}
    for m, f in forecasts.items():
        tried = ~np.isnan(f).any(axis=1)
        figures = metrics.summarise(actual[tried], f[tried], *(s[tried] for s in scores[m]))
        base = metrics.summarise(actual[tried], forecasts[BASELINE][tried], *(s[tried] for s in scores[BASELINE]))
        figures["relative"] = metrics.relative(figures, base)
        report["models"][m] = figures
    report["selection"] = report["models"].pop("selection")
    report["selection"]["chosen"] = dict(Counter(chosen).most_common())
    report["selection"]["coverage"] = _coverage(win, chosen, folds)
    classes = Counter(engine.demand_class(panel.values(int(i))[:-h]) for i in ok)
    report["series"]["classes"] = dict(classes.most_common())
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def _coverage(win: engine.Windows, chosen: list[str], folds: int) -> dict[str, float | None]:
    """How often the held-out days fell inside the choice's conformal intervals (half-widths
    from the selection windows' errors)."""
    earlier = engine.picked(win, chosen, slice(0, folds)) - win.actual[:, :folds]
    half = engine.spreads(earlier.reshape(len(chosen), -1))
    f = engine.picked(win, chosen, -1)
    out = {}
    for level, q in half.items():
        out[level] = metrics.coverage(win.actual[:, -1], np.maximum(f - q[:, None], 0.0), f + q[:, None])
    return out


def _day(ordinal: int) -> str:
    from datetime import date

    return date.fromordinal(ordinal).isoformat() if ordinal > 0 else ""


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.1%}" if pct else f"{x:.3f}"


def as_text(report: dict[str, Any]) -> str:
    """The report as a table for a terminal."""
    s = report["series"]
    lines = [
        f"Backtest: {report['horizon']}-day horizon held out, model chosen per series on {report['folds']} earlier "
        f"windows; days {report['days']['first']} .. {report['days']['last']}",
        f"series: {s['in_file']} in the history, {s['too_short']} too short to backtest (skipped), {s['scored']} scored"
        + (f" (the top {s['top']} by units sold)" if "top" in s else ""),
    ]
    if "rows" in report:
        r = report["rows"]
        lines.append(
            f"rows: {r['read']} read, {r['bad']} bad rows skipped" + (f" (first: {r['errors'][0]})" if r["bad"] else "")
        )
    if not report.get("selection"):
        lines.append("nothing to score")
        return "\n".join(lines) + "\n"
    lines.append("classes: " + ", ".join(f"{k} {v}" for k, v in s.get("classes", {}).items()))
    lines.append("")
    head = f"{'model':<18}{'series':>8}{'MASE':>8}{'RMSSE':>8}{'WAPE':>8}{'bias':>8}   vs seasonal naive: MASE  RMSSE   WAPE"
    lines += [head, "-" * len(head)]
    rows = [*report["models"].items(), ("selection", report["selection"])]
    for name, f in rows:
        rel = f["relative"]
        lines.append(
            f"{name:<18}{f['series']:>8}{_fmt(f['mase']):>8}{_fmt(f['rmsse']):>8}{_fmt(f['wape']):>8}"
            f"{_fmt(f['bias'], True):>8}   {'':>18}{_fmt(_less(rel['mase']), True):>6} {_fmt(_less(rel['rmsse']), True):>6} "
            f"{_fmt(_less(rel['wape']), True):>6}"
        )
    sel = report["selection"]
    total = sum(sel["chosen"].values())
    lines.append("")
    lines.append("chosen: " + ", ".join(f"{m} {c / total:.0%}" for m, c in sel["chosen"].items()))
    cov = sel["coverage"]
    lines.append("interval coverage on the held-out window: " + ", ".join(f"{k}%: {_fmt(v)}" for k, v in cov.items()))
    unscaled = sel["unscaled"]
    lines.append(
        f"MASE and RMSSE are means over the {sel['series'] - unscaled} series with a seasonal-naive scale "
        f"({unscaled} without one: no demand or identical weeks before the window)."
    )
    lines.append(f"{report['seconds']} s")
    return "\n".join(lines) + "\n"


def _less(ratio: float | None) -> float | None:
    """A ratio to the baseline as a change: 0.8 → −20 %."""
    return None if ratio is None else ratio - 1
