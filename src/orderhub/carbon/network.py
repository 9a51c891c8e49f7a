"""The parcel network a parcel travels when no route is known (GLEC Framework v3, ISO 14083).

One model for every figure OrderHub shows or decides on — the sourcing planner, checkout
options, order footprints and exports all call it, so one parcel fewer is worth what it saves:

1. **the fulfilment node** (a hub visit): the node's own figure (``hub.site:<node>``) or its
   type's GLEC default (a warehouse: 17.5 kg CO2e per tonne handled);
2. **first mile**: a store (or dark store, drop-ship supplier) is visited by the carrier's
   *collection round* — its parcels carry a share of that round per item; a distribution
   centre hands full trailers over at its dock (no round);
3. **sort centres** (a hub visit each, GLEC transshipment default 0.6 kg/t): one when the
   parcel stays within the area of one depot, two when it travels between depots;
4. **linehaul** from the node (or its area's depot) to the customer's depot by the region's
   vehicle class (GLEC EU articulated ≤ 40 t for continental Europe, DESNZ all artics for GB),
   tonne-km × WTW intensity;
5. **the delivery round**: the parcel's share per item of the round that delivers it.

Rounds cost per parcel, whatever it weighs; hubs and linehaul cost per kg. So a parcel's
emissions are ``fixed + per_kg × mass`` for a node and destination, which is what the planner
needs (``terms``). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from orderhub.carbon.model import (
    DEFAULT_ROAD_FACTOR,
    EARTH_RADIUS_KM,
    Factor,
    Hub,
    Leg,
    RoundShare,
    ShipmentFootprint,
)

#: A collected parcel whose road distance is within this stays in one depot's area: one sort
#: centre, no linehaul (the collection and delivery rounds carry it).
LOCAL_KM = 50.0
#: A delivery address within this great-circle distance of a store is on an urban round; beyond
#: it, a rural one (stores stand where people live densely: a proxy for stop density).
URBAN_KM = 15.0
#: Node types whose places mark built-up areas.
URBAN_MARKERS = frozenset({"store", "dark_store"})
URBAN, RURAL = "urban", "rural"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a parcel starts: the node's hub factor (per visit) and whether a carrier's
    collection round picks its parcels up (stores) or trailers leave from its dock (DCs)."""

    hub: Factor | None
    collected: bool = False


@dataclass(frozen=True, slots=True)
class ParcelNetwork:
    """A carrier's parcel network as GLEC v3 models it, with the factors resolved for one
    region and carrier."""

    linehaul: Factor  # transport, g CO2e/t·km
    delivery: Factor  # round, kg CO2e/item
    sort: Factor | None = None  # hub, kg CO2e/t per sort-centre visit
    collection: Factor | None = None  # round, kg CO2e/item, for collected origins
    road_factor: float = DEFAULT_ROAD_FACTOR
    local_km: float = LOCAL_KM

    def route(self, road_km: float, origin: Origin) -> tuple[float, int]:
        """Linehaul km and sort-centre visits for a parcel over ``road_km``."""
        if origin.collected:
            return (0.0, 1) if road_km <= self.local_km else (road_km, 2)
        return road_km, 1

    def terms(self, road_km: float, origin: Origin) -> tuple[float, float]:
        """kg CO2e of a parcel as ``(per parcel, per kg shipped)``: the same elements as
        ``parcel``, as plain arithmetic (the planner calls it for every candidate node)."""
        km, sorts = self.route(road_km, origin)
        fixed = self.delivery.value
        if origin.collected and self.collection is not None:
            fixed += self.collection.value
        per_kg = km * self.linehaul.value * 1e-6
        if self.sort is not None:
            per_kg += sorts * self.sort.value * 1e-3
        if origin.hub is not None:
            per_kg += origin.hub.value * 1e-3
        return fixed, per_kg

    def kg(self, road_km: float, mass_kg: float, origin: Origin) -> float:
        fixed, per_kg = self.terms(road_km, origin)
        return fixed + per_kg * mass_kg

    def parcel(
        self, road_km: float, mass_kg: float, origin: Origin, *, delivery_share: float = 1.0
    ) -> ShipmentFootprint:
        """The parcel's transport chain, element by element. ``delivery_share`` below 1 stands
        for a consolidated run whose round serves more items than an ordinary one."""
        km, sorts = self.route(road_km, origin)
        hubs: tuple[Hub, ...] = () if origin.hub is None else (Hub(origin.hub, mass_kg),)
        if self.sort is not None and sorts:
            hubs += (Hub(self.sort, mass_kg),) * sorts  # a visit is a value: one per sort centre
        delivery = RoundShare(self.delivery, delivery_share)
        if origin.collected and self.collection is not None:
            rounds: tuple[RoundShare, ...] = (RoundShare(self.collection), delivery)
        else:
            rounds = (delivery,)
        legs = (Leg(self.linehaul, km, mass_kg),) if km > 0 else ()
        return ShipmentFootprint(legs, hubs, rounds)


