"""Sourcing over HTTP: the decision kept with the order, what-if plans, the console table."""

from __future__ import annotations

from orderhub.inventory import service as inventory
from tests.conftest import finished_job, put_stock

BERLIN = {"lat": 52.52, "lon": 13.40}


def world(engine):
    put_stock(engine, {("DC-1", "A"): 10, ("DC-1", "B"): 10, ("ST-9", "A"): 2})  # ST-9 is in Berlin
    inventory.save_items(
        engine,
        items=[
            inventory.Item("A", "Mug", "kitchen", 400, 1500, 600),
            inventory.Item("B", "Pan", "kitchen", 2500, 4500, 2000),
        ],
    )


def test_capture_keeps_the_decision_and_explains_it(client, engine):
    world(engine)
    order = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "s@x.de"},
            "payment_status": "paid",
            "shipping_address": {"city": "Berlin", "country": "DE", **BERLIN},
            "lines": [
                {"sku": "A", "quantity": 1, "unit_price": "15.00"},
                {"sku": "B", "quantity": 1, "unit_price": "45.00"},
            ],
        },
    ).json()
    d = client.get(f"/api/v1/orders/{order['id']}/sourcing").json()
    assert d["method"] == "enumeration" and d["strategy"] == "balanced"
    chosen = d["chosen"]
    holds = client.get(f"/api/v1/orders/{order['id']}/stock").json()["holds"]
    assert sorted({h["node_id"] for h in holds}) == sorted(chosen["nodes"])  # stock is where the plan says
    assert {c["node_id"] for c in d["candidates"]} == {"DC-1", "ST-9"}
    assert all(alt["objective"] >= chosen["objective"] for alt in d["alternatives"])
    assert set(chosen) >= {"cost_eur", "days", "kg_co2e", "objective", "shipments"}


def test_vip_orders_use_the_fastest_strategy_and_pickup_has_no_decision(client, engine):
    world(engine)
    vip = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "v@x.de", "tier": "vip"},
            "payment_status": "paid",
            "shipping_address": {"city": "Berlin", "country": "DE", **BERLIN},
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
        },
    ).json()
    assert client.get(f"/api/v1/orders/{vip['id']}/sourcing").json()["strategy"] == "fastest"
    pickup = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "p@x.de"},
            "payment_status": "paid",
            "delivery_method": "pickup",
            "pickup_node_id": "ST-9",
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
        },
    ).json()
    r = client.get(f"/api/v1/orders/{pickup['id']}/sourcing")
    assert r.status_code == 404 and r.json()["code"] == "no_sourcing_decision"


def test_what_if_plan_reserves_nothing(client, engine):
    world(engine)
    body = {
        "lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}],
        "destination": BERLIN,
        "strategy": "greenest",
    }
    plan = client.post("/api/v1/sourcing/plan", json=body).json()
    assert plan["strategy"] == "greenest" and plan["chosen"]["nodes"]
    assert client.get("/api/v1/atp", params={"sku": "B"}).json()["total"] == 10


