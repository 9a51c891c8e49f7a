"""bench/rules: decision tables at the order's hook points — evaluation latency, the latency
they add to capture, a simulation of 10,000 orders — each next to a baseline from the same run.

    python -m bench.rules [--quick] [--json FILE]

Orders are the invoices of the UCI Online Retail data set, up to six lines each, with what the
data does not say drawn with a fixed seed (``bench.retail``).

EVAL     per hook, a 100-row table over facts of every type (strings, lists, numbers,
         booleans), hit policy first (collect at order.exception), each row redrawn until it
         matches ≤ 0.5 % (rows 1-90) or ≤ 10 % (rows 91-100) of the orders, so most match late
         or not at all (shown). Published on a migrated SQLite file; per order ``facts_of`` +
         ``REGISTRY.evaluate``, without the decision log and with it (committed every 100).
         Baseline: ``facts_of`` + a plain Python first-match loop over the rows' parsed
         conditions, run back to back with ours; both must give the same outcome every time.
CAPTURE  the same orders captured (``capture.receive``; three DCs stock every SKU, so sourcing
         runs) into a database without rule sets and one with five (one per hook), in
         alternating rounds. Capture asks order.captured, order.before_sourcing and, for the
         unpaid, reservation.created; the other two sets are live but not asked.
SIM      12,000 orders bulk-loaded (``orders.import_history``), the order.captured table
         published and a draft with 10 rows redrawn: ``simulation.simulate(limit=10000)``.
         Baseline: reading the same orders' facts alone (``orders.get_recent_facts``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from bench.common import Databases, percentile
from bench.retail import LINES, order_docs, read_invoices
from orderhub.core.clock import utcnow
from orderhub.inventory import service as inventory
from orderhub.orders import capture
from orderhub.orders import service as orders
from orderhub.orders.canonical import OrderCreate
from orderhub.platform.auth import service as auth
from orderhub.platform.db import create_db_engine
from orderhub.rules import service as rules
from orderhub.rules import simulation
from orderhub.rules.engine import REGISTRY
from orderhub.rules.facts import facts_of
from orderhub.rules.model import FACTS, OUTCOMES, STRATEGIES, Choice, combine, validate
from orderhub.wiring import wire

ROWS = 100
EXCEPTIONS = {"backordered": 40, "on_hold": 20, "split_shipment": 15, "line_cancelled": 10, "payment_failed": 10}
DCS = [("DC-MID", 52.48, -1.90, "ENG"), ("DC-NOR", 53.48, -2.24, "ENG"), ("DC-EU", 51.92, 4.48, "ZH")]
FLOWS = {"manager": {"name": "Manager approves", "steps": [{"role": "publisher", "timeout_minutes": 240}]}}
SPEC = {  # hook → hit policy, input facts, outcomes
    "order.captured": ("first", ["country", "channel", "tier", "total", "items", "skus", "address_complete",
                                 "billing_country_differs"], ["approval", "tag", "priority"]),
    "order.before_sourcing": ("first", ["country", "region", "total", "lines", "promise_days", "tier", "tags"],
                              ["strategy"]),
    "order.exception": ("collect", ["exception", "tier", "hours_to_promise", "nodes", "total", "channel"],
                        ["tag", "priority", "hold"]),
    "order.before_release": ("first", ["country", "tier", "hours_to_promise", "items", "campaign", "payment_status",
                                       "skus"], ["priority", "hold", "tag"]),
    "reservation.created": ("first", ["channel", "tier", "total", "skus", "email_domain", "hour", "address_complete"],
                            ["lock_minutes"]),
}  # fmt: skip
Case = tuple[dict[str, Any], str, datetime]  # what the order hands the hook, the exception, now


def built(doc: dict[str, Any]) -> Any:
    order = capture.build_order(OrderCreate.model_validate(doc))
    capture.start_lifecycle(order)
    return order


def hook_cases(hook: str, docs: list[dict[str, Any]], rng: random.Random) -> list[Case]:
    """What each order hands ``hook`` (``Order.as_facts``): as captured for the capture-time
    hooks, hours later and allocated to 1-2 nodes for the others; unpaid at reservation.created.
    Evaluated as of the next day (after the table is published: before, none is in force)."""
    start, cases, late = utcnow() + timedelta(minutes=10), [], hook in ("order.exception", "order.before_release")
    for doc in docs:
        o = built({**doc, "payment_status": "pending"} if hook == "reservation.created" else doc).as_facts()
        now = start + timedelta(minutes=rng.randrange(24 * 60))
        o["created_at"] = (now - timedelta(hours=rng.uniform(1, 96) if late else 0.001)).isoformat()
        if late:
            o["node_ids"] = [d[0] for d in rng.sample(DCS, rng.choice([1, 1, 1, 2]))]
            o["status"] = "released" if hook == "order.before_release" else rng.choice(["paid", "allocated"])
        exception = rng.choices(list(EXCEPTIONS), list(EXCEPTIONS.values()))[0] if hook == "order.exception" else ""
        cases.append((o, exception, now))
    return cases


# -- tables and the baseline evaluator ----------------------------------------------------------
def draw_cell(name: str, seen: list[Any], rng: random.Random) -> str:
    """A condition a business user would write, on values the orders really have."""
    kind = FACTS[name][0]
    if kind == "boolean":
        return rng.choice(["yes", "no"])
    if kind == "number":
        xs = sorted(v for v in seen if v is not None)
        nice = lambda x: str(round(x)) if abs(x) >= 10 else f"{x:.1f}"  # noqa: E731
        a, b = sorted((nice(xs[int(rng.random() * (len(xs) - 1))]) for _ in range(2)), key=float)
        if a == b:  # not "(6..6]": an empty range is saved as "6" (model.to_unary)
            return a
        return rng.choice([f"[{a}..{b}]", f"> {b}", f"< {a}", f">= {b}", f"<= {a}", f"({a}..{b}]", f"!= {a}"])
    pool = Counter(v for vs in seen for v in (vs if kind == "list" else [vs]) if v)
    values = [v for v, _ in pool.most_common(60 if kind == "list" else 12)]
    words = ", ".join(rng.sample(values, min(len(values), rng.choice([1, 1, 2, 3]))))
    # "not" only on strings: on a list column "not X" is evaluated as "contains X" (model.to_unary)
    return f"not {words}" if kind == "string" and rng.random() < 0.1 else words


def draw_outcome(name: str, rng: random.Random) -> str:
    return {
        "approval": "manager" if rng.random() < 0.15 else "",
        "hold": rng.choice(["fraud-check", "address-check"]) if rng.random() < 0.2 else "",
        "tag": rng.choice(["review", "vip-care", "gift", "export", "bulk", "late-risk", "fragile", "priority-lane"]),
        "priority": str(rng.randint(-20, 60)),
        "strategy": rng.choice(STRATEGIES),
        "lock_minutes": str(rng.choice([10, 15, 30, 60, 120, 240, 1440])),
    }[name]


def draw_row(hook: str, i: int, sample: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """Row ``i`` (0-based), redrawn until it matches ≤ 0.5 % (i < 90) or ≤ 10 % of ``sample``."""
    _, inputs, outputs = SPEC[hook]
    narrow = i < ROWS - 10
    while True:
        chosen = set(rng.sample(inputs, rng.choice([3, 4] if narrow else [1, 2])))
        when = [draw_cell(n, [f[n] for f in sample], rng) if n in chosen else "" for n in inputs]
        row = {"id": f"r{i + 1}", "when": when, "then": [draw_outcome(n, rng) for n in outputs]}
        test = naive_evaluator(hook, {"inputs": inputs, "outputs": outputs, "rows": [row], "flows": FLOWS})
        if sum(bool(test(f)[1]) for f in sample) <= len(sample) * (0.005 if narrow else 0.10):
            return row


def draw_table(hook: str, sample: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    policy, inputs, outputs = SPEC[hook]
    rows = [draw_row(hook, i, sample, rng) for i in range(ROWS)]
    flows = FLOWS if "approval" in outputs else {}
    return {"hit_policy": policy, "inputs": inputs, "outputs": outputs, "rows": rows, "flows": flows}


def _holds(cond: Any, value: Any, kind: str) -> bool:
    if isinstance(cond, bool):
        return value is cond
    if isinstance(cond, Choice):
        if kind == "list":
            return any(v in cond.values for v in value)
        return (value not in cond.values) if cond.negated else (value in cond.values)
    if value is None:  # as zen: an unknown number is "!= x", and in no range
        return cond.not_equal is not None
    if cond.not_equal is not None:
        return bool(value != cond.not_equal)
    lo = value > cond.lo or (cond.lo_closed and value == cond.lo)
    return lo and (value < cond.hi or (cond.hi_closed and value == cond.hi))


def naive_evaluator(hook: str, content: dict[str, Any]) -> Callable[[dict[str, Any]], tuple[dict[str, Any], int]]:
    """The baseline: the rows' parsed conditions in a plain first-match (or collect) loop; the
    outcome combined as the engine does, and the first matching row (1-based; 0: none)."""
    table, parsed = validate(hook, content)
    rows = []
    for row, conds in zip(table.rows, parsed, strict=True):
        tests = [(n, c, FACTS[n][0]) for n, c in zip(table.inputs, conds, strict=True) if c is not None]
        then = {
            n: float(v) if OUTCOMES[n][0] == "number" else v
            for n, v in zip(table.outputs, row["then"], strict=True)
            if v
        }
        rows.append((tests, then))
    first = table.hit_policy != "collect"

    def evaluate(facts: dict[str, Any]) -> tuple[dict[str, Any], int]:
        hits, at = [], 0
        for i, (tests, then) in enumerate(rows):
            if all(_holds(c, facts[n], k) for n, c, k in tests):
                hits.append(then)
                at = at or i + 1
                if first:
                    break
        return combine(hits), at

    return evaluate


def publish(engine: Engine, hook: str, content: dict[str, Any]) -> str:
    """Written by an editor, published by a publisher: in force now."""
    ed, pia = (
        auth.create_user(engine, email=f"{n}-{hook}@bench.example", name=n, role=n) for n in ("editor", "publisher")
    )
    sid = str(rules.create(engine, who=ed, name=f"bench {hook}", hook=hook, content=content)["id"])
    rules.submit(engine, who=ed, set_id=sid, number=1)
    rules.publish(engine, who=pia, set_id=sid, number=1, why="bench")
    return sid


def ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    return fn(), time.perf_counter() - t0


# -- EVAL ---------------------------------------------------------------------------------------
def _ours(conn: Any, hook: str, record: bool, case: Case) -> dict[str, Any]:
    order, exception, now = case
    facts = facts_of(order, now=now, exception=exception)
    return REGISTRY.evaluate(conn, hook, facts, now=now, order_id=order["id"], record=record).values


def _naive(naive: Callable[..., Any], case: Case) -> Any:
    order, exception, now = case
    return naive(facts_of(order, now=now, exception=exception))


def measure_eval(engine: Engine, hook: str, cases: list[Case], naive: Callable[..., Any], *, record: bool) -> dict:
    """Per order, ours and the baseline back to back (which goes first alternates)."""
    ours, base, where = [], [], Counter[str]()
    with engine.connect() as conn:
        for k, case in enumerate(cases):
            evaluate, baseline = partial(_ours, conn, hook, record, case), partial(_naive, naive, case)
            if k % 2:
                (want, at), tb = timed(baseline)
                got, to = timed(evaluate)
            else:
                got, to = timed(evaluate)
                (want, at), tb = timed(baseline)
            if got != want:  # again: a stall past the time budget lets the fallback decide, once
                if _ours(conn, hook, False, case) != want:
                    raise SystemExit(f"{hook}: zen said {got}, the baseline {want}, on {case[0]['id']}")
                where["set aside"] += 1
            ours.append(to)
            base.append(tb)
            where["none" if not at else "1-50" if at <= 50 else "51-90" if at <= 90 else "91-100"] += 1
            if k % 100 == 99:
                conn.commit()
        conn.commit()
    return {"ours": ours, "base": base, "where": where}


def run_eval(dbs: Databases, docs: list[dict[str, Any]], n: int, rng: random.Random) -> tuple[list, dict]:
    engine = create_db_engine(dbs.sqlite())
    tables, figures = {}, []
    print(f"\nEVAL: {n:,} orders per hook; ms per order (facts_of + evaluate), after 200 to warm up")
    print(f"{'hook':22} {'log':4} {'p50':>6} {'p99':>6} {'max':>6} {'naive p50':>9} {'p99':>6} {'max':>6} "
          f"{'p99 ratio':>9}  orders by first matching row")  # fmt: skip
    for hook in SPEC:
        cases = hook_cases(hook, rng.sample(docs, n + 200), rng)
        sample = [facts_of(o, now=now, exception=e) for o, e, now in cases[:1500]]
        tables[hook] = draw_table(hook, sample, rng)
        publish(engine, hook, tables[hook])
        naive = naive_evaluator(hook, tables[hook])
        measure_eval(engine, hook, cases[:200], naive, record=False)
        for record in (False, True):
            r = measure_eval(engine, hook, cases[200:], naive, record=record)
            o, b = r["ours"], r["base"]
            shares = " ".join(f"{k} {r['where'][k] / n:.0%}" for k in ("none", "91-100", "51-90", "1-50"))
            shares += f"; over budget, set aside: {r['where']['set aside']}" if r["where"]["set aside"] else ""
            print(f"{hook:22} {'yes' if record else 'no':4} {ms(o, 50):6.3f} {ms(o, 99):6.3f} {ms(o, 100):6.3f} "
                  f"{ms(b, 50):9.3f} {ms(b, 99):6.3f} {ms(b, 100):6.3f} {ms(o, 99) / ms(b, 99):9.2f}  {shares}")  # fmt: skip
            figures.append((f"eval p99 {hook}" + (" (+log)" if record else ""), ms(o, 99), ms(b, 99), "ms", 1.0))
    engine.dispose()
    return figures, tables


# -- CAPTURE ------------------------------------------------------------------------------------
def stocked(dbs: Databases, skus: set[str]) -> Engine:
    """A fresh database with three DCs holding plenty of every SKU."""
    engine = create_db_engine(dbs.sqlite())
    nodes = [inventory.Node(i, i, inventory.NodeType.distribution_centre, lat, lon, region,
                            capabilities=[inventory.Capability.ships]) for i, lat, lon, region in DCS]  # fmt: skip
    inventory.save_nodes(engine, nodes=nodes)
    rows = [inventory.StockRow(n.id, s, on_hand=1_000_000, safety_stock=0) for n in nodes for s in sorted(skus)]
    inventory.ingest(engine, source="bench", sequence=1, mode="snapshot", rows=rows)
    return engine


def run_capture(dbs: Databases, docs: list[dict[str, Any]], tables: dict, rounds: int, per: int) -> list:
    docs = [d for d in docs if d["shipping_address"]["lat"] is not None][: 100 + rounds * per]
    plain, ruled = (stocked(dbs, {line["sku"] for d in docs for line in d["lines"]}) for _ in range(2))
    for hook, content in tables.items():
        publish(ruled, hook, content)
    bodies = [json.dumps(d).encode() for d in docs]
    lat: dict[str, list[float]] = {"none": [], "rules": []}
    for r in range(-1, rounds):  # round -1 warms both up
        chunk = bodies[:100] if r < 0 else bodies[100 + r * per : 100 + (r + 1) * per]
        for label, engine in [("none", plain), ("rules", ruled)][:: 1 if r % 2 else -1]:
            for body in chunk:
                _, took = timed(lambda e=engine, b=body: capture.receive(e, adapter="canonical", body=b, actor="bench"))
                if r >= 0:
                    lat[label].append(took)
    with ruled.connect() as conn:
        decided = dict(conn.execute(sa.text("SELECT hook, count(*) FROM rule_decisions GROUP BY hook")).all())
        held = conn.execute(sa.text("SELECT count(*) FROM orders WHERE status = 'on_hold'")).scalar()
    a50, a99, b50, b99 = ms(lat["rules"], 50), ms(lat["rules"], 99), ms(lat["none"], 50), ms(lat["none"], 99)
    unpaid = sum(d["payment_status"] != "paid" for d in docs[100:])
    print(f"\nCAPTURE: {len(lat['none'])} orders (≤ {LINES} lines, {unpaid} unpaid) into each database, after 100 to"
          f" warm up, in {rounds} alternating rounds\n  no rule sets   p50 {b50:6.2f} ms  p99 {b99:6.2f} ms\n"
          f"  five rule sets p50 {a50:6.2f} ms  p99 {a99:6.2f} ms\n  added          p50 {a50 - b50:+6.2f} ms "
          f"({a50 / b50:.2f}×)  p99 {a99 - b99:+6.2f} ms ({a99 / b99:.2f}×)\n  decisions logged (warm-up too): "
          f"{decided}; orders held by rules: {held}")  # fmt: skip
    plain.dispose()
    ruled.dispose()
    return [("capture p50, 5 rule sets", a50, b50, "ms", None), ("capture p99, 5 rule sets", a99, b99, "ms", None)]


# -- SIM ----------------------------------------------------------------------------------------
def run_sim(dbs: Databases, docs: list, table: dict, limit: int, rounds: int, rng: random.Random) -> list:
    engine = create_db_engine(dbs.sqlite())
    loaded, t0 = [built(d) for d in docs[-int(limit * 1.2) :]], time.perf_counter()
    for i in range(0, len(loaded), 4000):
        orders.import_history(engine, orders=loaded[i : i + 4000], actor="bench:history")
    print(f"\nSIM: {len(loaded):,} orders bulk-loaded in {time.perf_counter() - t0:.1f} s; simulate limit {limit:,}")
    sid = publish(engine, "order.captured", table)
    recent = orders.get_recent_facts(engine, limit=1500)
    sample = [facts_of(o, now=datetime.fromisoformat(o["created_at"])) for o in recent]
    draft = json.loads(json.dumps(table))
    for i in rng.sample(range(ROWS), 10):
        draft["rows"][i] = draw_row("order.captured", i, sample, rng)
    editor = auth.create_user(engine, email="sim@bench.example", name="Sim", role="editor")
    rules.save_draft(engine, who=editor, set_id=sid, content=draft, why="bench: 10 rows redrawn")
    took: dict[str, list[float]] = {"read": [], "sim": []}
    result: dict[str, Any] = {}
    steps = {"read": partial(orders.get_recent_facts, engine, limit=limit),
             "sim": partial(simulation.simulate, engine, set_id=sid, number=2, limit=limit)}  # fmt: skip
    steps["read"]()  # warm the page cache for both
    for r in range(rounds):
        for step in ("read", "sim") if r % 2 == 0 else ("sim", "read"):
            out, seconds = timed(steps[step])
            took[step].append(seconds)
            result = out if step == "sim" else result
    assert result["orders"] == limit, result["orders"]
    sim, read = (sorted(took[k])[len(took[k]) // 2] for k in ("sim", "read"))
    print(f"  simulate {sim:.2f} s ({limit / sim:,.0f} orders/s; rounds {', '.join(f'{s:.2f}' for s in took['sim'])})"
          f": {result['changed']:,} changed — held {result['held_before']} → {result['held_after']}, tagged "
          f"{result['tagged_before']} → {result['tagged_after']}, reprioritised {result['reprioritised']:,}\n"
          f"  baseline, reading the facts alone: {read:.2f} s (rounds {', '.join(f'{s:.2f}' for s in took['read'])})")  # fmt: skip
    engine.dispose()
    return [(f"simulate {limit:,} orders", sim, read, "s", 10.0 if limit >= 10_000 else None)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run, to check that it works")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    n, rounds, per, limit, sim_rounds = (300, 2, 25, 1000, 1) if args.quick else (3000, 10, 100, 10_000, 3)
    wire()
    rng, t0 = random.Random(13), time.perf_counter()
    docs = order_docs(read_invoices(), rng)
    print(f"bench/rules: {len(docs):,} Online Retail invoices ({time.perf_counter() - t0:.1f} s to read); {load()}")
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        dbs = Databases(Path(tmp))
        figures, tables = run_eval(dbs, docs, n, rng)
        figures += run_capture(dbs, docs, tables, rounds, per)
        figures += run_sim(dbs, docs, tables["order.captured"], limit, sim_rounds, rng)
    print(f"\n{'figure':38} {'value':>10} {'baseline':>10} {'ratio':>6} {'goal':>8}  met?")
    for label, value, baseline, unit, goal in figures:
        met = "—" if goal is None else "yes" if value <= goal else "NO"
        aim = "—" if goal is None else f"≤ {goal:g} {unit}"
        print(f"{label:38} {value:7.3f} {unit:2} {baseline:7.3f} {unit:2} {value / baseline:6.2f} {aim:>8}  {met}")
    print(f"{load()} on {os.cpu_count()} cores (above that, other work shared the machine)")
    if args.json:
        keys = ("figure", "value", "baseline", "unit", "goal")
        args.json.write_text(json.dumps([dict(zip(keys, f, strict=True)) for f in figures], indent=2))


if __name__ == "__main__":
    main()
