"""A hub and three store gateways, each on its own SQLite file, synced through links that can be
cut (bench/edge_world.py): selling offline within the escrow, syncing exactly once, conflicts
and their resolutions, leases and their fencing tokens (docs/edge.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from bench.edge_world import DC, STORE_STOCK, Slots, Templates, World, make_templates

from orderhub.core.errors import Conflict
from orderhub.edge import gateway_store as gs
from orderhub.edge import service as edge
from orderhub.edge.model import BeyondEscrow
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from orderhub.orders import service as orders
from orderhub.platform.db import unit_of_work


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return make_templates(tmp_path_factory.mktemp("edge-templates"))


@pytest.fixture
def world(tmp_path: Path, templates: Templates):  # type: ignore[no-untyped-def]
    slots = Slots(tmp_path / "world", templates)
    w = World(slots, 7)
    yield w
    w.close()
    slots.close()


def escrow(w: World, store: str, sku: str) -> int:
    with unit_of_work(w.hub, write=False) as conn:
        return inventory.escrows(conn, node_id=store, holder=inventory.escrow_holder(store)).get(sku, 0)


def hub_position(w: World, store: str, sku: str) -> tuple[int, int, int]:
    with w.hub.connect() as conn:
        row = conn.execute(
            sa.text("SELECT on_hand, reserved, allocated FROM stock_positions WHERE node_id = :n AND sku = :s"),
            {"n": store, "s": sku},
        ).one()
    return (row[0], row[1], row[2])


def local(w: World, store: str, sku: str) -> tuple[int, int]:
    with unit_of_work(w.gateways[store].engine, write=False) as conn:
        f = gs.figures(conn)[sku]
    return f.on_hand, f.escrow


def pos_orders(w: World, ref: str) -> list[str]:
    with w.hub.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT id FROM orders WHERE channel = 'pos' AND external_ref = :r"), {"r": ref}
            ).scalars()
        )


def converge(w: World) -> None:
    for _ in range(4):
        for gw in w.gateways.values():
            assert gw.sync()


def assert_converged(w: World) -> None:
    """Every gateway's figures are the hub's; nothing is pending; the ledger holds."""
    for store, gw in w.gateways.items():
        with unit_of_work(gw.engine, write=False) as conn:
            st = gs.get_state(conn)
            assert gs.count_pending(conn, int(st.applied_seq)) == 0
            figures = gs.figures(conn)
        for sku, f in figures.items():
            assert (f.on_hand, f.escrow) == (hub_position(w, store, sku)[0], escrow(w, store, sku)), (store, sku)
    assert inventory.check_ledger(w.hub) == []


def click_and_collect(w: World, store: str, sku: str, qty: int, ref: str) -> str:
    doc = {
        "channel": "web",
        "external_ref": ref,
        "currency": "EUR",
        "customer": {"email": f"{ref.lower()}@x.de", "name": f"Customer {ref}"},
        "lines": [{"sku": sku, "quantity": qty, "unit_price": "8.50"}],
        "payment_status": "paid",
        "delivery_method": "pickup",
        "pickup_node_id": store,
        "on_shortage": "reject",
    }
    order = capture.receive(w.hub, adapter="canonical", body=json.dumps(doc).encode(), actor="t").order
    assert order is not None
    orders.allocate(w.hub, order_id=order.id, actor="t", assignments={store: {order.lines[0].id: qty}})
    return order.id


def test_a_gateway_gets_an_escrow_and_central_channels_no_longer_see_those_units(world: World) -> None:
    assert world.gateways["ST-A"].sync()
    granted = escrow(world, "ST-A", "MUG-1")
    assert granted == 3  # slow mover: 60 % of the 6 units on the shelf (POLICY)
    atp = inventory.get_atp(world.hub, sku="MUG-1")
    assert {n.node_id: n.atp for n in atp["nodes"]}["ST-A"] == STORE_STOCK - granted
    assert local(world, "ST-A", "MUG-1") == (STORE_STOCK, granted)
    assert_converged(world)


def test_offline_the_till_sells_within_its_escrow_refuses_beyond_and_each_sale_reaches_the_hub_once(
    world: World,
) -> None:
    gw = world.gateways["ST-A"]
    assert gw.sync()
    world.links["ST-A"].up = False
    first = gw.sell({"MUG-1": 2})
    assert first.taken == {"MUG-1": 2} and not first.round_trip
    with pytest.raises(BeyondEscrow) as refused:
        gw.sell({"MUG-1": 2})
    assert str(refused.value.detail) == (
        "Only 1 of MUG-1 may be sold while the hub is unreachable (the store's allotment), 2 asked."
    )
    assert local(world, "ST-A", "MUG-1") == (STORE_STOCK - 2, 1)
    assert not gw.sync() and not gw.is_online()
    assert pos_orders(world, f"ST-A/{first.sale_id}") == []  # nothing reached the hub
    world.links["ST-A"].up = True
    world.links["ST-A"].lose_answers = 1.0  # the hub applies the push; its answer is lost
    assert not gw.sync()
    world.links["ST-A"].lose_answers = 0.0
    assert gw.sync()  # sent again: a repeat, applied once
    assert len(pos_orders(world, f"ST-A/{first.sale_id}")) == 1
    assert hub_position(world, "ST-A", "MUG-1")[0] == STORE_STOCK - 2
    converge(world)
    assert_converged(world)


def test_online_a_sale_beyond_the_escrow_asks_the_hub_for_a_top_up(world: World) -> None:
    gw = world.gateways["ST-B"]
    assert gw.sync()
    sale = gw.sell({"TEE-2": 5})  # 3 in escrow; the hub tops up 2 from the store's free stock
    assert sale.round_trip and sale.taken == {"TEE-2": 5}
    converge(world)
    assert_converged(world)
    assert hub_position(world, "ST-B", "TEE-2")[0] == STORE_STOCK - 5


def test_by_policy_the_rest_becomes_a_collect_later_order_routed_by_the_hub(world: World) -> None:
    edge.set_policy(world.hub, store_id="ST-C", policy={"beyond": "backorder", "slow_share": 0.5})
    gw = world.gateways["ST-C"]
    assert gw.sync()
    world.links["ST-C"].up = False
    sale = gw.sell({"CAP-3": 5})
    assert sale.taken == {"CAP-3": 3} and sale.backordered == {"CAP-3": 2}
    world.links["ST-C"].up = True
    converge(world)
    [later] = pos_orders(world, f"ST-C/{sale.sale_id}-b")
    view = orders.get(world.hub, order_id=later)
    assert view.order.delivery_method.value == "pickup" and view.order.pickup_node_id == "ST-C"
    assert_converged(world)


def test_returns_and_stock_moves_merge_as_deltas(world: World) -> None:
    gw = world.gateways["ST-A"]
    assert gw.sync()
    world.links["ST-A"].up = False
    sale = gw.sell({"BAG-4": 2})
    gw.return_sale(sale.sale_id, {"BAG-4": 1})
    with pytest.raises(Exception, match="has only 1 × BAG-4 left"):
        gw.return_sale(sale.sale_id, {"BAG-4": 2})
    assert gw.adjust("BAG-4", +4, reason="received") == 0
    assert gw.adjust("BAG-4", -2, reason="damaged") == 1  # the escrow's last unit first
    world.links["ST-A"].up = True
    converge(world)
    assert hub_position(world, "ST-A", "BAG-4")[0] == STORE_STOCK - 2 + 1 + 4 - 2
    [order_id] = pos_orders(world, f"ST-A/{sale.sale_id}")
    assert orders.get(world.hub, order_id=order_id).order.lines[0].quantity_returned == 1
    assert_converged(world)


def test_click_and_collect_is_handed_over_offline_under_the_lease_and_recorded_once(world: World) -> None:
    order_id = click_and_collect(world, "ST-B", "MUG-1", 2, "CC-1")
    gw = world.gateways["ST-B"]
    assert gw.sync()
    assert [p["state"] for p in gw.view()["pickups"]] == ["ready"]
    world.links["ST-B"].up = False
    gw.hand_over(order_id)
    with pytest.raises(Conflict, match="handed over at"):
        gw.hand_over(order_id)
    world.links["ST-B"].up = True
    converge(world)
    assert orders.get(world.hub, order_id=order_id).order.status.value == "delivered"
    assert_converged(world)


def test_the_hub_refuses_to_ship_an_order_leased_to_a_store(world: World) -> None:
    order_id = click_and_collect(world, "ST-B", "MUG-1", 1, "CC-2")
    assert world.gateways["ST-B"].sync()
    order = orders.get(world.hub, order_id=order_id).order
    orders.transition(world.hub, order_id=order_id, to="released", actor="ops")
    with pytest.raises(Conflict) as refused:
        orders.record_shipment(world.hub, order_id=order_id, actor="ops", lines={order.lines[0].id: 1})
    assert refused.value.code == "lease_held"
    assert orders.get(world.hub, order_id=order_id).order.lines[0].quantity_shipped == 0


def test_handed_over_at_the_store_while_cancelled_centrally_one_outcome_with_compensation(world: World) -> None:
    order_id = click_and_collect(world, "ST-A", "TEE-2", 2, "CC-3")
    gw = world.gateways["ST-A"]
    assert gw.sync()
    world.links["ST-A"].up = False
    before = escrow(world, "ST-A", "TEE-2")
    orders.cancel(world.hub, order_id=order_id, actor="customer-service", reason="customer called")
    assert escrow(world, "ST-A", "TEE-2") == before + 2  # the freed units stay with the store
    gw.hand_over(order_id)  # the store did not know yet
    world.links["ST-A"].up = True
    converge(world)
    assert orders.get(world.hub, order_id=order_id).order.status.value == "cancelled"
    [compensation] = pos_orders(world, f"ST-A/handover-{order_id}")
    assert orders.get(world.hub, order_id=compensation).order.payment_status.value == "pending"
    [c] = edge.get_conflicts(world.hub, store_id="ST-A")
    assert c["kind"] == "handover_after_cancel" and compensation in c["compensation"]
    texts = [m["text"] for m in gw.view()["messages"]]
    assert any("stays cancelled" in t for t in texts)
    assert_converged(world)


def test_a_store_gives_a_lease_back_when_the_hub_asks_and_the_order_moves(world: World) -> None:
    order_id = click_and_collect(world, "ST-C", "CAP-3", 1, "CC-4")
    gw = world.gateways["ST-C"]
    assert gw.sync()
    lease = edge.reassign(world.hub, order_id=order_id, to_node=DC, force=False, actor="ops")
    assert lease["state"] == "revoking"
    assert gw.sync() and gw.sync()  # learns it, gives it back, the order moves
    lease = edge.get(world.hub, store_id="ST-C")["leases"][0]
    assert (lease["state"], lease["token"]) == ("reassigned", 2)
    assert [f.node_id for f in orders.get(world.hub, order_id=order_id).order.fulfilment_orders] == [DC]
    with pytest.raises(Conflict, match="reassigned to DC-1"):
        gw.hand_over(order_id)
    assert_converged(world)


def test_a_forced_reassignment_refuses_the_offline_store_s_hand_over_at_reconnect(world: World) -> None:
    order_id = click_and_collect(world, "ST-C", "CAP-3", 1, "CC-5")
    gw = world.gateways["ST-C"]
    assert gw.sync()
    world.links["ST-C"].up = False
    edge.reassign(world.hub, order_id=order_id, to_node=DC, force=True, actor="ops")
    gw.hand_over(order_id)  # offline, within its lease: the till cannot know
    world.links["ST-C"].up = True
    converge(world)
    [c] = edge.get_conflicts(world.hub, store_id="ST-C")
    assert c["kind"] == "handover_after_reassign"
    assert "the hand-over was not recorded" in c["resolution"] and "token 1" in c["resolution"]
    assert any("the hand-over was not recorded" in m["text"] for m in gw.view()["messages"])
    order = orders.get(world.hub, order_id=order_id).order
    assert order.status.value == "allocated" and order.lines[0].quantity_shipped == 0
    assert_converged(world)


def test_after_its_lease_ends_the_till_refuses_the_hand_over(world: World) -> None:
    order_id = click_and_collect(world, "ST-A", "MUG-1", 1, "CC-6")
    gw = world.gateways["ST-A"]
    assert gw.sync()
    world.links["ST-A"].up = False
    world.sim.advance(3600 - 30)  # within the 60 s margin before the end
    with pytest.raises(Conflict) as refused:
        gw.hand_over(order_id)
    assert refused.value.code == "lease_ended"
    assert "reconnect to the hub" in refused.value.detail


def test_a_gap_stops_the_batch_and_a_replaced_database_is_refused(world: World) -> None:
    gw = world.gateways["ST-A"]
    assert gw.sync()
    gw.sell({"MUG-1": 1})
    gw.sell({"MUG-1": 1})
    with unit_of_work(gw.engine, write=False) as conn:
        rows = gs.pending(conn, 0)
    events = [edge.GatewayEvent(r.event_id, int(r.seq), int(r.hlc), r.type, r.data) for r in rows]
    assert edge.push(world.hub, store_id="ST-A", events=events[1:]).applied_through == 0  # seq 2 without 1
    assert edge.push(world.hub, store_id="ST-A", events=events).applied_through == 2
    assert edge.push(world.hub, store_id="ST-A", events=events).applied_through == 2  # repeats
    other = edge.GatewayEvent("eev_other", 1, events[0].hlc, events[0].type, events[0].data)
    with pytest.raises(Conflict) as diverged:
        edge.push(world.hub, store_id="ST-A", events=[other])
    assert diverged.value.code == "gateway_diverged"


def test_a_snapshot_taken_after_a_cancellation_counts_the_pending_hand_over_against_the_escrow(world: World) -> None:
    """The store handed an order over offline; the hub cancelled it and kept its units in the
    store's escrow; the store then pulls before it pushes. Its figures must count the hand-over
    against the escrow (the hub will take it from there), or it could sell those units twice."""
    from bench.edge_fuzz import check_rights

    from orderhub.edge import sync

    order_id = click_and_collect(world, "ST-B", "BAG-4", 2, "CC-7")
    gw = world.gateways["ST-B"]
    assert gw.sync()
    before = local(world, "ST-B", "BAG-4")
    world.links["ST-B"].up = False
    gw.hand_over(order_id)
    orders.cancel(world.hub, order_id=order_id, actor="customer-service", reason="changed mind")
    world.links["ST-B"].up = True
    sync.pull(gw.engine, gw.hub, store_id="ST-B", clock=gw.clock)  # the snapshot, before the push
    assert local(world, "ST-B", "BAG-4") == (before[0] - 2, before[1])
    assert check_rights(world) == []
    converge(world)
    assert_converged(world)


def test_a_hand_over_the_hub_cannot_record_is_a_conflict_and_moves_nothing(world: World) -> None:
    order_id = click_and_collect(world, "ST-A", "CAP-3", 1, "CC-8")
    gw = world.gateways["ST-A"]
    assert gw.sync()
    before = hub_position(world, "ST-A", "CAP-3")
    world.links["ST-A"].up = False
    gw.hand_over(order_id)
    orders.hold(world.hub, order_id=order_id, actor="fraud-check", reason="address check")
    world.links["ST-A"].up = True
    converge(world)
    [c] = edge.get_conflicts(world.hub, store_id="ST-A")
    assert c["kind"] == "handover_not_recorded" and "could not record it" in c["resolution"]
    assert orders.get(world.hub, order_id=order_id).order.status.value == "on_hold"
    assert hub_position(world, "ST-A", "CAP-3") == before
    assert_converged(world)


def test_a_click_and_collect_order_whose_units_were_booked_lost_is_not_handed_over(world: World) -> None:
    """Found by the fuzzer (seed 1830 of bench.edge): a loss booked at the store took the last
    free unit, so the books had fewer units than the order; handing it over anyway made the
    store's stock go below zero in reality and left the hub one unit too many."""
    order_id = click_and_collect(world, "ST-C", "CAP-3", 2, "CC-9")
    gw = world.gateways["ST-C"]
    assert gw.sync()
    on_hand = local(world, "ST-C", "CAP-3")[0]
    gw.sell({"CAP-3": on_hand - 2})  # everything but the order's two units
    gw.adjust("CAP-3", -1, reason="damaged")
    with pytest.raises(Conflict) as refused:
        gw.hand_over(order_id)
    assert refused.value.code == "short_on_shelf"
    assert "needs 2 × CAP-3, more than the store's books have on hand" in refused.value.detail
    converge(world)
    assert_converged(world)


