"""bench/reoptimise: batch re-optimisation of a backlog of paid, unallocated orders.

    python -m bench.reoptimise [--backlog 10000] [--backend sqlite|postgres]

The backlog is captured while the distribution centres lack one of the two SKUs each order
needs, so many orders are split between a store and a DC; then the DCs receive that SKU and
the whole backlog is re-planned. Prints the shipments and cost before and after, and the time.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from bench.common import Databases
from orderhub.inventory import service as inventory
from orderhub.orders import capture, service
from orderhub.platform.db import create_db_engine
from orderhub.sourcing import synthetic

SKUS = [f"S{k:05d}" for k in range(40)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backlog", type=int, default=10_000)
    p.add_argument("--backend", default="sqlite")
    a = p.parse_args()
    dbs = Databases(Path(tempfile.mkdtemp(prefix="orderhub-bench-")))
    engine = create_db_engine(dbs.sqlite() if a.backend == "sqlite" else dbs.postgres())
    offers = synthetic.network(60, skus=len(SKUS), seed=3)
    nodes = [
        inventory.Node(
            id=o.node_id,
            name=o.node_id,
            type=inventory.NodeType.distribution_centre if o.node_id.startswith("DC") else inventory.NodeType.store,
            lat=o.lat,
            lon=o.lon,
            region="DE",
            capabilities=list(inventory.Capability),
        )
        for o in offers
    ]
    inventory.save_nodes(engine, nodes=nodes)
    inventory.save_items(engine, items=[inventory.Item(s, s, "home", 800, 2000, 1000) for s in SKUS])
    half = len(SKUS) // 2
    rows = []
    for n in nodes:  # stores carry the first half of the catalogue, DCs the second half
        for i, s in enumerate(SKUS):
            if (n.type == inventory.NodeType.store) == (i < half):
                rows.append(inventory.StockRow(n.id, s, on_hand=10 * a.backlog))
    inventory.ingest(engine, source="bench", sequence=1, mode="snapshot", rows=rows)
    rng = random.Random(5)
    t0 = time.perf_counter()
    for i in range(a.backlog):
        body = {
            "external_ref": f"R-{i}",
            "currency": "EUR",
            "customer": {"email": f"c{i % 900}@x.de"},
            "payment_status": "paid",
            "shipping_address": {"lat": rng.uniform(47.5, 54.8), "lon": rng.uniform(6.0, 14.8)},
            "lines": [
                {"sku": rng.choice(SKUS[:half]), "quantity": 1, "unit_price": "20.00"},
                {"sku": rng.choice(SKUS[half:]), "quantity": 1, "unit_price": "20.00"},
            ],
        }
        capture.receive(engine, adapter="canonical", body=json.dumps(body).encode(), actor="bench")
    captured_s = time.perf_counter() - t0
    dcs = [n.id for n in nodes if n.type == inventory.NodeType.distribution_centre]
    inventory.ingest(
        engine,
        source="bench",
        sequence=2,
        mode="delta",
        rows=[inventory.StockRow(d, s, delta=10 * a.backlog) for d in dcs for s in SKUS[:half]],
    )
    report = service.reoptimise(engine, limit=a.backlog)
    saved = report["shipments_before"] - report["shipments_after"]
    print(
        f"re-optimisation ({a.backend}): backlog {a.backlog} orders (captured in {captured_s:.0f} s), re-planned {report['replanned']}, "
        f"shipments {report['shipments_before']} → {report['shipments_after']} ({saved} saved), "
        f"cost €{report['cost_before_eur']:.0f} → €{report['cost_after_eur']:.0f}, kg CO2e {report['kg_before']:.1f} → {report['kg_after']:.1f}, "
        f"{report['seconds']} s ({report['seconds'] / max(report['examined'], 1) * 1000:.1f} ms per order examined)"
    )
    print("check ledger differences:", len(inventory.check_ledger(engine)))


if __name__ == "__main__":
    main()