def test_pickup_points_rank_stores_that_have_the_whole_basket(client, engine):
    put_stock(engine, {("ST-9", "A"): 3, ("ST-MUC", "A"): 5, ("ST-MUC", "B"): 1, ("DC-1", "A"): 50, ("DC-1", "B"): 50})
    r = client.get("/api/v1/pickup-points", params={"lat": 52.5, "lon": 13.4, "sku": ["A"], "qty": [2]}).json()["items"]
    assert [p["node_id"] for p in r] == ["ST-9", "ST-MUC"]  # nearest first; the DC is no pickup point
    both = client.get("/api/v1/pickup-points", params={"lat": 52.5, "lon": 13.4, "sku": ["A", "B"]}).json()["items"]
    assert [p["node_id"] for p in both] == ["ST-MUC"] and both[0]["distance_km"] > 400
    bad = client.get("/api/v1/pickup-points", params={"lat": 52.5, "lon": 13.4, "sku": ["A"], "qty": [1, 2]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["parameter"] == "qty"


def test_return_anywhere_puts_the_stock_back_where_it_arrived(client, engine):
    world(engine)
    oid = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "r@x.de"},
            "payment_status": "paid",
            "shipping_address": {"city": "Berlin", "country": "DE", **BERLIN},
            "lines": [{"sku": "B", "quantity": 2, "unit_price": "45.00"}],
        },
    ).json()["id"]
    line = client.get(f"/api/v1/orders/{oid}").json()["lines"][0]["id"]
    for to in ("released", "shipped", "delivered"):
        if to == "released":
            client.post(
                f"/api/v1/orders/{oid}/allocation",
                json={"fulfilment_orders": [{"node_id": "DC-1", "lines": [{"line_id": line, "quantity": 2}]}]},
            )
        client.post(f"/api/v1/orders/{oid}/transitions", json={"to": to}).raise_for_status()
    assert client.get("/api/v1/atp", params={"sku": "B"}).json()["total"] == 8
    r = client.post(
        f"/api/v1/orders/{oid}/returns", json={"node_id": "DC-1", "lines": [{"line_id": line, "quantity": 1}]}
    )
    # a walk-in return: authorised and received at once; one unit is still with the customer
    assert r.status_code == 201 and (r.json()["status"], r.json()["order_status"]) == ("received", "delivered")
    no = client.post(
        f"/api/v1/orders/{oid}/returns", json={"node_id": "NOPE", "lines": [{"line_id": line, "quantity": 1}]}
    )
    assert no.status_code == 422 and no.json()["code"] == "node_takes_no_returns"
    r = client.post(
        f"/api/v1/orders/{oid}/returns", json={"node_id": "ST-9", "lines": [{"line_id": line, "quantity": 1}]}
    )
    assert r.json()["order_status"] == "returned"
    nodes = {n["node_id"]: n["on_hand"] for n in client.get("/api/v1/atp", params={"sku": "B"}).json()["nodes"]}
    assert nodes == {"DC-1": 9, "ST-9": 1}  # each unit back where it arrived
    assert client.get("/api/v1/inventory-ledger-check").json() == {"differences": []}


