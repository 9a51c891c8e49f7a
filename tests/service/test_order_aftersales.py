"""Payments, refunds, returns (RMAs), comments and the timeline in words, through the services
on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from orderhub.bus import embedded, relay
from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.inventory import service as inventory
from orderhub.orders import capture, comments, payments, returns, service, timeline
from orderhub.orders.allocation import allocate_as_sourced
from orderhub.webhooks import service as webhooks
from tests.conftest import position, put_stock
from tests.service.test_webhooks import Receiver


def new_order(engine, *, ref="W-1", paid=True, method="card", lat=None):
    address = {"city": "Leipzig", "postal_code": "04109", "country": "DE"}
    if lat is not None:
        address.update(lat=lat, lon=12.38)
    doc = {
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": "ann@example.com", "name": "Ann Lee"},
        "shipping_address": address,
        "lines": [
            {"sku": "A-1", "quantity": 2, "unit_price": "10.00"},
            {"sku": "B-2", "quantity": 1, "unit_price": "5.00"},
        ],
        "payment_status": "paid" if paid else "pending",
        "payment_method": method,
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def delivered_order(engine, ref="W-1"):
    put_stock(engine, {("DC-1", "A-1"): 10, ("DC-1", "B-2"): 10, ("ST-9", "A-1"): 0})
    oid = new_order(engine, ref=ref)
    order = service.get(engine, order_id=oid).order
    service.allocate(engine, order_id=oid, actor="t", assignments={"DC-1": {x.id: x.quantity for x in order.lines}})
    for to in ("released", "shipped", "delivered"):
        service.transition(engine, order_id=oid, to=to, actor="t")
    return oid, {x.sku: x.id for x in order.lines}


def event_types(engine, oid):
    return [e["type"] for e in service.get(engine, order_id=oid).events]


def ledger_returned(engine, node, sku):
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM inventory_ledger WHERE node_id = :n AND sku = :s AND reason = 'returned'"),
            {"n": node, "s": sku},
        ).scalar()


# -- payments and refunds -------------------------------------------------------------------
def test_a_paid_order_shows_method_amounts_and_a_settled_balance(engine):
    oid = new_order(engine)
    p = payments.get(engine, order_id=oid).as_json()
    assert (p["method"], p["payment_status"], p["total"]) == ("card", "paid", "25.00")
    assert (p["authorised"], p["captured"], p["refunded"], p["refundable"], p["balance"]) == (
        "25.00",
        "25.00",
        "0.00",
        "25.00",
        "0.00",
    )


def test_an_unpaid_order_owes_its_total_and_refuses_any_refund(engine):
    oid = new_order(engine, paid=False, method="")
    p = payments.get(engine, order_id=oid).as_json()
    assert (p["method"], p["captured"], p["balance"]) == ("", "0.00", "25.00")
    with pytest.raises(InvalidInput) as err:
        payments.refund(engine, order_id=oid, actor="t", amount="1.00")
    assert err.value.code == "refund_exceeds_captured"
    assert err.value.errors[0]["pointer"] == "/amount"


def test_paid_later_then_edited_up_the_customer_owes_the_difference(engine):
    oid = new_order(engine, paid=False)
    service.mark_paid(engine, order_id=oid, actor="t")
    service.add_line(engine, order_id=oid, actor="t", sku="C-3", quantity=1, unit_price="4.50")
    p = payments.get(engine, order_id=oid).as_json()
    assert (p["total"], p["captured"], p["balance"]) == ("29.50", "25.00", "4.50")


def test_a_refund_is_recorded_published_and_moves_the_payment_status(engine):
    oid = new_order(engine)
    lines = {x.sku: x.id for x in service.get(engine, order_id=oid).order.lines}
    order, refund = payments.refund(
        engine,
        order_id=oid,
        actor="user:ops@x",
        amount="10.00",
        lines=[{"line_id": lines["A-1"], "quantity": 1}],
        reason="scratched",
    )
    assert order.payment_status.value == "partially_refunded"
    assert refund["amount_minor"] == 1000 and refund["lines"] == {lines["A-1"]: 1}
    events = service.get(engine, order_id=oid).events
    recorded = [e for e in events if e["type"] == "order.refund_recorded"]
    assert len(recorded) == 1
    assert recorded[0]["data"] == {
        "refund_id": refund["id"],
        "amount": "10.00",
        "currency": "EUR",
        "lines": {lines["A-1"]: 1},
        "reason": "scratched",
        "rma_id": "",
    }
    assert recorded[0]["actor"] == "user:ops@x"
    p = payments.get(engine, order_id=oid).as_json()
    assert (p["refunded"], p["refundable"], p["balance"]) == ("10.00", "15.00", "0.00")
    assert [r["reason"] for r in p["refunds"]] == ["scratched"]


@pytest.mark.parametrize(
    ("amount", "lines", "pointer", "code"),
    [
        ("15.01", [], "/amount", "refund_exceeds_captured"),
        ("0", [], "/amount", "invalid_input"),
        ("1.234", [], "/amount", "invalid_input"),
        ("abc", [], "/amount", "invalid_input"),
        ("1.00", [{"line_id": "B-2", "quantity": 2}], "/lines/0/quantity", "over_refund"),
        ("1.00", [{"line_id": "nope", "quantity": 1}], "/lines/0/line_id", "unknown_line"),
    ],
)
def test_a_refund_beyond_what_is_left_is_refused_naming_the_field_and_writes_nothing(
    engine, amount, lines, pointer, code
):
    oid = new_order(engine)
    by_sku = {x.sku: x.id for x in service.get(engine, order_id=oid).order.lines}
    payments.refund(engine, order_id=oid, actor="t", amount="10.00")
    lines = [{**x, "line_id": by_sku.get(x["line_id"], x["line_id"])} for x in lines]
    before = service.get(engine, order_id=oid)
    with pytest.raises(InvalidInput) as err:
        payments.refund(engine, order_id=oid, actor="t", amount=amount, lines=lines)
    assert (err.value.errors[0]["pointer"], err.value.code) == (pointer, code)
    after = service.get(engine, order_id=oid)
    assert after.order.version == before.order.version and len(after.events) == len(before.events)
    assert payments.get(engine, order_id=oid).refunded.minor == 1000


def test_a_cancelled_paid_order_is_owed_its_money_until_refunded_then_refunded(engine):
    oid = new_order(engine)
    service.cancel(engine, order_id=oid, actor="t", reason="customer asked")
    p = payments.get(engine, order_id=oid).as_json()
    assert (p["total"], p["captured"], p["balance"]) == ("0.00", "25.00", "-25.00")
    payments.refund(engine, order_id=oid, actor="t", amount="20.00")
    assert payments.get(engine, order_id=oid).as_json()["balance"] == "-5.00"
    order, _ = payments.refund(engine, order_id=oid, actor="t", amount="5.00")
    assert (order.status.value, order.payment_status.value) == ("refunded", "refunded")
    assert payments.get(engine, order_id=oid).as_json()["balance"] == "0.00"


# -- returns --------------------------------------------------------------------------------
def test_rma_lifecycle_restocks_resellable_units_where_received_and_refunds_from_the_rma(engine):
    oid, line = delivered_order(engine)
    order, rma1 = returns.create(
        engine,
        order_id=oid,
        actor="t",
        lines=[{"line_id": line["A-1"], "quantity": 1}],
        reason="did not fit",
        condition="unopened",
    )
    assert (order.status.value, rma1["status"]) == ("return_requested", "requested")
    assert position(engine, "ST-9", "A-1").on_hand == 0  # nothing moves until it arrives

    order, rma1 = returns.receive(
        engine, order_id=oid, rma_id=rma1["id"], actor="t", node_id="ST-9", condition="resellable"
    )
    assert rma1["status"] == "received" and rma1["received"] == {line["A-1"]: 1}
    assert position(engine, "ST-9", "A-1").on_hand == 1 and ledger_returned(engine, "ST-9", "A-1") == 1
    assert order.status.value == "delivered"  # no return open any more, one unit still with the customer

    order, rma2 = returns.create(
        engine,
        order_id=oid,
        actor="t",
        lines=[{"line_id": line["A-1"], "quantity": 1}, {"line_id": line["B-2"], "quantity": 1}],
    )
    order, rma2 = returns.receive(
        engine,
        order_id=oid,
        rma_id=rma2["id"],
        actor="t",
        node_id="DC-1",
        condition="damaged",
        lines=[{"line_id": line["B-2"], "quantity": 1}],
    )
    assert rma2["status"] == "partially_received" and order.status.value == "return_requested"
    assert position(engine, "DC-1", "B-2").on_hand == 9 and ledger_returned(engine, "DC-1", "B-2") == 0  # damaged: out
    order, rma2 = returns.receive(
        engine, order_id=oid, rma_id=rma2["id"], actor="t", node_id="DC-1", condition="resellable"
    )
    assert (rma2["status"], order.status.value) == ("received", "returned")
    assert position(engine, "DC-1", "A-1").on_hand == 9

    order, (rma1, refund1) = returns.refund(engine, order_id=oid, rma_id=rma1["id"], actor="t")
    assert (refund1["amount_minor"], refund1["rma_id"], rma1["refund_id"]) == (1000, rma1["id"], refund1["id"])
    assert order.status.value == "returned" and order.payment_status.value == "partially_refunded"
    order, (_, refund2) = returns.refund(engine, order_id=oid, rma_id=rma2["id"], actor="t")
    assert refund2["amount_minor"] == 1500
    assert (order.status.value, order.payment_status.value) == ("refunded", "refunded")
    with pytest.raises(Conflict) as err:
        returns.refund(engine, order_id=oid, rma_id=rma2["id"], actor="t")
    assert err.value.code == "return_refunded"

    types = event_types(engine, oid)
    assert types.count("order.return_requested") == 2 and types.count("order.return_received") == 3
    assert types.count("order.return_closed") == 2 and types.count("order.refund_recorded") == 2
    damaged = [e for e in service.get(engine, order_id=oid).events if e["type"] == "order.return_received"][1]
    assert damaged["data"]["condition"] == "damaged" and damaged["data"]["rma_id"] == rma2["id"]
    assert inventory.check_ledger(engine) == []


def test_a_return_of_more_than_is_left_or_at_a_node_without_returns_is_refused_and_writes_nothing(engine):
    oid, line = delivered_order(engine)
    returns.create(engine, order_id=oid, actor="t", lines=[{"line_id": line["A-1"], "quantity": 1}])
    before = service.get(engine, order_id=oid)
    with pytest.raises(InvalidInput) as err:
        returns.create(engine, order_id=oid, actor="t", lines=[{"line_id": line["A-1"], "quantity": 2}])
    assert (err.value.code, err.value.errors[0]["pointer"]) == ("over_return", "/lines/0/quantity")
    _, rmas = returns.get_all(engine, order_id=oid)
    with pytest.raises(InvalidInput) as err:
        returns.receive(engine, order_id=oid, rma_id=rmas[0]["id"], actor="t", node_id="NOPE", condition="resellable")
    assert (err.value.code, err.value.errors[0]["pointer"]) == ("node_takes_no_returns", "/node_id")
    after = service.get(engine, order_id=oid)
    assert after.order.version == before.order.version and len(after.events) == len(before.events)
    assert len(returns.get_all(engine, order_id=oid)[1]) == 1
    with pytest.raises(NotFound):
        returns.receive(engine, order_id=oid, rma_id="rma_nope", actor="t", node_id="DC-1", condition="resellable")


def test_a_walk_in_return_is_authorised_and_received_at_once_and_a_cancelled_rma_puts_the_order_back(engine):
    oid, line = delivered_order(engine)
    order, rma = returns.create(
        engine, order_id=oid, actor="t", lines=[{"line_id": line["B-2"], "quantity": 1}], node_id="ST-9"
    )
    assert rma["status"] == "received" and position(engine, "ST-9", "B-2").on_hand == 1
    order, rma = returns.create(engine, order_id=oid, actor="t", lines=[{"line_id": line["A-1"], "quantity": 2}])
    assert order.status.value == "return_requested"
    order, rma = returns.cancel(engine, order_id=oid, rma_id=rma["id"], actor="t", reason="customer kept it")
    assert (rma["status"], order.status.value) == ("cancelled", "delivered")
    with pytest.raises(Conflict) as err:
        returns.receive(engine, order_id=oid, rma_id=rma["id"], actor="t", node_id="DC-1", condition="resellable")
    assert err.value.code == "return_closed"


def test_before_delivery_nothing_is_returnable_and_bare_after_sales_moves_are_refused(engine):
    oid = new_order(engine)
    by_sku = {x.sku: x.id for x in service.get(engine, order_id=oid).order.lines}
    with pytest.raises(Conflict) as err:
        returns.create(engine, order_id=oid, actor="t", lines=[{"line_id": by_sku["A-1"], "quantity": 1}])
    assert err.value.code == "not_returnable"
    oid2, _ = delivered_order(engine, ref="W-2")
    assert service.get(engine, order_id=oid2).order.allowed_moves() == []
    for to in ("return_requested",):
        with pytest.raises(Conflict) as err:
            service.transition(engine, order_id=oid2, to=to, actor="t")
        assert err.value.code == "return_or_refund_required"
    assert service.get(engine, order_id=oid2).order.status.value == "delivered"


# -- allocation through sourcing -----------------------------------------------------------------
def test_allocate_as_sourced_uses_the_nodes_holding_the_stock_and_refuses_a_backorder(engine):
    put_stock(engine, {("DC-1", "A-1"): 3, ("DC-1", "B-2"): 10})
    oid = new_order(engine)
    order = allocate_as_sourced(engine, order_id=oid, actor="t")
    assert order.status.value == "allocated"
    assert [(f.node_id, sorted(f.lines.values())) for f in order.fulfilment_orders] == [("DC-1", [1, 2])]
    short = new_order(engine, ref="W-short")  # one A-1 left for two: one unit is backordered
    before = service.get(engine, order_id=short)
    with pytest.raises(Conflict) as err:
        allocate_as_sourced(engine, order_id=short, actor="t")
    assert err.value.code == "not_all_held" and err.value.fields["skus"] == ["A-1"]
    after = service.get(engine, order_id=short)
    assert after.order.status.value == "paid" and after.order.fulfilment_orders == []
    assert len(after.events) == len(before.events)


# -- comments and the timeline -------------------------------------------------------------
def test_comments_are_stored_with_author_and_time_and_do_not_change_the_order(engine):
    oid = new_order(engine)
    before = service.get(engine, order_id=oid)
    comments.create(engine, order_id=oid, author="user:ops@x", text="  Customer called: leave at the door  ")
    rows = comments.get_all(engine, order_id=oid)
    assert [(r["author"], r["body"]) for r in rows] == [("user:ops@x", "Customer called: leave at the door")]
    after = service.get(engine, order_id=oid)
    assert after.order.version == before.order.version and len(after.events) == len(before.events)
    with pytest.raises(InvalidInput) as err:
        comments.create(engine, order_id=oid, author="u", text="   ")
    assert err.value.errors[0]["pointer"] == "/text"
    with pytest.raises(NotFound):
        comments.create(engine, order_id="ord_nope", author="u", text="hi")
    assert len(comments.get_all(engine, order_id=oid)) == 1


def test_the_timeline_speaks_in_sentences_with_node_names_and_skus(engine):
    oid, line = delivered_order(engine)
    payments.refund(
        engine, order_id=oid, actor="t", amount="5.00", lines=[{"line_id": line["B-2"], "quantity": 1}], reason="late"
    )
    comments.create(engine, order_id=oid, author="user:ops@x", text="Sorry — refunded the tea")
    view = service.get(engine, order_id=oid)
    naming = timeline.Naming(
        currency="EUR", method="card", skus={v: k for k, v in line.items()}, nodes={"DC-1": "Berlin DC"}
    )
    got = timeline.entries(view.events, comments.get_all(engine, order_id=oid), naming)
    texts = [e["text"] for e in got]
    assert texts[0] == "Sorry — refunded the tea" and got[0]["kind"] == "comment"
    assert "Refunded 5.00 EUR for 1 × B-2: late" in texts
    assert "Allocated to Berlin DC" in texts
    assert "Paid 25.00 EUR by card (payment received by the channel)" in texts
    assert "Moved from shipped to delivered" in texts
    assert not any("order." in t or "\\u" in t or "{" in t for t in texts)
    assert all(e["raw"].startswith("{") for e in got if e["kind"] == "event")


@pytest.fixture
def receiver():
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(timeout=5)


def drain_to_webhooks(engine):
    """What the bus worker does: relay the committed events, hand them to the webhooks subscriber."""
    while relay.relay_once(engine) or embedded.consume_once(engine, webhooks.SUBSCRIBER):
        pass


def test_a_refund_reaches_a_webhook_subscriber_through_the_bus(engine, receiver):
    oid = new_order(engine)
    drain_to_webhooks(engine)  # the subscriber starts from now, as a worker started before the refund
    sub = webhooks.create(
        engine, url=receiver.url, event_types=["order.refund_recorded"], description="refunds", actor="user:a@x"
    )
    receiver.secrets.append(sub.secret)
    payments.refund(engine, order_id=oid, actor="t", amount="2.50", reason="goodwill")
    drain_to_webhooks(engine)
    assert webhooks.send_due(engine) == 1
    [got] = receiver.received
    body = json.loads(got["body"])
    assert (body["type"], body["subject"], body["data"]["amount"], body["data"]["reason"]) == (
        "order.refund_recorded",
        oid,
        "2.50",
        "goodwill",
    )
    assert got["verified"] == [sub.secret]


def test_racing_refunds_never_exceed_what_was_captured(engine):
    oid = new_order(engine)  # 25.00 captured
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def refund_ten() -> None:
        barrier.wait()
        try:
            payments.refund(engine, order_id=oid, actor="t", amount="10.00")
            outcomes.append("ok")
        except InvalidInput as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=refund_ten) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["ok", "ok", *["refund_exceeds_captured"] * 3]  # the row lock serialises them
    summary = payments.get(engine, order_id=oid)
    assert (summary.refunded.minor, len(summary.refunds)) == (2000, 2)
    assert event_types(engine, oid).count("order.refund_recorded") == 2


def test_an_over_long_reason_is_refused_at_reason_not_cut_by_the_database(engine):
    oid, line = delivered_order(engine)
    with pytest.raises(InvalidInput) as err:
        payments.refund(engine, order_id=oid, actor="t", amount="1.00", reason="x" * 501)
    assert err.value.errors[0]["pointer"] == "/reason"
    with pytest.raises(InvalidInput) as err:
        returns.create(
            engine, order_id=oid, actor="t", lines=[{"line_id": line["A-1"], "quantity": 1}], reason="x" * 501
        )
    assert err.value.errors[0]["pointer"] == "/reason"
    assert payments.get(engine, order_id=oid).refunds == [] and returns.get_all(engine, order_id=oid)[1] == []


# -- imported history ---------------------------------------------------------------------------
def _imported(engine, target):
    """A past order walked to ``target`` as the demo history does, then bulk-imported."""
    from orderhub.core.ids import new_id
    from orderhub.demo.lifecycle import walk_to
    from orderhub.orders.canonical import OrderCreate

    put_stock(engine, {("DC-1", "A-1"): 1})
    order = capture.build_order(
        OrderCreate.model_validate(
            {
                "currency": "EUR",
                "customer": {"email": "h@example.com"},
                "shipping_address": {"country": "DE", "lat": 52.52, "lon": 13.40},
                "lines": [{"sku": "A-1", "quantity": 3, "unit_price": "4.00"}],
                "placed_at": "2026-05-04T10:00:00+00:00",
            }
        )
    )
    capture.start_lifecycle(order)
    walk_to(order, target, node="DC-1", new_id=new_id)
    service.import_history(engine, orders=[order], actor="demo:history")
    return order


def test_an_imported_refunded_order_has_its_rma_and_refund_rows_and_a_settled_balance(engine):
    order = _imported(engine, "refunded")
    [line] = order.lines
    p = payments.get(engine, order_id=order.id).as_json()
    assert (p["payment_status"], p["captured"], p["refunded"], p["refundable"], p["balance"]) == (
        "refunded", "12.00", "12.00", "0.00", "0.00",
    )  # fmt: skip
    [refund] = p["refunds"]
    stored, [rma] = returns.get_all(engine, order_id=order.id)
    assert stored.status.value == "refunded"
    assert (rma["status"], rma["lines"], rma["received"], rma["refund_id"]) == (
        "received", {line.id: 3}, {line.id: 3}, refund["id"],
    )  # fmt: skip
    assert [r["node_id"] for r in rma["receipts"]] == ["DC-1"] and refund["rma_id"] == rma["id"]
    assert rma["created_at"].year == 2026 and rma["created_at"].month == 5  # dated in the order's past
    with pytest.raises(Conflict):  # the money is all back: nothing more can go
        returns.refund(engine, order_id=order.id, rma_id=rma["id"], amount=None, reason="", actor="t")


def test_an_imported_returned_order_has_a_received_rma_and_no_refund(engine):
    order = _imported(engine, "returned")
    p = payments.get(engine, order_id=order.id).as_json()
    assert (p["payment_status"], p["refunded"], p["refunds"]) == ("paid", "0.00", [])
    _, [rma] = returns.get_all(engine, order_id=order.id)
    assert (rma["status"], rma["refund_id"]) == ("received", None)
