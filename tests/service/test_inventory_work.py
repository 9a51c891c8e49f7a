"""Stock work by hand (adjust, transfer, receive) and the stock lists, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from orderhub.core.errors import InvalidInput
from orderhub.inventory import adjustments, catalogue
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from tests.conftest import position, put_stock


def ledger(engine, sku):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT node_id, reason, d_on_hand, reference, source FROM inventory_ledger WHERE sku = :s ORDER BY seq"
            ),
            {"s": sku},
        ).all()
    return [tuple(r) for r in rows]


def hold(engine, sku, qty, ref):
    """A paid order that holds ``qty`` of ``sku`` (at DC-1, the only node with stock)."""
    doc = {
        "channel": "web",
        "external_ref": ref,
        "currency": "EUR",
        "customer": {"email": f"{ref}@x.de"},
        "shipping_address": {"city": "Kassel", "country": "DE", "lat": 51.3, "lon": 9.5},
        "lines": [{"sku": sku, "quantity": qty, "unit_price": "1.00"}],
        "payment_status": "paid",
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="t").order_id


def test_adjust_sets_or_changes_on_hand_with_a_ledger_row_naming_the_reason(engine):
    put_stock(engine, {("DC-1", "A"): 10})
    set_to = adjustments.adjust(engine, node_id="DC-1", sku="A", quantity=7, reason="cycle count", actor="ann")
    assert (set_to.on_hand, set_to.reason) == (7, "adjusted")
    changed = adjustments.adjust(engine, node_id="DC-1", sku="A", delta=-2, reason="damaged", actor="ann")
    assert changed.on_hand == 5 and tuple(position(engine, "DC-1", "A")) == (5, 0, 0)
    assert ledger(engine, "A")[-2:] == [
        ("DC-1", "adjusted", -3, "cycle count", "ann"),
        ("DC-1", "adjusted", -2, "damaged", "ann"),
    ]
    assert inventory.check_ledger(engine) == []


def test_adjust_refuses_to_go_below_held_units_and_writes_nothing(engine):
    put_stock(engine, {("DC-1", "A"): 10})
    hold(engine, "A", 6, "o1")
    before = ledger(engine, "A")
    with pytest.raises(InvalidInput) as refused:
        adjustments.adjust(engine, node_id="DC-1", sku="A", delta=-5, reason="damaged", actor="ann")
    assert refused.value.code == "below_held"
    assert refused.value.errors == [{"pointer": "/delta", "detail": "at most 4 units can leave DC-1"}]
    assert refused.value.fields["available"] == 4 and refused.value.fields["held"] == 6
    with pytest.raises(InvalidInput) as set_below:
        adjustments.adjust(engine, node_id="DC-1", sku="A", quantity=5, reason="count", actor="ann")
    assert set_below.value.errors[0]["pointer"] == "/quantity"
    assert tuple(position(engine, "DC-1", "A")) == (10, 6, 0) and ledger(engine, "A") == before
    assert adjustments.adjust(engine, node_id="DC-1", sku="A", delta=-4, reason="damaged", actor="ann").on_hand == 6


def stock_events(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT aggregate_type, aggregate_id, actor, payload FROM outbox"
                " WHERE type = 'inventory.stock_moved' ORDER BY seq"
            )
        ).all()
    return [
        (r.aggregate_type, r.aggregate_id, r.actor, r.payload if isinstance(r.payload, dict) else json.loads(r.payload))
        for r in rows
    ]


def test_every_movement_publishes_stock_moved_with_the_position_after_it_and_a_refusal_none(engine):
    put_stock(engine, {("DC-1", "A"): 10, ("DC-2", "B"): 1})
    hold(engine, "A", 6, "o1")
    adjustments.adjust(engine, node_id="DC-1", sku="A", delta=-1, reason="damaged", actor="ann")
    with pytest.raises(InvalidInput):
        adjustments.adjust(engine, node_id="DC-1", sku="A", delta=-9, reason="damaged", actor="ann")
    adjustments.transfer(engine, from_node_id="DC-1", to_node_id="DC-2", sku="A", quantity=2, reason="x", actor="bo")
    adjustments.receive(engine, node_id="DC-2", sku="A", quantity=5, reference="PO-7", actor="cy")
    events = stock_events(engine)
    assert [(t, node, actor) for t, node, actor, _ in events] == [
        ("inventory_node", "DC-1", "ann"), ("inventory_node", "DC-1", "bo"), ("inventory_node", "DC-2", "bo"),
        ("inventory_node", "DC-2", "cy"),
    ]  # fmt: skip
    data = [e[3] for e in events]
    assert [(d["reason"], d["delta"], d["on_hand"], d["atp"]) for d in data] == [
        ("adjusted", -1, 9, 3), ("transfer_out", -2, 7, 1), ("transfer_in", 2, 2, 2), ("received", 5, 7, 7),
    ]  # fmt: skip
    assert data[0]["reference"] == "damaged" and data[3]["reference"] == "PO-7"
    assert data[1]["reference"] == data[2]["reference"] and data[1]["reference"].endswith(": x")


def test_adjust_needs_exactly_one_of_quantity_and_delta_a_reason_and_a_known_node(engine):
    put_stock(engine, {("DC-1", "A"): 10})
    cases = [
        ({"quantity": 1, "delta": 1, "reason": "x"}, "/quantity"),
        ({"reason": "x"}, "/quantity"),
        ({"quantity": 1, "reason": " "}, "/reason"),
        ({"quantity": 1, "reason": "x", "node_id": "NOPE"}, "/node_id"),
    ]
    for kwargs, pointer in cases:
        with pytest.raises(InvalidInput) as refused:
            adjustments.adjust(engine, **{"node_id": "DC-1", "sku": "A", "actor": "ann", **kwargs})
        assert refused.value.errors[0]["pointer"] == pointer
    assert tuple(position(engine, "DC-1", "A")) == (10, 0, 0) and len(ledger(engine, "A")) == 1


def test_transfer_moves_free_units_with_two_ledger_rows_and_keeps_the_ledger_check_clean(engine):
    put_stock(engine, {("DC-1", "A"): 10, ("DC-2", "B"): 1})
    hold(engine, "A", 3, "o1")
    out, into = adjustments.transfer(
        engine, from_node_id="DC-1", to_node_id="DC-2", sku="A", quantity=7, reason="rebalance", actor="ann"
    )
    assert (out.on_hand, out.reserved, into.on_hand) == (3, 3, 7)
    assert tuple(position(engine, "DC-1", "A")) == (3, 3, 0) and tuple(position(engine, "DC-2", "A")) == (7, 0, 0)
    rows = [r for r in ledger(engine, "A") if r[1].startswith("transfer")]
    assert [(r[0], r[1], r[2]) for r in rows] == [("DC-1", "transfer_out", -7), ("DC-2", "transfer_in", 7)]
    assert rows[0][3] == rows[1][3] and rows[0][3].endswith(": rebalance") and rows[0][3].startswith("trf")
    assert inventory.check_ledger(engine) == []


def test_transfer_never_takes_held_units_and_names_the_field(engine):
    put_stock(engine, {("DC-1", "A"): 10, ("DC-2", "B"): 1})
    hold(engine, "A", 3, "o1")
    before = ledger(engine, "A")
    for kwargs, pointer, code in [
        ({"quantity": 8}, "/quantity", "below_held"),
        ({"quantity": 1, "sku": "ZZ"}, "/quantity", "below_held"),
        ({"quantity": 1, "to_node_id": "DC-1"}, "/to_node_id", "invalid_input"),
        ({"quantity": 1, "to_node_id": "NOPE"}, "/to_node_id", "node_not_found"),
        ({"quantity": 0}, "/quantity", "invalid_input"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            adjustments.transfer(
                engine,
                **{"from_node_id": "DC-1", "to_node_id": "DC-2", "sku": "A", "reason": "r", "actor": "a", **kwargs},
            )
        assert (refused.value.errors[0]["pointer"], refused.value.code) == (pointer, code)
    assert tuple(position(engine, "DC-1", "A")) == (10, 3, 0) and ledger(engine, "A") == before
    with engine.connect() as conn:  # the refused transfers created no position at the destination
        assert (
            conn.execute(sa.text("SELECT count(*) FROM stock_positions WHERE node_id = 'DC-2' AND sku = 'A'")).scalar()
            == 0
        )
    assert inventory.check_ledger(engine) == []


def test_receive_adds_units_serves_the_waiting_order_and_needs_a_reference(engine):
    put_stock(engine, {("DC-1", "A"): 0})
    waiting = hold(engine, "A", 2, "o1")  # backordered: nothing on hand
    assert tuple(position(engine, "DC-1", "A")) == (0, 0, 0)
    moved = adjustments.receive(
        engine, node_id="DC-1", sku="A", quantity=5, reference="DN-42", reason="found", actor="bob"
    )
    assert moved.on_hand == 5
    assert tuple(position(engine, "DC-1", "A")) == (5, 2, 0)  # the waiting order now holds 2
    assert ledger(engine, "A")[1][:4] == ("DC-1", "received", 5, "DN-42 — found")
    assert inventory.get_holds(engine, order_ids=[waiting])[waiting][0]["quantity"] == 2
    with pytest.raises(InvalidInput) as refused:
        adjustments.receive(engine, node_id="DC-1", sku="A", quantity=1, reference=" ", actor="bob")
    assert refused.value.errors[0]["pointer"] == "/reference" and position(engine, "DC-1", "A").on_hand == 5
    assert inventory.check_ledger(engine) == []


def _catalogue(engine):
    inventory.put_items(
        engine,
        items=[
            inventory.item_from_fields({"sku": "A", "name": "Apple juice", "category": "drinks"}),
            inventory.item_from_fields({"sku": "B", "name": "Bread", "category": "bakery"}),
            inventory.item_from_fields({"sku": "C", "name": "Cider", "category": "drinks"}),
            inventory.item_from_fields({"sku": "D", "name": "Dates 100%", "category": "fruit"}),
        ],
    )
    put_stock(engine, {("DC-1", "A"): 50, ("DC-2", "A"): 3, ("DC-1", "B"): 4, ("DC-1", "C"): 0, ("DC-2", "X"): 9})


def test_product_list_joins_the_item_master_and_stock_with_states_counts_and_paging(engine):
    _catalogue(engine)
    everything = catalogue.product_list(engine)
    got = {r["sku"]: (r["name"], r["on_hand"], r["atp"], r["nodes"], r["state"]) for r in everything.rows}
    assert got == {
        "A": ("Apple juice", 53, 53, 2, "ok"),
        "B": ("Bread", 4, 4, 1, "low"),  # no safety stock: low at or below 5 units
        "C": ("Cider", 0, 0, 1, "out"),
        "D": ("Dates 100%", 0, 0, 0, "out"),  # in the item master, stocked nowhere
        "X": ("", 9, 9, 1, "ok"),  # stocked, not in the item master
    }
    assert everything.counts == {"out": 2, "low": 1, "ok": 2} and everything.total == 5
    drinks = catalogue.product_list(engine, category="drinks", state="out")
    assert [r["sku"] for r in drinks.rows] == ["C"] and drinks.counts == {"out": 1, "low": 0, "ok": 1}
    at_dc2 = catalogue.product_list(engine, node_id="DC-2")
    assert [(r["sku"], r["on_hand"], r["state"]) for r in at_dc2.rows] == [("A", 3, "low"), ("X", 9, "ok")]
    assert [r["sku"] for r in catalogue.product_list(engine, search="apple").rows] == ["A"]
    assert [r["sku"] for r in catalogue.product_list(engine, search="100%").rows] == ["D"]  # % is literal
    by_stock = catalogue.product_list(engine, sort="on_hand", desc=True, per_page=2, page=2)
    assert [r["sku"] for r in by_stock.rows] == ["B", "C"]
    assert (by_stock.total, by_stock.pages, by_stock.first, by_stock.last) == (5, 3, 3, 4)


def test_node_positions_have_names_states_sorting_and_paging_and_alerts_count_them(engine):
    _catalogue(engine)
    adjustments.adjust(engine, node_id="DC-1", sku="A", delta=0, reason="noop", actor="a")
    with engine.begin() as conn:  # a safety stock of 8 makes B's 4 units out (ATP 0) and A's 50 ok
        conn.execute(
            sa.text("UPDATE stock_positions SET safety_stock = 8 WHERE sku IN ('A', 'B') AND node_id = 'DC-1'")
        )
    page = catalogue.node_positions(engine, node_id="DC-1", sort="atp", desc=True)
    assert [(r["sku"], r["name"], r["atp"], r["threshold"], r["state"]) for r in page.rows] == [
        ("A", "Apple juice", 42, 8, "ok"),
        ("B", "Bread", 0, 8, "out"),
        ("C", "Cider", 0, 5, "out"),
    ]
    outs = catalogue.node_positions(engine, node_id="DC-1", state="out", per_page=1, page=2)
    assert [r["sku"] for r in outs.rows] == ["C"] and outs.total == 2 and outs.counts["ok"] == 1
    assert catalogue.stock_alerts(engine) == {
        "DC-1": {"low": 0, "out": 2, "positions": 3},
        "DC-2": {"low": 1, "out": 0, "positions": 2},
    }
    assert catalogue.categories(engine) == ["bakery", "drinks", "fruit"]
    totals = catalogue.node_totals(engine, node_id="DC-1")
    assert (totals["skus"], totals["on_hand"], totals["atp"]) == (3, 54, 42)


def test_open_load_counts_the_orders_each_node_holds_or_has_allocated(engine):
    put_stock(engine, {("DC-1", "A"): 10})
    hold(engine, "A", 1, "o1")
    hold(engine, "A", 2, "o2")
    assert catalogue.open_load(engine) == {"DC-1": {"orders": 2, "units": 3}}
