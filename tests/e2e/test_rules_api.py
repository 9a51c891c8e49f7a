"""Rules over HTTP: a business user's table changes routing, priority and tags of real orders;
governance answers with problem+json naming the field; the template library validates."""

from __future__ import annotations

from typing import Any

from orderhub.rules import templates
from orderhub.rules.engine import expression_problem
from orderhub.rules.model import validate
from tests.e2e.test_sourcing_api import BERLIN, world


def as_user(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def publish(client: Any, key_for: Any, hook: str, content: dict[str, Any], name: str = "t") -> dict[str, Any]:
    """Written by an editor, published by a publisher: in force now."""
    editor, publisher = as_user(key_for("editor")), as_user(key_for("publisher"))
    r = client.post("/api/v1/rules/sets", json={"name": name, "hook": hook, "content": content}, headers=editor)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert client.post(f"/api/v1/rules/sets/{sid}/versions/1/submit", json={}, headers=editor).status_code == 200
    r = client.post(f"/api/v1/rules/sets/{sid}/versions/1/publish", json={"why": "ok"}, headers=publisher)
    assert r.status_code == 200, r.text
    return dict(r.json())


def order(client: Any, **extra: Any) -> str:
    doc = {
        "currency": "EUR",
        "customer": {"email": "s@x.de"},
        "payment_status": "paid",
        "shipping_address": {
            "city": "Berlin",
            "country": "DE",
            "line1": "Unter den Linden 1",
            "postal_code": "10117",
            **BERLIN,
        },
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "15.00"}],
        **extra,
    }
    r = client.post("/api/v1/orders", json=doc)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_every_template_is_a_valid_rule_set() -> None:
    keys = [t["key"] for t in templates.get_all()]
    assert {"regional-approval", "exception-tags", "picking-priority", "presale-lock", "sourcing-policy"} <= set(keys)
    for t in templates.get_all():
        validate(t["hook"], t["content"], check_expression=expression_problem)


def test_a_channel_strategy_table_changes_routing_and_says_so(client: Any, key_for: Any, engine: Any) -> None:
    world(engine)
    assert client.get(f"/api/v1/orders/{order(client)}/sourcing").json()["strategy"] == "balanced"
    table = {"inputs": ["channel"], "outputs": ["strategy"], "rows": [{"when": ["api, web"], "then": ["greenest"]}]}
    published = publish(client, key_for, "order.before_sourcing", table, name="green web")
    d = client.get(f"/api/v1/orders/{order(client)}/sourcing").json()
    assert d["strategy"] == "greenest"
    assert d["strategy_by"] == "rules:green web@v1"
    assert published["in_force"] is True


def test_a_priority_table_scores_the_order_when_it_is_released(client: Any, key_for: Any, engine: Any) -> None:
    world(engine)
    table = {
        "hit_policy": "collect",
        "inputs": ["tier", "total"],
        "outputs": ["priority"],
        "rows": [{"when": ["vip", ""], "then": ["50"]}, {"when": ["", "> 10"], "then": ["= round(total)"]}],
    }
    publish(client, key_for, "order.before_release", table)
    oid = order(client, customer={"email": "v@x.de", "tier": "vip"})
    assert client.get(f"/api/v1/orders/{oid}").json()["priority"] == 0  # not released yet
    line = client.get(f"/api/v1/orders/{oid}").json()["lines"][0]["id"]
    client.post(
        f"/api/v1/orders/{oid}/allocation",
        json={"fulfilment_orders": [{"node_id": "DC-1", "lines": [{"line_id": line, "quantity": 1}]}]},
    ).raise_for_status()
    client.post(f"/api/v1/orders/{oid}/transitions", json={"to": "released"}).raise_for_status()
    assert client.get(f"/api/v1/orders/{oid}").json()["priority"] == 65  # 50 + round(15.00)
    decisions = client.get("/api/v1/rules/decisions", params={"order_id": oid}).json()
    assert [(d["hook"], d["outcome"]) for d in decisions] == [("order.before_release", {"priority": 65})]


def test_exception_tags_follow_a_backorder(client: Any, key_for: Any, engine: Any) -> None:
    world(engine)
    table = {
        "hit_policy": "collect",
        "inputs": ["exception"],
        "outputs": ["tag"],
        "rows": [{"when": ["backordered"], "then": ["backordered"]}],
    }
    publish(client, key_for, "order.exception", table)
    short = order(client, lines=[{"sku": "B", "quantity": 50, "unit_price": "45.00"}], backorder="allow")
    assert "backordered" in client.get(f"/api/v1/orders/{short}").json()["tags"]
    fine = order(client)
    assert client.get(f"/api/v1/orders/{fine}").json()["tags"] == []
    listed = client.get("/api/v1/orders", params={"tag": "backordered"}).json()["items"]
    assert [o["id"] for o in listed] == [short]


def test_governance_answers_name_the_field_and_the_rule(client: Any, key_for: Any) -> None:
    editor, viewer = as_user(key_for("editor")), as_user(key_for("viewer"))
    r = client.post("/api/v1/rules/sets", json={"name": "x", "hook": "order.captured"}, headers=viewer)
    assert r.status_code == 403 and r.json()["code"] == "role_required"
    bad = {"inputs": ["total"], "outputs": ["tag"], "rows": [{"when": ["lots"], "then": ["Big Tag!"]}]}
    r = client.post("/api/v1/rules/sets", json={"name": "x", "hook": "order.captured", "content": bad}, headers=editor)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in r.json()["errors"]] == ["/content/rows/0/when/0", "/content/rows/0/then/0"]
    assert client.get("/api/v1/rules/sets", headers=viewer).json() == []  # nothing half written
    sid = client.post("/api/v1/rules/sets", json={"name": "x", "template": "picking-priority"}, headers=editor).json()[
        "id"
    ]
    client.post(f"/api/v1/rules/sets/{sid}/versions/1/submit", json={}, headers=editor).raise_for_status()
    r = client.post(f"/api/v1/rules/sets/{sid}/versions/1/publish", json={}, headers=as_user(key_for("publisher")))
    assert r.status_code == 200
    r = client.post(f"/api/v1/rules/sets/{sid}/versions/1/publish", json={}, headers=as_user(key_for("publisher")))
    assert r.status_code == 409 and r.json()["code"] == "rule_version_state"
    assert client.get(f"/api/v1/rules/sets/{sid}/diff", params={"from": 1, "to": 1}).json()["same"] is True
    assert client.get("/api/v1/rules/sets/rs_nope").status_code == 404
    catalogue = client.get("/api/v1/rules/catalogue", headers=viewer).json()
    assert {
        "order.captured",
        "order.before_sourcing",
        "order.exception",
        "order.before_release",
        "reservation.created",
    } <= {h["name"] for h in catalogue["hooks"]}
