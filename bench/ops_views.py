"""bench/ops_views: the console's customer list and exceptions on the demo database.

    python -m bench.ops_views --db sqlite:///orderhub.db [--runs 15]

Build the database first with ``orderhub demo --no-serve`` (730 days, about 35,600 orders and
6,000 customers). Prints the median and 90th percentile (ms) of each read the customers and
exceptions pages make — the customer list per sort and with a search (count, page and the
page's lifetime values), one customer's page, the exception counts the dashboard polls, the
ageing grid — next to the same run's baselines: the bare per-customer aggregate in raw SQL
(what the list cannot do with less) and ``SELECT count(*) FROM orders``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from bench.common import median_p90_ms
from orderhub.orders import customers, exceptions
from orderhub.platform.db import create_db_engine, unit_of_work

BARE_AGGREGATE = """
SELECT customer_email, count(*), min(created_at), max(created_at),
       sum(CASE WHEN payment_status IN ('paid', 'partially_refunded') AND status <> 'refunded'
                THEN total_minor ELSE 0 END)
FROM orders GROUP BY customer_email
"""


def raw(engine: Any, sql: str) -> Callable[[], Any]:
    def run() -> Any:
        with unit_of_work(engine, write=False) as conn:
            return conn.execute(sa.text(sql)).all()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///orderhub.db")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    engine = create_db_engine(args.db)
    with engine.connect() as conn:
        n_orders = conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one()
        n_customers = conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one()
    busiest = customers.get_all(engine, sort="orders", limit=1).items[0]
    print(f"{args.db}: {n_orders:,} orders, {n_customers:,} customers; median / p90 of {args.runs} runs, ms")
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("baseline: SELECT count(*) FROM orders", raw(engine, "SELECT count(*) FROM orders")),
        ("baseline: bare per-customer aggregate (raw SQL)", raw(engine, BARE_AGGREGATE)),
        ("customers: sort=last_order, page 1", lambda: customers.get_all(engine)),
        ("customers: sort=lifetime_value, page 1", lambda: customers.get_all(engine, sort="lifetime_value")),
        ("customers: sort=name, page 100", lambda: customers.get_all(engine, sort="name", offset=99 * 50)),
        ("customers: q=anna", lambda: customers.get_all(engine, q="anna")),
        (f"customer page ({busiest['orders']} orders)", lambda: customers.get(engine, customer=busiest["id"])),
        ("exceptions: summary (dashboard, every 5 s)", lambda: exceptions.get_summary(engine)),
        ("exceptions: ageing grid", lambda: exceptions.get_ageing(engine)),
        ("exceptions: late, page 1", lambda: exceptions.get_late(engine)),
        ("exceptions: backorders, page 1", lambda: exceptions.get_backorders(engine)),
    ]
    print(f"{'read':52} {'median':>8} {'p90':>8}")
    for label, run in cases:
        median, p90 = median_p90_ms(run, args.runs)
        print(f"{label:52} {median:8.1f} {p90:8.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
