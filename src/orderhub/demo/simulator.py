"""The demo that lives: orders arriving on every channel and going through the hub for real.

``orderhub simulate --url … --api-key … --rate N`` (and ``orderhub demo``, alongside the
server) places orders following the real arrival pattern of the Online Retail data
(``arrivals``), each through its channel's native format (``payloads``), and walks every order
through payment, allocation, release, the warehouse, the carrier and the doorstep over HTTP
(``journey``), with a few exceptions and returns. Nothing is written to the database directly.

Threads: one scheduler pops due steps from the agenda (``agenda``) and hands them to a small
worker pool; each step is one or a few HTTP calls. A reporter prints the counts once a minute.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orderhub.core.geo import GeoPoint
from orderhub.demo import build_customers, build_items, build_nodes, world
from orderhub.demo.agenda import DEMO_SPEED, Agenda, Clock, Followups, Step
from orderhub.demo.arrivals import Pattern
from orderhub.demo.feeds import Place, Secrets
from orderhub.demo.hub import Hub, HubError
from orderhub.demo.journey import Fate, Journey
from orderhub.demo.payloads import Sale, address_sale
from orderhub.inventory.service import NodeType

log = logging.getLogger("orderhub.simulator")

#: Orders per minute on average over a year of the pattern: a few a minute keep every console
#: page moving (a weekday afternoon in November brings several times more, a night 1/5 of it).
DEFAULT_RATE = 2.0
ABROAD_SHARE = 0.04  # orders shipped outside the EU customs union
UNPAID_SHARE = 0.12  # orders placed before payment (online channels)


def _local_zone() -> ZoneInfo | None:
    try:
        return ZoneInfo("Europe/Berlin")  # the demo retailer's time: its customers' day
    except ZoneInfoNotFoundError:
        return None


@dataclass(frozen=True, slots=True)
class Options:
    url: str = "http://127.0.0.1:8000"
    api_key: str = "demo-admin-key"
    rate: float = DEFAULT_RATE  # orders per minute, the mean of the pattern
    flat: bool = False  # ignore the pattern: exactly ``rate`` on average, day and night
    speed: float = DEMO_SPEED  # world seconds per real second
    workers: int = 0  # 0: from the rate
    seed: int = 7  # the demo world's seed (``orderhub demo --seed``)
    report_every_s: float = 60.0
    driver_pings: int = 5  # positions sent on the way to each door
    secrets: Secrets = field(default_factory=Secrets)

    @property
    def pool_size(self) -> int:
        return self.workers or max(4, min(32, math.ceil(self.rate / 20)))


class World:
    """The demo world as the simulator needs it: catalogue, customers, nodes and their places."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)  # the same draws as ``orderhub.demo.seed``: same SKUs, customers
        self.items = {item.sku: item for item in build_items(rng)}
        self.customers = build_customers(rng, 6000)
        self.nodes = {node.id: node for node in build_nodes()}
        self.stores = [n for n in self.nodes.values() if n.type == NodeType.store]

    def place(self, node_id: str) -> Place:
        node = self.nodes.get(node_id)
        if node is None:
            return Place("", "DE", 51.0, 10.0)
        return Place(node.city or node.name, "DE", node.lat, node.lon)

    def nearest_store(self, lat: float, lon: float) -> str:
        here = GeoPoint(lat, lon)
        return min(self.stores, key=lambda n: here.distance_km(GeoPoint(n.lat, n.lon))).id


class Stats:
    """Counts per minute and in total; thread-safe."""

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.window: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.total[what] += n
            self.window[what] += n

    def take_window(self) -> Counter[str]:
        with self._lock:
            window, self.window = self.window, Counter()
        return window

    def captured(self, counts: Counter[str] | None = None) -> int:
        counts = self.total if counts is None else counts
        return sum(v for k, v in counts.items() if k.startswith("captured:"))


def report_line(counts: Counter[str], in_flight: int | None, at: datetime) -> str:
    """One line of the per-minute report."""
    channels = ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(counts.items()) if k.startswith("captured:"))
    exceptions = sum(v for k, v in counts.items() if k.startswith("exception:"))
    captured = sum(v for k, v in counts.items() if k.startswith("captured:"))
    parts = [
        f"{at:%H:%M} simulator: {captured} orders" + (f" ({channels})" if channels else ""),
        *(
            f"{counts[k]} {k.replace('_', ' ')}"
            for k in ("paid", "allocated", "released", "shipped", "delivered", "returned")
        ),
        f"{exceptions} exceptions",
        f"{counts['error']} errors",
    ]
    if in_flight is not None:
        parts.append(f"{in_flight} steps pending")
    return ", ".join(parts)


