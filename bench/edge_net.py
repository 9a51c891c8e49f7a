"""Partition fuzzing with real processes (docs/edge.md §8, "multi-process schedules").

One ``orderhub serve`` hub and three ``orderhub edge`` gateways on loopback, each gateway behind
its own TCP proxy (``bench.edge_procs``), started **once** and kept running across schedules:
state carries over from one schedule to the next (the stores' stock, their outboxes, open
orders, leases), so every schedule starts where the last one left the network. Process start is
what costs (≈ 7 s a process on a loaded 2-core machine), so restarts are drawn rarely.

A schedule (``run_schedule``), drawn from its seed:

1. a quarter of the links start cut; one store gets a delivery where its shelf runs low, and
   the DC a receipt when its free stock is low;
2. 8-12 steps, each one of: a till sale over HTTP (1-3 units; refused beyond the escrow when
   the link is cut), a return of a receipt the till gave, a stock move (a loss or units found),
   the hand-over of a click & collect order that is ready at some store, a click & collect
   order at the hub allocated to a store, a web order, a central cancellation, a reassignment
   asked of a store (never forced), the nodes shipping what came to them (the DC any order, a
   store its web orders), or a link cut or healed;
   a few steps leave the sync loops a few milliseconds;
3. in one schedule in ~16, a gateway is SIGKILLed while a till sale is in flight and started
   again at once; in one in ~30, the hub is SIGKILLed and started again (meanwhile the tills
   sell offline and central orders fail to connect, i.e. did not happen);
4. every link heals, every process is waited for, each gateway syncs until it has nothing
   pending (the nodes ship what came to them, and the gateways sync again);
5. ``check``: the invariants of docs/edge.md §8 over everything so far.

Which interleavings happen depends on the processes' timing, so a seed picks the operations,
not the exact outcome; a violation names its schedule, and a rerun of the same seeds (same
first schedule, same count) takes the same operations.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine

from bench.edge_procs import KEY, Proc, TcpProxy, seed_hub, start_gateway, start_hub
from orderhub.edge import gateway_store as gs
from orderhub.edge.model import effect
from orderhub.inventory import service as inventory
from orderhub.platform.db import create_db_engine, unit_of_work

STORES = ("ST-A", "ST-B", "ST-C")
DC = "DC-1"
SKUS = {"MUG-1": "8.50", "TEE-2": "19.99", "CAP-3": "14.50"}
STORE_STOCK, DC_STOCK = 12, 30
POLICY = {"cover_hours": 8.0, "min_units": 2, "hot_per_hour": 2.0, "slow_share": 0.6, "beyond": "refuse"}
P_GATEWAY_KILL, P_HUB_KILL = 1 / 16, 1 / 30
BOOT_S = 180.0  # a process's start on a machine that other work is loading
BAD_CONFLICTS = ("sale_beyond_escrow", "event_refused", "handover_after_reassign")


@dataclass
class Net:
    """The running hub and gateways, and what the harness did to them (for the checks)."""

    workdir: Path
    hub: Proc
    hub_url: str
    proxies: dict[str, TcpProxy]
    gateways: dict[str, Proc]
    tills: dict[str, str]
    told: dict[str, dict[str, dict[str, int]]] = field(default_factory=lambda: {s: {} for s in STORES})
    pickups: dict[str, str] = field(default_factory=dict)  # order id -> store
    web: list[str] = field(default_factory=list)
    shipped: dict[str, tuple[str, dict[str, int]]] = field(default_factory=dict)  # order -> (node, {sku: units})
    unsure: set[str] = field(default_factory=set)  # shipments whose answer was lost
    received_at_dc: Counter[str] = field(default_factory=Counter)
    seen: dict[str, list[Any]] = field(default_factory=lambda: {s: [] for s in STORES})  # outbox rows read
    ops: Counter[str] = field(default_factory=Counter)
    refs: int = 0
    batches: int = 1
    clients: dict[str, httpx.Client] = field(default_factory=dict)  # kept: a client's set-up costs CPU
    engines: dict[str, Engine] = field(default_factory=dict)  # read-only looks at the database files
    harness_cpu_at_start: float = field(default_factory=time.process_time)
    booting: set[str] = field(default_factory=set)  # processes started again, not yet seen healthy

    def __post_init__(self) -> None:
        self.clients = {s: httpx.Client(base_url=url, timeout=10) for s, url in self.tills.items()}
        self.clients["hub"] = _admin(self.hub_url)
        for name in ("hub", *STORES):
            self.engines[name] = create_db_engine(f"sqlite:///{self.workdir / f'{name}.db'}", pool_size=1)

    # -- the processes ----------------------------------------------------------------------------
    @classmethod
    def start(cls, workdir: Path, *, interval_s: float = 5.0) -> Net:
        hub, hub_url = start_hub(workdir)
        proxies: dict[str, TcpProxy] = {}
        gateways: dict[str, Proc] = {}
        tills: dict[str, str] = {}
        try:
            seed_hub(hub_url, stores=list(STORES), skus=dict.fromkeys(SKUS, 1), store_stock=STORE_STOCK,
                     dc_stock=DC_STOCK, policy=POLICY)  # fmt: skip
            with _admin(hub_url) as c:
                for sku, price in SKUS.items():
                    c.put(f"/api/v1/items/{sku}", json={"name": sku.title(), "price": price}).raise_for_status()
            port = int(hub_url.rsplit(":", 1)[1])
            for s in STORES:
                proxies[s] = TcpProxy(port)
                gateways[s], tills[s] = start_gateway(
                    workdir, s, f"http://127.0.0.1:{proxies[s].port}", interval_s=interval_s, wait=False
                )
            for p in gateways.values():
                p.wait_healthy(BOOT_S)
        except BaseException:
            for p in gateways.values():
                p.stop()
            hub.stop()
            raise
        return cls(workdir, hub, hub_url, proxies, gateways, tills)

    def cpu_s(self) -> float:
        """CPU seconds of the hub and the gateways (every run of each) and of this harness."""
        harness = time.process_time() - self.harness_cpu_at_start
        return sum(p.cpu_s() for p in (self.hub, *self.gateways.values())) + harness

    def stop(self) -> None:
        for c in self.clients.values():
            c.close()
        for e in self.engines.values():
            e.dispose()
        for p in self.gateways.values():
            p.stop()
        self.hub.stop()
        for proxy in self.proxies.values():
            proxy.close()

    def kill_gateway(self, store: str, rng: random.Random) -> None:
        """SIGKILL while a till sale is in flight; started again at once (healthy later)."""
        done: dict[str, Any] = {}
        sale = threading.Thread(target=self._sell_into, args=(store, {rng.choice(list(SKUS)): 1}, done))
        sale.start()
        time.sleep(rng.uniform(0.0, 0.03))
        self.gateways[store].kill()
        sale.join(10)
        self.gateways[store].start()
        self.booting.add(store)
        self.ops["kill_gateway"] += 1
        self.ops[f"sale in flight at the kill: {done.get('status', 'no answer')}"] += 1

    def kill_hub(self) -> None:
        self.hub.kill()
        self.hub.start()
        self.booting.add("hub")
        self.ops["kill_hub"] += 1

    # -- the tills --------------------------------------------------------------------------------
    def _till(self, store: str, method: str, path: str, body: Any = None) -> httpx.Response | None:
        try:
            return self.clients[store].request(method, f"/api/v1/till{path}", json=body)
        except httpx.HTTPError:
            self.ops["till unreachable"] += 1
            return None

    def _sell_into(self, store: str, lines: dict[str, int], out: dict[str, Any]) -> None:
        r = self._till(store, "POST", "/sales", {"lines": lines})
        out["status"] = r.status_code if r is not None else "no answer"
        if r is not None and r.status_code == 201:
            self.told[store][r.json()["sale_id"]] = r.json()["taken"]

    def sell(self, store: str, rng: random.Random) -> None:
        out: dict[str, Any] = {}
        self._sell_into(store, {rng.choice(list(SKUS)): rng.randint(1, 3)}, out)
        self.ops[f"sale {out['status']}"] += 1

    def give_back(self, store: str, rng: random.Random) -> None:
        sales = {k: v for k, v in self.told[store].items() if v}
        if sales:
            sale_id = rng.choice(sorted(sales))
            r = self._till(store, "POST", "/returns", {"sale_id": sale_id, "lines": {min(sales[sale_id]): 1}})
            self.ops[f"return {r.status_code if r is not None else '-'}"] += 1

    def adjust(self, store: str, rng: random.Random) -> None:
        body = {"sku": rng.choice(list(SKUS)), "delta": rng.choice([-1, -1, 2, 3]), "reason": "count"}
        r = self._till(store, "POST", "/adjustments", body)
        self.ops[f"adjust {r.status_code if r is not None else '-'}"] += 1

    def hand_over(self, rng: random.Random) -> None:
        for store in rng.sample(STORES, len(STORES)):
            v = self._till(store, "GET", "")
            ready = [p["order_id"] for p in v.json()["pickups"] if p["state"] == "ready"] if v is not None else []
            if ready:
                r = self._till(store, "POST", f"/pickups/{rng.choice(ready)}/handover", {})
                self.ops[f"hand_over {r.status_code if r is not None else '-'}"] += 1
                return

    def restock(self, store: str) -> None:
        """A delivery to a store whose shelf runs low (a receipt at the till: a delta)."""
        v = self._till(store, "GET", "")
        for row in v.json()["stock"] if v is not None else []:
            if row["on_hand"] < 4:
                r = self._till(store, "POST", "/adjustments", {"sku": row["sku"], "delta": 6, "reason": "delivery"})
                self.ops[f"delivery {r.status_code if r is not None else '-'}"] += 1

    # -- the hub's side ---------------------------------------------------------------------------
    def _hub(self, method: str, path: str, body: Any = None) -> httpx.Response | None:
        """An admin's call; None when the hub did not answer (down or restarting)."""
        try:
            return self.clients["hub"].request(method, path, json=body)
        except httpx.HTTPError:
            self.ops["hub unreachable"] += 1
            return None

    def _order(self, rng: random.Random, prefix: str, **extra: Any) -> dict[str, Any] | None:
        self.refs += 1
        doc = {
            "channel": "web",
            "external_ref": f"{prefix}-{self.refs}",
            "currency": "EUR",
            "customer": {"email": f"{prefix.lower()}{self.refs}@fuzz.test", "name": f"{prefix} {self.refs}"},
            "lines": [{"sku": rng.choice(list(SKUS)), "quantity": rng.randint(1, 2), "unit_price": "1.00"}],
            "payment_status": "paid",
            **extra,
        }
        r = self._hub("POST", "/api/v1/orders", doc)
        if r is not None and r.status_code not in (200, 201):
            self.ops[f"{prefix} refused: {r.json().get('code')}"] += 1
        return r.json() if r is not None and r.status_code in (200, 201) else None

    def web_order(self, rng: random.Random) -> None:
        lat, lon = rng.choice([(50.1, 8.7), (52.0, 10.0), (53.0, 11.0), (54.0, 12.0)])  # near the DC or a store
        order = self._order(rng, "W", shipping_address={"city": "X", "country": "DE", "lat": lat, "lon": lon})
        if order is not None:
            self.web.append(order["id"])
        self.ops["web_order" if order else "web_order failed"] += 1

    def click_and_collect(self, rng: random.Random) -> None:
        store = rng.choice(STORES)
        order = self._order(rng, "C", delivery_method="pickup", pickup_node_id=store, on_shortage="reject")
        if order is None:
            self.ops["click_and_collect failed"] += 1
            return
        line = order["lines"][0]
        body = {
            "fulfilment_orders": [{"node_id": store, "lines": [{"line_id": line["id"], "quantity": line["quantity"]}]}]
        }
        r = self._hub("POST", f"/api/v1/orders/{order['id']}/allocation", body)
        self.pickups[order["id"]] = store
        self.ops[f"click_and_collect {r.status_code if r is not None else '-'}"] += 1

    def cancel(self, rng: random.Random) -> None:
        choices = sorted(self.pickups) + self.web[-20:]
        if choices:
            r = self._hub("POST", f"/api/v1/orders/{rng.choice(choices)}/cancel", {"reason": "customer called"})
            self.ops[f"cancel {r.status_code if r is not None else '-'}"] += 1

    def reassign(self, rng: random.Random) -> None:
        if self.pickups:
            order_id = rng.choice(sorted(self.pickups))
            r = self._hub("POST", f"/api/v1/edge/leases/{order_id}/reassign", {"to_node": DC, "force": False})
            self.ops[f"reassign {r.status_code if r is not None else '-'}"] += 1

    def ship(self) -> None:
        """Each node ships what came to it alone: the DC every order, a store its web orders
        (a store hands its click & collect orders over at the till, under the lease)."""
        for order_id, node in self._to_ship():
            if order_id in self.shipped:
                continue
            r = self._hub("GET", f"/api/v1/orders/{order_id}")
            if r is not None and r.status_code == 200 and r.json()["status"] == "paid":
                lines = [{"line_id": li["id"], "quantity": _open(li)} for li in r.json()["lines"] if _open(li)]
                body = {"fulfilment_orders": [{"node_id": node, "lines": lines}]}
                r = self._hub("POST", f"/api/v1/orders/{order_id}/allocation", body)
            if r is None or r.status_code != 200:
                continue
            order = r.json()
            nodes = {f["node_id"] for f in order["fulfilment_orders"]}
            if order["status"] not in ("allocated", "released") or nodes != {node}:
                continue
            lines = [{"line_id": li["id"], "quantity": _open(li)} for li in order["lines"] if _open(li)]
            if not lines or self._hub("POST", f"/api/v1/orders/{order_id}/transitions", {"to": "released"}) is None:
                continue
            self.unsure.add(order_id)  # until the hub's answer says
            r = self._hub("POST", f"/api/v1/orders/{order_id}/shipments", {"lines": lines})
            if r is not None:
                self.unsure.discard(order_id)
                if r.status_code == 200:
                    self.shipped[order_id] = (node, {li["sku"]: _open(li) for li in order["lines"] if _open(li)})
                    self.ops["shipped"] += 1

    def settle_unsure(self) -> None:
        """Shipments whose answer was lost: what the hub recorded (read once it is up)."""
        for order_id in sorted(self.unsure):
            r = self._hub("GET", f"/api/v1/orders/{order_id}")
            if r is None:
                continue
            self.unsure.discard(order_id)
            order = r.json()
            if any(li["quantity_shipped"] for li in order["lines"]):
                node = order["fulfilment_orders"][0]["node_id"]
                self.shipped[order_id] = (node, {li["sku"]: li["quantity_shipped"] for li in order["lines"]})

    def receive_at_dc(self) -> None:
        """The DC receives 10 of each SKU whose free stock runs low (a delta batch, idempotent)."""
        low = [s for s, free in self._dc_free().items() if free < 6]
        if not low:
            return
        body = {"source": "fuzz-dc", "sequence": self.batches, "mode": "delta",
                "rows": [{"node_id": DC, "sku": s, "delta": 10} for s in low]}  # fmt: skip
        for _ in range(100):  # the same batch until the hub has it (a repeat is skipped)
            r = self._hub("POST", "/api/v1/inventory/positions", body)
            if r is not None:
                r.raise_for_status()
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the hub took no stock batch for 20 s")
        self.batches += 1
        self.received_at_dc.update(dict.fromkeys(low, 10))
        self.ops["received at DC"] += 1

    def _read_hub(self, sql: str) -> list[Any]:
        """A read of the hub's database file (what the DC's own screens would show)."""
        with self.engines["hub"].connect() as conn:
            return list(conn.execute(sa.text(sql), {"dc": DC}).all())

    def _dc_free(self) -> dict[str, int]:
        rows = self._read_hub("SELECT sku, on_hand - reserved - allocated FROM stock_positions WHERE node_id = :dc")
        return {str(sku): int(free) for sku, free in rows}

    def _to_ship(self) -> list[tuple[str, str]]:
        """Orders waiting at one node alone that it may ship (``ship``), with the node: paid
        web orders reserved there (allocated first), and orders allocated there."""
        return [
            (str(r[0]), str(r[1]))
            for r in self._read_hub(
                "SELECT o.id, min(r.node_id) FROM orders o JOIN reservations r ON r.order_id = o.id "
                "WHERE o.channel = 'web' AND o.status = 'paid' AND o.delivery_method != 'pickup' "
                "AND r.status = 'active' GROUP BY o.id HAVING count(DISTINCT r.node_id) = 1 "
                "UNION SELECT o.id, min(f.node_id) FROM orders o JOIN fulfilment_orders f ON f.order_id = o.id "
                "WHERE o.channel = 'web' AND o.status IN ('allocated', 'released') GROUP BY o.id "
                "HAVING count(DISTINCT f.node_id) = 1 AND (o.delivery_method != 'pickup' OR min(f.node_id) = :dc) "
                "ORDER BY 1"
            )
        ]

    # -- convergence --------------------------------------------------------------------------------
    def converge(self, timeout_s: float = 90.0) -> bool:
        """Every link healed, every process up, each gateway synced until nothing is pending."""
        for proxy in self.proxies.values():
            proxy.heal()
        for name in sorted(self.booting):
            (self.hub if name == "hub" else self.gateways[name]).wait_healthy(BOOT_S)
        self.booting.clear()
        deadline = time.monotonic() + timeout_s
        waiting = list(STORES)
        while time.monotonic() < deadline:
            with ThreadPoolExecutor(len(waiting)) as pool:  # the stores sync at once, as they would
                waiting = [s for s, quiet in zip(waiting, pool.map(self._settled, waiting), strict=True) if not quiet]
            if not waiting:
                return True
            time.sleep(0.1)
        return False

    def _settled(self, store: str) -> bool:
        """Synced now (rather than at the loop's next turn), and nothing pending after it."""
        r = self._till(store, "POST", "/sync", {})
        if r is None or r.status_code != 200 or not r.json()["synced"]:
            return False
        v = self._till(store, "GET", "")
        return v is not None and v.status_code == 200 and v.json()["backlog"] == 0