def test_a_loss_takes_the_units_a_cancellation_left_with_the_store_not_another_order_s(world: World) -> None:
    """Found by the fuzzer (seed 4023): a store sold out its escrow; the hub cancelled one of its
    click & collect orders (its units went into the escrow); the store, not knowing yet, booked a
    loss. The loss must take those units (the store's own), not the other order's allocation —
    else that order's hand-over shipped nothing at the hub and left it a unit too many."""
    keep = click_and_collect(world, "ST-B", "BAG-4", 1, "CC-10")
    cancelled = click_and_collect(world, "ST-B", "BAG-4", 2, "CC-11")
    gw = world.gateways["ST-B"]
    assert gw.sync()
    sold = 0
    while local(world, "ST-B", "BAG-4")[1]:  # the escrow, and whatever free stock the hub tops it up with
        sold += local(world, "ST-B", "BAG-4")[1]
        gw.sell({"BAG-4": local(world, "ST-B", "BAG-4")[1]})
        assert gw.sync()
    world.links["ST-B"].up = False
    orders.cancel(world.hub, order_id=cancelled, actor="customer-service", reason="changed mind")
    gw.adjust("BAG-4", -1, reason="damaged")  # one of the cancelled order's units, unknown to the store
    gw.hand_over(keep)
    world.links["ST-B"].up = True
    converge(world)
    assert orders.get(world.hub, order_id=keep).order.status.value == "delivered"
    assert [c["kind"] for c in edge.get_conflicts(world.hub, store_id="ST-B")] == []
    assert hub_position(world, "ST-B", "BAG-4")[0] == STORE_STOCK - sold - 1 - 1  # the shelf: sold, lost, handed over
    assert_converged(world)


