"""bench/carbon: parcels footprinted per second through the GLEC v3 parcel network, next to the
same arithmetic inline; then the console's carbon page on the demo world (two years of orders)
for 30, 365 and 730 days, next to computing the same figures from every order's footprint.

    python -m bench.carbon [--n 200000] [--db sqlite:///path/demo.db] [--skip-page]

Without ``--db`` the demo world is seeded into a temporary SQLite file first (about a minute).
``terms`` is what the sourcing planner calls per candidate node (kg per parcel and per kg);
``parcel`` builds the itemised chain (hub visits, sort centres, linehaul, round shares) that
footprints, options and exports show.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from orderhub.carbon.factors import FactorSet, default_factors
from orderhub.carbon.model import great_circle_km

DAYS = (30, 365, 730)


def rate(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


def calculator(n: int) -> None:
    rng = random.Random(1)
    fs = FactorSet(default_factors())
    net, model = fs.network("EU"), fs.parcel_model("EU")
    nodes = [("DC-CENTRAL", "distribution_centre", 50.87, 9.71), ("ST-BERLIN", "store", 52.52, 13.40)]
    parcels = []
    for _ in range(n):
        node_id, kind, lat, lon = rng.choice(nodes)
        road = great_circle_km(lat, lon, rng.uniform(47.5, 54.5), rng.uniform(6, 14.5)) * net.road_factor
        parcels.append((node_id, kind, road, rng.uniform(0.2, 12)))
    origins = {node_id: fs.origin(node_id, kind) for node_id, kind, _, _ in nodes}
    consts = {node_id: model.terms(0.0, node_id, kind) for node_id, kind, _, _ in nodes}
    lh = net.linehaul.value * 1e-6

    def inline() -> None:  # the floor of plain Python: fixed + per_kg × mass, constants in hand
        total = 0.0
        for node_id, _, road, mass in parcels:
            fixed, per_kg = consts[node_id]
            total += fixed + (per_kg + road * lh) * mass

    def terms() -> None:
        total = 0.0
        for node_id, kind, road, mass in parcels:
            fixed, per_kg = model.terms(road, node_id, kind)
            total += fixed + per_kg * mass

    def itemised() -> None:
        total = 0.0
        for node_id, _, road, mass in parcels:
            total += net.parcel(road, mass, origins[node_id]).kg

    base, fast, full = rate(inline, n), rate(terms, n), rate(itemised, n)
    print(
        f"carbon parcels: itemised chain {full:,.0f} parcels/s (goal ≥ 100,000/s) | planner terms {fast:,.0f}/s "
        f"| inline arithmetic {base:,.0f}/s (ratio terms/inline {fast / base:.2f})"
    )


def _login(client, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the login form"
    r = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1), "next": "/console"}
    )
    assert r.status_code in (200, 303), r.status_code


def page(db: str | None) -> None:
    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from orderhub import demo
    from orderhub.app import create_app
    from orderhub.carbon import footprints
    from orderhub.carbon import service as carbon
    from orderhub.core.clock import utcnow
    from orderhub.migrations import upgrade
    from orderhub.platform.db import create_db_engine
    from orderhub.platform.settings import Settings

    if db is None:
        path = Path(tempfile.mkdtemp(prefix="orderhub-bench-")) / "demo.db"
        db = f"sqlite:///{path}"
        engine = create_db_engine(db)
        upgrade(engine)
        t0 = time.perf_counter()
        demo.seed(engine, days=730)
        print(f"demo seeded in {time.perf_counter() - t0:.0f} s (roll-ups built at the end)")
    else:
        engine = create_db_engine(db)
    with engine.connect() as conn:
        orders = conn.execute(sa.text("SELECT count(*) FROM carbon_orders")).scalar()
    with engine.begin() as conn:  # as after a new factor table: every day out of date
        conn.execute(sa.text("UPDATE carbon_days SET version = 'stale'"))
    t0 = time.perf_counter()
    rebuilt = carbon.refresh_rollups(
        engine, days=[(utcnow() - timedelta(days=i)).date().isoformat() for i in range(1, 731)]
    )
    cold = time.perf_counter() - t0
    print(f"roll-ups: {rebuilt} days rebuilt from {orders:,} orders in {cold:.1f} s (once per factor-table change)")
    with TestClient(create_app(Settings(env="dev"), engine=engine)) as client:
        _login(client, "admin@demo.orderhub", "demo")
        for days in DAYS:
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                r = client.get("/console/carbon", params={"days": days})
                best = min(best, time.perf_counter() - t0)
                assert r.status_code == 200, r.status_code
            end = utcnow()
            start = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
            t0 = time.perf_counter()
            rows = carbon.get_footprints(engine, start=start, end=end, limit=None)
            footprints.dashboard(rows, categories={}, start=start, days=days)
            direct = time.perf_counter() - t0
            print(
                f"carbon page, {days:>3} days: {best * 1000:>6.0f} ms (goal < 1,000 ms) | the same figures from "
                f"{len(rows):,} orders' footprints: {direct * 1000:,.0f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--db", default=None, help="a database with the demo world already seeded")
    parser.add_argument("--skip-page", action="store_true")
    a = parser.parse_args()
    calculator(a.n)
    if not a.skip_page:
        page(a.db)


if __name__ == "__main__":
    main()
