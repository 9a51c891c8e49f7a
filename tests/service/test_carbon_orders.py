"""Carbon's projection of orders (``carbon_orders``): written inside every order change by the
hook ``orderhub.wiring`` registers, in bulk for imported history; footprints read only it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from orderhub.carbon import service as carbon
from orderhub.carbon.store import orders as carbon_orders
from orderhub.core.errors import Conflict, NotFound
from orderhub.orders import capture, service
from orderhub.orders.canonical import OrderCreate


def _capture(engine, *, lat=52.52, lon=13.40):
    doc = {
        "currency": "EUR",
        "customer": {"email": "ann@example.com"},
        "shipping_address": {"city": "Berlin", "country": "DE", "lat": lat, "lon": lon},
        "lines": [
            {"sku": "A-1", "quantity": 2, "unit_price": "10.00"},
            {"sku": "B-2", "quantity": 1, "unit_price": "5.00"},
        ],
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def _row(engine, order_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(carbon_orders).where(carbon_orders.c.order_id == order_id)).mappings().first()


def test_capture_writes_the_projection_in_the_same_transaction(engine):
    oid = _capture(engine)
    order = service.get(engine, order_id=oid).order
    row = _row(engine, oid)
    assert (row["channel"], row["customer_email"], row["delivery_method"], row["country"]) == (
        "web",
        "ann@example.com",
        "ship",
        "DE",
    )
    assert (row["lat"], row["lon"], row["status"]) == (52.52, 13.40, "awaiting_payment")
    assert row["created_at"] == order.created_at
    assert row["lines"] == [
        {"line_id": order.lines[0].id, "sku": "A-1", "quantity": 2},
        {"line_id": order.lines[1].id, "sku": "B-2", "quantity": 1},
    ]


def test_a_change_updates_the_projection_and_a_refused_change_leaves_it_alone(engine):
    oid = _capture(engine)
    line = service.get(engine, order_id=oid).order.lines[0].id
    service.cancel_line(engine, order_id=oid, actor="test", line_id=line, quantity=1)
    service.transition(engine, order_id=oid, to="paid", actor="test")
    row = _row(engine, oid)
    assert row["status"] == "paid" and row["lines"][0]["quantity"] == 1
    with pytest.raises(Conflict):
        service.transition(engine, order_id=oid, to="delivered", actor="test")
    assert _row(engine, oid) == row


def test_imported_history_is_recorded_in_bulk_idempotently(engine):
    placed = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    order = capture.build_order(
        OrderCreate.model_validate(
            {
                "channel": "pos",
                "currency": "EUR",
                "customer": {"email": "bo@example.com"},
                "shipping_address": {"country": "DE"},
                "lines": [{"sku": "A-1", "quantity": 3, "unit_price": "1.00"}],
                "placed_at": placed.isoformat(),
            }
        )
    )
    capture.start_lifecycle(order)
    service.import_history(engine, orders=[order], actor="test")
    assert _row(engine, order.id) is None  # no order change ran, so no hook did
    facts = [order.as_facts()]
    assert carbon.record_orders(engine, facts) == carbon.record_orders(engine, facts) == 1
    row = _row(engine, order.id)
    assert row["created_at"] == placed and row["lat"] is None and row["lines"][0]["quantity"] == 3
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(carbon_orders)).scalar() == 1


def test_footprint_of_an_unknown_order_is_not_found(engine):
    with pytest.raises(NotFound) as err:
        carbon.get_order_footprint(engine, order_id="ord_missing")
    assert err.value.code == "order_not_found"


# -- daily roll-ups (the console's carbon page) -------------------------------------------------
def _history(engine, days_ago: int, *, qty: int = 2, email: str = "h@example.com"):
    from datetime import timedelta

    from tests.conftest import put_stock

    put_stock(engine, {("DC-1", "A-1"): 1})
    placed = datetime.now(UTC) - timedelta(days=days_ago)
    order = capture.build_order(
        OrderCreate.model_validate(
            {
                "currency": "EUR",
                "customer": {"email": email},
                "shipping_address": {"country": "DE", "lat": 52.52, "lon": 13.40},
                "lines": [{"sku": "A-1", "quantity": qty, "unit_price": "1.00"}],
                "placed_at": placed.isoformat(),
            }
        )
    )
    capture.start_lifecycle(order)
    service.import_history(engine, orders=[order], actor="test")
    carbon.record_orders(engine, [order.as_facts()])
    return order


def _direct(engine, days):
    """The same figures computed from every order's footprint, no roll-up."""
    from datetime import timedelta

    from orderhub.carbon import footprints
    from orderhub.core.clock import utcnow

    end = utcnow()
    start = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = carbon.get_footprints(engine, start=start, end=end + timedelta(seconds=1), limit=None)
    return footprints.dashboard(rows, categories={}, start=start, days=days)


def test_the_dashboard_sums_daily_roll_ups_to_what_the_orders_footprints_say(engine):
    for days_ago in (1, 3, 3, 40, 400):
        _history(engine, days_ago)
    _capture(engine)  # today: counted live
    dash = carbon.get_dashboard(engine, days=730)
    direct = _direct(engine, 730)
    assert dash["orders"] == direct["orders"] == 6
    assert dash["kg_total"] == pytest.approx(direct["kg_total"]) and dash["kg_total"] > 6 * 0.087
    assert dash["per_day"] == [(d, pytest.approx(v)) for d, v in direct["per_day"]]
    for dim in ("channel", "node", "mode"):
        assert dash["by"][dim] == pytest.approx(direct["by"][dim])
    assert dash["quality"] == direct["quality"]
    assert carbon.get_dashboard(engine, days=30)["orders"] == 4
    with engine.connect() as conn:  # past days are rolled up, today is not
        built = conn.execute(sa.text("SELECT count(*) FROM carbon_days WHERE built_generation = generation")).scalar()
    assert built == 729  # every past day of the period, empty ones too


