"""Stock on a real database: ingestion, ATP, holds that expire, backorders, the ledger."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict
from orderhub.inventory import adjustments
from orderhub.inventory import service as inventory
from orderhub.orders import capture, service
from tests.conftest import position, put_stock

Row = inventory.StockRow


def order(engine, *, lines, ref, paid=False, lat=52.5, lon=13.4, shortage="backorder", channel="web"):
    doc = {
        "channel": channel,
        "external_ref": ref,
        "currency": "EUR",
        "customer": {"email": f"{ref}@x.de"},
        "shipping_address": {"city": "Berlin", "country": "DE", "lat": lat, "lon": lon},
        "lines": [{"sku": s, "quantity": q, "unit_price": "1.00"} for s, q in lines],
        "payment_status": "paid" if paid else "pending",
        "on_shortage": shortage,
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="t").order_id


def test_ingestion_is_idempotent_skips_stale_and_unchanged_rows(engine):
    put_stock(engine, {("DC-1", "A"): 0})
    first = inventory.ingest(
        engine,
        source="wms",
        sequence=10,
        mode="snapshot",
        rows=[Row("DC-1", "A", on_hand=7), Row("DC-1", "B", on_hand=3)],
    )
    assert (first.applied, first.unchanged, first.stale) == (2, 0, 0)
    again = inventory.ingest(engine, source="wms", sequence=10, mode="snapshot", rows=[Row("DC-1", "A", on_hand=99)])
    assert again.replayed and position(engine, "DC-1", "A").on_hand == 7
    stale = inventory.ingest(engine, source="wms", sequence=9, mode="snapshot", rows=[Row("DC-1", "A", on_hand=1)])
    assert stale.stale == 1 and position(engine, "DC-1", "A").on_hand == 7
    same = inventory.ingest(engine, source="wms", sequence=11, mode="snapshot", rows=[Row("DC-1", "A", on_hand=7)])
    assert same.unchanged == 1
    delta = inventory.ingest(
        engine,
        source="pos",
        sequence=1,
        mode="delta",
        rows=[Row("DC-1", "A", delta=-2), Row("DC-1", "A", delta=-1, sequence=2)],
    )
    assert delta.applied == 2 and position(engine, "DC-1", "A").on_hand == 4
    with engine.connect() as conn:
        reasons = conn.execute(
            sa.text("SELECT reason, d_on_hand FROM inventory_ledger WHERE sku = 'A' ORDER BY seq")
        ).all()
    assert [tuple(r) for r in reasons] == [("snapshot", 0), ("snapshot", 7), ("delta", -2), ("delta", -1)]
    assert inventory.check_ledger(engine) == []


def test_a_bulk_batch_mixes_every_case_and_agrees_on_both_databases(engine):
    """A batch of 120 rows (PostgreSQL applies it in one statement, SQLite row by row): changed,
    unchanged, stale, new, a count below a paid order's hold, supply for a backorder, and deltas.
    Counts, positions, holds and the ledger must come out the same on both."""
    put_stock(engine, {("DC-1", f"S{i:03d}"): 10 for i in range(100)})
    inventory.ingest(engine, source="wms", sequence=5, mode="snapshot", rows=[Row("DC-1", "S000", on_hand=11)])
    held = order(engine, lines=[("S001", 6)], ref="held", paid=True, lat=50.9, lon=9.7)
    waiting = order(engine, lines=[("S002", 13)], ref="waiting", paid=True, lat=50.9, lon=9.7)
    rows = (
        [Row("DC-1", "S000", on_hand=1, sequence=4)]  # stale: wms already reported seq 5 here
        + [Row("DC-1", "S001", on_hand=4)]  # below the 6 held: the hold goes to backorder in part
        + [Row("DC-1", "S002", on_hand=20)]  # supply for the waiting order
        + [Row("DC-1", f"S{i:03d}", on_hand=10) for i in range(3, 40)]  # unchanged
        + [Row("DC-1", f"S{i:03d}", on_hand=i, safety_stock=1) for i in range(40, 100)]  # changed
        + [Row("DC-2", f"N{i:03d}", on_hand=i + 1) for i in range(20)]  # new positions
    )
    result = inventory.ingest_and_serve(engine, source="wms", sequence=6, mode="snapshot", rows=rows)
    assert (result.rows, result.applied, result.unchanged, result.stale, result.shortages) == (120, 82, 37, 1, 1)
    assert tuple(position(engine, "DC-1", "S000")) == (11, 0, 0)
    assert tuple(position(engine, "DC-1", "S001")) == (4, 4, 0)
    assert [b["quantity"] for b in service.get_stock(engine, order_id=held)["backorders"]] == [2]
    assert tuple(position(engine, "DC-1", "S002")) == (20, 13, 0)  # the waiting order was served
    assert service.get_stock(engine, order_id=waiting)["backorders"][-1]["status"] == "served"
    assert tuple(position(engine, "DC-1", "S050")) == (50, 0, 0) and tuple(position(engine, "DC-2", "N019")) == (
        20,
        0,
        0,
    )
    deltas = inventory.ingest(
        engine,
        source="pos",
        sequence=1,
        mode="delta",
        rows=[Row("DC-1", f"S{i:03d}", delta=-60) for i in range(40, 100)]
        + [Row("DC-1", f"S{i:03d}", delta=0) for i in range(3, 13)]  # no change
        + [Row("DC-1", f"S{i:03d}", delta=1, sequence=2) for i in range(40, 100)],  # the same positions again
    )
    assert (deltas.applied, deltas.unchanged, deltas.stale) == (120, 10, 0)  # on hand floors at 0, then +1
    assert tuple(position(engine, "DC-1", "S099")) == (40, 0, 0) and tuple(position(engine, "DC-1", "S041")) == (
        1,
        0,
        0,
    )
    assert inventory.check_ledger(engine) == []
    with engine.connect() as conn:
        ledger = conn.execute(
            sa.text(
                "SELECT reason, d_on_hand, on_hand_after, source, reference FROM inventory_ledger WHERE sku = 'S050' ORDER BY seq"
            )
        ).all()
    assert [tuple(r) for r in ledger][-3:] == [
        ("snapshot", 40, 50, "wms", "6"),
        ("delta", -50, 0, "pos", "1"),
        ("delta", 1, 1, "pos", "2"),
    ]


def test_atp_subtracts_holds_and_safety_stock_by_node_region_channel_and_date(engine):
    put_stock(engine, {("DC-1", "A"): 10, ("ST-MUC", "A"): 4})
    inventory.ingest(
        engine, source="wms", sequence=1, mode="snapshot", rows=[Row("DC-1", "A", on_hand=10, safety_stock=2)]
    )
    order(engine, lines=[("A", 3)], ref="o1", lat=50.9, lon=9.7)  # next to DC-1
    atp = inventory.get_atp(engine, sku="A")
    by_node = {n.node_id: n.atp for n in atp["nodes"]}
    assert by_node == {"DC-1": 10 - 2 - 3, "ST-MUC": 4} and atp["total"] == 9
    assert atp["regions"] == {"BY": 4, "HE": 5}
    assert inventory.get_atp(engine, sku="A", region="BY")["total"] == 4
    inventory.set_policy(engine, channel="shopify", reservation_ttl_s=None, buffer_pct=50)
    assert {n.node_id: n.atp for n in inventory.get_atp(engine, sku="A", channel="shopify")["nodes"]} == {
        "DC-1": 2,
        "ST-MUC": 2,
    }
    adjustments.add_supply(engine, node_id="DC-1", sku="A", quantity=20, expected_at=utcnow() + timedelta(days=3))
    assert inventory.get_atp(engine, sku="A", on=utcnow() + timedelta(days=2))["total"] == 9
    assert inventory.get_atp(engine, sku="A", on=utcnow() + timedelta(days=4))["total"] == 29
    near = inventory.get_atp(engine, sku="A", near=(48.1, 11.6))["nodes"]
    assert near[0].node_id == "ST-MUC" and near[0].reported_at is not None


def test_capture_holds_at_the_nearest_node_then_splits_then_backorders(engine):
    put_stock(engine, {("DC-1", "A"): 5, ("DC-2", "A"): 5})
    o1 = order(engine, lines=[("A", 4)], ref="o1", lat=53.5, lon=10.0)  # Hamburg: DC-2 is nearest
    assert position(engine, "DC-2", "A").reserved == 4
    o2 = order(engine, lines=[("A", 3)], ref="o2", lat=53.5, lon=10.0)  # DC-2 has 1 left: DC-1 has all 3
    assert position(engine, "DC-1", "A").reserved == 3
    o3 = order(engine, lines=[("A", 4)], ref="o3", lat=53.5, lon=10.0)  # 1 + 2 left: split, 1 short
    holds = service.get_stock(engine, order_id=o3)
    assert sorted((h["node_id"], h["quantity"]) for h in holds["holds"]) == [("DC-1", 2), ("DC-2", 1)]
    assert [b["quantity"] for b in holds["backorders"]] == [1]
    assert "order.backordered" in [e["type"] for e in service.get(engine, order_id=o3).events]
    assert inventory.get_atp(engine, sku="A")["total"] == 0
    assert {o1, o2} and inventory.check_ledger(engine) == []


def test_reject_on_shortage_writes_nothing(engine):
    put_stock(engine, {("DC-1", "A"): 1})
    with pytest.raises(Conflict) as err:
        order(engine, lines=[("A", 2)], ref="o1", shortage="reject")
    assert err.value.code == "out_of_stock" and err.value.fields["available"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM reservations")).scalar_one() == 0
    assert tuple(position(engine, "DC-1", "A")) == (1, 0, 0)


def test_unpaid_hold_expires_cancels_the_order_and_returns_stock(engine):
    put_stock(engine, {("DC-1", "A"): 5})
    inventory.set_policy(engine, channel="web", reservation_ttl_s=60, buffer_pct=0)
    unpaid = order(engine, lines=[("A", 2)], ref="o1")
    paid_later = order(engine, lines=[("A", 1)], ref="o2")
    service.mark_paid(engine, order_id=paid_later, actor="psp")
    assert position(engine, "DC-1", "A").reserved == 3
    with engine.begin() as conn:  # the deadline passes
        conn.execute(
            sa.text("UPDATE reservations SET expires_at = :t WHERE order_id = :o"),
            {"t": utcnow() - timedelta(seconds=1), "o": unpaid},
        )
    assert service.expire_unpaid(engine) == [unpaid]
    view = service.get(engine, order_id=unpaid)
    assert view.order.status.value == "cancelled"
    assert (
        view.events[-1]["actor"] == "system:presale-lock"
        and view.events[-1]["data"]["reason"] == "payment not received in time"
    )
    assert tuple(position(engine, "DC-1", "A")) == (5, 1, 0)
    assert service.get(engine, order_id=paid_later).order.status.value == "paid"
    assert service.expire_unpaid(engine) == []
    assert inventory.check_ledger(engine) == []


def test_hold_extension_moves_the_deadline(engine):
    put_stock(engine, {("DC-1", "A"): 5})
    oid = order(engine, lines=[("A", 1)], ref="o1")
    until = service.extend_hold(engine, order_id=oid, minutes=90, actor="psp")
    [hold] = service.get_stock(engine, order_id=oid)["holds"]
    assert abs((hold["expires_at"] - until).total_seconds()) < 1 and until > utcnow() + timedelta(minutes=89)


def test_backorders_are_served_first_come_first_served_when_supply_arrives(engine):
    put_stock(engine, {("DC-1", "A"): 0})
    first = order(engine, lines=[("A", 2)], ref="o1", paid=True)
    second = order(engine, lines=[("A", 2)], ref="o2", paid=True)
    supply = adjustments.add_supply(engine, node_id="DC-1", sku="A", quantity=3, expected_at=utcnow())
    adjustments.receive_supply(engine, supply_id=supply, actor="wms")
    s1, s2 = service.get_stock(engine, order_id=first), service.get_stock(engine, order_id=second)
    assert [h["quantity"] for h in s1["holds"]] == [2] and s1["backorders"][0]["status"] == "served"
    assert [h["quantity"] for h in s2["holds"]] == [1] and s2["backorders"][0]["quantity"] == 1
    assert tuple(position(engine, "DC-1", "A")) == (3, 3, 0)
    assert inventory.check_ledger(engine) == []
    with engine.connect() as conn:  # the arrival is news (published before the backorders took it)
        [(node, payload)] = conn.execute(
            sa.text("SELECT aggregate_id, payload FROM outbox WHERE type = 'inventory.stock_moved'")
        ).all()
    data = payload if isinstance(payload, dict) else json.loads(payload)
    assert node == "DC-1" and (data["reason"], data["delta"], data["on_hand"], data["atp"]) == ("received", 3, 3, 3)
    assert data["reference"] == supply


def test_a_count_below_the_promise_backorders_the_newest_hold(engine):
    put_stock(engine, {("DC-1", "A"): 4})
    old = order(engine, lines=[("A", 2)], ref="old", paid=True)
    new = order(engine, lines=[("A", 2)], ref="new", paid=True)
    result = inventory.ingest(engine, source="wms", sequence=99, mode="snapshot", rows=[Row("DC-1", "A", on_hand=3)])
    assert result.shortages == 1
    assert tuple(position(engine, "DC-1", "A")) == (3, 3, 0)
    assert [h["quantity"] for h in service.get_stock(engine, order_id=old)["holds"] if h["status"] == "active"] == [2]
    assert [b["quantity"] for b in service.get_stock(engine, order_id=new)["backorders"]] == [1]
    assert inventory.check_ledger(engine) == []


def test_allocate_ship_cancel_move_stock_and_the_ledger_rebuilds_every_position(engine):
    put_stock(engine, {("DC-1", "A"): 10, ("DC-2", "B"): 10, ("DC-1", "B"): 1})
    oid = order(engine, lines=[("A", 2), ("B", 3)], ref="o1", paid=True, lat=50.9, lon=9.7)
    a, b = service.get(engine, order_id=oid).order.lines
    assert tuple(position(engine, "DC-2", "B")) == (10, 3, 0)
    # the operator ships B from DC-1 instead: not enough there
    with pytest.raises(Conflict):
        service.allocate(engine, order_id=oid, actor="ops", assignments={"DC-1": {a.id: 2, b.id: 3}})
    service.allocate(engine, order_id=oid, actor="ops", assignments={"DC-1": {a.id: 2}, "DC-2": {b.id: 3}})
    assert tuple(position(engine, "DC-1", "A")) == (10, 0, 2) and tuple(position(engine, "DC-2", "B")) == (10, 0, 3)
    service.transition(engine, order_id=oid, to="released", actor="ops")
    service.record_shipment(engine, order_id=oid, actor="wms", lines={a.id: 2})
    assert tuple(position(engine, "DC-1", "A")) == (8, 0, 0)
    other = order(engine, lines=[("A", 1)], ref="o2")
    service.cancel(engine, order_id=other, actor="c", reason="changed mind")
    assert tuple(position(engine, "DC-1", "A")) == (8, 0, 0)
    edited = order(engine, lines=[("A", 1)], ref="o3", paid=True, lat=50.9, lon=9.7)
    service.change_line_quantity(
        engine, order_id=edited, actor="c", line_id=service.get(engine, order_id=edited).order.lines[0].id, quantity=4
    )
    assert tuple(position(engine, "DC-1", "A")) == (8, 4, 0)
    assert inventory.check_ledger(engine) == []
    with engine.connect() as conn:  # rebuild every position from the ledger alone
        rebuilt = conn.execute(
            sa.text(
                "SELECT node_id, sku, SUM(d_on_hand), SUM(d_reserved), SUM(d_allocated) FROM inventory_ledger GROUP BY node_id, sku ORDER BY 1, 2"
            )
        ).all()
        stored = conn.execute(
            sa.text("SELECT node_id, sku, on_hand, reserved, allocated FROM stock_positions ORDER BY 1, 2")
        ).all()
    assert [tuple(r) for r in rebuilt] == [tuple(r) for r in stored]


def test_till_sale_takes_stock_off_the_store_shelf(engine):
    put_stock(engine, {("ST-MUC", "JACKET-RAIN-M"): 3, ("ST-MUC", "CAP-WOOL"): 1})
    from tests.conftest import FIXTURES

    sale = json.loads((FIXTURES / "pos_sale.json").read_text())
    sale["store_id"] = "ST-MUC"
    oid = capture.receive(engine, adapter="pos", body=json.dumps(sale).encode(), actor="pos").order_id
    assert tuple(position(engine, "ST-MUC", "JACKET-RAIN-M")) == (2, 0, 0)
    assert tuple(position(engine, "ST-MUC", "CAP-WOOL")) == (0, 0, 0)
    events = service.get(engine, order_id=oid).events
    assert events[-1]["type"] == "order.stock_count_due" and events[-1]["data"]["missing_units"] == 1


def test_operator_override_moves_an_allocation_checked_against_stock(engine):
    put_stock(engine, {("DC-1", "A"): 5, ("DC-2", "A"): 1})
    oid = order(engine, lines=[("A", 2)], ref="o1", paid=True, lat=50.9, lon=9.7)
    [line] = service.get(engine, order_id=oid).order.lines
    service.allocate(engine, order_id=oid, actor="ops", assignments={"DC-1": {line.id: 2}})
    with pytest.raises(Conflict):  # DC-2 has 1: refused, nothing moves
        service.allocate(engine, order_id=oid, actor="ops", assignments={"DC-2": {line.id: 2}}, reason="DC-1 flooded")
    assert tuple(position(engine, "DC-1", "A")) == (5, 0, 2)
    put_stock(engine, {("DC-2", "A"): 4})
    moved = service.allocate(
        engine, order_id=oid, actor="ops", assignments={"DC-2": {line.id: 2}}, reason="DC-1 flooded"
    )
    assert moved.status.value == "allocated" and [f.node_id for f in moved.fulfilment_orders] == ["DC-2"]
    assert tuple(position(engine, "DC-1", "A")) == (5, 0, 0) and tuple(position(engine, "DC-2", "A")) == (4, 0, 2)
    rerouted = [e for e in service.get(engine, order_id=oid).events if e["type"] == "order.rerouted"]
    assert rerouted[0]["data"]["reason"] == "DC-1 flooded" and rerouted[0]["actor"] == "ops"
    assert inventory.check_ledger(engine) == []


@pytest.mark.parametrize(
    ("policy", "first"),
    [("fifo", "early"), ("vip_first", "vip"), ("profit", "rich")],
)
def test_scarce_stock_goes_to_the_backlog_by_policy(engine, policy, first):
    put_stock(engine, {("DC-1", "A"): 0})
    inventory.save_items(engine, items=[inventory.Item("A", "Mug", "kitchen", 400, 1000, 600)])

    def place(ref, *, tier="standard", price="1.00"):
        doc = {
            "external_ref": ref,
            "currency": "EUR",
            "customer": {"email": f"{ref}@x.de", "tier": tier},
            "shipping_address": {"lat": 50.9, "lon": 9.7},
            "payment_status": "paid",
            "lines": [{"sku": "A", "quantity": 1, "unit_price": price}],
        }
        return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="t").order_id

    ids = {"early": place("early"), "vip": place("vip", tier="vip"), "rich": place("rich", price="25.00")}
    inventory.ingest(engine, source="wms", sequence=5, mode="snapshot", rows=[Row("DC-1", "A", on_hand=1)])
    assert inventory.serve_backorders(engine, policy=policy) == 1
    served = [name for name, oid in ids.items() if service.get_stock(engine, order_id=oid)["holds"]]
    assert served == [first]