def test_shadow_mode_applies_the_rule_and_reports_both_policies(client, engine):
    put_stock(engine, {("DC-1", "A"): 10, ("DC-1", "B"): 10, ("ST-9", "A"): 5})  # Berlin store has A only
    inventory.save_items(
        engine,
        items=[
            inventory.Item("A", "Mug", "kitchen", 400, 1500, 600),
            inventory.Item("B", "Pan", "kitchen", 2500, 4500, 2000),
        ],
    )
    assert client.put("/api/v1/sourcing/pilot", json={"mode": "pilot", "channels": ["shopify"]}).status_code == 200

    def place(channel):
        return client.post(
            "/api/v1/orders",
            json={
                "channel": channel,
                "currency": "EUR",
                "customer": {"email": f"{channel}@x.de"},
                "payment_status": "paid",
                "shipping_address": {"city": "Berlin", "country": "DE", **BERLIN},
                "lines": [
                    {"sku": "A", "quantity": 1, "unit_price": "15.00"},
                    {"sku": "B", "quantity": 1, "unit_price": "45.00"},
                ],
            },
        ).json()["id"]

    web, shop = place("web"), place("shopify")
    web_d, shop_d = (client.get(f"/api/v1/orders/{i}/sourcing").json() for i in (web, shop))
    assert (web_d["mode"], web_d["applied"]) == ("shadow", "rule") and (shop_d["mode"], shop_d["applied"]) == (
        "live",
        "optimiser",
    )
    web_nodes = {h["node_id"] for h in client.get(f"/api/v1/orders/{web}/stock").json()["holds"]}
    assert web_nodes == {"ST-9", "DC-1"}  # the rule: each line from the nearest node with stock
    assert web_d["compare"]["rule"]["shipments"] == 2 and web_d["compare"]["optimiser"]["shipments"] == 1
    report = client.get(
        "/api/v1/sourcing/shadow-report", params={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    ).json()
    assert report["orders"] == 2 and report["by_mode"] == {"shadow": 1, "live": 1}
    assert report["rule"]["shipments"] == 4 and report["optimiser"]["shipments"] == 2
    assert report["saving_pct"]["shipments"] == 50.0
    bad = client.put("/api/v1/sourcing/pilot", json={"mode": "sometimes"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/mode"


def test_batch_reoptimisation_consolidates_split_orders_when_stock_arrives(client, engine):
    put_stock(engine, {("ST-9", "A"): 5, ("DC-1", "B"): 5})  # A only in the Berlin store, B only at DC-1
    inventory.save_items(
        engine,
        items=[
            inventory.Item("A", "Mug", "kitchen", 400, 1500, 600),
            inventory.Item("B", "Pan", "kitchen", 2500, 4500, 2000),
        ],
    )
    ids = [
        client.post(
            "/api/v1/orders",
            json={
                "currency": "EUR",
                "customer": {"email": f"b{i}@x.de"},
                "payment_status": "paid",
                "shipping_address": {"city": "Kassel", "country": "DE", "lat": 51.31, "lon": 9.49},
                "lines": [
                    {"sku": "A", "quantity": 1, "unit_price": "15.00"},
                    {"sku": "B", "quantity": 1, "unit_price": "45.00"},
                ],
            },
        ).json()["id"]
        for i in range(2)
    ]
    assert all(len({h["node_id"] for h in client.get(f"/api/v1/orders/{i}/stock").json()["holds"]}) == 2 for i in ids)
    put_stock(engine, {("DC-1", "A"): 10})  # DC-1 now has both
    job = finished_job(client, client.post("/api/v1/sourcing/reoptimise"))
    assert job["status"] == "succeeded" and job["kind"] == "sourcing.reoptimise"
    report = job["report"]
    assert report["examined"] == 2 and report["replanned"] == 2
    assert (report["shipments_before"], report["shipments_after"]) == (4, 2) and report["cost_after_eur"] < report[
        "cost_before_eur"
    ]
    for i in ids:
        holds = [h for h in client.get(f"/api/v1/orders/{i}/stock").json()["holds"] if h["status"] == "active"]
        assert {h["node_id"] for h in holds} == {"DC-1"}
        assert any(e["type"] == "order.rerouted" for e in client.get(f"/api/v1/orders/{i}").json()["events"])
    again = finished_job(client, client.post("/api/v1/sourcing/reoptimise"))["report"]
    assert again["replanned"] == 0  # nothing better left: nothing moved
    assert client.get("/api/v1/inventory-ledger-check").json() == {"differences": []}


def test_conditions_steer_the_planner_until_they_expire(client, engine):
    import time
    from datetime import UTC, datetime, timedelta

    world(engine)  # DC-1 has A and B; ST-9 (Berlin) has 2 × A

    def place(i):
        oid = client.post(
            "/api/v1/orders",
            json={
                "currency": "EUR",
                "customer": {"email": f"c{i}@x.de"},
                "payment_status": "paid",
                "shipping_address": {"city": "Kassel", "country": "DE", "lat": 51.31, "lon": 9.49},
                "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
            },
        ).json()["id"]
        return client.get(f"/api/v1/orders/{oid}/sourcing").json()

    assert place(0)["chosen"]["nodes"] == ["DC-1"]  # next door
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    r = client.post(
        "/api/v1/sourcing/conditions",
        json={"kind": "outage", "scope": "node", "target": "DC-1", "reason": "flood", "expires_at": soon},
    )
    assert r.status_code == 201
    during = place(1)
    assert during["chosen"]["nodes"] == ["ST-9"] and during["excluded"]["DC-1"] == "not eligible for this order"
    assert during["conditions"]["DC-1"] == "outage: flood"
    assert [c["target"] for c in client.get("/api/v1/sourcing/conditions").json()["items"]] == ["DC-1"]
    time.sleep(2.2)
    assert place(2)["chosen"]["nodes"] == ["DC-1"]  # the outage expired on its own
    bad = client.post(
        "/api/v1/sourcing/conditions",
        json={"kind": "delay", "scope": "region", "target": "HE", "value": 0, "expires_at": soon},
    )
    assert bad.status_code == 422 and {e["pointer"] for e in bad.json()["errors"]} == {"/value", "/expires_at"}


def test_business_users_choose_strategies_per_channel_and_tier(client, engine):
    world(engine)
    assert (
        client.put(
            "/api/v1/sourcing/strategies", json={"scope": "channel", "name": "shopify", "strategy": "greenest"}
        ).status_code
        == 200
    )
    client.put("/api/v1/sourcing/strategies", json={"scope": "tier", "name": "vip", "strategy": "cheapest"})
    assert client.get("/api/v1/sourcing/strategies").json()["chosen"] == {
        "channel:shopify": "greenest",
        "tier:vip": "cheapest",
    }

    def strategy(channel, tier="standard"):
        oid = client.post(
            "/api/v1/orders",
            json={
                "channel": channel,
                "currency": "EUR",
                "customer": {"email": f"{channel}{tier}@x.de", "tier": tier},
                "payment_status": "paid",
                "shipping_address": {"city": "Berlin", "country": "DE", **BERLIN},
                "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
            },
        ).json()["id"]
        return client.get(f"/api/v1/orders/{oid}/sourcing").json()["strategy"]

    assert (strategy("shopify"), strategy("web"), strategy("shopify", "vip")) == ("greenest", "balanced", "cheapest")
    bad = client.put("/api/v1/sourcing/strategies", json={"scope": "region", "name": "x", "strategy": "fastest"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/scope"


def test_channel_eligibility_promise_dates_and_unreliable_inputs(client, engine):
    from datetime import UTC, datetime, timedelta

    world(engine)  # DC-1 (near Kassel) has A and B; ST-9 (Berlin) has A
    client.post(
        "/api/v1/nodes",
        json={
            "id": "DC-1",
            "name": "DC-1",
            "type": "distribution_centre",
            "lat": 50.87,
            "lon": 9.71,
            "region": "HE",
            "capabilities": ["ships", "returns"],
            "channels": ["web"],
        },
    )

    def place(channel, **extra):
        oid = client.post(
            "/api/v1/orders",
            json={
                "channel": channel,
                "currency": "EUR",
                "customer": {"email": f"{channel}{len(extra)}@x.de"},
                "payment_status": "paid",
                "shipping_address": {"city": "Kassel", "country": "DE", "region": "HE", "lat": 51.31, "lon": 9.49},
                "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
                **extra,
            },
        ).json()["id"]
        return client.get(f"/api/v1/orders/{oid}/sourcing").json()

    assert place("web")["chosen"]["nodes"] == ["DC-1"]
    social = place("social")  # DC-1 serves the web shop only
    assert social["chosen"]["nodes"] == ["ST-9"] and social["excluded"]["DC-1"] == "not eligible for this order"
    client.post(
        "/api/v1/sourcing/conditions",
        json={
            "kind": "delay",
            "scope": "node",
            "target": "ST-9",
            "value": 5,
            "reason": "strike",
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    promised = place("web", promise_days=2)
    assert promised["chosen"]["nodes"] == ["DC-1"] and promised["excluded"]["ST-9"].startswith("cannot deliver")
    client.post(
        "/api/v1/sourcing/conditions",
        json={
            "kind": "unreliable",
            "scope": "all",
            "target": "*",
            "reason": "demand shock",
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    off = place("web", tags=["x"])
    assert off["method"] == "fallback" and off["excluded"]["*"] == "optimiser off: demand shock"


def test_custom_weights_become_a_strategy_to_choose(client, engine):
    world(engine)
    r = client.put(
        "/api/v1/sourcing/strategies/custom",
        json={"name": "eco-fast", "cost": 0.5, "late": 20, "carbon": 10, "split": 3},
    )
    assert r.status_code == 200
    assert (
        client.put(
            "/api/v1/sourcing/strategies", json={"scope": "channel", "name": "web", "strategy": "eco-fast"}
        ).status_code
        == 200
    )
    oid = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "e@x.de"},
            "payment_status": "paid",
            "shipping_address": {"city": "Berlin", "country": "DE", **BERLIN},
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
        },
    ).json()["id"]
    d = client.get(f"/api/v1/orders/{oid}/sourcing").json()
    assert d["strategy"] == "eco-fast" and d["weights"] == {"cost": 0.5, "late": 20.0, "carbon": 10.0, "split": 3.0}
    bad = client.put("/api/v1/sourcing/strategies/custom", json={"name": "fastest"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/name"


def test_what_if_applies_conditions_capacity_calendars_and_eligibility_as_capture_does(client, engine):
    """Same inputs, same decision: the what-if plan and the captured order's plan agree, and
    neither proposes a node under an outage, out of capacity, or not serving the channel."""
    from datetime import UTC, datetime, timedelta

    put_stock(engine, {("ST-9", "A"): 5, ("DC-1", "A"): 5, ("DC-2", "A"): 5, ("ST-MUC", "A"): 5})
    inventory.save_items(engine, items=[inventory.Item("A", "Mug", "kitchen", 400, 1500, 600)])
    today = datetime.now(UTC).date().isoformat()
    nodes = {n["id"]: n for n in client.get("/api/v1/nodes").json()["items"]}
    changes = {"DC-1": {"daily_capacity": 50}, "DC-2": {"closed_dates": [today]}, "ST-MUC": {"channels": ["pos"]}}
    for node_id, change in changes.items():
        keep = {k: nodes[node_id][k] for k in ("id", "name", "type", "lat", "lon", "region", "capabilities")}
        assert client.post("/api/v1/nodes", json={**keep, **change}).status_code in (200, 201)
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for cond in (
        {"kind": "outage", "scope": "node", "target": "ST-9", "reason": "burst pipe", "expires_at": soon},
        {"kind": "capacity", "scope": "node", "target": "DC-1", "value": 100, "reason": "strike", "expires_at": soon},
    ):
        assert client.post("/api/v1/sourcing/conditions", json=cond).status_code == 201
    basket = [{"sku": "A", "quantity": 1}]
    plan = client.post("/api/v1/sourcing/plan", json={"lines": basket, "destination": BERLIN, "country": "DE"}).json()
    assert plan["chosen"]["nodes"] == ["DC-2"]  # the only node left, a day late (closed today)
    assert plan["excluded"] == {
        "ST-9": "not eligible for this order",
        "DC-1": "no capacity left today",
        "ST-MUC": "not eligible for this order",
    }
    assert plan["conditions"]["ST-9"] == "outage: burst pipe" and "closed" in plan["conditions"]["DC-2"]
    order = client.post(
        "/api/v1/orders",
        json={
            "currency": "EUR",
            "customer": {"email": "w@x.de"},
            "payment_status": "paid",
            "shipping_address": {"city": "Berlin", "country": "DE", **BERLIN},
            "lines": [{**basket[0], "unit_price": "15.00"}],
        },
    ).json()
    captured = client.get(f"/api/v1/orders/{order['id']}/sourcing").json()

    def without_line_ids(chosen):  # the order's line ids are its own; the what-if numbers its lines
        return {**chosen, "shipments": [{k: v for k, v in s.items() if k != "lines"} for s in chosen["shipments"]]}

    assert without_line_ids(captured["chosen"]) == without_line_ids(plan["chosen"])
    for key in ("excluded", "conditions", "strategy", "weights", "method", "applied", "compare"):
        assert captured[key] == plan[key], key
