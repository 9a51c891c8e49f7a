"""Customer notifications through the API and the bus, on SQLite and PostgreSQL: once per
milestone, in the order's language, only for chosen and recent milestones; SMTP against a
real local server; SMS and channel callbacks against a real local endpoint, retried and failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from orderhub.app import create_app
from orderhub.platform.settings import Settings
from orderhub.webhooks import service as webhooks
from tests.conftest import ADMIN_KEY, put_stock
from tests.e2e.test_tracking_api import at, order_payload, wait_for
from tests.notify_receivers import http_endpoint, smtp_server


@contextmanager
def hub(engine: Engine, **notify: Any) -> Iterator[TestClient]:
    """The app (bus worker and pollers running) with these notification settings."""
    settings = Settings(env="test", bootstrap_admin_key=ADMIN_KEY, **notify)
    with TestClient(create_app(settings, engine=engine)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield client
    from orderhub.wiring import wire

    wire(Settings(env="test"))  # the defaults again for the tests that follow in this process


def released(client: TestClient, engine: Engine, ref: str, *, country: str = "DE", phone: str = "") -> dict[str, Any]:
    put_stock(engine, {("DC-1", "MUG-1"): 50})
    body = order_payload(ref, country=country)
    body["shipping_address"]["phone"] = phone
    order = client.post("/api/v1/orders", json=body).json()
    lines = [{"line_id": x["id"], "quantity": x["quantity"]} for x in order["lines"]]
    client.post(
        f"/api/v1/orders/{order['id']}/allocation", json={"fulfilment_orders": [{"node_id": "DC-1", "lines": lines}]}
    ).raise_for_status()
    client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": "released"}).raise_for_status()
    wait_for(lambda: client.get(f"/api/v1/orders/{order['id']}/tracking").status_code == 200)
    return dict(order)


def ship(client: TestClient, order: dict[str, Any], number: str) -> None:
    line = order["lines"][0]["id"]
    shipped = client.post(
        f"/api/v1/orders/{order['id']}/parcels",
        json={"parcels": [{"carrier": "dhl", "tracking_number": number, "lines": {line: 2}}]},
    )
    assert shipped.status_code == 201, shipped.text


def post(client: TestClient, number: str, milestone: str, when: str, key: str) -> dict[str, Any]:
    event = {"id": key, "tracking_number": number, "milestone": milestone, "occurred_at": when}
    answer = client.post("/api/v1/tracking/events", json={"events": [event]})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def settled(client: TestClient) -> None:
    """Wait until everything committed was relayed and every subscriber applied it (twice in a
    row: a subscriber that publishes, such as the order following its parcels, starts more)."""

    def quiet() -> bool:
        status = client.get("/api/v1/bus").json()
        lags = {s["name"]: s["lag"] for s in status["subscribers"]}
        return status["unpublished"] == 0 and lags.get("tracking.notify") == 0 and all(not x for x in lags.values())

    for _ in range(2):
        wait_for(quiet)
        time.sleep(0.3)


def told(client: TestClient, order_id: str) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/tracking/notifications", params={"order_id": order_id}).json()["items"])


def mails(client: TestClient, order_id: str) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/mail-outbox", params={"order_id": order_id}).json()["items"])


def test_a_milestone_reported_twice_is_mailed_once(engine: Engine) -> None:
    with hub(engine) as client:
        order = released(client, engine, "NTF-1")
        ship(client, order, "JJD-N1")
        post(client, "JJD-N1", "delivered", at(30), "d1")
        again = post(client, "JJD-N1", "delivered", at(30), "d1")
        assert again["duplicates"] == 1
        post(client, "JJD-N1", "delivered", at(31), "another-source-d1")  # a second report of it
        settled(client)

        sent = mails(client, order["id"])
        assert [m["subject"] for m in sent] == [
            "Zugestellt – Ihre Bestellung NTF-1",
            "An den Paketdienst übergeben – Ihre Bestellung NTF-1",
        ]
        assert {m["to"] for m in sent} == {"ann@example.com"}
        notes = told(client, order["id"])
        assert sorted((n["milestone"], n["channel"], n["status"]) for n in notes) == [
            ("delivered", "outbox", "sent"),
            ("handed_to_carrier", "outbox", "sent"),
        ]
        # the outbox pages newest first
        first = client.get("/api/v1/mail-outbox", params={"limit": 1}).json()
        assert [m["subject"] for m in first["items"]] == ["Zugestellt – Ihre Bestellung NTF-1"]
        older = client.get("/api/v1/mail-outbox", params={"limit": 1, "before": first["next_before"]}).json()
        assert older["items"][0]["subject"].startswith("An den Paketdienst") and older["next_before"] is None


def test_the_order_language_picks_the_template(engine: Engine) -> None:
    with hub(engine, public_url="https://shop.example/") as client:
        german, british = released(client, engine, "NTF-DE"), released(client, engine, "NTF-GB", country="GB")
        ship(client, german, "JJD-DE")
        ship(client, british, "JJD-GB")
        settled(client)
        token = client.get(f"/api/v1/orders/{german['id']}/tracking", params={"view": "internal"}).json()["token"]
        view = client.get(f"/api/v1/orders/{german['id']}/tracking", params={"view": "customer"}).json()
        promised = date.fromisoformat(view["estimated_delivery"])

        [de] = mails(client, german["id"])
        assert de["language"] == "de"
        assert de["subject"] == "An den Paketdienst übergeben – Ihre Bestellung NTF-DE"
        assert de["body"].startswith("Guten Tag,\n\nes gibt Neuigkeiten zu Ihrer Bestellung NTF-DE")
        months = [
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ]
        assert (
            f"Voraussichtliche Zustellung: {promised.day}. {months[promised.month - 1]} {promised.year}" in de["body"]
        )
        assert f"Sendungsverfolgung: https://shop.example/track/{token}\n" in de["body"]

        [en] = mails(client, british["id"])
        assert en["language"] == "en"
        assert en["subject"] == "Handed to the carrier – your order NTF-GB"
        assert "Follow your order: https://shop.example/track/" in en["body"]


def test_a_milestone_not_chosen_sends_nothing(engine: Engine) -> None:
    with hub(engine, notify_milestones="delivered") as client:
        order = released(client, engine, "NTF-2")
        ship(client, order, "JJD-N2")  # handed to the carrier: not chosen
        post(client, "JJD-N2", "in_transit", at(5), "t1")  # never chosen by default either
        settled(client)
        assert told(client, order["id"]) == [] and mails(client, order["id"]) == []

        post(client, "JJD-N2", "delivered", at(10), "d2")
        settled(client)
        assert [n["milestone"] for n in told(client, order["id"])] == ["delivered"]


def test_an_old_milestone_sends_nothing_nor_does_one_older_than_what_was_told(engine: Engine) -> None:
    with hub(engine, notify_milestones="out_for_delivery,delivered,exception", notify_max_age_h=48) as client:
        order = released(client, engine, "NTF-3")
        ship(client, order, "JJD-N3")
        three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
        post(client, "JJD-N3", "exception", three_days_ago, "old-1")  # history: on the timeline, not mailed
        settled(client)
        timeline = client.get(f"/api/v1/orders/{order['id']}/tracking", params={"view": "internal"}).json()
        assert "exception" in [e["milestone"] for e in timeline["events"]]
        assert told(client, order["id"]) == [] and mails(client, order["id"]) == []

        post(client, "JJD-N3", "delivered", at(30), "d3")
        post(client, "JJD-N3", "out_for_delivery", at(20), "late-ofd")  # arrives late: old news by now
        settled(client)
        assert [n["milestone"] for n in told(client, order["id"])] == ["delivered"]


def test_smtp_hands_the_mail_to_a_real_server(engine: Engine) -> None:
    with smtp_server() as (port, box):
        smtp = {
            "notify_channels": "smtp",
            "notify_smtp_host": "127.0.0.1",
            "notify_smtp_port": port,
            "notify_smtp_from": "Shop <tracking@shop.example>",
            "notify_smtp_user": "mailer",
            "notify_smtp_password": "pw-123",
            "notify_smtp_starttls": False,  # the test server speaks plain SMTP on loopback
        }
        with hub(engine, **smtp) as client:
            order = released(client, engine, "NTF-SMTP")
            ship(client, order, "JJD-SMTP")
            [note] = wait_for(lambda: [n for n in told(client, order["id"]) if n["status"] == "sent"])
            assert note["channel"] == "smtp" and note["attempts"] == 1
            assert mails(client, order["id"]) == []  # the outbox is not a chosen channel here
    [mail] = box.mails
    assert box.envelopes == [{"from": "tracking@shop.example", "rcpt": ["ann@example.com"]}]
    assert box.logins == [("mailer", "pw-123")]
    assert mail["Subject"] == "An den Paketdienst übergeben – Ihre Bestellung NTF-SMTP"
    assert mail["To"] == "ann@example.com" and mail["Content-Language"] == "de"
    assert "es gibt Neuigkeiten zu Ihrer Bestellung NTF-SMTP" in mail.get_content()  # type: ignore[attr-defined]


def test_a_failing_callback_is_retried_then_failed(engine: Engine) -> None:
    secret = webhooks.new_secret()
    with http_endpoint([503]) as shop:
        callback = {
            "notify_channels": "callback",
            "notify_channel_callbacks": {"web": shop.url},
            "notify_callback_secret": secret,
            "notify_max_attempts": 3,
            "notify_backoff_s": 0.05,
        }
        with hub(engine, **callback) as client:
            order = released(client, engine, "NTF-CB")
            assert order["channel"] == "web"
            ship(client, order, "JJD-CB")
            [note] = wait_for(lambda: [n for n in told(client, order["id"]) if n["status"] == "failed"])
    assert note["attempts"] == 3 and note["last_error"] == "HTTP 503: no" and note["next_attempt_at"] is None
    assert len(shop.requests) == 3
    ids = {r["headers"]["webhook-id"] for r in shop.requests}
    assert ids == {note["id"]}  # the same id on every attempt: the shop can drop repeats
    for request in shop.requests:  # each signed as our webhooks are
        webhooks.verify(secret, headers=request["headers"], body=request["body"], now=int(time.time()))


def test_a_refused_callback_fails_at_once_and_a_recovering_one_is_sent(engine: Engine) -> None:
    secret = webhooks.new_secret()
    with http_endpoint([400]) as refusing, http_endpoint([500, 200]) as recovering:
        callback = {
            "notify_channels": "callback",
            "notify_channel_callbacks": {"web": refusing.url},
            "notify_callback_secret": secret,
            "notify_backoff_s": 0.05,
        }
        with hub(engine, **callback) as client:
            order = released(client, engine, "NTF-CB2")
            ship(client, order, "JJD-CB2")
            [note] = wait_for(lambda: [n for n in told(client, order["id"]) if n["status"] == "failed"])
            assert note["attempts"] == 1 and len(refusing.requests) == 1
        with hub(engine, **{**callback, "notify_channel_callbacks": {"web": recovering.url}}) as client:
            post(client, "JJD-CB2", "delivered", at(30), "d-cb2")
            sent = wait_for(lambda: [n for n in told(client, order["id"]) if n["status"] == "sent"])
            assert sent[0]["milestone"] == "delivered" and sent[0]["attempts"] == 2
    import json

    doc = json.loads(recovering.requests[-1]["body"])
    assert doc["milestone"] == "delivered" and doc["milestone_text"] == "Zugestellt"
    assert doc["external_ref"] == "NTF-CB2" and doc["tracking_url"].startswith("http://127.0.0.1:8000/track/")


def test_sms_goes_to_the_gateway_with_its_token(engine: Engine) -> None:
    with http_endpoint([202]) as gateway:
        sms = {"notify_channels": "outbox,sms", "notify_sms_url": gateway.url, "notify_sms_token": "sms-token-1"}
        with hub(engine, **sms) as client:
            order = released(client, engine, "NTF-SMS", country="GB", phone="+44 20 7946 0000")
            ship(client, order, "JJD-SMS")
            wait_for(lambda: [n for n in told(client, order["id"]) if n["channel"] == "sms" and n["status"] == "sent"])
            assert len(mails(client, order["id"])) == 1
    import json

    [request] = gateway.requests
    assert request["headers"]["authorization"] == "Bearer sms-token-1"
    doc = json.loads(request["body"])
    assert doc["to"] == "+44 20 7946 0000"
    assert doc["text"].startswith("Order NTF-SMS: Handed to the carrier. Expected ")
    assert "http://127.0.0.1:8000/track/" in doc["text"]
