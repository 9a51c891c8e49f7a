"""bench/sourcing: what each strategy decides against the nearest-node-with-stock rule (cost,
parcels, kg CO2e through the GLEC v3 parcel network the live planner uses) on the synthetic
network and on the demo world's network; then decision latency of the live path and its
quality against the exact optimum (HiGHS) — all in the same run.

    python -m bench.sourcing [--orders 1000] [--latency-orders 300] [--nodes 50,200,500]
                             [--lines 1,5,10] [--exact 60] [--strategy balanced] [--skip-latency]

Latency includes building the model (node terms for the destination, pruning). The exact
solver runs on the first ``--exact`` orders of each size (it is slower by design).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bench.common import percentile
from orderhub.carbon.factors import FactorSet, default_factors
from orderhub.carbon.network import RURAL, URBAN, URBAN_MARKERS, Areas
from orderhub.sourcing import synthetic
from orderhub.sourcing.exact import plan_exact
from orderhub.sourcing.model import STRATEGIES, Line, Offer, Plan, Request, plan_fast, plan_nearest

HANDLING = {"distribution_centre": 1.2, "store": 2.8}  # as sourcing.service.HANDLING


def carbon_per_kg(offers: list[Offer]):  # type: ignore[no-untyped-def]
    """The parcel network of the shipped defaults (GLEC v3, EU) as the live planner uses it: per
    order, the delivery round of its address's area (urban within 15 km of a store, else rural)."""
    fs = FactorSet(default_factors())
    areas = Areas((o.lat, o.lon) for o in offers if o.kind in URBAN_MARKERS)
    models = {a: fs.parcel_model("EU", area=a).offer_terms for a in (URBAN, RURAL)}

    def of(r: Request):  # type: ignore[no-untyped-def]
        return models[areas((r.lat, r.lon))]

    of.areas = areas  # type: ignore[attr-defined]
    return of


