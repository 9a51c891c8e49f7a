"""The hub's side of the edge on both databases (docs/edge.md §4–5): leases of click & collect
orders, the order hook that keeps their owner, a cancellation that leaves the units with the
store, and the hand-over conflicts — driven through ``edge.service`` as the routes do."""

from __future__ import annotations

import json

import pytest

from orderhub.core.errors import Conflict, InvalidInput
from orderhub.edge import service as edge
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from orderhub.orders import service as orders
from orderhub.platform.db import unit_of_work
from tests.conftest import position, put_stock

HLC = 1_800_000_000_000 << 16


def pickup_order(engine, ref: str, qty: int = 2) -> tuple[str, str]:
    doc = {
        "channel": "web",
        "external_ref": ref,
        "currency": "EUR",
        "customer": {"email": f"{ref.lower()}@x.de", "name": "Ann"},
        "lines": [{"sku": "MUG-1", "quantity": qty, "unit_price": "8.50"}],
        "payment_status": "paid",
        "delivery_method": "pickup",
        "pickup_node_id": "ST-9",
    }
    order = capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="t").order
    assert order is not None
    line = order.lines[0].id
    orders.allocate(engine, order_id=order.id, actor="t", assignments={"ST-9": {line: qty}})
    return order.id, line


def handover(seq: int, order_id: str, line: str, token: int, qty: int = 2) -> edge.GatewayEvent:
    data = {"order_id": order_id, "token": token, "lines": [{"line_id": line, "sku": "MUG-1", "quantity": qty}]}
    return edge.GatewayEvent(f"eev_h{seq}", seq, HLC + seq, "pickup.handed_over", data)


def escrow(engine) -> int:
    with unit_of_work(engine, write=False) as conn:
        return inventory.escrows(conn, node_id="ST-9", holder=inventory.escrow_holder("ST-9")).get("MUG-1", 0)


@pytest.fixture
def hub(engine):  # type: ignore[no-untyped-def]
    put_stock(engine, {("ST-9", "MUG-1"): 10, ("DC-1", "MUG-1"): 10})
    edge.register(engine, store_id="ST-9")
    edge.set_policy(engine, store_id="ST-9", policy={"slow_share": 0.5})
    return engine


def test_a_pull_leases_the_store_s_click_and_collect_and_a_hand_over_with_its_token_delivers_it(hub) -> None:
    order_id, line = pickup_order(hub, "CC-1")
    snap = edge.pull(hub, store_id="ST-9")
    [lease] = snap["pickups"]
    assert (lease["order_id"], lease["token"], lease["state"]) == (order_id, 1, "held")
    assert edge.push(hub, store_id="ST-9", events=[handover(1, order_id, line, 1)]).results[0]["outcome"] == "applied"
    assert orders.get(hub, order_id=order_id).order.status.value == "delivered"
    assert position(hub, "ST-9", "MUG-1").on_hand == 8
    assert inventory.check_ledger(hub) == []


def test_nobody_but_the_store_ships_a_leased_order_and_a_cancellation_leaves_its_units_with_the_store(hub) -> None:
    order_id, line = pickup_order(hub, "CC-2")
    edge.pull(hub, store_id="ST-9")
    before = escrow(hub)
    orders.transition(hub, order_id=order_id, to="released", actor="ops")
    with pytest.raises(Conflict) as held:
        orders.record_shipment(hub, order_id=order_id, actor="ops", lines={line: 2})
    assert held.value.code == "lease_held"
    with pytest.raises(Conflict):
        orders.allocate(hub, order_id=order_id, actor="ops", assignments={"DC-1": {line: 2}})
    orders.cancel(hub, order_id=order_id, actor="customer-service", reason="changed mind")
    assert escrow(hub) == before + 2
    result = edge.push(hub, store_id="ST-9", events=[handover(1, order_id, line, 1)])
    assert result.results[0]["outcome"] == "conflict"
    assert escrow(hub) == before  # the hand-over took the units the cancellation left
    with unit_of_work(hub, write=False) as conn:
        compensation = orders.find_order_in(conn, channel="pos", external_ref=f"ST-9/handover-{order_id}")
    assert compensation and orders.get(hub, order_id=compensation).order.payment_status.value == "pending"
    [c] = edge.get_conflicts(hub, store_id="ST-9")
    assert c["kind"] == "handover_after_cancel"
    assert position(hub, "ST-9", "MUG-1").on_hand == 8
    assert inventory.check_ledger(hub) == []


