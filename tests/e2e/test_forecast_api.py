"""The forecast routes: series, history, forecast with intervals and scores, expected demand,
runs; what a caller cannot see or has not asked for right."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from orderhub.forecast import service as forecast
from orderhub.forecast.model import DemandRow

D0 = date(2025, 9, 1)


def _history(engine: Engine) -> None:
    rows = [DemandRow(D0 + timedelta(days=d), "A-1", "BY", float(5 + d % 7)) for d in range(84)]
    rows += [DemandRow(D0 + timedelta(days=d), "B-2", "node:ST-1", 1.0) for d in range(0, 84, 5)]
    forecast.add_demand(engine, rows)
    forecast.run(engine, horizon=7, folds=2, jobs=1)


def test_a_series_its_history_and_its_forecast_with_intervals(client: TestClient, engine: Engine) -> None:
    _history(engine)
    listed = client.get("/api/v1/forecast/series", params={"location": "BY"}).json()["items"]
    assert [(i["sku"], i["location"]) for i in listed] == [("A-1", "BY")]
    history = client.get("/api/v1/forecast/history", params={"sku": "A-1", "location": "BY", "days": 7}).json()
    assert [h["quantity"] for h in history["history"]] == [5.0 + d % 7 for d in range(77, 84)]
    assert history["fit"]["model"] == listed[0]["model"]
    got = client.get("/api/v1/forecast/forecast", params={"sku": "B-2", "location": "node:ST-1"})
    assert got.status_code == 200
    body = got.json()
    assert len(body["points"]) == 7
    assert body["points"][0]["day"] == (D0 + timedelta(days=84)).isoformat()
    assert body["scores"]["windows"] == 2  # chosen on two backtest windows
    assert all(p["lo95"] <= p["lo80"] <= p["mean"] <= p["hi80"] <= p["hi95"] for p in body["points"])
    expected = client.get(
        "/api/v1/forecast/expected", params=[("location", "BY"), ("sku", "A-1"), ("sku", "X"), ("days", "2")]
    ).json()
    assert expected["expected"]["X"] == 0.0
    assert expected["expected"]["A-1"] == sum(
        p["mean"]
        for p in client.get("/api/v1/forecast/forecast", params={"sku": "A-1", "location": "BY"}).json()["points"][:2]
    )
    assert client.get("/api/v1/forecast/runs").json()["items"][0]["kind"] == "run"


def test_unknown_series_are_404_problems_and_bad_parameters_422(client: TestClient) -> None:
    missing = client.get("/api/v1/forecast/forecast", params={"sku": "nope", "location": "BY"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/forecast/history", params={"sku": "nope", "location": "BY"}).status_code == 404
    assert client.get("/api/v1/forecast/series", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/forecast/expected", params={"location": "BY"}).status_code == 422
    assert client.get("/api/v1/forecast/runs", headers={"Authorization": ""}).status_code == 401


def test_the_guard_watches_each_new_day_and_its_switches_are_listed(client: TestClient, engine: Engine) -> None:
    _history(engine)
    assert client.get("/api/v1/forecast/guard").json() == {"regions": [], "series": []}  # nothing seen yet
    forecast.add_demand(engine, [DemandRow(D0 + timedelta(days=84), "A-1", "BY", 5.0)])
    forecast.update(engine, as_of=D0 + timedelta(days=84))
    guard = client.get("/api/v1/forecast/guard", params={"location": "BY"}).json()
    (region,) = guard["regions"]
    assert (region["location"], region["state"], region["watched"], region["day"]) == (
        "BY", "reliable", 1, (D0 + timedelta(days=84)).isoformat(),
    )  # fmt: skip
    assert client.get("/api/v1/forecast/guard/switches").json() == {"items": []}
    assert client.get("/api/v1/forecast/guard/switches", params={"limit": 0}).status_code == 422


def test_replenishment_as_json_and_csv_and_promise_dates(client: TestClient, engine: Engine) -> None:
    from tests.conftest import put_stock

    put_stock(engine, {("ST-MUC", "A-1"): 4})
    items = client.get("/api/v1/replenishment", params={"node_id": "ST-MUC"}).json()["items"]
    assert [(i["node_id"], i["sku"], i["atp"], i["quantity"]) for i in items] == [("ST-MUC", "A-1", 4, 0)]
    csv = client.get("/api/v1/replenishment.csv", params={"node_id": "ST-MUC"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1].startswith("ST-MUC,ST-MUC,store,BY,A-1,4,4,0,0,0.0,")
    assert client.get("/api/v1/promise-dates", params={"sku": "A-1"}).json() == {"items": []}
    assert client.get("/api/v1/replenishment", params={"lead_days": -1}).status_code == 422
    assert client.get("/api/v1/promise-dates", params={"policy": "random"}).status_code == 422
