"""The simulator against a live hub on real SQLite, with a compressed clock: orders arrive on
every channel and go through the hub over HTTP, to the doorstep and back."""

from __future__ import annotations

import io
import random
import shutil
import time
from collections import Counter
from datetime import datetime

import pytest
import sqlalchemy as sa

from orderhub import cli
from orderhub.demo import build_items, build_nodes, seed_stock
from orderhub.demo.hub import Hub, HubError
from orderhub.demo.simulator import Options, Simulator
from orderhub.inventory import service as inventory
from orderhub.platform.db import create_db_engine
from orderhub.platform.settings import Settings
from tests.e2e.conftest import LiveServer

MONDAY_NOON = datetime(2026, 11, 16, 12, 0)  # stores open, a busy hour


@pytest.fixture
def demo_secrets(monkeypatch):
    """The carrier webhook secrets ``orderhub demo`` sets, read by the live server's settings."""
    for name, value in cli.DEMO_SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def demo_hub(demo_secrets, live):
    """The live hub with the demo world's nodes, catalogue and stock (no history)."""
    nodes, items = build_nodes(), build_items(random.Random(7))  # the simulator's world, seed 7
    inventory.save_nodes(live.engine, nodes=nodes)
    inventory.save_items(live.engine, items=items)
    seed_stock(live.engine, random.Random(7), nodes, items)
    return live


def statuses(engine) -> Counter[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT channel, status FROM orders")).all()
    return Counter((r.channel, r.status) for r in rows)


def test_simulated_orders_arrive_on_every_channel_and_reach_the_doorstep(demo_hub):
    out = io.StringIO()
    options = Options(
        url=demo_hub.url, api_key="live-admin-key", rate=6000, flat=True, speed=2_000_000, workers=3, driver_pings=1
    )
    sim = Simulator(options, out=out)
    sim.moment = lambda: MONDAY_NOON  # type: ignore[method-assign]
    started = time.monotonic()
    totals = sim.run(max_orders=20, duration_s=20)  # the first 20 sales of seed 7 cover every channel
    assert time.monotonic() - started < 28

    seen = statuses(demo_hub.engine)
    channels = {channel for channel, _ in seen}
    assert channels == {"web", "shopify", "woocommerce", "pos", "social"}
    assert sim.stats.captured() == sum(seen.values()) == 20
    assert totals["error"] == 0, out.getvalue()
    by_status: Counter[str] = Counter()
    for (_, status), n in seen.items():
        by_status[status] += n
    assert sum(by_status[s] for s in ON_THE_WAY | DONE) >= 5, by_status  # parcels handed to carriers, some at the door
    assert totals["released"] >= 5 and totals["shipped"] >= 5, dict(totals)
    # the online orders went through sourcing at capture and were allocated where it held stock
    with demo_hub.engine.connect() as conn:
        sourced = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE type = 'order.sourced'")).scalar_one()
        allocated = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE type = 'order.allocated'")).scalar_one()
    assert sourced >= 5 and allocated == totals["allocated"]


def test_a_route_the_hub_lacks_is_logged_once_and_skipped(live, caplog):
    hub = Hub(live.url, "live-admin-key")
    with caplog.at_level("WARNING", logger="orderhub.simulator"):
        assert hub.post("/api/v1/tracking/nowhere", {"events": []}, route="tracking/nowhere") is None
        assert hub.post("/api/v1/tracking/nowhere", {"events": []}, route="tracking/nowhere") is None
    assert [r.getMessage() for r in caplog.records] == ["the hub has no POST tracking/nowhere yet: skipping that step"]
    assert hub.missing == {"tracking/nowhere"}
    with pytest.raises(HubError) as refused:  # a 404 about an order is an answer, not a missing route
        hub.get("/api/v1/orders/ord_unknown")
    assert (refused.value.status, refused.value.code) == (404, "order_not_found")
    hub.close()


def test_with_the_tracking_feeds_parcels_and_carrier_events_bring_orders_to_the_door(
    tmp_path, sqlite_template, monkeypatch
):
    """Once the hub has the tracking feeds, no step falls back on the order API: the parcels,
    the WMS, the signed carrier events and the positions are taken, and the orders' statuses
    follow their milestones to delivered."""
    for name, value in cli.DEMO_SECRETS.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "tracking.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    nodes, items = build_nodes(), build_items(random.Random(7))
    inventory.save_nodes(engine, nodes=nodes)
    inventory.save_items(engine, items=items)
    seed_stock(engine, random.Random(7), nodes, items)
    with LiveServer(engine, Settings(env="test", bootstrap_admin_key="live-admin-key")) as server:
        probe = Hub(server.url, "live-admin-key")
        try:
            has_feeds = probe.post("/api/v1/tracking/events", {"events": []}, route="tracking/events") is not None
        except HubError:
            has_feeds = True  # the route is there (it refuses an empty batch)
        probe.close()
        if not has_feeds:
            pytest.skip("this hub has no tracking feeds yet (POST /api/v1/tracking/events is 404)")
        out = io.StringIO()
        options = Options(
            url=server.url, api_key="live-admin-key", rate=6000, flat=True, speed=2_000_000, workers=3, driver_pings=1
        )
        sim = Simulator(options, out=out)
        sim.moment = lambda: MONDAY_NOON  # type: ignore[method-assign]
        totals = sim.run(max_orders=20, duration_s=20)
        assert sim.hub.missing == set()  # no step fell back on the order API
        assert totals["error"] == 0, out.getvalue()
        seen = statuses(engine)
    engine.dispose()
    assert totals["shipped"] >= 5
    moving = sum(n for (channel, status), n in seen.items() if channel != "pos" and status in ON_THE_WAY | DONE)
    assert moving >= 5  # the orders follow their parcels' milestones


DONE = {"delivered", "return_requested", "returned"}
ON_THE_WAY = {"shipped", "partially_shipped", "in_transit", "out_for_delivery", "partially_delivered"}


def test_the_report_line_counts_the_minute():
    counts = Counter({"captured:web": 3, "captured:pos": 1, "paid": 4, "delivered": 2, "exception:qc_failed": 1})
    line = cli_report(counts)
    assert line == (
        "12:00 simulator: 4 orders (pos 1, web 3), 4 paid, 0 allocated, 0 released, 0 shipped, 2 delivered, "
        "0 returned, 1 exceptions, 0 errors, 7 steps pending"
    )


def cli_report(counts: Counter[str]) -> str:
    from orderhub.demo.simulator import report_line

    return report_line(counts, 7, MONDAY_NOON)


def test_orderhub_simulate_help(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["simulate", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--url", "--api-key", "--rate", "--flat", "--speed", "--duration", "--orders"):
        assert flag in text
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    assert "--no-simulate" in capsys.readouterr().out