def _admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)


def _open(line: dict[str, Any]) -> int:
    return int(line["quantity"] - line["quantity_cancelled"] - line["quantity_shipped"])


def run_schedule(net: Net, seed: int) -> list[str]:
    """One seeded schedule on the running network (module doc), then the checks."""
    rng = random.Random(seed)
    steps = rng.randint(8, 12)
    kill_gateway = rng.choice(STORES) if rng.random() < P_GATEWAY_KILL else None
    kill_hub = rng.random() < P_HUB_KILL
    kill_at = rng.randrange(steps)
    for store in STORES:
        if rng.random() < 0.25:
            net.proxies[store].cut()
            net.ops["cut"] += 1
    net.restock(rng.choice(STORES))
    net.receive_at_dc()
    for i in range(steps):
        if i == kill_at and kill_gateway:
            net.kill_gateway(kill_gateway, rng)
        if i == kill_at and kill_hub:
            net.kill_hub()
        _step(net, rng)
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0.0, 0.05))  # the sync loops' turn
    bad = [] if net.converge() else [f"schedule {seed}: did not converge after the links healed"]
    shipped = len(net.shipped)
    net.ship()
    net.settle_unsure()
    if len(net.shipped) > shipped and not net.converge():
        bad.append(f"schedule {seed}: did not converge after the nodes shipped")
    return bad + [f"schedule {seed}: {v}" for v in check(net)]


