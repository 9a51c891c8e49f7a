"""The arrival profile derived from the Online Retail data, and how the demo uses it."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from orderhub.demo import arrivals, world
from orderhub.demo.arrivals import Pattern, demo_lines, demo_quantity, demo_skus


def test_the_shipped_profile_has_the_shape_of_the_real_data():
    profile = arrivals.load()
    assert profile["orders"] == 20538 and profile["period"] == ["2010-12-01", "2011-12-09"]
    hours = profile["hour_of_day"]
    assert len(hours) == 24 and abs(sum(hours) - 1) < 1e-3
    assert hours.index(max(hours)) == 12  # the lunchtime peak
    assert all(h == 0 for h in hours[:6] + hours[21:])  # nobody orders at night
    assert sum(hours[9:16]) > 0.8  # office hours
    days = profile["weekday"]
    assert len(days) == 7 and days[5] == 0  # the retailer took no orders on Saturdays
    assert days.index(max(days)) == 3  # Thursday is the busiest day
    months = profile["month"]
    assert len(months) == 12 and months.index(max(months)) == 10  # November, before Christmas
    assert months[10] > 2 * months[0]
    lines = dict(profile["lines_per_order"])
    assert max(lines, key=lambda n: lines[n]) == 1  # one-line orders are the most frequent size
    assert sum(lines.values()) == profile["orders"]
    shares = profile["sku_rank_share"]
    assert len(shares) == 300 and shares == sorted(shares, reverse=True)
    assert profile["sku_rank_codes"][0] == "85123A"  # the white hanging heart T-light holder
    quantities = dict(profile["quantity_per_line"])
    assert max(quantities, key=lambda q: quantities[q]) == 1 and quantities[12] > quantities[3]


def test_derive_counts_orders_of_products_and_skips_cancellations_and_fees(tmp_path: Path):
    csv = tmp_path / "retail.csv"
    csv.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        "1,71053,LANTERN,12,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
        "1,POST,POSTAGE,1,2010-12-01 08:26:00,18.00,17850.0,United Kingdom\n"
        "2,85123A,HEART,1,2010-12-02 14:05:00,2.55,,United Kingdom\n"
        "C3,85123A,HEART,-6,2010-12-02 15:00:00,2.55,17850.0,United Kingdom\n"
    )
    profile = arrivals.derive(csv)
    assert profile["orders"] == 2 and profile["order_lines"] == 3
    assert profile["hour_of_day"][8] == 0.5 and profile["hour_of_day"][14] == 0.5
    assert profile["lines_per_order"] == [[1, 1], [2, 1]]
    assert profile["quantity_per_line"] == []  # no quantity seen 50 times
    assert profile["sku_rank_codes"] == ["85123A", "71053"]
    assert profile["sku_rank_share"] == [0.666667, 0.333333]
    out = tmp_path / "profile.json"
    arrivals.write(profile, out)
    assert arrivals.load(out) == profile


def test_popularity_ranks_map_onto_the_demo_catalogue_by_category_share():
    skus = demo_skus()
    assert len(skus) == len(set(skus)) == 300
    assert skus[0] == "APP-001"  # the best seller of the largest category
    for category in world.CATEGORIES:  # each category keeps its own order (001 sells best)
        own = [s for s in skus if s.startswith(category[:3].upper())]
        assert own == sorted(own)
    apparel_in_top_100 = sum(s.startswith("APP-") for s in skus[:100])
    assert apparel_in_top_100 == 24  # apparel is 24 % of demand


def test_wholesale_baskets_shrink_to_consumer_baskets():
    assert [demo_lines(n) for n in (1, 3, 4, 15, 16, 63, 64, 500)] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert [demo_quantity(q) for q in (1, 5, 6, 12, 35, 36, 216, 10000)] == [1, 1, 2, 2, 2, 3, 4, 4]


def test_the_pattern_follows_the_clock_and_never_stops():
    pattern = Pattern()
    thursday_noon_nov = datetime(2026, 11, 19, 12, 30)
    saturday_night = datetime(2026, 11, 21, 3, 0)
    assert pattern.factor(thursday_noon_nov) > 5
    assert pattern.factor(saturday_night) == arrivals.FLOOR
    assert pattern.factor(datetime(2026, 2, 19, 12, 30)) < pattern.factor(thursday_noon_nov)


def test_baskets_hold_demo_skus_in_consumer_quantities():
    pattern = Pattern()
    rng = random.Random(1)
    baskets = [pattern.basket(rng) for _ in range(2000)]
    known = set(demo_skus())
    sizes = [len(b.lines) for b in baskets]
    assert all(1 <= n <= 4 for n in sizes)
    assert all(sku in known and 1 <= qty <= 4 for b in baskets for sku, qty in b.lines)
    assert all(len({sku for sku, _ in b.lines}) == len(b.lines) for b in baskets)
    assert 1.6 < sum(sizes) / len(sizes) < 2.6  # the real median basket of 15 lines becomes 2
    firsts = [sku for b in baskets for sku, _ in b.lines]
    assert firsts.count(pattern.skus[0]) > firsts.count(pattern.skus[-1])
