"""The forecast console in real Chromium: the guard's regions and switches after a demand shock,
a series' chart with its intervals, its backtest scores and guard state; replenishment and the
SKUs at risk of running out by node, with the CSV export."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from playwright.sync_api import expect

from orderhub.core.clock import utcnow
from orderhub.forecast import service as forecast
from orderhub.forecast.model import DemandRow, node_location
from tests.conftest import put_stock
from tests.e2e.test_console import live_artifact, login

pytestmark = pytest.mark.browser
WEEK = np.array([10, 12, 14, 16, 20, 30, 0.0])


def shocked_history(engine) -> None:  # type: ignore[no-untyped-def]
    """Twelve weeks of weekly demand at BY (and a store's own 3 a day), a run, then three days
    at five times the demand, each followed by an update: the guard switches BY."""
    rng = np.random.default_rng(5)
    today = utcnow().date()
    first = today - timedelta(days=87)

    def day(d: int, factor: float = 1.0) -> list[DemandRow]:
        on = first + timedelta(days=d)
        rows = [DemandRow(on, s, "BY", float(rng.poisson(WEEK[on.weekday()] * factor))) for s in ("G0", "G1")]
        return [*rows, DemandRow(on, "G0", node_location("ST-MUC"), 3.0)]

    forecast.add_demand(engine, [r for d in range(84) for r in day(d)])
    forecast.run(engine, horizon=14, folds=2, jobs=1, as_of=first + timedelta(days=83))
    for d in range(84, 87):
        forecast.add_demand(engine, day(d, factor=5.0))
        forecast.update(engine, as_of=first + timedelta(days=d))


def test_forecast_pages_show_the_guard_a_series_and_what_runs_out_by_node(page, live):  # type: ignore[no-untyped-def]
    put_stock(live.engine, {("ST-MUC", "G0"): 4, ("DC-1", "G1"): 500})
    shocked_history(live.engine)
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, live)
    page.click("header nav >> text=Forecast")
    expect(page.locator("header nav a.active")).to_have_text("Forecast")
    regions = page.get_by_test_id("guard-regions")
    expect(regions.locator("[data-region=BY] .badge")).to_have_text("unreliable")
    expect(regions.locator("[data-region=BY]")).to_contain_text("forecasts unreliable")
    expect(page.get_by_test_id("guard-switches").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("guard-switches")).to_contain_text("unreliable")
    expect(page.get_by_test_id("runs").locator("tbody tr")).to_have_count(4)  # a run and three updates
    page.screenshot(path=str(live_artifact("forecast.png")), full_page=True)

    page.get_by_test_id("series").get_by_role("link", name="G0").first.click()
    expect(page.get_by_role("heading", name="G0 at BY")).to_be_visible()
    chart = page.get_by_test_id("forecast-chart")
    expect(chart.get_by_test_id("history-line")).to_have_count(1)
    expect(chart.get_by_test_id("forecast-line")).to_have_count(1)
    expect(chart.get_by_test_id("band95")).to_have_count(1)
    expect(chart.get_by_test_id("band80")).to_have_count(1)
    expect(page.get_by_test_id("scores").locator("tr[data-chosen]")).to_have_count(1)
    expect(page.get_by_test_id("scores").locator("tr[data-chosen]")).to_contain_text(
        page.get_by_test_id("model").inner_text()
    )
    expect(page.get_by_test_id("guard-state")).to_have_text("out of band")
    expect(page.get_by_test_id("points").locator("tbody tr")).to_have_count(14)
    page.screenshot(path=str(live_artifact("forecast-series.png")), full_page=True)

    page.click("header nav >> text=Forecast")
    page.click("text=SKUs at risk of running out, by node")
    expect(page.get_by_label("At risk only")).to_be_checked()
    page.get_by_label("At risk only").uncheck()
    page.click("button:has-text('Show')")
    expect(page.get_by_test_id("replenishment").locator("tbody tr")).to_have_count(2)
    page.get_by_label("At risk only").check()
    page.click("button:has-text('Show')")
    expect(page).to_have_url(f"{live.url}/console/replenishment?node_id=&sku=&lead_days=7&at_risk=1")
    rows = page.get_by_test_id("replenishment").locator("tbody tr")
    expect(rows).to_have_count(1)  # ST-MUC's 4 units of G0 last a day; DC-1's 500 of G1 last
    expect(rows.first).to_have_attribute("data-row", "ST-MUC/G0")
    expect(page.get_by_test_id("at-risk")).to_have_text("1")
    href = page.get_by_test_id("csv").get_attribute("href")
    assert href == "/console/replenishment.csv?node_id=&sku=&lead_days=7&at_risk=1"
    csv = page.request.get(f"{live.url}{href}")  # with the console session
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text().splitlines()[1].startswith("ST-MUC,ST-MUC,store,BY,G0,4,4,")
    page.screenshot(path=str(live_artifact("replenishment.png")), full_page=True)
    assert refused == []
