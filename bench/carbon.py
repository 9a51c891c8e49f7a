"""bench/carbon: how many leg calculations per second the carbon calculator does, next to
the same arithmetic written inline (the floor of plain Python) in the same run.

    python -m bench.carbon [--n 200000]

``leg_kg`` is what the sourcing engine calls per candidate leg; ``ParcelNetwork.shipment``
is a whole node-to-customer parcel (great-circle distance, road factor, trunk and last-mile
legs, depot) as it is computed for every candidate node of a plan.
"""

from __future__ import annotations

import argparse
import random
import time

from orderhub.carbon.factors import FactorSet, default_factors
from orderhub.carbon.model import great_circle_km, leg_kg


def rate(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    n = parser.parse_args().n
    rng = random.Random(1)
    masses = [rng.uniform(0.2, 30) for _ in range(n)]
    dists = [rng.uniform(5, 800) for _ in range(n)]
    fs = FactorSet(default_factors())
    net = fs.network("EU")
    g = net.linehaul.value

    def inline() -> None:
        total = 0.0
        for m, d in zip(masses, dists, strict=True):
            total += m * d * g * 1e-6

    def calculator() -> None:
        total = 0.0
        for m, d in zip(masses, dists, strict=True):
            total += leg_kg(m, d, g)

    origin = fs.origin("DC-CENTRAL", "distribution_centre")
    points = [(rng.uniform(47.5, 54.5), rng.uniform(6, 14.5)) for _ in range(n // 4)]

    def parcels() -> None:
        total = 0.0
        for (lat, lon), m in zip(points, masses, strict=False):
            total += net.parcel(great_circle_km(50.87, 9.71, lat, lon) * net.road_factor, m, origin).kg

    base, calc, parcel = rate(inline, n), rate(calculator, n), rate(parcels, n // 4)
    print(
        f"carbon legs: calculator {calc:,.0f} legs/s | inline arithmetic {base:,.0f}/s | ratio {calc / base:.2f} "
        f"(goal ≥ 100,000 legs/s)\ncarbon parcels: {parcel:,.0f} node→customer parcels/s "
        f"(great circle + road factor + 1–2 legs + depot), ≈ {parcel * 2:,.0f} legs/s"
    )


if __name__ == "__main__":
    main()