def test_a_changed_order_or_a_new_factor_table_rebuilds_only_what_it_touched(engine):
    old = _history(engine, 5, qty=2)
    _history(engine, 9, qty=1, email="other@example.com")
    before = carbon.get_dashboard(engine, days=30)
    assert carbon.refresh_rollups(engine, days=[]) == 0
    past = [d for d, _ in before["per_day"][:-1]]
    assert carbon.refresh_rollups(engine, days=past) == 0  # nothing changed: nothing rebuilt
    line = old.lines[0].id
    service.cancel_line(engine, order_id=old.id, actor="test", line_id=line, quantity=1)  # an order change
    assert carbon.refresh_rollups(engine, days=past) == 1  # its day only
    carbon.load_factors(
        engine,
        fmt="csv",
        actor="test",
        text="kind,key,value,source,edition,quality\nproduct,category:unknown,2.0,Supplier LCA,2025,modelled\n",
    )
    after = carbon.get_dashboard(engine, days=30)  # the factor set changed: every day rebuilt first
    direct = _direct(engine, 30)
    assert after["kg_total"] == pytest.approx(direct["kg_total"])
    assert sum(v[1] for _, v in before["per_day"]) == 0.0
    assert sum(v[1] for _, v in after["per_day"]) == pytest.approx(2 * 2.0)  # 1 unit left of each order


def _history_of(engine, days_ago: int, sku: str):
    from datetime import timedelta

    placed = datetime.now(UTC) - timedelta(days=days_ago)
    order = capture.build_order(
        OrderCreate.model_validate(
            {
                "currency": "EUR",
                "customer": {"email": f"{sku.lower()}@example.com"},
                "shipping_address": {"country": "DE", "lat": 52.52, "lon": 13.40},
                "lines": [{"sku": sku, "quantity": 1, "unit_price": "1.00"}],
                "placed_at": placed.isoformat(),
            }
        )
    )
    capture.start_lifecycle(order)
    service.import_history(engine, orders=[order], actor="test")
    carbon.record_orders(engine, [order.as_facts()])


def test_an_items_weight_category_or_own_figure_or_a_nodes_place_marks_the_days_it_touched(engine):
    from orderhub.inventory import service as inventory
    from tests.conftest import put_stock

    put_stock(engine, {("DC-1", "A-1"): 1, ("DC-1", "B-2"): 1})
    mug = inventory.Item("A-1", "Mug", "kitchen", 400, 100, 50)
    pan = inventory.Item("B-2", "Pan", "kitchen", 2500, 100, 50)
    inventory.save_items(engine, items=[mug, pan])
    carbon.load_factors(
        engine,
        fmt="csv",
        actor="test",
        text="kind,key,value,source,edition,quality\nproduct,category:kitchen,3.0,Supplier LCA,2025,modelled\n"
        "product,category:garden,5.0,Supplier LCA,2025,modelled\n",
    )
    _history_of(engine, 2, "A-1")
    _history_of(engine, 4, "B-2")
    _history_of(engine, 6, "A-1")
    carbon.get_dashboard(engine, days=30)  # builds the roll-ups (and records what they read)
    past = [d for d, _ in carbon.get_dashboard(engine, days=30)["per_day"][:-1]]
    assert carbon.refresh_rollups(engine, days=past) == 0  # nothing changed

    def same_as_direct() -> dict:
        dash, direct = carbon.get_dashboard(engine, days=30), _direct(engine, 30)
        assert dash["kg_total"] == pytest.approx(direct["kg_total"])
        assert dash["per_day"] == [(d, pytest.approx(v)) for d, v in direct["per_day"]]
        return dash

    before = same_as_direct()["kg_total"]
    inventory.save_items(engine, items=[replace(mug, weight_g=4000)])  # heavier: more linehaul and hubs
    assert carbon.refresh_rollups(engine, days=past) == 2  # the two days with a mug, not the pan's
    heavier = same_as_direct()["kg_total"]
    assert heavier > before
    inventory.save_items(engine, items=[replace(pan, category="garden")])  # 3.0 → 5.0 kg per unit
    assert carbon.refresh_rollups(engine, days=past) == 1
    assert same_as_direct()["kg_total"] == pytest.approx(heavier + 2.0)
    inventory.save_items(engine, items=[replace(pan, category="garden", co2e_kg_per_unit=1.5)])  # its own figure
    assert carbon.refresh_rollups(engine, days=past) == 1
    assert same_as_direct()["kg_total"] == pytest.approx(heavier - 1.5)
    [dc] = [n for n in inventory.get_all_nodes(engine) if n.id == "DC-1"]
    inventory.save_nodes(engine, nodes=[replace(dc, lat=dc.lat + 2.0)])  # the DC moved 220 km north
    assert carbon.refresh_rollups(engine, days=past) == 29  # every past day of the page
    assert same_as_direct()["kg_total"] != pytest.approx(heavier - 1.5)
    assert carbon.refresh_rollups(engine, days=past) == 0
