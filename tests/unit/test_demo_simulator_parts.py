"""The simulator's parts without a hub: channel payloads through the real adapters, carrier
payloads and their signatures, the agenda of due steps."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from orderhub.demo import build_customers, build_items, feeds
from orderhub.demo.agenda import Agenda, Clock
from orderhub.demo.feeds import Parcel, Place, Scan, Secrets
from orderhub.demo.payloads import Sale, address_sale, request_for
from orderhub.orders.capture import normalize

PLACED = datetime(2026, 11, 19, 12, 30, tzinfo=UTC)
rng = random.Random(7)
ITEMS = build_items(rng)
CUSTOMERS = build_customers(rng, 50)


def sale(channel: str, *, paid: bool = True, handover: str = "ship") -> Sale:
    s = Sale(
        number=1_763_500_000_123,
        channel=channel,
        customer=CUSTOMERS[3],
        items=[(ITEMS[0], 2), (ITEMS[100], 1)],
        paid=paid,
        placed_at=PLACED,
        handover=handover,
        store="ST-BERLIN" if channel == "pos" else "",
    )
    address_sale(s, random.Random(1), abroad_share=0)
    return s


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "pos", "social", "web"])
def test_each_channel_payload_is_taken_by_its_adapter(channel):
    s = sale(channel)
    path, body = request_for(s)
    assert path == ("/api/v1/orders" if channel == "web" else f"/api/v1/channels/{channel}/orders")
    order = normalize("canonical" if channel == "web" else channel, json.loads(json.dumps(body))).order
    assert order.channel == channel
    assert [(line.sku, line.quantity) for line in order.lines] == [(ITEMS[0].sku, 2), (ITEMS[100].sku, 1)]
    assert [line.unit_price for line in order.lines] == [
        f"{ITEMS[0].price_minor / 100:.2f}",
        f"{ITEMS[100].price_minor / 100:.2f}",
    ]
    assert order.payment_status.value == "paid"
    assert order.shipping_address.city == s.customer.city and order.shipping_address.country == "DE"
    assert "total_mismatch" not in order.tags
    if channel != "woocommerce":  # WooCommerce orders carry no coordinates
        assert (order.shipping_address.lat, order.shipping_address.lon) == (s.customer.lat, s.customer.lon)


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "social", "web"])
def test_an_unpaid_order_arrives_pending(channel):
    _, body = request_for(sale(channel, paid=False))
    assert normalize("canonical" if channel == "web" else channel, body).order.payment_status.value == "pending"


def test_pos_hands_over_at_the_till_or_later_at_the_store():
    taken = normalize("pos", request_for(sale("pos", handover="in_store"))[1]).order
    collect = normalize("pos", request_for(sale("pos", handover="pickup"))[1]).order
    assert (taken.delivery_method.value, taken.pickup_node_id) == ("in_store", "ST-BERLIN")
    assert (collect.delivery_method.value, collect.pickup_node_id) == ("pickup", "ST-BERLIN")


def test_some_orders_go_abroad_and_then_cross_a_customs_border():
    s = sale("shopify")
    address_sale(s, random.Random(1), abroad_share=1.0)
    assert s.country in {"CH", "GB", "NO"} and s.is_cross_border
    assert feeds.pick_carrier(random.Random(1), cross_border=True) == "dhl"  # its feed names customs stages


def parcel(carrier: str) -> Parcel:
    return Parcel(
        fulfilment_order_id="fo_1",
        carrier=carrier,
        tracking_number=feeds.tracking_number(carrier, random.Random(3)),
        origin=Place("Bad Hersfeld", "DE", 50.8686, 9.7070),
        destination=Place("Berlin", "DE", 52.52, 13.405),
        lines={"ol_1": 2},
    )


def test_easypost_events_carry_the_whole_tracker_history_and_are_signed():
    p = parcel("dpd")
    first = Scan("in_transit", PLACED, p.origin, "")
    path, body, headers = feeds.carrier_request(p, first, Secrets())
    path, body, headers = feeds.carrier_request(
        p, Scan("delivered", PLACED + timedelta(hours=20), p.destination), Secrets()
    )
    assert path == "/api/v1/tracking/carriers/easypost"
    event = json.loads(body)
    assert event["object"] == "Event" and event["description"] == "tracker.updated"
    tracker = event["result"]
    assert tracker["object"] == "Tracker" and tracker["tracking_code"] == p.tracking_number
    assert (tracker["status"], tracker["carrier"]) == ("delivered", "DPD")
    assert [d["status"] for d in tracker["tracking_details"]] == ["in_transit", "delivered"]
    assert tracker["tracking_details"][1]["datetime"] == "2026-11-20T08:30:00Z"
    assert event["previous_attributes"] == {"status": "in_transit"}
    expected = hmac.new(b"demo-easypost-secret", body, hashlib.sha256).hexdigest()
    assert headers == {"Content-Type": "application/json", "X-Hmac-Signature": f"hmac-sha256-hex={expected}"}


def test_aftership_webhooks_carry_the_new_checkpoint_and_are_signed():
    p = parcel("hermes")
    path, body, headers = feeds.carrier_request(p, Scan("delivery_attempted", PLACED, p.destination), Secrets())
    assert path == "/api/v1/tracking/carriers/aftership"
    hook = json.loads(body)
    assert hook["event"] == "tracking_update" and hook["is_tracking_first_tag"] is True
    msg = hook["msg"]
    assert (msg["tracking_number"], msg["slug"], msg["tag"]) == (p.tracking_number, "hermes-de", "AttemptFail")
    assert msg["checkpoints"][0]["checkpoint_time"] == "2026-11-19T13:30:00"  # local time, as AfterShip writes
    digest = hmac.new(b"demo-aftership-secret", body, hashlib.sha256).digest()
    assert headers == {"Content-Type": "application/json", "aftership-hmac-sha256": base64.b64encode(digest).decode()}


def test_dhl_and_customs_stages_use_orderhubs_own_format():
    p = parcel("ups")  # an EasyPost carrier, but EasyPost has no customs milestone of ours
    path, body, headers = feeds.carrier_request(p, Scan("import_held", PLACED, p.destination, "Held"), Secrets())
    assert (path, headers) == ("/api/v1/tracking/events", {})
    event = json.loads(body)["events"][0]
    assert event["tracking_number"] == p.tracking_number and event["milestone"] == "import_held"
    assert event["occurred_at"] == "2026-11-19T12:30:00+00:00" and event["country"] == "DE"
    assert event["position"] == {"lat": 52.52, "lon": 13.405}
    assert feeds.tracking_number("dhl", random.Random(1)).startswith("JJD")


def test_the_driver_drives_from_the_node_to_the_door():
    p = parcel("dhl")
    path = feeds.driver_path(p.origin, p.destination, 5, random.Random(2))
    assert len(path) == 5 and path[-1] == (52.52, 13.405)
    lats = [lat for lat, _ in path]
    assert lats == sorted(lats)  # heading north-east, bent but never back


def test_the_agenda_gives_steps_when_due_earliest_first():
    agenda = Agenda()
    agenda.add(5, lambda: [("late", None)], now=100)  # type: ignore[list-item]
    agenda.add(1, lambda: [("early", None)], now=100)  # type: ignore[list-item]
    agenda.add(1, lambda: [("early too", None)], now=100)  # type: ignore[list-item]
    assert agenda.take_due(now=100.5) == []
    due = agenda.take_due(now=101)
    assert [step()[0][0] for step in due] == ["early", "early too"]
    assert len(agenda) == 1 and agenda.next_due() == 105
    assert Clock(speed=180).seconds(24) == 480  # a world day in eight minutes
