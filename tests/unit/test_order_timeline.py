"""The order timeline in words: each event type as a sentence, never its raw name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderhub.core.events import EVENT_TYPES
from orderhub.orders import timeline

N = timeline.Naming(
    currency="EUR",
    method="card",
    skus={"ol_1": "MUG-1", "ol_2": "TEA-9"},
    nodes={"DC-BER": "Berlin DC", "ST-M": "Munich store"},
)


def say(type_, data, context=None):
    return timeline.describe({"type": type_, "data": data}, N, context)


@pytest.mark.parametrize(
    ("type_", "data", "sentence"),
    [
        ("order.payment_changed", {"payment_status": "paid", "amount": "49.90"}, "Paid 49.90 EUR by card"),
        ("order.payment_changed", {"payment_status": "refunded"}, "Payment refunded in full"),
        (
            "order.allocated",
            {"fulfilment_orders": [{"node_id": "DC-BER", "lines": {"ol_1": 2}}]},
            "Allocated to Berlin DC",
        ),
        (
            "order.allocated",
            {
                "fulfilment_orders": [
                    {"node_id": "DC-BER", "lines": {"ol_1": 2}},
                    {"node_id": "ST-M", "lines": {"ol_2": 1}},
                ]
            },
            "Allocated to Berlin DC (2 × MUG-1) and Munich store (1 × TEA-9)",
        ),
        (
            "order.status_changed",
            {"from": "paid", "to": "on_hold", "reason": "approval: big order"},
            "Held: approval: big order",
        ),
        ("order.status_changed", {"from": "on_hold", "to": "paid", "reason": ""}, "Hold released, back to paid"),
        ("order.status_changed", {"from": "released", "to": "shipped", "reason": ""}, "Moved from released to shipped"),
        ("order.status_changed", {"from": "paid", "to": "cancelled", "reason": "fraud"}, "Cancelled: fraud"),
        ("order.shipment_recorded", {"lines": {"ol_1": 2, "ol_2": 1}}, "Shipped 2 × MUG-1, 1 × TEA-9"),
        (
            "order.return_received",
            {"node_id": "ST-M", "lines": {"ol_1": 1}, "condition": "damaged", "rma_id": "rma_1"},
            "Return received at Munich store for return rma_1: 1 × MUG-1 (damaged, kept out of stock)",
        ),
        (
            "order.refund_recorded",
            {
                "refund_id": "r",
                "amount": "8.50",
                "currency": "EUR",
                "lines": {"ol_1": 1},
                "reason": "late",
                "rma_id": "",
            },
            "Refunded 8.50 EUR for 1 × MUG-1: late",
        ),
        (
            "order.edited",
            {"field": "quantity", "line_id": "ol_1", "before": 2, "after": 1},
            "Quantity of MUG-1 changed from 2 to 1",
        ),
        ("order.line_cancelled", {"line_id": "ol_2", "quantity": 1, "reason": ""}, "Cancelled 1 × TEA-9"),
        ("order.something_new", {}, "Something new"),
    ],
)
def test_each_event_reads_as_a_sentence(type_, data, sentence):
    assert say(type_, data) == sentence


def test_paid_at_capture_names_the_amount_and_method():
    got = say(
        "order.status_changed",
        {"from": "created", "to": "paid", "reason": "payment received by the channel"},
        {"total": "21.00"},
    )
    assert got == "Paid 21.00 EUR by card (payment received by the channel)"


def test_every_order_event_type_has_a_sentence_without_its_raw_name():
    for type_ in (t for t in EVENT_TYPES if t.startswith("order.")):
        assert type_ in timeline.SENTENCES or type_ == "order.status_changed", type_
        assert "order." not in say(type_, {})


def test_entries_are_newest_first_with_comments_among_events_and_unescaped_raw_detail():
    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    events = [
        {
            "type": "order.edited",
            "actor": "a",
            "occurred_at": t0,
            "data": {"field": "shipping_address", "after": {"line1": "Straße 1", "city": "Köln"}},
        },
        {
            "type": "order.line_cancelled",
            "actor": "a",
            "occurred_at": t0 + timedelta(hours=2),
            "data": {"line_id": "ol_1", "quantity": 1},
        },
    ]
    notes = [{"created_at": t0 + timedelta(hours=1), "author": "user:ops@x", "body": "called"}]
    got = timeline.entries(events, notes, N)
    assert [e["text"] for e in got] == ["Cancelled 1 × MUG-1", "called", "Shipping address changed to Straße 1, Köln"]
    assert got[1]["kind"] == "comment" and got[1]["actor"] == "user:ops@x"
    assert "Straße" in got[2]["raw"] and "\\u" not in got[2]["raw"]
