"""Escrow allotments of store gateways on a real database (docs/edge.md §3): central channels
never promise escrowed units, grants take only free stock, sales and losses never oversell,
and every move keeps the ledger."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from orderhub.platform.db import unit_of_work
from tests.conftest import position, put_stock

HOLDER = inventory.escrow_holder("ST-1")


def grant(engine, units, **kw):
    with unit_of_work(engine) as conn:
        return inventory.grant_escrow(conn, node_id="ST-1", holder=HOLDER, wanted=units, now=utcnow(), **kw)


def escrow(engine):
    with unit_of_work(engine, write=False) as conn:
        return inventory.escrows(conn, node_id="ST-1", holder=HOLDER)


def pickup(engine, ref, qty, *, shortage="reject"):
    doc = {
        "channel": "web",
        "external_ref": ref,
        "currency": "EUR",
        "customer": {"email": f"{ref}@x.de"},
        "lines": [{"sku": "JACKET", "quantity": qty, "unit_price": "10.00"}],
        "payment_status": "paid",
        "delivery_method": "pickup",
        "pickup_node_id": "ST-1",
        "on_shortage": shortage,
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="t")


def test_escrowed_units_are_left_out_of_atp_and_no_central_order_can_take_them(engine):
    put_stock(engine, {("ST-1", "JACKET"): 10})
    assert grant(engine, {"JACKET": 6}) == {"JACKET": 6}
    atp = inventory.get_atp(engine, sku="JACKET")
    assert [(n.node_id, n.on_hand, n.reserved, n.atp) for n in atp["nodes"]] == [("ST-1", 10, 6, 4)]
    assert atp["total"] == 4
    with pytest.raises(Conflict) as refused:
        pickup(engine, "too-many", 5)
    assert refused.value.code == "out_of_stock"
    assert tuple(position(engine, "ST-1", "JACKET")) == (10, 6, 0)  # nothing moved
    pickup(engine, "fits", 4)
    assert tuple(position(engine, "ST-1", "JACKET")) == (10, 10, 0)
    assert escrow(engine) == {"JACKET": 6}
    assert inventory.check_ledger(engine) == []


def test_a_grant_takes_only_free_stock_and_keeps_the_safety_stock(engine):
    put_stock(engine, {("ST-1", "JACKET"): 10})
    inventory.ingest(
        engine, source="t2", sequence=1, mode="snapshot", rows=[inventory.StockRow("ST-1", "JACKET", 10, None, 3)]
    )
    pickup(engine, "held", 2)
    assert grant(engine, {"JACKET": 50, "NONE": 5}) == {"JACKET": 5}  # 10 - 2 held - 3 safety
    assert grant(engine, {"JACKET": 1}) == {}
    assert escrow(engine) == {"JACKET": 5}
    # units freed by the same transaction go in whatever the safety stock says
    assert grant(engine, {"JACKET": 9}, freed_here=True) == {"JACKET": 3}
    assert tuple(position(engine, "ST-1", "JACKET")) == (10, 10, 0)
    assert inventory.check_ledger(engine) == []


def test_selling_takes_the_escrow_first_then_unpromised_stock_and_reports_the_rest_missing(engine):
    put_stock(engine, {("ST-1", "JACKET"): 10})
    grant(engine, {"JACKET": 3})
    pickup(engine, "held", 4)
    with unit_of_work(engine) as conn:
        missing = inventory.sell_from_escrow(
            conn, node_id="ST-1", holder=HOLDER, units={"JACKET": 2}, reference="r1", now=utcnow()
        )
    assert missing == {} and escrow(engine) == {"JACKET": 1}
    assert tuple(position(engine, "ST-1", "JACKET")) == (8, 5, 0)
    with unit_of_work(engine) as conn:
        missing = inventory.sell_from_escrow(
            conn, node_id="ST-1", holder=HOLDER, units={"JACKET": 9}, reference="r2", now=utcnow()
        )
    # 1 from the escrow, 3 unpromised (8 on hand - 4 held - 1 escrow), 5 nowhere
    assert missing == {"JACKET": 5}
    assert escrow(engine) == {}
    assert tuple(position(engine, "ST-1", "JACKET")) == (4, 4, 0)  # the central hold is intact
    with engine.connect() as conn:
        reasons = conn.execute(
            sa.text("SELECT reason, d_on_hand, d_reserved FROM inventory_ledger WHERE reference LIKE 'r%' ORDER BY seq")
        ).all()
    assert [tuple(r) for r in reasons] == [("escrow_sold", -2, -2), ("escrow_sold", -1, -1), ("delta", -3, 0)]
    assert inventory.check_ledger(engine) == []


def test_release_gives_units_back_to_every_channel_and_never_below_zero(engine):
    put_stock(engine, {("ST-1", "JACKET"): 10})
    grant(engine, {"JACKET": 7})
    with unit_of_work(engine) as conn:
        done = inventory.release_escrow(conn, node_id="ST-1", holder=HOLDER, units={"JACKET": 5}, now=utcnow())
    assert done == {"JACKET": 5} and inventory.get_atp(engine, sku="JACKET")["total"] == 8
    with unit_of_work(engine) as conn:
        done = inventory.release_escrow(conn, node_id="ST-1", holder=HOLDER, units={"JACKET": 5}, now=utcnow())
    assert done == {"JACKET": 2} and escrow(engine) == {}
    assert tuple(position(engine, "ST-1", "JACKET")) == (10, 0, 0)
    assert inventory.check_ledger(engine) == []


def test_a_loss_takes_its_escrow_part_then_free_stock_then_backorders_central_promises_last_the_escrow(engine):
    put_stock(engine, {("ST-1", "JACKET"): 10})
    grant(engine, {"JACKET": 4})
    held = pickup(engine, "held", 3, shortage="backorder")

    def lose(delta, from_escrow):
        with unit_of_work(engine) as conn:
            return inventory.adjust_store_stock(
                conn,
                node_id="ST-1",
                holder=HOLDER,
                sku="JACKET",
                delta=delta,
                from_escrow=from_escrow,
                reference="adj",
                now=utcnow(),
            )

    assert lose(-2, 1) == 0  # 1 from the escrow, 1 of the 3 unpromised
    assert tuple(position(engine, "ST-1", "JACKET")) == (8, 6, 0) and escrow(engine) == {"JACKET": 3}
    assert lose(-4, 0) == 2  # 2 unpromised left, then the central hold makes room
    assert tuple(position(engine, "ST-1", "JACKET")) == (4, 4, 0) and escrow(engine) == {"JACKET": 3}
    with unit_of_work(engine, write=False) as conn:
        waiting = inventory.backorders_of(conn, order_id=held.order_id)
    assert [(b["sku"], b["quantity"]) for b in waiting] == [("JACKET", 2)]
    assert lose(-3, 0) == 3  # the last hold goes, then the escrow gives up 2
    assert tuple(position(engine, "ST-1", "JACKET")) == (1, 1, 0) and escrow(engine) == {"JACKET": 1}
    assert lose(+5, 0) == 0
    assert tuple(position(engine, "ST-1", "JACKET")) == (6, 1, 0)
    assert lose(-50, 0) >= 0 and tuple(position(engine, "ST-1", "JACKET")) == (0, 0, 0)
    assert inventory.check_ledger(engine) == []


def test_a_central_count_below_the_promise_takes_the_escrow_last(engine):
    put_stock(engine, {("ST-1", "JACKET"): 10})
    grant(engine, {"JACKET": 5})
    pickup(engine, "held", 3, shortage="backorder")
    inventory.ingest(
        engine, source="count", sequence=1, mode="snapshot", rows=[inventory.StockRow("ST-1", "JACKET", on_hand=6)]
    )
    assert escrow(engine) == {"JACKET": 5}
    assert tuple(position(engine, "ST-1", "JACKET")) == (6, 6, 0)
    assert inventory.check_ledger(engine) == []


def test_an_escrow_is_no_shopper_s_cart(engine):
    put_stock(engine, {("ST-1", "JACKET"): 10})
    grant(engine, {"JACKET": 5})
    with pytest.raises(InvalidInput) as refused:
        inventory.release_cart_holds(engine, cart_id=HOLDER)
    assert refused.value.code == "reserved_cart_id"
    assert escrow(engine) == {"JACKET": 5}
