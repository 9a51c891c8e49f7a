"""Markers for the console's maps (drawn by static/map.js over the vendored country outlines).

A page builds its markers here and hands them to the ``web/_map.html`` macro; the browser fits
the projection to them, draws the outlines behind them and places the labels that fit.
"""

from __future__ import annotations

import math
from typing import Any

#: Load against daily capacity: under 50 % green, under 90 % amber, else red; no capacity: blue.
LOAD_COLOURS = (("#1f8a4c", 50.0), ("#b7791f", 90.0), ("#c53030", math.inf))
NO_CAPACITY = "#2456d6"
DESTINATION = "#6b2fb8"
MAX_DESTINATIONS = 2000  # more dots than this say nothing more and slow the page


def load_colour(orders: int, capacity: int) -> str:
    """The fill of a node by its load today against its daily capacity."""
    if capacity <= 0:
        return NO_CAPACITY
    pct = 100.0 * orders / capacity
    return next(colour for colour, below in LOAD_COLOURS if pct < below)


def node_marker(
    *,
    node_id: str,
    name: str,
    label: str,
    lat: float,
    lon: float,
    size: int,
    largest: int,
    today: int,
    capacity: int,
    is_hub: bool,
    what: str = "open orders",
) -> dict[str, Any]:
    """A node: the circle's area grows with ``size`` (of ``largest``), its colour with today's
    load; distribution centres get a dark ring."""
    radius = 5 + 11 * math.sqrt(size / largest) if largest > 0 else 5
    used = f", {today} of {capacity} today" if capacity else f", {today} today"
    return {
        "id": node_id,
        "lat": lat,
        "lon": lon,
        "r": round(radius, 1),
        "fill": load_colour(today, capacity),
        "stroke": "#1d2433" if is_hub else "#ffffff",
        "strokeWidth": 2 if is_hub else 1,
        "label": label or name,
        "title": f"{name}: {size} {what}{used}",
        "kind": "node",
        "rank": 1 if is_hub else 0,  # a hub's label first when sizes tie
    }


def destination_markers(points: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Delivery addresses as small dots (every n-th one past ``MAX_DESTINATIONS``)."""
    step = max(1, math.ceil(len(points) / MAX_DESTINATIONS))
    return [
        {
            "lat": lat,
            "lon": lon,
            "r": 2.5,
            "fill": DESTINATION,
            "opacity": 0.55,
            "stroke": "none",
            "kind": "destination",
        }
        for lat, lon in points[::step]
    ]
