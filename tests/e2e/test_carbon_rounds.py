"""The delivery round an order's parcel pays, through the API: the address's area (urban or
rural) in options, the sourcing plan and the footprint alike; and the carrier's own figure for
the service that carried the parcel, once the parcel is shipped with tracking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from orderhub.carbon import service as carbon
from orderhub.inventory import service as inventory
from tests.conftest import put_stock

BERLIN = {"lat": 52.53, "lon": 13.38}  # 1.4 km from the store ST-9
HARZ = {"lat": 51.75, "lon": 10.60}  # 200 km from ST-9, the only store: a rural round


def world(engine: Engine) -> None:
    put_stock(engine, {("DC-1", "A"): 20, ("ST-9", "Z"): 1})  # DC-1 Bad Hersfeld ships A; ST-9 stands in Berlin
    inventory.save_items(engine, items=[inventory.Item("A", "Mug", "kitchen", 400, 1500, 600)])


def order(client: TestClient, destination: dict[str, float], ref: str) -> dict[str, Any]:
    body = {
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": f"{ref}@x.de"},
        "payment_status": "paid",
        "shipping_address": {"city": ref, "country": "DE", **destination},
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
    }
    created = client.post("/api/v1/orders", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.mark.parametrize(
    ("destination", "round_key", "round_kg"),
    [(BERLIN, "round.delivery.urban.van.diesel", 0.087), (HARZ, "round.delivery.rural.van.diesel", 0.261)],
)
def test_the_addresss_area_chooses_the_round_in_options_plan_and_footprint_alike(
    client: TestClient, engine: Engine, destination: dict[str, float], round_key: str, round_kg: float
) -> None:
    world(engine)
    basket = {"lines": [{"sku": "A", "quantity": 1}], "destination": destination}
    [standard, *_] = client.post("/api/v1/carbon/options", json=basket, params={"detail": "true"}).json()["options"]
    [parcel] = standard["breakdown"]
    assert parcel["from"] == "DC-1"
    assert [(r["factor"], r["kg_co2e"]) for r in parcel["rounds"]] == [(round_key, round_kg)]
    plan = client.post("/api/v1/sourcing/plan", json={**basket, "strategy": "greenest"}).json()
    assert plan["chosen"]["nodes"] == ["DC-1"]
    assert plan["chosen"]["kg_co2e"] == pytest.approx(standard["kg_co2e"], abs=1e-3)
    placed = order(client, destination, "area")
    full = client.get(f"/api/v1/orders/{placed['id']}/footprint", params={"detail": "true"}).json()
    [ship] = full["shipments"]
    assert [(r["factor"], r["kg_co2e"]) for r in ship["rounds"]] == [(round_key, round_kg)]
    assert full["transport_kg"] == pytest.approx(standard["kg_co2e"], abs=1e-3)


def test_a_rural_parcels_round_costs_three_urban_shares(client: TestClient, engine: Engine) -> None:
    world(engine)
    kg = {}
    for name, dest in (("urban", BERLIN), ("rural", HARZ)):
        body = {"lines": [{"sku": "A", "quantity": 1}], "destination": dest}
        [standard, *_] = client.post("/api/v1/carbon/options", json=body, params={"detail": "true"}).json()["options"]
        [parcel] = standard["breakdown"]
        kg[name] = sum(r["kg_co2e"] for r in parcel["rounds"])
    assert kg["rural"] == pytest.approx(3 * kg["urban"])


def ship(client: TestClient, placed: dict[str, Any], *, carrier: str, service: str, number: str) -> None:
    lines = [{"line_id": x["id"], "quantity": x["quantity"]} for x in placed["lines"]]
    oid = placed["id"]
    if placed["status"] == "paid":  # held at DC-1 but not yet allocated
        moved = client.post(
            f"/api/v1/orders/{oid}/allocation", json={"fulfilment_orders": [{"node_id": "DC-1", "lines": lines}]}
        )
        assert moved.status_code == 200, moved.text
    released = client.post(f"/api/v1/orders/{oid}/transitions", json={"to": "released"})
    assert released.status_code == 200, released.text
    parcel = {"carrier": carrier, "service": service, "tracking_number": number, "lines": {lines[0]["line_id"]: 1}}
    shipped = client.post(f"/api/v1/orders/{oid}/parcels", json={"parcels": [parcel]})
    assert shipped.status_code == 201, shipped.text


def test_a_carriers_own_figure_for_the_service_that_carried_the_parcel_applies(
    client: TestClient, engine: Engine
) -> None:
    world(engine)
    own = "kind,key,value,ttw,source,edition,quality\nround,round.delivery.service:paket-eco,0.031,0,GreenHaul fleet data,2025,primary\n"
    loaded = client.post(
        "/api/v1/carbon/factors", params={"carrier": "greenhaul"}, content=own, headers={"Content-Type": "text/csv"}
    )
    assert loaded.status_code in (200, 201), loaded.text
    eco, other = order(client, BERLIN, "eco"), order(client, BERLIN, "other")
    before = client.get(f"/api/v1/orders/{eco['id']}/footprint").json()["transport_kg"]
    ship(client, eco, carrier="greenhaul", service="paket-eco", number="GH0001")
    ship(client, other, carrier="greenhaul", service="paket-express", number="GH0002")  # no figure for it
    full = client.get(f"/api/v1/orders/{eco['id']}/footprint", params={"detail": "true"}).json()
    [parcel] = full["shipments"]
    assert [(r["factor"], r["kg_co2e"]) for r in parcel["rounds"]] == [("round.delivery.service:paket-eco", 0.031)]
    assert full["transport_kg"] == pytest.approx(before - 0.087 + 0.031, abs=1e-3)
    rest = client.get(f"/api/v1/orders/{other['id']}/footprint", params={"detail": "true"}).json()
    assert [r["factor"] for r in rest["shipments"][0]["rounds"]] == ["round.delivery.urban.van.diesel"]
    assert rest["transport_kg"] == pytest.approx(before, abs=1e-3)
    # the export of the period says the same
    now = datetime.now(UTC)
    doc = carbon.get_disclosure(engine, start=now - timedelta(hours=1), end=now + timedelta(hours=1))
    rounds = [
        t for s in doc["shipmentFootprints"] if s["orderId"] == eco["id"] for t in s["tces"] if t["type"] == "round"
    ]
    assert [t["roundCategory"] for t in rounds] == ["round.delivery.service:paket-eco"]
