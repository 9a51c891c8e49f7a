"""Webhooks over HTTP: subscriptions, secrets shown once, roles, the delivery log, replay, and
the console pages (TestClient with a logged-in session)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from orderhub.core.events import DomainEvent
from orderhub.platform.auth import service as auth
from orderhub.platform.db import unit_of_work
from orderhub.webhooks import service as webhooks

HOOK = {"url": "https://example.com/hooks/orderhub", "event_types": ["order.captured"], "description": "ERP"}


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def queue(engine, n: int) -> list[str]:
    """n events through the bus handler; returns their ids."""
    ids = []
    for i in range(n):
        event = DomainEvent(type="order.captured", aggregate_type="order", aggregate_id=f"ord_{i}", data={"i": i})
        with unit_of_work(engine) as conn:
            webhooks.SUBSCRIBER.handle(conn, event)
        ids.append(event.id)
    return ids


def test_admin_creates_and_sees_the_secret_once_viewers_read_without_it(client, key_for, engine):
    r = client.post("/api/v1/webhooks", json=HOOK)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_")
    assert r.headers["location"] == f"/api/v1/webhooks/{created['id']}"
    assert (created["status"], created["consecutive_failures"], created["event_types"]) == (
        "active",
        0,
        ["order.captured"],
    )
    assert created["created_by"] == "user:bootstrap-admin@orderhub.local"

    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    listed = client.get("/api/v1/webhooks", headers=viewer)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["items"]] == [created["id"]]
    one = client.get(f"/api/v1/webhooks/{created['id']}", headers=viewer).json()
    assert "secret" not in one and "secret" not in listed.json()["items"][0]
    assert created["secret"] not in client.get(f"/api/v1/webhooks/{created['id']}").text  # not even for admins


def test_viewers_and_operators_cannot_manage_subscriptions(client, key_for, engine):
    for role in ("viewer", "operator"):
        headers = {"Authorization": f"Bearer {key_for(role)}"}
        r = client.post("/api/v1/webhooks", json=HOOK, headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "role_required"
    assert count(engine, "webhook_subscriptions") == 0
    sub = client.post("/api/v1/webhooks", json=HOOK).json()
    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    assert client.patch(f"/api/v1/webhooks/{sub['id']}", json={"status": "disabled"}, headers=viewer).status_code == 403
    assert client.post(f"/api/v1/webhooks/{sub['id']}/rotate-secret", headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/webhooks/{sub['id']}", headers=viewer).status_code == 403
    assert client.get(f"/api/v1/webhooks/{sub['id']}").json()["status"] == "active"


def test_bad_input_is_a_problem_naming_each_field(client, engine):
    r = client.post("/api/v1/webhooks", json={"url": "mailto:x@y.z", "event_types": ["order.captured", "nope"]})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "invalid_input"
    assert [e["pointer"] for e in body["errors"]] == ["/url", "/event_types/1"]
    r = client.post("/api/v1/webhooks", json={"event_types": []})
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/url"
    assert count(engine, "webhook_subscriptions") == 0
    missing = client.get("/api/v1/webhooks/whs_nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_patch_rotate_and_delete(client, engine):
    sub = client.post("/api/v1/webhooks", json=HOOK).json()
    r = client.patch(
        f"/api/v1/webhooks/{sub['id']}", json={"status": "disabled", "event_types": ["*"], "description": "all"}
    )
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["event_types"], r.json()["description"]) == ("disabled", ["*"], "all")
    assert r.json()["disabled_reason"].startswith("disabled by user:")
    r = client.patch(f"/api/v1/webhooks/{sub['id']}", json={"status": "active"})
    assert (r.json()["status"], r.json()["disabled_reason"], r.json()["url"]) == ("active", None, HOOK["url"])
    assert (
        client.patch(f"/api/v1/webhooks/{sub['id']}", json={"url": "ftp://x"}).json()["errors"][0]["pointer"] == "/url"
    )

    rotated = client.post(f"/api/v1/webhooks/{sub['id']}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != sub["secret"]

    queue(engine, 1)
    r = client.delete(f"/api/v1/webhooks/{sub['id']}")
    assert r.status_code == 204
    assert client.get(f"/api/v1/webhooks/{sub['id']}").status_code == 404
    assert count(engine, "webhook_deliveries") == 0
    assert client.delete(f"/api/v1/webhooks/{sub['id']}").status_code == 404


def test_the_delivery_log_pages_newest_first_filters_and_replays(client, key_for, engine):
    sub = client.post("/api/v1/webhooks", json=HOOK).json()
    ids = queue(engine, 3)
    url = f"/api/v1/webhooks/{sub['id']}/deliveries"
    first = client.get(url, params={"limit": 2}).json()
    assert [d["event_id"] for d in first["items"]] == [ids[2], ids[1]]
    assert first["counts"] == {"pending": 3}
    second = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [d["event_id"] for d in second["items"]] == [ids[0]] and second["next_cursor"] is None
    assert client.get(url, params={"status": "dead"}).json()["items"] == []
    assert client.get(url, params={"status": "bogus"}).status_code == 422

    delivery = first["items"][0]
    # the app's own sender may already have tried it once (the machine has no route to the URL)
    assert delivery["status"] == "pending" and delivery["attempts"] in (0, 1) and "payload" not in delivery
    one = client.get(f"/api/v1/webhooks/deliveries/{delivery['id']}").json()
    assert one["payload"]["id"] == ids[2] and one["payload"]["specversion"] == "1.0"

    viewer = {"Authorization": f"Bearer {key_for('viewer')}"}
    assert client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/replay", headers=viewer).status_code == 403
    operator = {"Authorization": f"Bearer {key_for('operator')}"}
    r = client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/replay", headers=operator)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert client.post("/api/v1/webhooks/deliveries/whd_nope/replay").status_code == 404
    client.patch(f"/api/v1/webhooks/{sub['id']}", json={"status": "disabled"})
    r = client.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/replay")
    assert r.status_code == 409 and r.json()["code"] == "subscription_disabled"


def test_event_types_catalogue(client):
    types = client.get("/api/v1/webhooks/event-types").json()["items"]
    assert "order.captured" in types and types == sorted(types)


def login(client, engine, role: str) -> str:
    """Log a console user in (session cookie); returns the page's CSRF token."""
    email = f"{role}-console@test.example"
    auth.create_user(engine, email=email, name=role, role=role, password="secret-pw")
    del client.headers["Authorization"]
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/login", data={"email": email, "password": "secret-pw", "next": "/console/webhooks", "csrf_token": token}
    )
    assert r.status_code == 200 and "<h1>Webhooks</h1>" in r.text
    return re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]