class Simulator:
    """Places orders at the pattern's rate and walks each through the hub (see the module doc)."""

    def __init__(self, options: Options, *, out: TextIO | None = None, pattern: Pattern | None = None) -> None:
        self.options = options
        self.clock = Clock(options.speed)
        self.secrets = options.secrets
        self.driver_pings = options.driver_pings
        self.rng = random.Random(options.seed * 7919 + 1)  # the scheduler's: sales and their fates
        self.world = World(options.seed)
        self.pattern = pattern or Pattern()
        self.hub = Hub(options.url, options.api_key, connections=options.pool_size * 2)
        self.agenda = Agenda()
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.out = out if out is not None else sys.stdout
        self.zone = _local_zone()
        self._number = int(time.time() * 1000)  # channel order ids never repeat across runs
        self._errors_logged = 0
        self._busy = 0
        self._busy_lock = threading.Lock()

    # -- orders -----------------------------------------------------------------------------
    def moment(self) -> datetime:
        """Now, in the demo retailer's time (a test may fix it)."""
        return datetime.now(self.zone)

    def rate_now(self, moment: datetime | None = None) -> float:
        """Orders per real second now."""
        if self.options.flat:
            return self.options.rate / 60.0
        moment = moment or self.moment()
        return self.options.rate / 60.0 * self.pattern.factor(moment)

    def new_sale(self, moment: datetime) -> Sale:
        rng = self.rng
        weekday = moment.weekday()
        channels = list(world.CHANNELS)
        weights = [world.CHANNELS[c] * world.WEEKDAY[c][weekday] for c in channels]  # stores shut on Sunday
        channel = rng.choices(channels, weights)[0]
        self._number += 1
        basket = self.pattern.basket(rng)
        sale = Sale(
            number=self._number,
            channel=channel,
            customer=rng.choice(self.world.customers),
            items=[(self.world.items[sku], qty) for sku, qty in basket.lines],
            paid=channel == "pos" or rng.random() >= UNPAID_SHARE,
            placed_at=moment,
        )
        if channel == "pos":
            sale.handover = rng.choices(["in_store", "pickup", "ship"], [80, 8, 12])[0]
            sale.store = self.world.nearest_store(sale.customer.lat, sale.customer.lon)
        address_sale(sale, rng, abroad_share=ABROAD_SHARE)
        return sale

    def place_order(self, moment: datetime) -> Journey:
        sale = self.new_sale(moment)
        journey = Journey(self, sale, Fate.draw(self.rng, sale), random.Random(self.rng.getrandbits(64)))
        self.agenda.add(0, journey.capture)
        return journey

    # -- running ----------------------------------------------------------------------------
    def _submit(self, pool: ThreadPoolExecutor, step: Step) -> None:
        with self._busy_lock:
            self._busy += 1
        pool.submit(self._run_step, step)

    def _run_step(self, step: Step) -> None:
        try:
            if not self.stop_event.is_set():
                for hours, nxt in self._attempt(step):
                    self.agenda.add(self.clock.seconds(hours), nxt)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _attempt(self, step: Step) -> Followups:
        try:
            return step()
        except HubError as exc:
            self.stats.add("error")
            self._log_error(str(exc))
        except Exception:  # a bug in a step must not stop the demo: log it, drop that order
            self.stats.add("error")
            log.exception("simulator step failed")
        return []

    @property
    def in_flight(self) -> int:
        """Steps waiting or running."""
        with self._busy_lock:
            return len(self.agenda) + self._busy

    def _log_error(self, text: str) -> None:
        if self._errors_logged < 20:
            self._errors_logged += 1
            log.warning("simulator: %s", text)

    def run(self, *, duration_s: float | None = None, max_orders: int | None = None) -> Counter[str]:
        """Run until stopped (``stop``), for ``duration_s``, or until ``max_orders`` were placed
        and every step they led to has run. Returns the total counts."""
        started = time.monotonic()
        next_report = started + self.options.report_every_s
        next_order = started
        placed = 0
        pool = ThreadPoolExecutor(self.options.pool_size, thread_name_prefix="simulator")
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                if duration_s is not None and now - started >= duration_s:
                    break
                if max_orders is not None and placed >= max_orders and self.in_flight == 0:
                    break
                if now >= next_order and (max_orders is None or placed < max_orders):
                    self.place_order(self.moment())
                    placed += 1
                    next_order = now + self.rng.expovariate(max(self.rate_now(), 1e-6))
                for step in self.agenda.take_due(now):
                    self._submit(pool, step)
                if now >= next_report:
                    self.report()
                    next_report = now + self.options.report_every_s
                # once the last order is placed its time is past: waiting for it would spin
                more = max_orders is None or placed < max_orders
                due = min(filter(None, [self.agenda.next_due(), next_order if more else None, next_report]))
                self.agenda.wait(min(due, now + 0.5))
        finally:
            self.stop_event.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self.hub.close()
        return self.stats.total

    def report(self) -> None:
        print(report_line(self.stats.take_window(), self.in_flight, datetime.now(self.zone)), file=self.out, flush=True)

    def stop(self) -> None:
        self.stop_event.set()
        self.agenda.add(0, lambda: [])  # wake the scheduler


def wait_for_hub(sim: Simulator, *, timeout_s: float = 120.0) -> bool:
    """Poll the hub until it answers (the server may still be starting)."""
    deadline = time.monotonic() + timeout_s
    while not sim.stop_event.is_set() and time.monotonic() < deadline:
        try:
            sim.hub.get("/api/v1/orders?limit=1")
            return True
        except HubError:
            sim.stop_event.wait(0.5)
    return False


def start_in_background(options: Options) -> tuple[Simulator, threading.Thread]:
    """The simulator in a daemon thread, starting once the hub answers; ``sim.stop()`` ends it."""
    sim = Simulator(options)

    def run() -> None:
        if wait_for_hub(sim):
            sim.run()
        else:
            sim.hub.close()

    thread = threading.Thread(target=run, name="simulator", daemon=True)
    thread.start()
    return sim, thread