def _step(net: Net, rng: random.Random) -> None:
    store, roll = rng.choice(STORES), rng.random()
    if roll < 0.40:
        net.sell(store, rng)
    elif roll < 0.46:
        net.give_back(store, rng)
    elif roll < 0.53:
        net.adjust(store, rng)
    elif roll < 0.62:
        net.hand_over(rng)
    elif roll < 0.74:
        proxy = net.proxies[store]
        (proxy.cut if proxy.is_up else proxy.heal)()
        net.ops["cut" if not proxy.is_up else "heal"] += 1
    elif roll < 0.84:
        net.click_and_collect(rng)
    elif roll < 0.89:
        net.web_order(rng)
    elif roll < 0.93:
        net.cancel(rng)
    elif roll < 0.97:
        net.reassign(rng)
    else:
        net.ship()


def check(net: Net) -> list[str]:
    """The invariants of docs/edge.md §8 over everything the network did so far (empty: none)."""
    bad: list[str] = []
    hub = net.engines["hub"]
    for store in STORES:
        _read_outbox(net, store)
    with hub.connect() as conn:
        oversold = conn.execute(
            sa.text(
                "SELECT node_id, sku, on_hand, reserved, allocated FROM stock_positions WHERE on_hand < 0 "
                "OR reserved < 0 OR allocated < 0 OR reserved + allocated > on_hand"
            )
        ).all()
        over_shipped = conn.execute(sa.text("SELECT order_id FROM order_lines WHERE quantity_shipped > quantity")).all()
        conflicts = Counter(conn.execute(sa.text("SELECT kind FROM edge_conflicts")).scalars())
        pos = Counter(conn.execute(sa.text("SELECT external_ref FROM orders WHERE channel = 'pos'")).scalars())
        on_hand = {(n, s): q for n, s, q in conn.execute(sa.text("SELECT node_id, sku, on_hand FROM stock_positions"))}
    # 1. nothing oversold; each gateway's figures are the hub's, every event applied once
    bad += [f"oversold position {tuple(r)}" for r in oversold]
    bad += [f"{n} conflicts {kind}" for kind, n in conflicts.items() if kind in BAD_CONFLICTS]
    for store in STORES:
        bad += _same_figures(net, store)
    # 2. no order shipped twice
    handed = {r.data["order_id"] for rows in net.seen.values() for r in rows if r.type == "pickup.handed_over"}
    twice = sorted(handed & set(net.shipped))
    bad += [f"order {o} handed over at a store and shipped from {net.shipped[o][0]}" for o in twice]
    bad += [f"order {r[0]} shipped more than it has" for r in over_shipped]
    compensations = sum(1 for ref in pos if "/handover-" in ref)
    if compensations != conflicts.get("handover_after_cancel", 0):
        bad.append(
            f"{compensations} compensations for {conflicts.get('handover_after_cancel', 0)} cancelled hand-overs"
        )
    # 3. every till sale at the hub exactly once (and every sale a clerk was told of among them)
    sold = {
        s: {r.data["sale_id"] for r in rows if r.type in ("till.sale", "till.backorder")}
        for s, rows in net.seen.items()
    }
    for store in STORES:
        lost = sorted(set(net.told[store]) - sold[store])
        bad += [f"{store}: sale {x}, which the clerk was told of, is not in the outbox" for x in lost]
    refs = {f"{s}/{x}" for s, xs in sold.items() for x in xs}
    bad += [f"sale {ref} at the hub {pos.get(ref, 0)} times" for ref in sorted(refs) if pos.get(ref, 0) != 1]
    bad += [f"a POS order {ref} no till sold" for ref in sorted(set(pos) - refs) if "/handover-" not in ref]
    # 4. every stock figure equals its ledger; units conserved at every node
    bad += [f"ledger differs: {d}" for d in inventory.check_ledger(hub)]
    expected = {(n, s): STORE_STOCK for n in STORES for s in SKUS}
    expected |= {(DC, s): DC_STOCK + net.received_at_dc[s] for s in SKUS}
    for store, rows in net.seen.items():
        for r in rows:
            for sku, (d_on_hand, _) in effect(r.type, r.data, lambda *_: True).items():
                expected[(store, sku)] += d_on_hand
    for node, units in net.shipped.values():
        for sku, q in units.items():
            expected[(node, sku)] -= q
    bad += [f"{k}: {on_hand.get(k)} on hand, {q} expected" for k, q in sorted(expected.items()) if on_hand.get(k) != q]
    return bad


