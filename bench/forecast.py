"""bench/forecast: a full forecast run over many series, an update after a day of orders, and
the accuracy of the per-series choice on the real Online Retail data — each next to a baseline
measured in the same run.

    python -m bench.forecast [--series 10000] [--days 365] [--jobs 2] [--quick]

- full run: ``forecast.service.run`` (read the history from SQLite, backtest every candidate on
  2 windows of 28 days (its default), choose, forecast 28 days with intervals, write) over ``--series``
  synthetic series of ``--days`` days; baseline: the seasonal naive forecast alone over the
  same series (statsforecast, no backtest), with the same read;
- update: a day of orders for 30 % of the series, then ``forecast.service.update`` (ETS and
  Theta carried forward with the parameters the run fitted, the cheaper models recomputed, the
  guard watching the new day); baseline: the full run;
- accuracy: ``orderhub forecast backtest`` on the Online Retail file (StockCode × Country ×
  day, 28 days held out, 3 selection windows), all series and the 500 best sellers: MASE of the
  choice against the seasonal naive forecast's on the held-out window.

The synthetic series: 20 % fast movers (2-30 units a day, a weekly profile, closed on Sundays,
Poisson noise) and 80 % slow movers (demand on 3-40 % of days, 1-5 units): retail's mix at SKU ×
location × day, where most series are intermittent.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from bench.common import Databases
from orderhub.forecast.model import DemandRow
from orderhub.platform.db import create_db_engine

FOLDS = 2  # ``forecast.service.run``'s default: as accurate as 3 on Online Retail (docs/forecast.md)
RETAIL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "online-retail" / "online_retail.csv.gz"
END = date(2026, 3, 1)


def synthetic(n: int, days: int, seed: int = 1) -> list[DemandRow]:
    rng = np.random.default_rng(seed)
    week = np.array([1.0, 1.1, 1.2, 1.3, 1.6, 1.8, 0.0])
    start = END - timedelta(days=days - 1)
    rows = []
    for s in range(n):
        if s % 5 == 0:
            q = rng.poisson(rng.uniform(2, 30) * np.resize(week, days))
        else:
            q = (rng.random(days) < rng.uniform(0.03, 0.4)) * rng.integers(1, 6, days)
        rows += [
            DemandRow(start + timedelta(days=int(d)), f"SKU-{s:05d}", "BY", float(q[d])) for d in np.flatnonzero(q)
        ]
    return rows


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def cpu() -> float:
    """CPU seconds of this process and its finished children (statsforecast's workers): on a
    shared machine the honest companion of wall time."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def full_run(n: int, days: int, jobs: int) -> None:
    from orderhub.forecast import engine as numeric
    from orderhub.forecast import service as forecast
    from orderhub.forecast import store

    workdir = Path(tempfile.mkdtemp(prefix="bench-forecast-"))
    engine = create_db_engine(Databases(workdir).sqlite())
    rows = synthetic(n, days)
    for i in range(0, len(rows), 200_000):
        forecast.add_demand(engine, rows[i : i + 200_000])
    print(f"history: {n:,} series × {days} days, {len(rows):,} rows with demand (generated and loaded)", flush=True)

    def baseline() -> float:
        with engine.connect() as conn:
            panel = numeric.Panel.from_rows(store.demand_rows(conn), end=END)
        out = numeric.forecast(panel, dict.fromkeys(range(len(panel)), "SeasonalNaive"), 28, jobs=jobs)
        return float(sum(v.sum() for v in out.values()))

    c0 = cpu()
    _, base_s = timed(baseline)
    c1 = cpu()
    load0 = os.getloadavg()[0]
    summary, run_s = timed(lambda: forecast.run(engine, horizon=28, folds=FOLDS, jobs=jobs, as_of=END))
    c2 = cpu()
    run_cpu, base_cpu = c2 - c1, c1 - c0
    print(
        f"full run ({summary['series']:,} series × 28 days, {FOLDS} selection windows): {run_s:.1f} s wall, "
        f"{run_cpu:.1f} CPU s (read {summary['seconds']['read']} s, guard {summary['seconds']['guard']} s, "
        f"backtest+fit {summary['seconds']['fit']} s, write {summary['seconds']['write']} s wall; goal ≤ 60 s wall) | "
        f"baseline seasonal naive alone (read + forecast, no backtest): {base_s:.1f} s wall, {base_cpu:.1f} CPU s | "
        f"ratio {run_s / base_s:.1f}× wall, {run_cpu / base_cpu:.1f}× CPU | load average {load0:.1f} → "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    print("  chosen: " + ", ".join(f"{m} {c}" for m, c in summary["chosen"].items()), flush=True)
    rng = np.random.default_rng(2)
    day = END + timedelta(days=1)
    changed = rng.choice(n, size=int(n * 0.3), replace=False)
    forecast.add_demand(engine, [DemandRow(day, f"SKU-{s:05d}", "BY", float(rng.integers(1, 10))) for s in changed])
    c3, load1 = cpu(), os.getloadavg()[0]
    update, update_s = timed(lambda: forecast.update(engine, jobs=jobs))
    update_cpu = cpu() - c3
    print(
        f"update after a day of orders ({update['series']:,} changed series): {update_s:.2f} s wall, "
        f"{update_cpu:.2f} CPU s (read {update['seconds']['read']} s, guard {update['seconds']['guard']} s, "
        f"fit {update['seconds']['fit']} s, write {update['seconds']['write']} s wall; goal ≤ 5 s) | "
        f"baseline the full run: {run_s:.1f} s wall, {run_cpu:.1f} CPU s | ratio {update_s / run_s:.2f} wall, "
        f"{update_cpu / run_cpu:.2f} CPU | load average {load1:.1f} → {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    engine.dispose()


def accuracy(top_only: bool, jobs: int) -> None:
    from orderhub.forecast import online_retail
    from orderhub.forecast import service as forecast

    if not RETAIL.exists():
        print(f"accuracy: {RETAIL} not found: skipped")
        return
    counts: Counter[str] = Counter()
    out = io.StringIO()
    with gzip.open(RETAIL, "rt", newline="") as f:
        online_retail.write(online_retail.convert(f, counts), out)
    text = out.getvalue().splitlines()
    for top in (500,) if top_only else (None, 500):
        c0, load0 = cpu(), os.getloadavg()[0]
        report, secs = timed(lambda top=top: forecast.backtest_file(text, horizon=28, folds=3, top=top, jobs=jobs))
        used = cpu() - c0
        sel, base = report["selection"], report["models"]["SeasonalNaive"]
        label = f"top {top}" if top else "all series"
        print(
            f"accuracy on Online Retail ({label}, {report['series']['scored']:,} series scored, "
            f"{report['series']['too_short']:,} too short): selection MASE {sel['mase']:.3f} | baseline seasonal naive "
            f"{base['mase']:.3f} | {sel['relative']['mase'] - 1:+.1%} (goal ≤ -15 %); RMSSE "
            f"{sel['relative']['rmsse'] - 1:+.1%}, WAPE {sel['relative']['wape'] - 1:+.1%}, bias {sel['bias']:+.1%} "
            f"vs {base['bias']:+.1%} ({secs:.0f} s wall, {used:.0f} CPU s, load average {load0:.1f})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1,000 series × 180 days; Online Retail top 500 only")
    args = parser.parse_args()
    n, days = (1_000, 180) if args.quick else (args.series, args.days)
    t0 = time.perf_counter()
    import statsforecast  # noqa: F401  (cold import, measured once)

    cold = time.perf_counter() - t0
    print(f"cold start: importing statsforecast {cold:.1f} s (no JIT: statsforecast 2 compiles nothing at run time)")
    full_run(n, days, args.jobs)
    accuracy(args.quick, args.jobs)


if __name__ == "__main__":
    main()