def demo_world(
    orders: int, *, seed: int = 7
) -> tuple[list[Offer], list[tuple[float, float, list[tuple[str, int, float]]]]]:
    """The demo's 3 DCs and 20 stores with stock drawn as the demo draws it (DCs deep, stores
    sparse), and baskets of 1–4 of its SKUs (popular ones likelier) to its customers' addresses."""
    from orderhub import demo

    rng = random.Random(seed)
    nodes = demo.build_nodes()
    items = demo.build_items(rng)
    customers = demo.build_customers(rng, 2000)
    offers = []
    for node in nodes:
        dc = node.type.value == "distribution_centre"
        atp = {}
        for item in items:
            rank = int(item.sku[-3:])
            if dc:
                atp[item.sku] = rng.randint(0, 600 // rank + 40) - 5
            elif rng.random() < 0.6:
                atp[item.sku] = rng.randint(0, 30 // rank + 6) - 1
        offers.append(
            Offer(
                node.id,
                node.lat,
                node.lon,
                {k: v for k, v in atp.items() if v > 0},
                handling=HANDLING[node.type.value],
                kind=node.type.value,
            )
        )
    weights = [1 / int(i.sku[-3:]) for i in items]
    baskets = []
    for _ in range(orders):
        c = rng.choice(customers)
        picked = {i.sku: i for i in rng.choices(items, weights, k=rng.choice([1, 1, 2, 2, 3, 4]))}
        baskets.append(
            (c.lat, c.lon, [(sku, q := rng.choice([1, 1, 1, 2]), q * i.weight_g / 1000) for sku, i in picked.items()])
        )
    return offers, baskets


def compare(name: str, offers: list[Offer], requests: list[list[Request]], co2) -> None:  # type: ignore[no-untyped-def]
    """Per strategy: the optimiser's plans against the nearest-node rule's on the same orders."""
    rural = sum(co2.areas((r.lat, r.lon)) == RURAL for r in requests[0])
    print(
        f"\n{name}: {len(offers)} nodes, {len(requests[0])} orders ({rural} to rural addresses) — "
        "optimiser vs nearest-node rule (same orders)"
    )
    print(
        f"{'strategy':>9} {'cost €':>10} {'rule €':>10} {'Δ cost':>7} {'parcels':>7} {'rule':>6} {'Δ':>7} "
        f"{'kg CO2e':>8} {'rule kg':>8} {'Δ kg':>7} {'g/parcel':>8} {'rule g/p':>8}"
    )
    for strategy, reqs in zip(STRATEGIES, requests, strict=True):
        pairs: list[tuple[Plan, Plan]] = []
        for r in reqs:
            fast, near = plan_fast(r, offers, co2(r)).plan, plan_nearest(r, offers, co2(r)).plan
            if fast is not None and near is not None:
                pairs.append((fast, near))
        cost = sum(f.cost for f, _ in pairs), sum(n.cost for _, n in pairs)
        parcels = sum(len(f.shipments) for f, _ in pairs), sum(len(n.shipments) for _, n in pairs)
        kg = sum(f.kg_co2e for f, _ in pairs), sum(n.kg_co2e for _, n in pairs)
        pct = [100 * (a / b - 1) for a, b in (cost, parcels, kg)]
        print(
            f"{strategy:>9} {cost[0]:>10,.0f} {cost[1]:>10,.0f} {pct[0]:>+6.1f}% {parcels[0]:>7} {parcels[1]:>6} "
            f"{pct[1]:>+6.1f}% {kg[0]:>8.1f} {kg[1]:>8.1f} {pct[2]:>+6.1f}% "
            f"{1000 * kg[0] / parcels[0]:>8.0f} {1000 * kg[1] / parcels[1]:>8.0f}"
        )


def latency(a: argparse.Namespace) -> None:
    w = STRATEGIES[a.strategy]
    print(f"\nlatency and optimality: strategy {a.strategy}, {a.latency_orders} orders per size, exact on {a.exact}")
    print(
        f"{'nodes':>5} {'lines':>5} {'fast p50 ms':>11} {'fast p99 ms':>11} {'exact p50 ms':>12} {'gap mean %':>10} {'gap max %':>9}"
    )
    for n in (int(x) for x in a.nodes.split(",")):
        net = synthetic.network(n)
        co2 = carbon_per_kg(net)
        for k in (int(x) for x in a.lines.split(",")):
            reqs = synthetic.orders(a.latency_orders, lines=(k, k), weights=w, seed=n * 100 + k)
            lat, plans = [], []
            for r in reqs:
                t0 = time.perf_counter()
                d = plan_fast(r, net, co2(r))  # the address's area included, as at capture
                lat.append(time.perf_counter() - t0)
                plans.append(d.plan)
            gaps, exact_t = [], []
            for r, fast in list(zip(reqs, plans, strict=True))[: a.exact]:
                t0 = time.perf_counter()
                ex = plan_exact(r, net, co2(r), time_limit_s=2.0).plan
                exact_t.append(time.perf_counter() - t0)
                if ex is not None and fast is not None:
                    gaps.append(100 * (fast.objective - ex.objective) / ex.objective)
            print(
                f"{n:>5} {k:>5} {percentile(lat, 50) * 1000:>11.2f} {percentile(lat, 99) * 1000:>11.2f} "
                f"{percentile(exact_t, 50) * 1000:>12.1f} {statistics.fmean(gaps) if gaps else float('nan'):>10.3f} "
                f"{max(gaps) if gaps else float('nan'):>9.2f}"
            )
    print("gap: fast-path objective above the exact optimum (the live path allows at most two shipments)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=1000)
    p.add_argument("--latency-orders", type=int, default=300)
    p.add_argument("--nodes", default="50,200,500")
    p.add_argument("--lines", default="1,5,10")
    p.add_argument("--exact", type=int, default=60)
    p.add_argument("--strategy", default="balanced")
    p.add_argument("--skip-latency", action="store_true")
    a = p.parse_args()
    print("bench/sourcing: carbon through the GLEC v3 parcel network (shipped defaults, EU)")
    net = synthetic.network(200)
    compare(
        "synthetic network (Germany, 1 DC in 10)",
        net,
        [synthetic.orders(a.orders, lines=(1, 10), weights=w, seed=4242) for w in STRATEGIES.values()],
        carbon_per_kg(net),
    )
    offers, baskets = demo_world(a.orders)
    compare(
        "demo network (3 DCs, 20 stores)",
        offers,
        [
            [
                Request(
                    lines=tuple(Line(f"o{i}-{j}", sku, q, kg) for j, (sku, q, kg) in enumerate(lines)),
                    lat=lat,
                    lon=lon,
                    weights=w,
                )
                for i, (lat, lon, lines) in enumerate(baskets)
            ]
            for w in STRATEGIES.values()
        ],
        carbon_per_kg(offers),
    )
    if not a.skip_latency:
        latency(a)


if __name__ == "__main__":
    main()