def test_an_order_whose_allocation_a_loss_took_still_leaves_the_books_when_handed_over(world: World) -> None:
    """A loss took one order's allocation (the hub chose it); the clerk handed that order over
    with the units of another: the hub books the units out of the other order's allocation and
    closes the first order's backorder, so the books match the shelf."""
    first = click_and_collect(world, "ST-A", "TEE-2", 1, "CC-12")
    second = click_and_collect(world, "ST-A", "TEE-2", 1, "CC-13")
    gw = world.gateways["ST-A"]
    assert gw.sync()
    gw.sell({"TEE-2": local(world, "ST-A", "TEE-2")[1]})
    assert gw.sync()
    free = local(world, "ST-A", "TEE-2")[0] - 2  # what is on the shelf besides the two orders
    if free:
        gw.sell({"TEE-2": free})
    gw.adjust("TEE-2", -1, reason="damaged")
    assert gw.sync()  # the hub took the newest allocation: the second order's
    with unit_of_work(world.hub, write=False) as conn:
        assert inventory.allocated_units(conn, order_id=second, node_id="ST-A") == {}
    gw.hand_over(second)  # the clerk hands the second order over with the one unit left
    converge(world)
    assert orders.get(world.hub, order_id=second).order.status.value == "delivered"
    with unit_of_work(world.hub, write=False) as conn:
        assert [b["status"] for b in inventory.backorders_of(conn, order_id=second)] == ["cancelled"]
        assert inventory.allocated_units(conn, order_id=first, node_id="ST-A") == {}
    assert hub_position(world, "ST-A", "TEE-2") == (0, 0, 0)
    assert_converged(world)
