from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderhub.core.errors import Conflict, InvalidInput
from orderhub.core.money import Money
from orderhub.orders.model import (
    EDITABLE,
    TRANSITIONS,
    Address,
    Customer,
    LineStatus,
    Order,
    OrderLine,
    OrderStatus,
)

S = OrderStatus


def make_order(**kw) -> Order:
    lines = [
        OrderLine(id="l1", sku="A", quantity=2, unit_price=Money(1000, "EUR")),
        OrderLine(id="l2", sku="B", quantity=1, unit_price=Money(550, "EUR")),
    ]
    defaults = dict(
        id="o1",
        channel="web",
        currency="EUR",
        customer=Customer(email="a@b.c"),
        shipping_address=Address(city="Berlin"),
        lines=lines,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        shipping_total=Money(495, "EUR"),
    )
    defaults.update(kw)
    return Order(**defaults)


def test_illegal_transition_names_current_state_and_allowed_next_and_changes_nothing():
    order = make_order(status=S.awaiting_payment)
    with pytest.raises(Conflict) as err:
        order.transition_to(S.shipped)
    assert err.value.code == "illegal_transition"
    assert err.value.fields["current_status"] == "awaiting_payment"
    assert err.value.fields["allowed_next"] == ["paid", "on_hold", "cancelled"]
    assert order.status == S.awaiting_payment
    assert order.changes == []


def test_hold_returns_to_the_state_it_was_held_from():
    order = make_order(status=S.allocated)
    order.hold(reason="fraud check")
    assert order.status == S.on_hold
    assert S.allocated in order.allowed_next()
    order.release_hold()
    assert order.status == S.allocated
    assert [c.data["to"] for c in order.changes] == ["on_hold", "allocated"]


def test_totals_are_recomputed_after_editing_lines():
    order = make_order(status=S.paid)
    assert order.total == Money(2000 + 550 + 495, "EUR")
    order.change_line_quantity("l1", 3)
    order.cancel_line("l2")
    assert order.subtotal == Money(3000, "EUR")
    assert order.total == Money(3495, "EUR")
    assert order.line("l2").status == LineStatus.cancelled
    assert [c.type for c in order.changes] == ["order.edited", "order.line_cancelled"]


def test_cancelling_the_last_open_line_cancels_the_order():
    order = make_order(status=S.awaiting_payment)
    order.cancel_line("l1")
    order.cancel_line("l2")
    assert order.status == S.cancelled


def test_no_edits_after_release():
    order = make_order(status=S.released)
    with pytest.raises(Conflict) as err:
        order.change_line_quantity("l1", 5)
    assert err.value.code == "not_editable"
    assert order.line("l1").quantity == 2


def test_partial_shipment_then_rest_then_delivery():
    order = make_order(status=S.released)
    order.record_shipment({"l1": 1})
    assert order.status == S.partially_shipped
    assert order.line("l1").status == LineStatus.partially_shipped
    order.record_shipment({"l1": 1, "l2": 1})
    assert order.status == S.shipped
    order.record_delivery({"l1": 2})
    assert order.status == S.partially_delivered
    with pytest.raises(InvalidInput):
        order.record_delivery({"l1": 1})  # both units of l1 are delivered already
    assert order.line("l1").quantity_delivered == 2
    order.record_delivery({"l2": 1})
    assert order.status == S.delivered


def test_allocation_must_cover_every_open_unit_exactly():
    order = make_order(status=S.paid)
    with pytest.raises(InvalidInput):
        order.allocate({"DC1": {"l1": 1}}, new_id=lambda p: f"{p}_x")
    assert order.status == S.paid and order.fulfilment_orders == []
    ids = iter(["fo_1", "fo_2"])
    order.allocate({"DC1": {"l1": 2}, "ST1": {"l2": 1}}, new_id=lambda p: next(ids))
    assert order.status == S.allocated
    assert [(f.node_id, f.lines) for f in order.fulfilment_orders] == [("DC1", {"l1": 2}), ("ST1", {"l2": 1})]
    order.change_line_quantity("l1", 3)  # an edit drops the split
    assert order.status == S.paid and order.fulfilment_orders == []


@settings(max_examples=300)
@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=25))
def test_any_sequence_of_requests_only_follows_the_lifecycle(requests):
    order = make_order(status=S.created)
    for target in requests:
        before = order.status
        allowed = order.allowed_next()
        try:
            order.transition_to(target, reason="x")
        except Conflict:
            assert target not in allowed
            assert order.status == before
            continue
        assert target in allowed
        assert order.status == target
        if before != S.on_hold:
            assert target in TRANSITIONS[before]
        # quantities never break their invariants
        for line in order.lines:
            assert 0 <= line.quantity_cancelled <= line.quantity
            assert line.quantity_delivered <= line.quantity_shipped <= line.open_quantity or line.open_quantity == 0
    assert (order.status in EDITABLE) == order.is_editable
