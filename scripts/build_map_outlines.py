"""Build the console's map background from Natural Earth country outlines (dev time only).

The maps of the console and of the public tracking page draw countries behind their points
from ``src/orderhub/web/static/map-outlines.js``, a file this script writes. Nothing is
downloaded at run time. To regenerate it (after a new release of the data, or to change the
detail):

    cd /tmp && npm pack world-atlas && tar xzf world-atlas-*.tgz
    python scripts/build_map_outlines.py /tmp/package/countries-50m.json

``world-atlas`` (ISC licence, Mike Bostock) is Natural Earth's 1:50m cultural vectors
(public domain) as TopoJSON. The script decodes the topology into one ring list per country,
simplifies each ring (Douglas-Peucker, ``TOLERANCE`` degrees in Europe: about 1.5 px on a
map 10 degrees wide; coarser elsewhere), drops islands smaller than ``MIN_AREA`` square
degrees, and writes every ring as integers of 1/100 degree, the first point absolute and each
next one as the difference from the one before (a compact JavaScript file, cached by the
browser like any static file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TOLERANCE = 0.015  # degrees, in and around Europe, where the nodes are
TOLERANCE_ELSEWHERE = 0.08  # degrees
EUROPE = (-25.0, 34.0, 45.0, 72.0)  # lon/lat box drawn at the finer tolerance
MIN_AREA = 0.002  # square degrees (about 20 km², small islands)
SCALE = 100  # integer units per degree
OUT = Path(__file__).resolve().parent.parent / "src/orderhub/web/static/map-outlines.js"

Point = tuple[float, float]


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """The topology's arcs in degrees (they are quantised and delta-encoded)."""
    (kx, ky), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * kx + tx, y * ky + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[Point]], indexes: list[int]) -> list[Point]:
    """A closed ring from arc indexes (a negative index ~i is arc i reversed)."""
    points: list[Point] = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker, iterative (rings run to thousands of points)."""
    if len(points) < 4:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = points[a], points[b]
        dx, dy = bx - ax, by - ay
        norm = (dx * dx + dy * dy) ** 0.5
        best, far = 0.0, -1
        for i in range(a + 1, b):
            px, py = points[i]
            # distance from the chord (from its start when the chord is a point)
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm if norm else ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            if d > best:
                best, far = d, i
        if far > 0 and best > tolerance:
            keep[far] = True
            stack += [(a, far), (far, b)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def is_european(points: list[Point]) -> bool:
    west, south, east, north = EUROPE
    return any(west <= x <= east and south <= y <= north for x, y in points)


def area(points: list[Point]) -> float:
    pairs = zip(points, points[1:] + points[:1], strict=True)
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs)) / 2


def encode(points: list[Point]) -> list[int]:
    out: list[int] = []
    px = py = 0
    for x, y in points:
        ix, iy = round(x * SCALE), round(y * SCALE)
        if out and (ix, iy) == (px, py):
            continue
        out += [ix - px, iy - py]
        px, py = ix, iy
    return out


def build(topology: dict[str, Any]) -> list[dict[str, Any]]:
    arcs = decode_arcs(topology)
    countries = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        polygons = geometry.get("arcs") or []
        if geometry["type"] == "Polygon":
            polygons = [polygons]
        rings = []
        for polygon in polygons:
            for indexes in polygon:
                points = ring(arcs, indexes)
                points = simplify(points, TOLERANCE if is_european(points) else TOLERANCE_ELSEWHERE)
                if len(points) >= 4 and area(points) >= MIN_AREA:
                    rings.append(points)
        if not rings:
            continue
        xs = [x for r in rings for x, _ in r]
        ys = [y for r in rings for _, y in r]
        countries.append(
            {
                "n": geometry.get("properties", {}).get("name", ""),
                "b": [round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2)],
                "r": [encode(r) for r in rings],
            }
        )
    return countries


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/package/countries-50m.json")
    countries = build(json.loads(source.read_text()))
    header = (
        "// Country outlines for the console's maps: Natural Earth 1:50m (public domain) via the\n"
        "// world-atlas package (ISC, Mike Bostock); see map-outlines.LICENSE. Generated by\n"
        "// scripts/build_map_outlines.py: rings of 1/100 degree [lon, lat], deltas after the first.\n"
    )
    body = json.dumps({"scale": SCALE, "countries": countries}, separators=(",", ":"))
    OUT.write_text(f"{header}window.OrderHubOutlines = {body};\n")
    points = sum(len(r) // 2 for c in countries for r in c["r"])
    print(f"{OUT}: {len(countries)} countries, {points} points, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
