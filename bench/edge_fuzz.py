"""Partition fuzzing of the edge, in process (docs/edge.md §8): seeded schedules of till sales,
returns, stock moves, click & collect, central orders, cancellations, reassignments, link
cuts, lost answers, clock jumps and restarts over a hub and three gateways on their own SQLite
files (``bench.edge_world``); then every link heals, every gateway syncs until nothing is
pending, and the invariants are checked:

1. 0 units oversold: no position with ``reserved + allocated > on_hand`` or a negative counter,
   no unit sold or handed over that the books did not have (``sale_beyond_escrow``), and every
   gateway's figures equal the hub's (on hand and escrow per SKU);
2. 0 orders shipped twice: no order handed over at a store (by its outbox) that the hub shipped
   from elsewhere, no refused hand-over (``handover_after_reassign``), one compensation per
   hand-over after a cancellation;
3. every till sale at the hub exactly once (and nothing else from the stores);
4. every stock figure equals its ledger, and units are conserved across the network.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bench.edge_world import DC, DC_STOCK, PLACES, SKUS, STORE_STOCK, STORES, Slots, World
from orderhub.core.errors import DomainError
from orderhub.edge import gateway_store as gs
from orderhub.edge import service as edge
from orderhub.edge.model import effect
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from orderhub.orders import service as orders
from orderhub.platform.db import unit_of_work

BAD_CONFLICTS = ("sale_beyond_escrow", "event_refused", "handover_after_reassign")


@dataclass
class Report:
    """One schedule: what happened and what broke."""

    seed: int
    ops: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    sales: int = 0
    sales_without_round_trip: int = 0
    seconds: float = 0.0


@dataclass
class Actor:
    """The schedule's hub-side staff and shoppers, and what they did (for the checks)."""

    w: World
    pickups: dict[str, str] = field(default_factory=dict)  # order id -> store
    shipped_from_dc: dict[str, dict[str, int]] = field(default_factory=dict)  # order id -> {sku: units}
    refs: int = 0

    def _capture(self, doc: dict[str, Any]) -> Any:
        return capture.receive(self.w.hub, adapter="canonical", body=json.dumps(doc).encode(), actor="fuzz").order

    def web_order(self) -> None:
        """A shopper's order shipped from wherever the planner holds it (a store's free stock too)."""
        self.refs += 1
        sku = self.w.rng.choice(list(SKUS))
        lat, lon = PLACES[self.w.rng.choice(list(PLACES))]
        self._capture(
            {
                "channel": "web",
                "external_ref": f"W-{self.refs}",
                "currency": "EUR",
                "customer": {"email": f"w{self.refs}@fuzz.test"},
                "shipping_address": {"city": "X", "country": "DE", "lat": lat, "lon": lon},
                "lines": [{"sku": sku, "quantity": self.w.rng.randint(1, 3), "unit_price": "1.00"}],
                "payment_status": "paid",
            }
        )

    def click_and_collect(self) -> bool:
        """A pickup order at a store, allocated there when the store's free stock holds it."""
        self.refs += 1
        store, sku, qty = self.w.rng.choice(STORES), self.w.rng.choice(list(SKUS)), self.w.rng.randint(1, 2)
        doc = {
            "channel": "web",
            "external_ref": f"C-{self.refs}",
            "currency": "EUR",
            "customer": {"email": f"c{self.refs}@fuzz.test", "name": f"C {self.refs}"},
            "lines": [{"sku": sku, "quantity": qty, "unit_price": "1.00"}],
            "payment_status": "paid",
            "delivery_method": "pickup",
            "pickup_node_id": store,
            "on_shortage": "reject",
        }
        try:
            order = self._capture(doc)
            orders.allocate(self.w.hub, order_id=order.id, actor="fuzz", assignments={store: {order.lines[0].id: qty}})
        except DomainError:
            return False
        self.pickups[order.id] = store
        return True

    def cancel(self) -> None:
        if self.pickups:
            order_id = self.w.rng.choice(sorted(self.pickups))
            try:
                orders.cancel(self.w.hub, order_id=order_id, actor="fuzz", reason="customer called")
            except DomainError:
                pass

    def reassign(self) -> None:
        """Ask a store for a leased order back (never by force: that may ship twice, and says so)."""
        if self.pickups:
            order_id = self.w.rng.choice(sorted(self.pickups))
            try:
                edge.reassign(self.w.hub, order_id=order_id, to_node=DC, force=False, actor="fuzz")
            except DomainError:
                pass

    def ship_from_dc(self) -> None:
        """The DC ships the orders that came to it."""
        for order_id in sorted(self.pickups):
            order = orders.get(self.w.hub, order_id=order_id).order
            if order.status.value != "allocated" or [f.node_id for f in order.fulfilment_orders] != [DC]:
                continue
            lines = {line.id: line.open_quantity for line in order.lines}
            try:
                orders.transition(self.w.hub, order_id=order_id, to="released", actor="fuzz")
                orders.record_shipment(self.w.hub, order_id=order_id, actor="fuzz", lines=lines)
            except DomainError:
                continue
            self.shipped_from_dc[order_id] = {line.sku: line.open_quantity for line in order.lines}


