"""The console's stock lists on a large network: ``python -m bench.inventory_lists [skus] [nodes]``.

Seeds ``skus`` items stocked at every one of ``nodes`` nodes (10,000 × 20 = 200,000 positions by
default) on SQLite and PostgreSQL, then times the product list (first page, a deep page sorted
by ATP, a search with a category), a node's positions and the per-node alerts (median of 7).
The baseline is the least a list with counts per state must do, in the same run: one raw
``GROUP BY sku`` of every position, all groups read.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bench.common import Databases
from orderhub.inventory import catalogue
from orderhub.inventory import service as inventory
from orderhub.platform.db import create_db_engine

BASELINE = sa.text(
    "SELECT sku, sum(on_hand), sum(reserved), sum(allocated), "
    "sum(CASE WHEN on_hand - reserved - allocated - safety_stock > 0 THEN on_hand - reserved - allocated - safety_stock "
    "ELSE 0 END), count(*) FROM stock_positions GROUP BY sku"
)


def seed(engine: sa.Engine, skus: int, nodes: int) -> None:
    inventory.save_nodes(
        engine,
        nodes=[
            inventory.Node(
                id=f"N{i:02d}", name=f"Node {i}", type=inventory.NodeType.store, lat=50 + i / 10, lon=8, region="HE"
            )
            for i in range(nodes)
        ],
    )
    inventory.put_items(
        engine,
        items=[
            inventory.item_from_fields({"sku": f"S{i:05d}", "name": f"Product {i}", "category": f"c{i % 12}"})
            for i in range(skus)
        ],
    )
    rows = [
        inventory.StockRow(f"N{j:02d}", f"S{i:05d}", on_hand=(i * 7 + j) % 40)
        for j in range(nodes)
        for i in range(skus)
    ]
    inventory.ingest(engine, source="seed", sequence=1, mode="snapshot", rows=rows)


def median_ms(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(7):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(url: str, skus: int, nodes: int) -> None:
    engine = create_db_engine(url)
    seed(engine, skus, nodes)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))
            conn.commit()

    def baseline() -> None:
        with engine.connect() as conn:
            conn.execute(BASELINE).all()

    base = median_ms(baseline)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("product list, page 1", lambda: catalogue.product_list(engine)),
        ("product list, ATP desc, page 100", lambda: catalogue.product_list(engine, sort="atp", desc=True, page=100)),
        ("product list, search + category", lambda: catalogue.product_list(engine, search="product 99", category="c3")),
        ("product list at one node, low", lambda: catalogue.product_list(engine, node_id="N05", state="low")),
        ("node positions, on hand desc", lambda: catalogue.node_positions(engine, node_id="N05", sort="on_hand", desc=True)),
        ("alerts per node", lambda: catalogue.stock_alerts(engine)),
    ]  # fmt: skip
    print(f"{engine.dialect.name}: {skus:,} SKUs × {nodes} nodes; baseline GROUP BY sku {base:.1f} ms")
    for name, fn in cases:
        ms = median_ms(fn)
        print(f"  {name:36s} {ms:8.1f} ms   {ms / base:5.2f} × baseline")
    engine.dispose()


def main() -> None:
    skus = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    nodes = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    dbs = Databases(Path(tempfile.mkdtemp(prefix="orderhub-lists-")))
    run(dbs.sqlite(), skus, nodes)
    run(dbs.postgres(), skus, nodes)


if __name__ == "__main__":
    main()
