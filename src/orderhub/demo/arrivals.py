"""When orders arrive and what is in them: the arrival pattern of a real online retailer,
mapped onto the demo world.

The pattern comes from the UCI "Online Retail" data set (id 352; Chen, Sain and Guo, 2012;
CC BY 4.0): 541,909 invoice lines of a UK gift retailer, 2010-12-01 to 2011-12-09. It is
derived once by ``python -m orderhub.demo.arrivals <online_retail.csv.gz>`` into the small
``data/retail_profile.json`` shipped with the package; the simulator never reads the raw file.

What the profile keeps (invoices = orders; cancellations, returns and non-product codes such as
postage and bank charges are left out):

- orders per hour of day and per weekday (the retailer's local time), per month per trading day;
- lines per order and quantity per line, as histograms;
- the 300 most ordered stock codes' share of order lines (popularity by rank).

How it maps to the demo world (``Pattern``): the hour, weekday and month factors multiply the
chosen mean rate, with a floor (the retailer took no orders at night nor on Saturdays; the demo
keeps moving); popularity rank *r* is the demo's *r*-th SKU, categories interleaved by their
share of demand; wholesale baskets shrink to consumer ones on a log scale (``demo_lines``,
``demo_quantity``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any, TextIO

from orderhub.demo import world

PROFILE = Path(__file__).parent / "data" / "retail_profile.json"
SOURCE = (
    'UCI Machine Learning Repository, "Online Retail" (id 352): Daqing Chen, Sai Liang Sain, Kun Guo, '
    '"Data mining for the online retail industry", Journal of Database Marketing and Customer Strategy '
    "Management 19(3), 2012. CC BY 4.0."
)
TOP_SKUS = 300
MAX_LINES_BUCKET = 100  # baskets of more lines are counted in this bucket
MIN_QUANTITY_COUNT = 50  # quantities seen fewer times are dropped from the histogram
#: The lowest share of the mean rate the demo runs at (nights, Saturdays, quiet months).
FLOOR = 0.2


# -- deriving the profile (once, from the raw data) ----------------------------------------
def _open(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _invoices(path: Path) -> dict[str, tuple[datetime, list[tuple[str, int]]]]:
    """Invoice → (time of its first line, [(stock code, quantity)]), orders of products only."""
    invoices: dict[str, tuple[datetime, list[tuple[str, int]]]] = {}
    with _open(path) as f:
        for row in csv.DictReader(f):
            quantity = int(row["Quantity"])
            code = row["StockCode"]
            # C… are cancellations; codes without a leading digit are postage, fees, manual lines
            if row["InvoiceNo"].startswith("C") or quantity <= 0 or not code[:1].isdigit():
                continue
            entry = invoices.setdefault(row["InvoiceNo"], (datetime.fromisoformat(row["InvoiceDate"]), []))
            entry[1].append((code, quantity))
    return invoices


def _shares(counts: Mapping[int, float], keys: range) -> list[float]:
    total = sum(counts.values()) or 1.0
    return [round(counts.get(k, 0) / total, 5) for k in keys]


def derive(path: Path) -> dict[str, Any]:
    """The compact profile of the raw data (see the module doc)."""
    invoices = _invoices(path)
    times = [t for t, _ in invoices.values()]
    days = {t.date() for t in times}
    first, last = min(days), max(days)
    calendar = [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal() + 1)]
    per_weekday_days = Counter(d.weekday() for d in calendar)
    per_month_days = Counter(d.month for d in days)  # trading days: the data starts and ends mid-month
    by_weekday = Counter(t.weekday() for t in times)
    by_month = Counter(t.month for t in times)
    weekday_rate = {k: by_weekday[k] / per_weekday_days[k] for k in range(7) if per_weekday_days[k]}
    month_rate = {k: by_month[k] / per_month_days[k] for k in range(1, 13) if per_month_days[k]}
    lines = Counter(min(len(items), MAX_LINES_BUCKET) for _, items in invoices.values())
    quantities = Counter(q for _, items in invoices.values() for _, q in items)
    popularity = Counter(code for _, items in invoices.values() for code, _ in items)
    all_lines = sum(popularity.values())
    top = popularity.most_common(TOP_SKUS)
    return {
        "source": SOURCE,
        "derived_by": "python -m orderhub.demo.arrivals <online_retail.csv.gz>",
        "period": [first.isoformat(), last.isoformat()],
        "orders": len(invoices),
        "order_lines": all_lines,
        "orders_per_trading_day": round(len(invoices) / len(days), 2),
        "hour_of_day": _shares(Counter(t.hour for t in times), range(24)),
        "weekday": _shares(weekday_rate, range(7)),
        "month": _shares(month_rate, range(1, 13)),
        "lines_per_order": [[n, lines[n]] for n in sorted(lines)],
        "quantity_per_line": [[q, c] for q, c in sorted(quantities.items()) if c >= MIN_QUANTITY_COUNT],
        "sku_rank_share": [round(c / all_lines, 6) for _, c in top],
        "sku_rank_codes": [code for code, _ in top[:20]],
        "top_skus_cover": round(sum(c for _, c in top) / all_lines, 4),
    }


def write(profile: dict[str, Any], path: Path = PROFILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # one key a line: small, and a regenerated profile diffs readably
    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in profile.items())
    path.write_text("{\n" + body + "\n}\n")


def load(path: Path = PROFILE) -> dict[str, Any]:
    """The profile shipped with the package."""
    profile: dict[str, Any] = json.loads(path.read_text())
    return profile


# -- the demo world's view of it -----------------------------------------------------------
def demo_skus() -> list[str]:
    """The demo's 300 SKUs from most to least popular: each category's own ranking (its lower
    numbers sell best and are stocked most), the categories interleaved by their share."""
    ranked: list[tuple[float, str]] = []
    for category, spec in world.CATEGORIES.items():
        count = max(10, round(300 * spec[0]))
        ranked += [((n + 0.5) / count, f"{category[:3].upper()}-{n + 1:03d}") for n in range(count)]
    return [sku for _, sku in sorted(ranked)]


def demo_lines(real_lines: int) -> int:
    """A wholesale basket of ``real_lines`` lines as a consumer basket: 1-3 lines → 1, 4-15 → 2,
    16-63 → 3, 64+ → 4 (the real median, 15 lines, becomes 2)."""
    return min(4, 1 + int(math.log(max(real_lines, 1), 4)))


def demo_quantity(real_quantity: int) -> int:
    """Units of a wholesale line (often sold by the dozen) as a consumer's: 1-5 → 1, 6-35 → 2,
    36-215 → 3, more → 4."""
    return min(4, 1 + int(math.log(max(real_quantity, 1), 6)))


@dataclass(frozen=True, slots=True)
class Basket:
    """The SKUs and units of one order, most popular first."""

    lines: list[tuple[str, int]]


class _Sampler:
    """Draws from a histogram [(value, weight)]."""

    def __init__(self, pairs: list[tuple[int, float]]) -> None:
        self.values = [v for v, _ in pairs]
        self.cumulative = list(accumulate(w for _, w in pairs))

    def draw(self, rng: random.Random) -> int:
        x = rng.random() * self.cumulative[-1]
        return self.values[min(bisect_right(self.cumulative, x), len(self.values) - 1)]


class Pattern:
    """The profile applied to the demo world: how busy a moment is, and what a basket holds."""

    def __init__(self, profile: dict[str, Any] | None = None, *, floor: float = FLOOR) -> None:
        self.profile = profile or load()
        self.floor = floor
        hours, days, months = self.profile["hour_of_day"], self.profile["weekday"], self.profile["month"]
        self.hour: list[float] = [h * 24 for h in hours]  # 1.0 = an average hour
        self.day: list[float] = [d * 7 for d in days]
        self.month: list[float] = [m * 12 for m in months]
        self.skus = demo_skus()
        ranks = self.profile["sku_rank_share"][: len(self.skus)]
        self._rank = _Sampler(list(enumerate(ranks)))
        self._lines = _Sampler([(n, c) for n, c in self.profile["lines_per_order"]])
        self._quantity = _Sampler([(q, c) for q, c in self.profile["quantity_per_line"]])

    def factor(self, moment: datetime) -> float:
        """How busy ``moment`` (local time) is relative to the mean: hour × weekday × month,
        never below the floor."""
        raw = self.hour[moment.hour] * self.day[moment.weekday()] * self.month[moment.month - 1]
        return max(self.floor, raw)

    def basket(self, rng: random.Random) -> Basket:
        """A consumer basket: its size from the real basket sizes, its SKUs by real popularity."""
        wanted = demo_lines(self._lines.draw(rng))
        chosen: dict[str, int] = {}
        for _ in range(wanted * 3):  # a popular SKU drawn twice is one line
            sku = self.skus[self._rank.draw(rng)]
            chosen.setdefault(sku, demo_quantity(self._quantity.draw(rng)))
            if len(chosen) == wanted:
                break
        return Basket(list(chosen.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Derive the demo's arrival profile from the Online Retail data")
    parser.add_argument("source", type=Path, help="online_retail.csv or online_retail.csv.gz")
    parser.add_argument("--out", type=Path, default=PROFILE)
    args = parser.parse_args(argv)
    profile = derive(args.source)
    write(profile, args.out)
    print(f"{profile['orders']} orders, {profile['order_lines']} lines → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