def _till(w: World, store: str, report: Report) -> None:
    gw, rng = w.gateways[store], w.rng
    kind = rng.random()
    try:
        if kind < 0.55:
            result = gw.sell({rng.choice(list(SKUS)): rng.randint(1, 4)})
            report.sales += 1
            report.sales_without_round_trip += not result.round_trip
            report.ops["sale"] += 1
        elif kind < 0.65:
            view = gw.view()
            sales = [s for s in view["sales"] if s["type"] == "till.sale"]
            if sales:
                sale = rng.choice(sales)
                gw.return_sale(sale["sale_id"], {sale["lines"][0]["sku"]: 1})
                report.ops["return"] += 1
        elif kind < 0.75:
            gw.adjust(rng.choice(list(SKUS)), rng.choice([-1, -1, 2, 3]), reason="count")
            report.ops["adjust"] += 1
        else:  # a customer comes for a click & collect order, at whichever store has one ready
            for other in rng.sample(list(w.gateways), len(w.gateways)):
                ready = [p["order_id"] for p in w.gateways[other].view()["pickups"] if p["state"] == "ready"]
                if ready:
                    w.gateways[other].hand_over(rng.choice(ready))
                    report.ops["hand_over"] += 1
                    break
    except DomainError as exc:
        report.ops[f"refused:{exc.code}"] += 1


def _step(w: World, actor: Actor, report: Report) -> None:
    rng = w.rng
    store = rng.choice(STORES)
    roll = rng.random()
    if roll < 0.45:
        _till(w, store, report)
    elif roll < 0.57:
        report.ops["sync"] += 1
        w.gateways[store].sync()
    elif roll < 0.66:
        link = w.links[store]
        link.up = not link.up
        link.lose_answers = rng.choice([0.0, 0.0, 0.3, 0.7])
        report.ops["cut" if not link.up else "heal"] += 1
    elif roll < 0.75:
        report.ops["click_and_collect" if actor.click_and_collect() else "click_and_collect_refused"] += 1
    elif roll < 0.80:
        actor.web_order()
        report.ops["web_order"] += 1
    elif roll < 0.82:
        actor.cancel()
        report.ops["cancel"] += 1
    elif roll < 0.84:
        actor.reassign()
        report.ops["reassign"] += 1
    elif roll < 0.87:
        actor.ship_from_dc()
        report.ops["ship_from_dc"] += 1
    elif roll < 0.91:
        w.sim.advance(rng.choice([60, 600, 1800, 3700]))
        report.ops["clock_jump"] += 1
    elif roll < 0.97:
        w.restart_gateway(store)
        report.ops["restart_gateway"] += 1
    else:
        w.restart_hub()
        report.ops["restart_hub"] += 1


