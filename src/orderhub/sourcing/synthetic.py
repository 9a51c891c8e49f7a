"""A synthetic fulfilment network and order stream for benchmarks and simulations.

Deterministic for a seed: ``nodes`` nodes spread over Germany's bounding box (one in ten a
distribution centre with deep stock and cheap handling, the rest stores with sparse stock),
a catalogue of SKUs with popularity skew and unit weights, and orders of 1–10 lines to
random addresses.
"""

from __future__ import annotations

import random

from orderhub.sourcing.model import Line, Offer, Request, Weights

LAT, LON = (47.3, 55.0), (5.9, 15.0)


def network(nodes: int, *, skus: int = 2000, seed: int = 1) -> list[Offer]:
    rng = random.Random(seed)
    out = []
    for i in range(nodes):
        dc = i % 10 == 0
        share = 0.7 if dc else 0.15
        atp = {f"S{k:05d}": rng.randint(1, 200 if dc else 12) for k in range(skus) if rng.random() < share}
        out.append(
            Offer(
                node_id=f"{'DC' if dc else 'ST'}-{i:04d}",
                lat=rng.uniform(*LAT),
                lon=rng.uniform(*LON),
                atp=atp,
                handling=1.2 if dc else 2.8,
                capacity_left=rng.randint(0, 400) if not dc else 5000,
                kind="distribution_centre" if dc else "store",
            )
        )
    return out


def orders(
    n: int, *, lines: tuple[int, int] = (1, 10), skus: int = 2000, seed: int = 2, weights: Weights = Weights()
) -> list[Request]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.randint(*lines)
        picked = {f"S{min(skus - 1, int(rng.paretovariate(0.9) * 10) % skus):05d}" for _ in range(k)}
        out.append(
            Request(
                lines=tuple(
                    Line(f"o{i}-l{j}", sku, q := rng.choice([1, 1, 1, 2, 3]), round(q * rng.uniform(0.2, 4.0), 3))
                    for j, sku in enumerate(sorted(picked))
                ),
                lat=rng.uniform(*LAT),
                lon=rng.uniform(*LON),
                weights=weights,
            )
        )
    return out
