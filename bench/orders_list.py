"""bench/orders_list: the console's orders list with its total, on the demo database.

    python -m bench.orders_list --db sqlite:///orderhub.db [--runs 15]

Build the database first with ``orderhub demo --no-serve`` (730 days, about 35,600 orders).
For each selection the list offers (all, each built-in view, a sort by total, free text, an
order-number prefix) it prints the median and the 90th percentile of ``browsing.get_page`` —
the count and one page of 50 in one read transaction — next to the same run's baselines: the
page query alone, and a bare ``SELECT count(*) FROM orders``. Then the whole console page
over HTTP (logged in, rendered HTML), first page and last page.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

import sqlalchemy as sa

from bench.common import median_p90_ms
from orderhub.orders import browsing, listing
from orderhub.platform.db import create_db_engine, unit_of_work


def _selections() -> list[tuple[str, dict[str, Any], str]]:
    views = [(f"view={v}", {"view": v}, "-placed") for v in listing.VIEWS]
    return [
        ("all, newest first", {}, "-placed"),
        *views,
        ("all, by total", {}, "-total"),
        ("all, by order number", {}, "number"),
        ("status=delivered", {"status": ["delivered"]}, "-placed"),
        ("q=berlin (free text)", {"text": "berlin"}, "-placed"),
        ("number=SH-1* (prefix)", {"number": "SH-1*"}, "-placed"),
    ]


def bench_services(url: str, runs: int) -> None:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        orders = conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one()
    print(f"{url}: {orders:,} orders; median / p90 of {runs} runs, ms")
    bare = median_p90_ms(lambda: _count_all(engine), runs)
    print(f"{'baseline: SELECT count(*) FROM orders':44} {bare[0]:8.1f} {bare[1]:8.1f}")
    print(f"{'selection':44} {'count+page':>8} {'p90':>8} {'page only':>10} {'matches':>8}")
    for label, kw, sort in _selections():
        where, order = listing.make_filter(**kw), listing.Sort.parse(sort)
        with_count = median_p90_ms(lambda: browsing.get_page(engine, where=where, sort=order), runs)  # noqa: B023
        page_only = median_p90_ms(lambda: _page(engine, where, order), runs)  # noqa: B023
        total = browsing.count(engine, where=where)
        print(f"{label:44} {with_count[0]:8.1f} {with_count[1]:8.1f} {page_only[0]:10.1f} {total:8,}")
    engine.dispose()


def _count_all(engine: Any) -> int:
    with unit_of_work(engine, write=False) as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one())


def _page(engine: Any, where: listing.OrderFilter, sort: listing.Sort) -> Any:
    with unit_of_work(engine, write=False) as conn:
        return listing.page(conn, where, sort, offset=0, limit=browsing.PAGE_SIZE)


def bench_page(url: str, runs: int, email: str, password: str) -> None:
    """The console page through the app (TestClient: no network), logged in."""
    from fastapi.testclient import TestClient

    from orderhub.app import create_app
    from orderhub.platform.settings import Settings

    engine = create_db_engine(url)
    app = create_app(Settings(env="test", database_url=url, run_bus=False), engine=engine)
    with TestClient(app) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, "no CSRF token on the login form"
        r = client.post("/login", data={"email": email, "password": password, "csrf_token": token.group(1)})
        assert r.status_code == 200 and "Dashboard" in r.text, f"login failed: {r.status_code}"
        for label, path in [
            ("console page 1, newest first", "/console/orders"),
            ("console page, view=late", "/console/orders?view=late"),
            ("console last page, by total", "/console/orders?sort=total&page=10000"),
            ("console rows fragment (htmx), q=berlin", "/console/orders?q=berlin"),
        ]:
            headers = {"HX-Request": "true"} if "htmx" in label else {}
            check = client.get(path, headers=headers)
            assert check.status_code == 200 and "orders-table" in check.text, check.status_code
            median, p90 = median_p90_ms(lambda: client.get(path, headers=headers), runs)  # noqa: B023
            print(f"{label:44} {median:8.1f} {p90:8.1f}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite:///orderhub.db")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--email", default="admin@demo.orderhub")
    parser.add_argument("--password", default="demo")
    args = parser.parse_args()
    bench_services(args.db, args.runs)
    bench_page(args.db, args.runs, args.email, args.password)


if __name__ == "__main__":
    main()