class ParcelModel:
    """A network with each node's origin resolved once: what the sourcing planner calls for
    every candidate node of every order (``terms``, plain arithmetic on per-node constants)."""

    def __init__(self, network: ParcelNetwork, origin_of: Callable[[str, str], Origin]) -> None:
        self.network = network
        self._origin_of = origin_of
        self._origins: dict[str, Origin] = {}
        #: per node: kg per parcel, then (kg per kg, linehaul kg per kg·km) within and beyond
        #: the local radius
        self._constants: dict[str, tuple[float, float, float, float, float]] = {}

    def origin(self, node_id: str, node_type: str) -> Origin:
        hit = self._origins.get(node_id)
        if hit is None:
            hit = self._origins[node_id] = self._origin_of(node_id, node_type)
        return hit

    def _constants_of(self, node_id: str, node_type: str) -> tuple[float, float, float, float, float]:
        net, origin = self.network, self.origin(node_id, node_type)
        fixed, near = net.terms(0.0, origin)
        lh = net.linehaul.value * 1e-6
        if origin.collected:
            far = near + (net.sort.value * 1e-3 if net.sort is not None else 0.0)
            c = (fixed, near, 0.0, far, lh)
        else:
            c = (fixed, near, lh, near, lh)
        self._constants[node_id] = c
        return c

    def terms(self, road_km: float, node_id: str, node_type: str) -> tuple[float, float]:
        """kg CO2e of a parcel from this node as ``(per parcel, per kg)`` — ``network.terms``
        with the node's constants kept (a test holds the two equal)."""
        c = self._constants.get(node_id) or self._constants_of(node_id, node_type)
        if road_km <= self.network.local_km:
            return c[0], c[1] + road_km * c[2]
        return c[0], c[3] + road_km * c[4]

    def offer_terms(self, road_km: float, offer: Any) -> tuple[float, float]:
        """``terms`` for anything with ``node_id`` and ``kind`` (the sourcing planner's offers):
        the planner's carbon callable, one call per candidate node."""
        c = self._constants.get(offer.node_id) or self._constants_of(offer.node_id, offer.kind)
        if road_km <= self.network.local_km:
            return c[0], c[1] + road_km * c[2]
        return c[0], c[3] + road_km * c[4]


class Areas:
    """Urban or rural, for delivery addresses: urban within ``radius_km`` (great circle) of a
    store or dark store of the network, rural beyond. A network without stores gives no sign of
    where people live, so every address is urban (the published GLEC round). The centres sit
    in a grid of ``CELL``-degree cells, so an address is checked against the few nearby ones;
    answers are remembered per address (a period's orders go to the same addresses again)."""

    CELL = 0.25  # degrees
    REMEMBERED = 100_000  # addresses

    def __init__(self, centres: Iterable[tuple[float, float]], *, radius_km: float = URBAN_KM) -> None:
        self._grid: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
        for lat, lon in centres:
            cell = (math.floor(lat / self.CELL), math.floor(lon / self.CELL))
            self._grid.setdefault(cell, []).append((math.radians(lat), math.radians(lon), math.cos(math.radians(lat))))
        self._radius_deg = math.degrees(radius_km / EARTH_RADIUS_KM)
        # haversine's h for the radius: compare h, not distances (no asin per centre)
        self._h = math.sin(radius_km / (2 * EARTH_RADIUS_KM)) ** 2
        self._seen: dict[tuple[float, float], str] = {}

    @classmethod
    def of_nodes(cls, nodes: Iterable[Any], *, radius_km: float = URBAN_KM) -> Areas:
        """From nodes with ``type`` (an enum or its value), ``lat`` and ``lon``."""
        return cls(
            ((n.lat, n.lon) for n in nodes if getattr(n.type, "value", n.type) in URBAN_MARKERS), radius_km=radius_km
        )

    def _near(self, lat: float, lon: float) -> list[tuple[float, float, float]]:
        """The centres in the cells a circle of the radius around the address touches."""
        dlat = self._radius_deg
        dlon = min(360.0, dlat / max(math.cos(math.radians(lat)), 1e-6))
        rows = range(math.floor((lat - dlat) / self.CELL), math.floor((lat + dlat) / self.CELL) + 1)
        cols = range(math.floor((lon - dlon) / self.CELL), math.floor((lon + dlon) / self.CELL) + 1)
        if len(rows) * len(cols) > len(self._grid):  # near a pole or a tiny network: all of them
            return [c for cell in self._grid.values() for c in cell]
        return [c for r in rows for q in cols for c in self._grid.get((r, q), ())]

    def __call__(self, destination: tuple[float, float] | None) -> str:
        if destination is None or not self._grid:
            return URBAN
        hit = self._seen.get(destination)
        if hit is None:
            p2, l2 = math.radians(destination[0]), math.radians(destination[1])
            c2 = math.cos(p2)
            near = any(
                math.sin((p2 - p1) / 2) ** 2 + c1 * c2 * math.sin((l2 - l1) / 2) ** 2 <= self._h
                for p1, l1, c1 in self._near(*destination)
            )
            if len(self._seen) >= self.REMEMBERED:  # a long-lived set (capture) stays bounded
                self._seen.clear()
            hit = self._seen[destination] = URBAN if near else RURAL
        return hit
