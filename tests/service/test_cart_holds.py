"""Cart holds (the flash-sale lane): batches, repeats, release, expiry, and an order taking a
cart over — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from orderhub.core.clock import utcnow
from orderhub.inventory import service as inventory
from orderhub.inventory import store as inventory_store
from orderhub.orders import capture
from orderhub.orders import service as orders
from tests.conftest import position, put_stock
from tests.integration.test_concurrency import run_together

Req = inventory.CartHoldRequest


def test_a_batch_serves_requests_in_order_and_refuses_what_is_left_short(engine):
    put_stock(engine, {("DC-1", "HOT"): 5})
    out = inventory.hold_for_carts(
        engine, requests=[Req("c1", "HOT", 2), Req("c2", "HOT", 2), Req("c3", "HOT", 2), Req("c4", "HOT", 1)]
    )
    assert [o.created for o in out] == [True, True, False, True]
    assert out[2].hold is None and out[2].refused == "out_of_stock" and out[2].available == 1
    assert position(engine, "DC-1", "HOT") == (5, 5, 0)
    assert inventory.check_ledger(engine) == []
    holds = inventory.get_cart(engine, cart_id="c1")
    assert [(h["sku"], h["quantity"], h["status"], h["order_id"]) for h in holds] == [("HOT", 2, "active", "")]
    assert holds[0]["expires_at"] > utcnow() + timedelta(minutes=14)  # default 15 minutes


def test_asking_again_returns_the_carts_hold_and_holds_nothing_more(engine):
    put_stock(engine, {("DC-1", "HOT"): 5})
    first = inventory.hold_for_carts(engine, requests=[Req("c1", "HOT", 2), Req("c1", "HOT", 2)])
    again = inventory.hold_for_carts(engine, requests=[Req("c1", "HOT", 3)])
    assert [o.created for o in first + again] == [True, False, False]
    assert first[0].hold["id"] == first[1].hold["id"] == again[0].hold["id"]
    assert position(engine, "DC-1", "HOT") == (5, 2, 0)


def test_nearest_node_and_pinned_node(engine):
    put_stock(engine, {("DC-1", "A"): 5, ("DC-2", "A"): 5})  # DC-1 Kassel area, DC-2 Hamburg
    near_hamburg, pinned = inventory.hold_for_carts(
        engine,
        requests=[Req("c1", "A", 1, destination=(53.55, 10.0)), Req("c2", "A", 1, node_id="DC-1")],
    )
    assert near_hamburg.hold["node_id"] == "DC-2" and pinned.hold["node_id"] == "DC-1"


def test_released_and_expired_holds_go_back_to_atp(engine):
    put_stock(engine, {("DC-1", "A"): 5, ("DC-1", "B"): 5})
    inventory.hold_for_carts(engine, requests=[Req("c1", "A", 2), Req("c1", "B", 1), Req("c2", "A", 3)])
    assert inventory.release_cart_holds(engine, cart_id="c1", sku="B") == 1
    assert inventory.release_cart_holds(engine, cart_id="c1") == 2
    assert position(engine, "DC-1", "A") == (5, 3, 0) and position(engine, "DC-1", "B") == (5, 0, 0)
    assert inventory.release_due_cart_holds(engine) == 0  # c2 is not due yet
    with engine.begin() as conn:
        R = inventory_store.reservations
        conn.execute(R.update().where(R.c.cart_id == "c2").values(expires_at=utcnow() - timedelta(seconds=1)))
    assert inventory.release_due_cart_holds(engine) == 3
    assert position(engine, "DC-1", "A") == (5, 0, 0)
    assert [h["status"] for h in inventory.get_cart(engine, cart_id="c2")] == ["expired"]
    assert orders.expire_unpaid(engine) == []  # cart holds are not orders' presale locks
    assert inventory.check_ledger(engine) == []


def _order(cart_id, lines, **extra):
    return json.dumps(
        {
            "currency": "EUR",
            "customer": {"email": "shopper@x.de"},
            "shipping_address": {"lat": 50.9, "lon": 9.7},
            "payment_status": "paid",
            "cart_id": cart_id,
            "lines": [{"sku": s, "quantity": q, "unit_price": "5.00"} for s, q in lines],
            **extra,
        }
    ).encode()


def test_an_order_takes_its_cart_over(engine):
    put_stock(engine, {("DC-1", "A"): 2, ("DC-1", "B"): 3, ("DC-2", "C"): 4})
    inventory.hold_for_carts(engine, requests=[Req("cart-9", "A", 2), Req("cart-9", "B", 1)])
    assert position(engine, "DC-1", "A") == (2, 2, 0)
    # A: the cart held 2, the order wants 1 (one goes back); B: not ordered (goes back); C: fresh
    captured = capture.receive(engine, adapter="canonical", body=_order("cart-9", [("A", 1), ("C", 1)]), actor="t")
    assert position(engine, "DC-1", "A") == (2, 1, 0)
    assert position(engine, "DC-1", "B") == (3, 0, 0)
    assert position(engine, "DC-2", "C") == (4, 1, 0)
    holds = inventory.get_holds(engine, order_ids=[captured.order_id])[captured.order_id]
    assert sorted((h["sku"], h["node_id"], h["quantity"], h["cart_id"]) for h in holds) == [
        ("A", "DC-1", 1, "cart-9"),
        ("C", "DC-2", 1, ""),
    ]
    cart = {h["sku"]: h for h in inventory.get_cart(engine, cart_id="cart-9")}
    assert cart["A"]["order_id"] == captured.order_id and cart["B"]["status"] == "released"
    view = orders.get(engine, order_id=captured.order_id)
    reserved = next(e for e in view.events if e["type"] == "order.stock_reserved")
    assert reserved["data"]["cart_id"] == "cart-9" and reserved["data"]["from_cart"] == 1
    # the order owns the stock now: cancelling it gives it back, the expiry timer leaves it alone
    assert inventory.release_due_cart_holds(engine) == 0
    orders.cancel(engine, order_id=captured.order_id, reason="test", actor="t")
    assert position(engine, "DC-1", "A") == (2, 0, 0) and position(engine, "DC-2", "C") == (4, 0, 0)
    assert inventory.check_ledger(engine) == []


def test_a_sold_out_sku_held_by_the_cart_still_reaches_the_order(engine):
    put_stock(engine, {("DC-1", "HOT"): 1})
    inventory.hold_for_carts(engine, requests=[Req("lucky", "HOT", 1)])
    refused = capture.receive(engine, adapter="canonical", body=_order(None, [("HOT", 1)]), actor="t")
    captured = capture.receive(
        engine, adapter="canonical", body=_order("lucky", [("HOT", 1)], on_shortage="reject"), actor="t"
    )
    waiting = {e["type"] for e in orders.get(engine, order_id=refused.order_id).events}
    assert "order.backordered" in waiting  # without the cart: nothing left, it waits
    assert "order.backordered" not in {e["type"] for e in orders.get(engine, order_id=captured.order_id).events}
    assert position(engine, "DC-1", "HOT") == (1, 1, 0)


def test_many_shoppers_at_once_hold_exactly_the_stock(engine):
    put_stock(engine, {("DC-1", "HOT"): 20, ("DC-2", "HOT"): 5})

    def shopper(i: int):
        return inventory.hold_for_carts(engine, requests=[Req(f"s{i}", "HOT", 1), Req(f"s{i}", "HOT", 1)])

    results = run_together(48, shopper)
    held = [r[0] for r in results if not isinstance(r, Exception) and r[0].hold is not None]
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors
    assert len(held) == 25
    assert position(engine, "DC-1", "HOT") == (20, 20, 0) and position(engine, "DC-2", "HOT") == (5, 5, 0)
    assert inventory.check_ledger(engine) == []


def test_a_count_below_the_carts_hold_shrinks_it_without_a_backorder(engine):
    put_stock(engine, {("DC-1", "A"): 3})
    inventory.hold_for_carts(engine, requests=[Req("c1", "A", 3)])
    inventory.set_position(engine, node_id="DC-1", sku="A", on_hand=1, actor="counter")
    assert position(engine, "DC-1", "A") == (1, 1, 0)
    assert [h["quantity"] for h in inventory.get_cart(engine, cart_id="c1")] == [1]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM backorders")).scalar() == 0
    assert inventory.check_ledger(engine) == []


def test_a_hold_that_runs_out_between_reading_and_claiming_fails_the_capture_for_a_retry(engine):
    import pytest

    from orderhub.inventory import carts
    from orderhub.inventory.reservations import LineDemand

    put_stock(engine, {("DC-1", "A"): 2})
    inventory.hold_for_carts(engine, requests=[Req("c1", "A", 1)])
    with engine.begin() as conn:
        plan = carts.plan_claim(conn, cart_id="c1", lines=[LineDemand("l1", "A", 1)])
        assert plan.left == [] and plan.lock_keys == set()  # the cart covers it: no stock row to lock
        carts.release_rows(
            conn, carts.due_ids(conn, now=utcnow() + timedelta(hours=1)), expired=True, now=utcnow(), source="t"
        )
        with pytest.raises(inventory.OutOfStock) as raised:
            carts.apply_claim(conn, plan, order_id="o1", expires_at=None, now=utcnow())
    assert raised.value.code == "reservation_raced"