def _read_outbox(net: Net, store: str) -> None:
    """The outbox rows written since the last check (they never change once written)."""
    after = net.seen[store][-1].seq if net.seen[store] else 0
    with net.engines[store].connect() as conn:
        net.seen[store] += list(conn.execute(sa.select(gs.outbox).where(gs.outbox.c.seq > after).order_by("seq")))


def _same_figures(net: Net, store: str, tries: int = 5) -> list[str]:
    """The gateway's watermarks and figures are the hub's. A pull may be between the hub's
    commit and the gateway's (a grant as the store's sales rate moves): a difference must
    outlast a few syncs to count."""
    bad: list[str] = []
    holder = inventory.escrow_holder(store)
    for attempt in range(tries):
        with unit_of_work(net.engines[store], write=False) as conn:
            st, figures = gs.get_state(conn), gs.figures(conn)
        with unit_of_work(net.engines["hub"], write=False) as conn:
            at_hub = {r.sku: r for r in inventory.store_stock(conn, node_id=store, holder=holder)}
            watermark = conn.execute(
                sa.text("SELECT applied_seq FROM edge_gateways WHERE store_id = :s"), {"s": store}
            ).scalar_one()
        n = int(st.next_seq) - 1
        bad = []
        if not int(st.applied_seq) == int(st.acked_seq) == n == int(watermark):
            bad.append(f"{store}: {n} events written, {st.applied_seq} applied by its snapshot, {watermark} at the hub")
        for sku, f in figures.items():
            h = at_hub.get(sku)
            if h is None or (f.on_hand, f.escrow) != (h.on_hand, h.escrow):
                bad.append(f"{store} {sku}: gateway {f.on_hand}/{f.escrow}, hub {h and (h.on_hand, h.escrow)}")
        if not bad:
            return []
        if attempt < tries - 1:
            net._till(store, "POST", "/sync", {})
            time.sleep(0.2)
    return bad