def test_a_lease_is_asked_back_and_moves_only_when_the_store_gives_it_back(hub) -> None:
    order_id, line = pickup_order(hub, "CC-3")
    edge.pull(hub, store_id="ST-9")
    assert edge.reassign(hub, order_id=order_id, to_node="DC-1", force=False, actor="ops")["state"] == "revoking"
    assert [f.node_id for f in orders.get(hub, order_id=order_id).order.fulfilment_orders] == ["ST-9"]
    released = edge.GatewayEvent("eev_r1", 1, HLC + 1, "pickup.released", {"order_id": order_id, "token": 1})
    assert edge.push(hub, store_id="ST-9", events=[released]).results[0]["outcome"] == "applied"
    assert [f.node_id for f in orders.get(hub, order_id=order_id).order.fulfilment_orders] == ["DC-1"]
    lease = edge.get(hub, store_id="ST-9")["leases"][0]
    assert (lease["state"], lease["token"]) == ("reassigned", 2)
    refused = edge.push(hub, store_id="ST-9", events=[handover(2, order_id, line, 1)]).results[0]
    assert refused["outcome"] == "refused" and "token 2" in refused["detail"] and "token 1" in refused["detail"]
    assert orders.get(hub, order_id=order_id).order.lines[0].quantity_shipped == 0
    assert inventory.check_ledger(hub) == []


def test_a_gateway_store_s_stock_is_reported_by_its_gateway_alone_and_other_reports_are_refused_whole(hub) -> None:
    """A count or a batch from another system naming a store with a gateway would move the
    figures the offline store sells against: refused before anything is written, naming each
    row; the rest of the network reports as before (docs/edge.md §10)."""
    snap = edge.pull(hub, store_id="ST-9")
    granted = escrow(hub)
    assert granted > 0 and snap["stock"][0]["on_hand"] == 10
    rows = [inventory.StockRow("DC-1", "MUG-1", on_hand=30), inventory.StockRow("ST-9", "MUG-1", on_hand=1)]
    with pytest.raises(InvalidInput) as refused:
        inventory.ingest(hub, source="wms", sequence=7, mode="snapshot", rows=rows)
    assert refused.value.code == "node_reported_elsewhere"
    assert [e["pointer"] for e in refused.value.errors] == ["/rows/1/node_id"]
    deltas = [inventory.StockRow("ST-9", "MUG-1", delta=-5)]
    with pytest.raises(InvalidInput):
        inventory.ingest(hub, source="erp", sequence=1, mode="delta", rows=deltas)
    with pytest.raises(InvalidInput) as counted:
        inventory.set_position(hub, node_id="ST-9", sku="MUG-1", on_hand=0, actor="ops")
    assert counted.value.errors[0]["parameter"] == "node_id"
    # nothing was written: not the DC's row of the refused batch, not the store's figures
    assert position(hub, "DC-1", "MUG-1").on_hand == 10 and position(hub, "ST-9", "MUG-1").on_hand == 10
    assert escrow(hub) == granted
    # the batch again without the store: applied (its sequence was not used up by the refusal)
    inventory.ingest(hub, source="wms", sequence=7, mode="snapshot", rows=rows[:1])
    assert position(hub, "DC-1", "MUG-1").on_hand == 30
    # a store without a gateway still takes counts from anybody
    put_stock(hub, {("ST-8", "MUG-1"): 4})
    inventory.set_position(hub, node_id="ST-8", sku="MUG-1", on_hand=3, actor="ops")
    assert position(hub, "ST-8", "MUG-1").on_hand == 3
    assert inventory.check_ledger(hub) == []