def check_rights(w: World) -> list[str]:
    """The bounded counter, at any moment: what a gateway may still sell of a SKU is never more
    than the escrow the hub holds for it once the events it has not applied yet are applied
    (by the hub's rules and its leases as they are now), and applying them never takes an
    escrow below zero. Read while links are cut and events wait."""
    bad = []
    with unit_of_work(w.hub, write=False) as conn:
        watermarks = dict(conn.execute(sa.text("SELECT store_id, applied_seq FROM edge_gateways")).all())
        leases = {
            (r[0], r[1], r[2])
            for r in conn.execute(
                sa.text("SELECT order_id, token, store_id FROM edge_leases WHERE state IN ('held', 'revoking')")
            )
        }
        held = {s: inventory.escrows(conn, node_id=s, holder=inventory.escrow_holder(s)) for s in STORES}
    for store, gw in w.gateways.items():
        with unit_of_work(gw.engine, write=False) as conn:
            waiting = gs.pending(conn, int(watermarks[store]))
            mine = gs.figures(conn)
        escrow = dict(held[store])
        for r in waiting:
            for sku, (_, d_escrow) in effect(r.type, r.data, lambda o, t, s=store: (o, t, s) in leases).items():
                escrow[sku] = escrow.get(sku, 0) + d_escrow
                if escrow[sku] < 0:
                    bad.append(f"{store} {sku}: event {r.seq} ({r.type}) needs escrow the hub does not hold")
        for sku, f in mine.items():
            if min(f.escrow, f.on_hand) > escrow.get(sku, 0):
                bad.append(
                    f"{store} {sku}: the till may sell {min(f.escrow, f.on_hand)}, the hub holds {escrow.get(sku, 0)}"
                )
    return bad


def heal_and_converge(w: World, rounds: int = 8) -> bool:
    """Every link up and honest, every gateway synced until nothing is pending anywhere."""
    for link in w.links.values():
        link.up, link.lose_answers = True, 0.0
    for _ in range(rounds):
        ok = all(gw.sync() for gw in w.gateways.values())
        if ok and all(_pending(gw.engine) == 0 for gw in w.gateways.values()):
            return True
    return False


def _pending(engine: Any) -> int:
    with unit_of_work(engine, write=False) as conn:
        return gs.count_pending(conn, int(gs.get_state(conn).applied_seq))


def run_schedule(seed: int, slots: Slots, *, steps: int = 40) -> Report:
    """One seeded schedule on fresh copies of the templates, then the checks."""
    started = time.perf_counter()
    report = Report(seed)
    w = World(slots, seed)
    try:
        actor = Actor(w)
        for gw in w.gateways.values():  # a gateway's first sync at start-up brings the store's stock
            gw.sync()
        for i in range(steps):
            _step(w, actor, report)
            if i % 4 == 3:
                report.violations += check_rights(w)
        report.violations += check_rights(w)
        actor.ship_from_dc()
        if not heal_and_converge(w):
            report.violations.append("did not converge after the links healed")
        actor.ship_from_dc()
        heal_and_converge(w)
        report.violations += check(w, actor)
    finally:
        w.close()
    report.seconds = time.perf_counter() - started
    return report


def _outboxes(w: World) -> dict[str, list[Any]]:
    out = {}
    for store, gw in w.gateways.items():
        with unit_of_work(gw.engine, write=False) as conn:
            out[store] = list(conn.execute(sa.select(gs.outbox).order_by(gs.outbox.c.seq)))
    return out