def test_console_admin_creates_a_subscription_sees_its_log_and_replays(client, engine):
    csrf = login(client, engine, "admin")
    page = client.get("/console/webhooks")
    assert page.status_code == 200 and 'href="/console/webhooks" class="active"' in page.text
    assert 'data-testid="webhook-create"' in page.text and "No subscriptions yet." in page.text

    r = client.post(
        "/console/webhooks",
        data={
            "csrf_token": csrf,
            "url": "https://example.com/h",
            "description": "ERP",
            "event_types": ["order.captured"],
        },
    )
    assert r.status_code == 200  # followed the redirect to the subscription's page
    [sub] = webhooks.get_all(engine)
    assert str(r.url).endswith(f"/console/webhooks/{sub.id}")
    assert f"shown only now: {sub.secret}" in r.text
    assert sub.secret not in client.get(f"/console/webhooks/{sub.id}").text  # once

    queue(engine, 1)
    detail = client.get(f"/console/webhooks/{sub.id}")
    assert 'data-testid="webhook-deliveries"' in detail.text and "order.captured" in detail.text
    [d] = webhooks.get_deliveries(engine, subscription_id=sub.id).items
    assert f"/console/webhooks/deliveries/{d.id}/replay" in detail.text
    r = client.post(f"/console/webhooks/deliveries/{d.id}/replay", data={"csrf_token": csrf, "subscription_id": sub.id})
    assert r.status_code == 200 and f"Delivery {d.id} queued again" in r.text

    r = client.post(f"/console/webhooks/{sub.id}/status", data={"csrf_token": csrf, "status": "disabled"})
    assert "Subscription disabled" in r.text and webhooks.get(engine, subscription_id=sub.id).status == "disabled"
    r = client.post(f"/console/webhooks/{sub.id}/status", data={"status": "active"})  # no CSRF token
    assert r.status_code == 403
    assert webhooks.get(engine, subscription_id=sub.id).status == "disabled"


def test_console_viewer_sees_the_list_but_cannot_create(client, engine):
    csrf = login(client, engine, "viewer")
    page = client.get("/console/webhooks")
    assert page.status_code == 200 and 'data-testid="webhook-create"' not in page.text
    r = client.post("/console/webhooks", data={"csrf_token": csrf, "url": "https://example.com/h"})
    assert r.status_code == 200 and "this needs the admin role" in r.text
    assert webhooks.get_all(engine) == []
