"""Carbon over HTTP: factor tables loaded all-or-nothing, a carrier's own figures, order footprints."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderhub.carbon import service as carbon
from orderhub.inventory import service as inventory
from tests.conftest import put_stock

GOOD = """kind,key,value,ttw,unit,source,edition,region,scope,quality,note
product,category:kitchen,3.2,,kg CO2e/unit,Supplier LCA summary,2025,global,cradle-to-gate,modelled,
packaging,category:kitchen,0.15,,kg CO2e/unit,Packaging supplier,2025,global,cradle-to-gate,modelled,
hub,hub.parcel,1.8,,kg CO2e/t,Depot energy survey,2025,DE,WTW,primary,
"""


def test_factor_table_loads_all_rows_or_none(client):
    before = len(client.get("/api/v1/carbon/factors").json()["items"])
    bad = GOOD + "transport,road.x,99999,,,Someone,2025,global,WTW,default,\n"
    r = client.post("/api/v1/carbon/factors", content=bad, headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/rows/3/value"
    assert len(client.get("/api/v1/carbon/factors").json()["items"]) == before
    r = client.post("/api/v1/carbon/factors", content=GOOD, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201 and r.json() == {"loaded": 3}
    keys = {(f["kind"], f["key"]) for f in client.get("/api/v1/carbon/factors").json()["items"]}
    assert ("hub", "hub.parcel") in keys and ("transport", "road.artic.gt33t.diesel") in keys


def test_loading_a_factor_again_replaces_the_one_with_its_identity(client):
    client.post("/api/v1/carbon/factors", content=GOOD, headers={"Content-Type": "text/csv"})
    again = GOOD.replace("category:kitchen,3.2", "category:kitchen,2.9").replace("hub.parcel,1.8", "hub.parcel,1.5")
    again += "hub,hub.parcel,2.0,,kg CO2e/t,Depot energy survey,2024,DE,WTW,primary,\n"  # another edition: kept apart
    assert client.post("/api/v1/carbon/factors", content=again, headers={"Content-Type": "text/csv"}).json() == {
        "loaded": 4
    }
    ours = ("Supplier LCA summary", "Packaging supplier", "Depot energy survey")
    loaded = [f for f in client.get("/api/v1/carbon/factors").json()["items"] if f["source"] in ours]
    got = sorted((f["kind"], f["key"], f["edition"], f["value"]) for f in loaded)
    assert got == [
        ("hub", "hub.parcel", "2024", 2.0),
        ("hub", "hub.parcel", "2025", 1.5),
        ("packaging", "category:kitchen", "2025", 0.15),
        ("product", "category:kitchen", "2025", 2.9),
    ]


def test_a_carriers_own_figure_wins_for_its_shipments(client):
    primary = '[{"kind": "transport", "key": "road.artic.gt33t.diesel", "value": 61.0, "ttw": 50.0, "source": "Carrier fuel data", "edition": "2025", "quality": "primary"}]'
    assert client.post("/api/v1/carbon/factors?format=json&carrier=GreenHaul", content=primary).status_code == 201
    leg = {"factor": "road.artic.gt33t.diesel", "distance_km": 100, "mass_kg": 10000}
    default = client.post("/api/v1/carbon/shipments", json={"legs": [leg]}).json()
    own = client.post("/api/v1/carbon/shipments", json={"legs": [{**leg, "carrier": "GreenHaul"}]}).json()
    assert default["kg_co2e"] == pytest.approx(102.73) and own["kg_co2e"] == pytest.approx(61.0)
    assert own["data_quality"] == "primary"
    r = client.post("/api/v1/carbon/shipments", json={"legs": [{**leg, "factor": "road.unicorn"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/legs/0/factor"


def test_order_footprint_short_by_default_itemised_on_request(client, engine):
    put_stock(engine, {("DC-1", "KIT-1"): 10})
    inventory.save_items(engine, items=[inventory.Item("KIT-1", "Kettle", "kitchen", 1500, 4999, 2500)])
    client.post("/api/v1/carbon/factors", content=GOOD, headers={"Content-Type": "text/csv"})
    order = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "c@x.de"},
            "payment_status": "paid",
            "shipping_address": {"city": "Berlin", "country": "DE", "lat": 52.52, "lon": 13.40},
            "lines": [
                {"sku": "KIT-1", "quantity": 2, "unit_price": "49.99"},
                {"sku": "NEW-9", "quantity": 1, "unit_price": "5.00"},
            ],
        },
    ).json()
    short = client.get(f"/api/v1/orders/{order['id']}/footprint").json()
    assert set(short) == {"order_id", "kg_co2e", "transport_kg", "product_kg", "packaging_kg", "data_quality", "method"}
    assert short["product_kg"] == pytest.approx(6.4) and short["packaging_kg"] == pytest.approx(0.3)
    full = client.get(f"/api/v1/orders/{order['id']}/footprint", params={"detail": "true"}).json()
    [ship] = full["shipments"]
    # the parcel network: the DC's own hub, one sort centre, linehaul to the depot, the delivery round
    assert ship["from"] == "DC-1" and [leg["factor"] for leg in ship["legs"]] == ["road.artic.le40t.diesel"]
    assert [h["factor"] for h in ship["hubs"]] == ["hub.warehouse", "hub.transshipment"]
    assert [(r["factor"], r["kg_co2e"]) for r in ship["rounds"]] == [("round.delivery.urban.van.diesel", 0.087)]
    [leg] = ship["legs"]
    assert leg["mass_kg"] == pytest.approx(3.0)  # 2 × 1.5 kg; NEW-9 is backordered, it is not in this parcel
    want = leg["mass_kg"] / 1000 * leg["distance_km"] * 95 / 1000 + 0.003 * (17.5 + 0.6) + 0.087
    # the short view rounds to whole grams
    assert short["transport_kg"] == pytest.approx(want, abs=5e-4)
    assert short["kg_co2e"] == pytest.approx(want + 6.4 + 0.3, abs=5e-4)
    assert any("NEW-9" in m for m in full["missing"])


def greener_world(engine):
    put_stock(engine, {("DC-1", "A"): 5, ("DC-2", "B"): 5, ("DC-2", "A"): 5})  # DC-1 Bad Hersfeld, DC-2 Hamburg
    carbon.load_factors(
        engine,
        fmt="csv",
        actor="test",
        text="kind,key,value,source,edition,quality\npackaging,parcel,0.35,Mailer box LCA summary,2025,modelled\n",
    )
    inventory.save_items(
        engine,
        items=[
            inventory.Item("A", "Mug", "kitchen", 400, 1500, 600),
            inventory.Item("B", "Pan", "kitchen", 2500, 4500, 2000),
        ],
    )


KASSEL = {"lat": 51.31, "lon": 9.49}  # next to DC-1; DC-2 is 250 km away


def test_options_standard_consolidated_and_wait_with_points(client, engine):
    greener_world(engine)
    body = {"lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}], "destination": KASSEL}
    opts = {o["option"]: o for o in client.post("/api/v1/carbon/options", json=body).json()["options"]}
    assert list(opts) == ["standard", "consolidated", "wait"]
    assert opts["standard"]["parcels"] == 2 and opts["consolidated"]["parcels"] == 1
    assert opts["consolidated"]["kg_co2e"] < opts["standard"]["kg_co2e"]
    assert opts["wait"]["kg_co2e"] < opts["consolidated"]["kg_co2e"]
    assert opts["wait"]["promised_date"] > opts["consolidated"]["promised_date"] >= opts["standard"]["promised_date"]
    assert opts["consolidated"]["points"] == round(opts["consolidated"]["kg_saved"] * 20) > 0
    assert opts["standard"]["price"] == "0.00" and opts["standard"]["points"] == 0  # free from 50.00 (basket 60.00)
    detail = client.post("/api/v1/carbon/options", json=body, params={"detail": "true"}).json()["options"][0]
    assert [p["from"] for p in detail["breakdown"]] == ["DC-1", "DC-2"]


def test_choosing_consolidation_holds_at_one_node_earns_points_and_is_reported(client, engine):
    greener_world(engine)
    order = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "green@x.de"},
            "payment_status": "paid",
            "delivery_option": "consolidated",
            "shipping_address": {"city": "Kassel", "country": "DE", **KASSEL},
            "lines": [
                {"sku": "A", "quantity": 1, "unit_price": "15.00"},
                {"sku": "B", "quantity": 1, "unit_price": "45.00"},
            ],
        },
    )
    assert order.status_code == 201, order.text
    oid = order.json()["id"]
    holds = client.get(f"/api/v1/orders/{oid}/stock").json()["holds"]
    assert {h["node_id"] for h in holds} == {"DC-2"}  # one parcel, from the node that has both
    events = client.get(f"/api/v1/orders/{oid}").json()["events"]
    chosen = next(e for e in events if e["type"] == "order.greener_delivery_chosen")["data"]
    points = client.get("/api/v1/customers/green@x.de/points").json()
    assert points["balance"] == chosen["points"] > 0
    report = client.get(
        "/api/v1/carbon/report", params={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    ).json()
    assert report["orders"] == 1 and report["parcels_saved"] == 1
    assert report["kg_co2e_avoided"] == pytest.approx(chosen["kg_saved"], abs=1e-3)
    spent = client.post("/api/v1/customers/green@x.de/points/redeem", json={"points": 1})
    assert spent.json()["balance"] == chosen["points"] - 1
    too_many = client.post("/api/v1/customers/green@x.de/points/redeem", json={"points": 10**6})
    assert too_many.status_code == 422 and too_many.json()["code"] == "not_enough_points"


def test_an_option_not_on_offer_is_refused_and_nothing_written(client, engine):
    greener_world(engine)
    r = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "x@x.de"},
            "delivery_option": "wait",
            "shipping_address": {"city": "Kassel", "country": "DE"},
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/shipping_address/lat"
    assert client.get("/api/v1/orders").json()["items"] == []


def test_export_csv_and_ileap_json_per_period_and_customer(client, engine):
    greener_world(engine)
    for email in ("a@x.de", "b@x.de"):
        client.post(
            "/api/v1/orders",
            json={
                "currency": "EUR",
                "customer": {"email": email},
                "payment_status": "paid",
                "shipping_address": {"city": "Kassel", "country": "DE", **KASSEL},
                "lines": [{"sku": "A", "quantity": 2, "unit_price": "15.00"}],
            },
        )
    period = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    csv_text = client.get("/api/v1/carbon/export", params={**period, "format": "csv"}).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("order_id,created_at,channel,customer_email,kg_co2e") and len(lines) == 3
    doc = client.get("/api/v1/carbon/export", params={**period, "customer": "b@x.de"}).json()
    assert [o["customer"] for o in doc["orderFootprints"]] == ["b@x.de"]
    [shipment] = doc["shipmentFootprints"]
    assert [t["type"] for t in shipment["tces"]] == ["transport", "hub", "hub", "round"]
    leg, dc, sort, delivery = shipment["tces"]
    assert leg["mass"]["value"] == 0.8 and dc["mass"]["value"] == 0.8  # 2 × 400 g
    assert leg["transportOperationCategory"] == "road.artic.le40t.diesel"
    assert leg["co2eWTW"]["value"] == pytest.approx(0.8 / 1000 * leg["distance"]["value"] * 95 / 1000, abs=2e-5)
    assert leg["co2eTTW"]["value"] < leg["co2eWTW"]["value"]
    assert (dc["hubOperationCategory"], sort["hubOperationCategory"]) == ("hub.warehouse", "hub.transshipment")
    assert dc["co2eWTW"]["value"] == pytest.approx(0.0008 * 17.5, rel=1e-3)
    assert delivery["roundCategory"] == "round.delivery.urban.van.diesel" and delivery["co2eWTW"]["value"] == 0.087
    [order] = doc["orderFootprints"]
    assert sum(t["co2eWTW"]["value"] for t in shipment["tces"]) == pytest.approx(order["transport_kg"], abs=2e-3)
    assert doc["method"]["standard"] == "EN ISO 14083:2023"
    assert {f["key"] for f in doc["factors"]} >= {"road.artic.le40t.diesel", "round.delivery.urban.van.diesel"}
    assert all(f["source"] for f in doc["factors"])


def test_waiting_for_the_run_holds_the_order_until_the_area_run_releases_them_together(client, engine):
    greener_world(engine)
    ids = []
    for i in range(2):
        r = client.post(
            "/api/v1/orders",
            json={
                "currency": "EUR",
                "customer": {"email": f"w{i}@x.de"},
                "payment_status": "paid",
                "delivery_option": "wait",
                "shipping_address": {"city": "Kassel", "postal_code": "34117", "country": "DE", **KASSEL},
                "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        assert r.json()["status"] == "on_hold"
    runs = client.get("/api/v1/carbon/runs").json()["areas"]
    assert [(a["area"], a["orders"]) for a in runs] == [("34", 2)]
    released = client.post("/api/v1/carbon/runs/34/release").json()["released"]
    assert sorted(released) == sorted(ids)
    assert {client.get(f"/api/v1/orders/{i}").json()["status"] for i in ids} == {"paid"}
    assert client.get("/api/v1/carbon/runs").json()["areas"] == []


def test_a_run_leaves_on_its_own_once_the_oldest_order_has_waited_a_day(client, engine):
    from datetime import UTC, datetime, timedelta

    from orderhub.orders import service

    greener_world(engine)
    for i, age_h in enumerate((30, 2)):
        placed = (datetime.now(UTC) - timedelta(hours=age_h)).isoformat()
        for postcode in ("34117", "20095"):  # Kassel has a day-old order; Hamburg has not
            if postcode == "20095" and age_h == 30:
                continue
            client.post(
                "/api/v1/orders",
                json={
                    "currency": "EUR",
                    "customer": {"email": f"d{i}{postcode}@x.de"},
                    "payment_status": "paid",
                    "delivery_option": "wait",
                    "placed_at": placed,
                    "shipping_address": {"city": "x", "postal_code": postcode, "country": "DE", **KASSEL},
                    "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
                },
            ).raise_for_status()
    released = service.release_due_wait_runs(engine)
    assert list(released) == ["34"] and len(released["34"]) == 2
    assert [a["area"] for a in client.get("/api/v1/carbon/runs").json()["areas"]] == ["20"]


def test_a_desnz_flat_file_loads_by_label_and_its_edition_wins_for_gb_routes(client):
    from tests.unit.test_carbon import DESNZ_2026

    text = DESNZ_2026.replace("2026", "2027").replace("0.07926", "0.07000")  # a later edition, other figures
    r = client.post(
        "/api/v1/carbon/factors", params={"format": "desnz"}, content=text, headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["loaded"] == 7 and got["edition"] == "2027" and "road.artic.avg.diesel" in got["keys"]
    assert "cargo ship | bulk carrier | average" in got["skipped"]
    leg = {"type": "leg", "distance_km": 100, "factor": "road.artic.avg.diesel"}
    gb = client.post("/api/v1/carbon/chains", json={"mass_kg": 1000, "country": "GB", "elements": [leg]}).json()
    assert gb["kg_co2e"] == pytest.approx(100 * (0.07000 + 0.01823))  # the 2027 rows now win
    named = {**leg, "edition": "2026"}
    old = client.post("/api/v1/carbon/chains", json={"mass_kg": 1000, "country": "GB", "elements": [named]}).json()
    assert old["kg_co2e"] == pytest.approx(100 * (0.07926 + 0.01823))  # an older edition, by name
    bad = client.post(
        "/api/v1/carbon/factors", params={"format": "desnz"}, content="a,b\n1,2\n", headers={"Content-Type": "text/csv"}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "factor_table_invalid"


def test_options_answer_in_the_baskets_currency(client, engine):
    greener_world(engine)
    body = {"lines": [{"sku": "A", "quantity": 1}], "destination": KASSEL}
    eur = client.post("/api/v1/carbon/options", json=body).json()["options"][0]
    assert (eur["currency"], eur["price"]) == ("EUR", "4.95")  # 15.00 < 50.00: the fee
    gbp = client.post("/api/v1/carbon/options", json={**body, "currency": "GBP", "subtotal": "15.00"}).json()
    first = gbp["options"][0]
    assert (first["currency"], first["price"]) == ("GBP", "3.95")  # GBP's own schedule: 3.95 below 40.00
    assert first["kg_co2e"] == eur["kg_co2e"]  # the footprint does not depend on the money
    usd = client.post("/api/v1/carbon/options", json={**body, "currency": "USD", "subtotal": "50.00"}).json()
    assert (usd["options"][0]["currency"], usd["options"][0]["price"]) == ("USD", "0.00")  # free from 50.00
    jpy = client.post("/api/v1/carbon/options", json={**body, "currency": "JPY", "subtotal": "8000"}).json()
    first = jpy["options"][0]
    assert first["price"] is None and "no delivery fee schedule in JPY" in first["note"]  # never a EUR price
    free = client.post("/api/v1/carbon/options", json={**body, "subtotal": "60.00"}).json()["options"][0]
    assert free["price"] == "0.00"


def test_a_configured_fee_table_prices_a_currency_the_shipped_one_lacks(client, engine):
    greener_world(engine)
    body = {"lines": [{"sku": "A", "quantity": 1}], "destination": KASSEL, "currency": "CHF", "subtotal": "20.00"}
    assert client.post("/api/v1/carbon/options", json=body).json()["options"][0]["price"] is None
    try:
        fees = carbon.set_delivery_fees("CHF:6.90/60.00, GBP:2.50/30.00")
        assert fees["EUR"] == (Decimal("4.95"), Decimal("50.00"))  # the rest of the shipped table stays
        first = client.post("/api/v1/carbon/options", json=body).json()["options"][0]
        assert (first["currency"], first["price"]) == ("CHF", "6.90")
        gbp = client.post("/api/v1/carbon/options", json={**body, "currency": "GBP"}).json()["options"][0]
        assert gbp["price"] == "2.50"
        with pytest.raises(ValueError, match="'CHF:free'"):
            carbon.set_delivery_fees("CHF:free")
        assert client.post("/api/v1/carbon/options", json=body).json()["options"][0]["price"] == "6.90"  # unchanged
    finally:
        carbon.set_delivery_fees("")


def test_one_model_everywhere_one_parcel_fewer_saves_its_round_share(client, engine):
    """Options, the sourcing planner and the order footprint price the same parcels the same way,
    with nothing loaded by hand: consolidating two parcels into one saves at least the delivery
    round's share (87 g, GLEC v3 E1) net of the longer linehaul, and earns points for it."""
    put_stock(engine, {("DC-1", "A"): 5, ("DC-2", "B"): 5, ("DC-2", "A"): 5})  # DC-1 Bad Hersfeld, DC-2 Hamburg
    inventory.save_items(
        engine,
        items=[
            inventory.Item("A", "Mug", "kitchen", 400, 1500, 600),
            inventory.Item("B", "Pan", "kitchen", 2500, 4500, 2000),
        ],
    )
    assert not [f for f in client.get("/api/v1/carbon/factors").json()["items"] if f["kind"] == "packaging"]
    basket = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]
    body = {"lines": basket, "destination": KASSEL}
    opts = {o["option"]: o for o in client.post("/api/v1/carbon/options", json=body).json()["options"]}
    standard, one = opts["standard"], opts["consolidated"]
    assert (standard["parcels"], one["parcels"]) == (2, 1)
    assert one["kg_saved"] == pytest.approx(standard["kg_co2e"] - one["kg_co2e"], abs=2e-3)
    assert 0.05 < one["kg_saved"] < 0.087 and one["points"] == round(one["kg_saved"] * 20) > 0
    # the planner's plans for the same baskets carry the same kg CO2e
    plan = client.post("/api/v1/sourcing/plan", json={**body, "strategy": "greenest"}).json()
    plans = {tuple(p["nodes"]): p["kg_co2e"] for p in [plan["chosen"], *plan["alternatives"]]}
    assert plans[("DC-2",)] == pytest.approx(one["kg_co2e"], abs=1e-3)
    assert plan["chosen"]["nodes"] == ["DC-2"]  # greenest: one parcel from farther beats two
    # and the order captured with the consolidated option has that footprint for its transport
    order = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "one@x.de"},
            "payment_status": "paid",
            "delivery_option": "consolidated",
            "shipping_address": {"city": "Kassel", "country": "DE", **KASSEL},
            "lines": [{**x, "unit_price": "30.00"} for x in basket],
        },
    ).json()
    footprint = client.get(f"/api/v1/orders/{order['id']}/footprint").json()
    assert footprint["transport_kg"] == pytest.approx(one["kg_co2e"], abs=1e-3)