def check(w: World, actor: Actor) -> list[str]:
    """The invariants of the module doc; a list of what broke (empty: none)."""
    bad: list[str] = []
    events = _outboxes(w)
    with w.hub.connect() as conn:
        oversold = conn.execute(
            sa.text(
                "SELECT node_id, sku, on_hand, reserved, allocated FROM stock_positions WHERE on_hand < 0 "
                "OR reserved < 0 OR allocated < 0 OR reserved + allocated > on_hand"
            )
        ).all()
        conflicts = Counter(conn.execute(sa.text("SELECT kind FROM edge_conflicts")).scalars())
        pos = Counter(conn.execute(sa.text("SELECT external_ref FROM orders WHERE channel = 'pos'")).scalars())
        on_hand = dict(conn.execute(sa.text("SELECT sku, sum(on_hand) FROM stock_positions GROUP BY sku")).all())
        watermarks = dict(conn.execute(sa.text("SELECT store_id, applied_seq FROM edge_gateways")).all())
        applied = dict(conn.execute(sa.text("SELECT store_id, count(*) FROM edge_applied GROUP BY store_id")).all())
    bad += [f"oversold position {tuple(r)}" for r in oversold]
    bad += [f"{n} conflicts {kind}" for kind, n in conflicts.items() if kind in BAD_CONFLICTS]
    # 1. the gateways' figures are the hub's; every event applied once
    for store, gw in w.gateways.items():
        with unit_of_work(gw.engine, write=False) as conn:
            st, figures = gs.get_state(conn), gs.figures(conn)
        n = int(st.next_seq) - 1
        if not (int(st.applied_seq) == int(st.acked_seq) == n == watermarks[store] == applied.get(store, 0)):
            bad.append(f"{store}: {n} events, applied {st.applied_seq}/{watermarks[store]}/{applied.get(store, 0)}")
        with unit_of_work(w.hub, write=False) as conn:
            hub = {r.sku: r for r in inventory.store_stock(conn, node_id=store, holder=inventory.escrow_holder(store))}
        for sku, f in figures.items():
            h = hub.get(sku)
            if h is None or (f.on_hand, f.escrow) != (h.on_hand, h.escrow):
                bad.append(f"{store} {sku}: gateway {f.on_hand}/{f.escrow}, hub {h and (h.on_hand, h.escrow)}")
    # 2. no order shipped twice
    handed = {r.data["order_id"] for rows in events.values() for r in rows if r.type == "pickup.handed_over"}
    bad += [
        f"order {o} handed over at a store and shipped from {DC}" for o in sorted(handed & set(actor.shipped_from_dc))
    ]
    compensations = sum(1 for ref in pos if "/handover-" in ref)
    if compensations != conflicts.get("handover_after_cancel", 0):
        bad.append(
            f"{compensations} compensations for {conflicts.get('handover_after_cancel', 0)} cancelled hand-overs"
        )
    # 3. every till sale at the hub exactly once, and nothing else from the stores
    sold = [
        f"{s}/{r.data['sale_id']}"
        for s, rows in events.items()
        for r in rows
        if r.type in ("till.sale", "till.backorder")
    ]
    bad += [f"sale {ref} at the hub {pos.get(ref, 0)} times" for ref in sold if pos.get(ref, 0) != 1]
    extra = set(pos) - set(sold) - {ref for ref in pos if "/handover-" in ref}
    bad += [f"a POS order {ref} no till sold" for ref in sorted(extra)]
    # 4. the ledger, and units conserved
    bad += [f"ledger differs: {d}" for d in inventory.check_ledger(w.hub)]
    expected = {sku: DC_STOCK + STORE_STOCK * len(STORES) for sku in SKUS}
    for rows in events.values():
        for r in rows:
            for sku, (d_on_hand, _) in _physical(r).items():
                expected[sku] += d_on_hand
    for shipped in actor.shipped_from_dc.values():
        for sku, q in shipped.items():
            expected[sku] -= q
    bad += [f"{sku}: {on_hand.get(sku)} on hand, {q} expected" for sku, q in expected.items() if on_hand.get(sku) != q]
    return bad


def _physical(r: Any) -> dict[str, tuple[int, int]]:
    """What a store event did to the shelf, whoever's stock it was (a hand-over takes its units
    out whether the hub took them from the order's allocation or from the escrow)."""
    return effect(r.type, r.data, lambda *_: True)
