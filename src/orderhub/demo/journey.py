"""One simulated order's life, step by step, as the systems around the hub would live it.

The channel captures it (the hub holds and sources its stock); the payment provider pays it, or
does not (the presale lock then releases its stock); the order desk allocates it where its stock
was held and releases it to the warehouse; the warehouse picks, packs and checks it (WMS feed);
the parcel leaves with a carrier (``POST /orders/{id}/parcels``); the carrier reports its way
(its own feed: OrderHub events, EasyPost or AfterShip), the driver's app its positions; the
customer is not at home now and then, a parcel abroad is held at customs, some come back.

Every step returns the steps that follow with their delays in world hours (``agenda``). A step
whose route the hub lacks is skipped; where the order would then stand still (no parcel or
carrier feed yet), the step falls back to the order API (shipments, transitions, deliveries).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from orderhub.demo import feeds
from orderhub.demo.agenda import Clock, Followups
from orderhub.demo.feeds import Parcel, Place, Scan, Secrets
from orderhub.demo.hub import Hub, HubError
from orderhub.demo.payloads import Sale, request_for


class Places(Protocol):
    def place(self, node_id: str) -> Place: ...
    def nearest_store(self, lat: float, lon: float) -> str: ...


class Counts(Protocol):
    def add(self, what: str, n: int = 1) -> None: ...


class Context(Protocol):
    """What a journey needs of the simulator running it."""

    @property
    def hub(self) -> Hub: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def secrets(self) -> Secrets: ...
    @property
    def world(self) -> Places: ...
    @property
    def stats(self) -> Counts: ...
    @property
    def driver_pings(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Fate:
    """What will happen to an order, drawn when it is placed (so a run is reproducible)."""

    pays_later: bool  # an unpaid order is paid after a while; otherwise its lock runs out
    qc_fails: bool
    exception: bool
    attempt_fails: bool
    held_at_customs: bool
    returned: bool

    @classmethod
    def draw(cls, rng: random.Random, sale: Sale) -> Fate:
        return cls(
            pays_later=rng.random() < 0.7,
            qc_fails=rng.random() < 0.04,
            exception=rng.random() < 0.03,
            attempt_fails=rng.random() < 0.08,
            held_at_customs=sale.is_cross_border and rng.random() < 0.4,
            returned=rng.random() < (0.02 if sale.handover == "in_store" else 0.06),
        )


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Journey:
    """The simulator's memory of one order."""

    sim: Context
    sale: Sale
    fate: Fate
    rng: random.Random  # its own: steps run on several threads, and a run stays reproducible
    order_id: str = ""
    fulfilment_orders: list[dict[str, Any]] = field(default_factory=list)
    allocation_tries: int = 0
    parcels_sent: int = 0

    def hours(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def count(self, what: str) -> None:
        self.sim.stats.add(what)

    # -- capture and payment ----------------------------------------------------------------
    def capture(self) -> Followups:
        path, body = request_for(self.sale)
        order = self.sim.hub.post(path, body)
        if order is None:
            return []
        self.order_id = order["id"]
        self.count(f"captured:{self.sale.channel}")
        if self.sale.handover == "in_store":
            return [(self.hours(24, 120), self.take_back)] if self.fate.returned else []
        if order["status"] == "awaiting_payment":
            if self.fate.pays_later:
                return [(self.hours(0.05, 0.5), self.pay)]
            self.count("left_unpaid")
            return []
        self.count("paid")
        return [(self.hours(0.05, 0.3), self.allocate)]

    def pay(self) -> Followups:
        order = self.sim.hub.post(f"/api/v1/orders/{self.order_id}/payment")
        if order is None or order["status"] != "paid":
            return []
        self.count("paid")
        return [(self.hours(0.05, 0.3), self.allocate)]

    # -- the order desk ---------------------------------------------------------------------
    def allocate(self) -> Followups:
        """Allocate where capture held the stock: one fulfilment order per holding node."""
        order = self.sim.hub.get(f"/api/v1/orders/{self.order_id}")
        if order["status"] != "paid":  # held for a consolidated run, cancelled, or moved on
            return []
        stock = self.sim.hub.get(f"/api/v1/orders/{self.order_id}/stock")
        nodes: dict[str, dict[str, int]] = {}
        for hold in stock["holds"]:
            if hold["status"] == "active":
                lines = nodes.setdefault(hold["node_id"], {})
                lines[hold["line_id"]] = lines.get(hold["line_id"], 0) + hold["quantity"]
        needed = {x["id"]: x["quantity"] - x["quantity_cancelled"] for x in order["lines"]}
        held: dict[str, int] = {}
        for lines in nodes.values():
            for line_id, qty in lines.items():
                held[line_id] = held.get(line_id, 0) + qty
        if held != {k: v for k, v in needed.items() if v}:
            self.allocation_tries += 1  # backordered: wait for stock to come in
            self.count("waiting_for_stock")
            return [(8.0, self.allocate)] if self.allocation_tries < 3 else []
        body = {
            "fulfilment_orders": [
                {"node_id": node, "lines": [{"line_id": k, "quantity": v} for k, v in lines.items()]}
                for node, lines in sorted(nodes.items())
            ]
        }
        self.sim.hub.post(f"/api/v1/orders/{self.order_id}/allocation", body)
        self.count("allocated")
        return [(self.hours(0.2, 1.5), self.release)]

    def release(self) -> Followups:
        order = self.sim.hub.post(f"/api/v1/orders/{self.order_id}/transitions", {"to": "released"})
        if order is None:
            return []
        self.count("released")
        self.fulfilment_orders = [fo for fo in order["fulfilment_orders"] if fo["status"] != "cancelled"]
        return [(self.hours(0.5, 3), self._bind(self.pick, fo)) for fo in self.fulfilment_orders]

    # -- the warehouse ----------------------------------------------------------------------
    def _bind(self, step: Any, *args: Any) -> Any:
        return lambda: step(*args)

    def _wms(self, fo: dict[str, Any], *events: str) -> None:
        """One WMS message, with one or more events (packing and its check come together)."""
        at = _now()
        body = [feeds.wms_event(fulfilment_order_id=fo["id"], event=e, site=fo["node_id"], at=at) for e in events]
        self.sim.hub.post("/api/v1/tracking/wms", {"events": body}, route="tracking/wms")

    def pick(self, fo: dict[str, Any]) -> Followups:
        self._wms(fo, "picked")
        return [(self.hours(0.2, 1.0), self._bind(self.pack, fo, self.fate.qc_fails))]

    def pack(self, fo: dict[str, Any], fails_check: bool) -> Followups:
        if fails_check:
            self._wms(fo, "packed", "qc_failed")
            self.count("exception:qc_failed")
            return [(self.hours(0.5, 1.5), self._bind(self.pack, fo, False))]
        self._wms(fo, "packed", "qc_passed")
        if self.sale.handover == "pickup":
            return [(self.hours(0.2, 1.0), self._bind(self.ready_for_pickup, fo))]
        return [(self.hours(0.5, 3), self._bind(self.ship, fo))]

    # -- collection at a store --------------------------------------------------------------
    def ready_for_pickup(self, fo: dict[str, Any]) -> Followups:
        node = self.sim.world.place(fo["node_id"])
        event = feeds.orderhub_event(
            Scan("available_for_pickup", _now(), node, "Ready for collection"), order_id=self.order_id
        )
        self.sim.hub.post("/api/v1/tracking/events", {"events": [event]}, route="tracking/events")
        return [(self.hours(2, 30), self._bind(self.collect, fo))]

    def collect(self, fo: dict[str, Any]) -> Followups:
        """The customer collects at the counter: the store records it shipped and delivered."""
        lines = [{"line_id": k, "quantity": v} for k, v in fo["lines"].items()]
        self.sim.hub.post(f"/api/v1/orders/{self.order_id}/shipments", {"lines": lines})
        self.sim.hub.post(f"/api/v1/orders/{self.order_id}/deliveries", {"lines": lines})
        self.count("delivered")
        return [(self.hours(24, 120), self.take_back)] if self.fate.returned else []

    # -- the carrier ------------------------------------------------------------------------
    def ship(self, fo: dict[str, Any]) -> Followups:
        sale = self.sale
        carrier = feeds.pick_carrier(self.rng, cross_border=sale.is_cross_border)
        transit_days = 3 if sale.is_cross_border else 1
        parcel = Parcel(
            fulfilment_order_id=fo["id"],
            carrier=carrier,
            tracking_number=feeds.tracking_number(carrier, self.rng),
            origin=self.sim.world.place(fo["node_id"]),
            destination=Place(sale.city, sale.country, sale.lat, sale.lon),
            lines=dict(fo["lines"]),
            estimated_delivery=self._eta(transit_days * 24),
        )
        body = {
            "parcels": [
                {
                    "fulfilment_order_id": fo["id"],
                    "carrier": carrier,
                    "service": parcel.service,
                    "tracking_number": parcel.tracking_number,
                    "lines": parcel.lines,
                }
            ]
        }
        if self.sim.hub.post(f"/api/v1/orders/{self.order_id}/parcels", body, route="orders/parcels") is None:
            lines = [{"line_id": k, "quantity": v} for k, v in parcel.lines.items()]
            self.sim.hub.post(f"/api/v1/orders/{self.order_id}/shipments", {"lines": lines})
        self.parcels_sent += 1
        self.count("shipped")
        return [(self.hours(1, 3), self._bind(self.travel, parcel, self.itinerary(parcel)))]

    def _eta(self, world_hours: float) -> date:
        return (_now() + timedelta(seconds=self.sim.clock.seconds(world_hours))).date()

    def itinerary(self, parcel: Parcel) -> list[tuple[float, str, Place, str]]:
        """The parcel's scans from the first sort centre to the door: (hours before it,
        milestone or ``position``, where, what the carrier says)."""
        o, d = parcel.origin, parcel.destination
        midway = Place(o.city, o.country, round((o.lat + d.lat) / 2, 5), round((o.lon + d.lon) / 2, 5))
        depot = Place(d.city, d.country, round(d.lat + 0.03, 5), round(d.lon - 0.04, 5))
        steps: list[tuple[float, str, Place, str]] = [(0, "in_transit", o, "Parcel received at the sort centre")]
        if self.sale.is_cross_border:
            steps.append((2, "export_declared", o, "Export declaration accepted"))
            if self.fate.held_at_customs:
                steps.append((8, "import_held", depot, "Held at customs: duties to be paid"))
                steps.append((self.hours(12, 30), "customs_cleared", depot, "Released by customs"))
            else:
                steps.append((8, "customs_cleared", depot, "Import customs clearance completed"))
        steps.append((self.hours(3, 8), "in_transit", midway, "In transit"))
        if self.fate.exception:
            steps.append((self.hours(2, 6), "exception", midway, "Delayed: parcel damaged, re-packed at the depot"))
        steps += self._round(o if not self.sale.is_cross_border else depot, depot, d)
        if self.fate.attempt_fails:
            steps.append((self.hours(0.2, 0.5), "delivery_attempted", d, "Delivery attempted: recipient not at home"))
            steps += self._round(depot, depot, d, after=self.hours(14, 20))
        steps.append((self.hours(0.1, 0.3), "delivered", d, "Delivered to the recipient"))
        return steps

    def _round(self, start: Place, depot: Place, door: Place, after: float = 0) -> list[tuple[float, str, Place, str]]:
        """Out for delivery, then the driver's positions on the way to the door."""
        first = after or self.hours(4, 10)
        steps = [(first, "out_for_delivery", depot, "Out for delivery")]
        for lat, lon in feeds.driver_path(start, door, self.sim.driver_pings, self.rng):
            steps.append((self.hours(0.2, 0.5), "position", Place(door.city, door.country, lat, lon), ""))
        return steps

    def travel(self, parcel: Parcel, steps: list[tuple[float, str, Place, str]]) -> Followups:
        """Send the next scan of the itinerary and schedule the one after."""
        _, milestone, place, text = steps[0]
        now = _now()
        if milestone == "position":
            body = {
                "positions": [
                    {
                        "tracking_number": parcel.tracking_number,
                        "lat": place.lat,
                        "lon": place.lon,
                        "at": now.isoformat(),
                    }
                ]
            }
            self.sim.hub.post("/api/v1/tracking/positions", body, route="tracking/positions")
        else:
            self._report(parcel, Scan(milestone, now, place, text))
        rest = steps[1:]
        if rest:
            return [(rest[0][0], self._bind(self.travel, parcel, rest))]
        return [(self.hours(24, 120), self.take_back)] if self.fate.returned else []

    def _report(self, parcel: Parcel, scan: Scan) -> None:
        path, content, headers = feeds.carrier_request(parcel, scan, self.sim.secrets)
        route = path.removeprefix("/api/v1/")
        signed = parcel.feed != "orderhub" and "carriers" in path
        answered = self.sim.hub.post(path, route=route, content=content, headers=headers, signed=signed)
        if scan.milestone in ("exception", "delivery_attempted", "import_held"):
            self.count(f"exception:{scan.milestone}")
        if scan.milestone == "delivered":
            self.count("delivered")
        if answered is None:
            self._fall_back(parcel, scan.milestone)

    def _fall_back(self, parcel: Parcel, milestone: str) -> None:
        """No carrier feed on this hub: move the order through the order API instead."""
        try:
            if milestone in ("in_transit", "out_for_delivery"):
                if self.parcels_sent < len(self.fulfilment_orders):
                    return  # partly shipped: the order moves on once every parcel left
                self.sim.hub.post(f"/api/v1/orders/{self.order_id}/transitions", {"to": milestone})
            elif milestone == "delivered":
                lines = [{"line_id": k, "quantity": v} for k, v in parcel.lines.items()]
                self.sim.hub.post(f"/api/v1/orders/{self.order_id}/deliveries", {"lines": lines})
        except HubError as exc:
            if exc.status != 409:  # already there, or another parcel moved it: fine
                raise

    # -- returns ----------------------------------------------------------------------------
    def take_back(self) -> Followups:
        """The customer sends some of it back, to the store nearest to them (return anywhere)."""
        order = self.sim.hub.get(f"/api/v1/orders/{self.order_id}")
        lines = [
            {"line_id": x["id"], "quantity": x["quantity_delivered"] - x["quantity_returned"]}
            for x in order["lines"]
            if x["quantity_delivered"] > x["quantity_returned"]
        ]
        if not lines:
            return []
        node = self.sim.world.nearest_store(self.sale.customer.lat, self.sale.customer.lon)
        body = {"node_id": node, "lines": lines[:1], "reason": "did not fit"}
        self.sim.hub.post(f"/api/v1/orders/{self.order_id}/returns", body)
        self.count("returned")
        return []
