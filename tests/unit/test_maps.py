"""Map markers: colour by today's load against capacity, size by load, destinations thinned."""

from __future__ import annotations

from orderhub.inventory.model import LOW_STOCK_UNITS, low_threshold, stock_state
from orderhub.web import maps


def test_load_colour_steps_at_50_and_90_percent_and_blue_without_capacity():
    assert [maps.load_colour(n, 100) for n in (0, 49, 50, 89, 90, 150)] == [
        "#1f8a4c", "#1f8a4c", "#b7791f", "#b7791f", "#c53030", "#c53030",
    ]  # fmt: skip
    assert maps.load_colour(7, 0) == maps.NO_CAPACITY


def test_node_marker_area_grows_with_load_and_hubs_get_a_ring():
    big = maps.node_marker(node_id="A", name="DC A", label="", lat=1, lon=2, size=16, largest=16, today=5,
                           capacity=10, is_hub=True)  # fmt: skip
    small = maps.node_marker(node_id="B", name="B", label="Bonn", lat=1, lon=2, size=4, largest=16, today=0,
                             capacity=0, is_hub=False)  # fmt: skip
    idle = maps.node_marker(node_id="C", name="C", label="", lat=1, lon=2, size=0, largest=0, today=0,
                            capacity=0, is_hub=False)  # fmt: skip
    assert (big["r"], small["r"], idle["r"]) == (16.0, 10.5, 5)
    assert (big["label"], small["label"]) == ("DC A", "Bonn")
    assert (big["stroke"], small["stroke"], big["fill"]) == ("#1d2433", "#ffffff", "#b7791f")
    assert big["title"] == "DC A: 16 open orders, 5 of 10 today"


def test_destinations_are_thinned_to_the_limit_evenly():
    points = [(50.0 + i / 10_000, 8.0) for i in range(5000)]
    dots = maps.destination_markers(points)
    assert len(dots) == 1667 and dots[1]["lat"] == points[3][0]
    assert len(maps.destination_markers(points[:10])) == 10


def test_stock_state_out_low_at_or_below_the_threshold_else_ok():
    assert [stock_state(a, 5) for a in (0, 1, 5, 6)] == ["out", "low", "low", "ok"]
    assert (low_threshold(0), low_threshold(8)) == (LOW_STOCK_UNITS, 8)


def test_vendored_outlines_hold_germany_around_berlin_with_their_licence():
    import json
    from pathlib import Path

    static = Path(maps.__file__).parent / "static"
    text = (static / "map-outlines.js").read_text()
    data = json.loads(text[text.index("{") : text.rindex("}") + 1])
    countries = {c["n"]: c for c in data["countries"]}
    assert len(countries) > 200 and data["scale"] == 100
    germany = countries["Germany"]
    west, south, east, north = germany["b"]
    assert (5.8 < west < 6.0, 47.2 < south < 47.4, 15.0 < east < 15.1, 54.9 < north < 55.1) == (True,) * 4
    ring = max(germany["r"], key=len)  # the mainland, decoded from its deltas
    xs, ys, x, y = [], [], 0, 0
    for i in range(0, len(ring), 2):
        x, y = x + ring[i], y + ring[i + 1]
        xs.append(x / 100)
        ys.append(y / 100)
    assert len(xs) > 250 and (xs[0], ys[0]) == (xs[-1], ys[-1])  # detailed, and closed
    assert "Natural Earth" in (static / "map-outlines.LICENSE").read_text()
