"""bench/sourcing: decision latency of the live path, its quality against the exact optimum
(HiGHS) and against the nearest-node-with-stock rule, on the synthetic network — same run.

    python -m bench.sourcing [--orders 300] [--nodes 50,200,500] [--lines 1,5,10] [--exact 60]

Latency includes building the model (node terms for the destination, pruning). The exact
solver runs on the first ``--exact`` orders of each size (it is slower by design).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import percentile
from orderhub.carbon.factors import FactorSet, default_factors
from orderhub.sourcing import synthetic
from orderhub.sourcing.exact import plan_exact
from orderhub.sourcing.model import STRATEGIES, plan_fast, plan_nearest


def carbon_per_kg():  # type: ignore[no-untyped-def]
    """The parcel network of the shipped defaults (GLEC v3, EU), as the live planner uses it."""
    model = FactorSet(default_factors()).parcel_model("EU")
    return lambda road_km, offer: model.terms(road_km, offer.node_id, offer.kind)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=300)
    p.add_argument("--nodes", default="50,200,500")
    p.add_argument("--lines", default="1,5,10")
    p.add_argument("--exact", type=int, default=60)
    p.add_argument("--strategy", default="balanced")
    a = p.parse_args()
    co2 = carbon_per_kg()
    w = STRATEGIES[a.strategy]
    print(f"bench/sourcing: strategy {a.strategy}, {a.orders} orders per size, exact solver on {a.exact}")
    print(
        f"{'nodes':>5} {'lines':>5} {'fast p50 ms':>11} {'fast p99 ms':>11} {'exact p50 ms':>12} {'gap mean %':>10} {'gap max %':>9} "
        f"{'vs nearest: cost':>16} {'shipments':>9} {'kg CO2e':>8}"
    )
    for n in (int(x) for x in a.nodes.split(",")):
        net = synthetic.network(n)
        for k in (int(x) for x in a.lines.split(",")):
            reqs = synthetic.orders(a.orders, lines=(k, k), weights=w, seed=n * 100 + k)
            lat, plans = [], []
            for r in reqs:
                t0 = time.perf_counter()
                d = plan_fast(r, net, co2)
                lat.append(time.perf_counter() - t0)
                plans.append(d.plan)
            gaps, exact_t = [], []
            for r, fast in list(zip(reqs, plans, strict=True))[: a.exact]:
                t0 = time.perf_counter()
                ex = plan_exact(r, net, co2, time_limit_s=2.0).plan
                exact_t.append(time.perf_counter() - t0)
                if ex is not None and fast is not None:
                    gaps.append(100 * (fast.objective - ex.objective) / ex.objective)
            near = [plan_nearest(r, net, co2).plan for r in reqs]
            both = [(f, m) for f, m in zip(plans, near, strict=True) if f is not None and m is not None]
            cost = 100 * (1 - sum(f.cost for f, _ in both) / sum(m.cost for _, m in both))
            ships = 100 * (1 - sum(len(f.shipments) for f, _ in both) / sum(len(m.shipments) for _, m in both))
            kg = 100 * (1 - sum(f.kg_co2e for f, _ in both) / sum(m.kg_co2e for _, m in both))
            print(
                f"{n:>5} {k:>5} {percentile(lat, 50) * 1000:>11.2f} {percentile(lat, 99) * 1000:>11.2f} "
                f"{percentile(exact_t, 50) * 1000:>12.1f} {statistics.fmean(gaps) if gaps else float('nan'):>10.3f} "
                f"{max(gaps) if gaps else float('nan'):>9.2f} {cost:>15.1f}% {ships:>8.1f}% {kg:>7.1f}%"
            )
    print(
        "gap: fast-path objective above the exact optimum; 'vs nearest': saving against each line from the nearest node with stock"
    )


if __name__ == "__main__":
    main()
