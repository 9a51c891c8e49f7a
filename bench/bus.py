"""bench/bus: the event backbone on PostgreSQL — its rate, its latency at half that rate, and
what it costs order capture — next to a bare nats-py publish → consume loop in the same run.

    python -m bench.bus [--events 30000] [--orders 1200] [--only drain,latency,s1]

The bus worker runs in its own process (``orderhub bus``) with the relay and one subscriber,
the probe (tests/plugins/probe_subscriber.py: one row per event in its own table, written with
the offset in one transaction). Events are committed in transactions of 10 by two producer
threads writing the outbox rows with the bare driver.

BACKLOG  a committed backlog drained by a worker started afterwards: events/s between the first
         and the last event applied (the worker alone). Embedded and NATS.
FLOW     producers commit as fast as they can while the worker runs: events/s from the first
         commit to the last event applied (bounded by the slower of the two; both printed).
         Embedded and NATS.
BARE     nats-py alone on the same nats-server: JetStream publish (async, acknowledged) of as
         many messages, then a pull consumer fetching and acknowledging them all.
LATENCY  producers commit at half the embedded FLOW rate; each event's commit time against the
         time the probe applied it: p50 / p99 (and the relay's part).
S1       order capture through the API (``serve --workers 2``, 8 clients, 3-line paid orders)
         with the relay and the probe running (in the bus process ``serve`` starts beside its
         API processes) against the bus off; 5 interleaved runs each, medians of orders/s and of
         machine CPU per order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from tests.plugins.probe_subscriber import probe_meta

from bench.capture import ADMIN_KEY, drive_api
from bench.common import Databases, free_port, percentile, server
from bench.inventory import SKUS, pg_connect, s1_order, stock_world
from orderhub.bus import service as bus
from orderhub.core.events import DomainEvent
from orderhub.platform.db import create_db_engine, unit_of_work

ROOT = Path(__file__).parents[1]
PER_TX = 10  # events per transaction: an order's change writes a handful of events at once
PRODUCERS = 2  # committing threads in the latency run
PLUGIN_ENV = {
    "ORDERHUB_PLUGINS": "tests.plugins.probe_subscriber",
    "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
    "ORDERHUB_BUS_POLL_S": "0.005",
}


@contextmanager
def nats_server() -> Iterator[str]:
    binary = shutil.which("nats-server") or str(Path(sys.executable).parent / "nats-server")
    port = free_port()
    store = tempfile.mkdtemp(prefix="bench-nats-")
    proc = subprocess.Popen(
        [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store], stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)


@contextmanager
def bus_worker(database_url: str, bus_url: str = "") -> Iterator[None]:
    """``orderhub bus`` with the relay and the probe. On NATS the relay and the subscriber run
    as two processes (``--no-subscribers`` / ``--no-relay``), as a NATS deployment would: each
    is CPU-bound in Python (JSON, the client), and one process would share one core's GIL."""
    env = {
        **os.environ,
        **PLUGIN_ENV,
        "ORDERHUB_DATABASE_URL": database_url,
        "ORDERHUB_BUS_URL": bus_url,
        "ORDERHUB_BUS_SUBSCRIBERS": "probe",  # the relay and one subscriber: the probe
    }
    roles = [["--no-subscribers"], ["--no-relay"]] if bus_url else [[]]
    fd, log = tempfile.mkstemp(prefix="bench-bus-", suffix=".log")
    with os.fdopen(fd, "wb") as out:
        procs = [
            subprocess.Popen([sys.executable, "-m", "orderhub", "bus", *role], env=env, stdout=out, stderr=out)
            for role in roles
        ]
        try:
            time.sleep(2.0)  # imports, migrations check, leases, (NATS) stream and consumer
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"bus worker died; log: {log}")
            yield
        finally:
            for p in procs:
                p.terminate()
                p.wait(15)


def applied(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM probe_applied")).scalar_one())


def wait_applied(engine: sa.Engine, n: int, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while applied(engine) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {applied(engine)} of {n} events applied")
        time.sleep(0.02)
    return time.perf_counter()


def events(n: int) -> list[DomainEvent]:
    return [
        DomainEvent(type="bench.happened", aggregate_type="bench", aggregate_id=f"agg{i // 10}", data={"i": i})
        for i in range(n)
    ]


def drain(dbs: Databases, n: int, bus_url: str = "") -> float:
    """A backlog of ``n`` committed events (transactions of ``PER_TX``) drained by a worker
    started afterwards: events/s between the first and the last event the subscriber applied
    (the worker's start-up is not counted; relay and subscriber run concurrently)."""
    url = dbs.postgres()
    engine = create_db_engine(url)
    probe_meta.create_all(engine)
    batch = events(n)
    for i in range(0, n, PER_TX):
        with unit_of_work(engine) as conn:
            bus.publish(conn, batch[i : i + PER_TX])
    with bus_worker(url, bus_url):
        wait_applied(engine, n)
    with engine.connect() as conn:
        first, last = conn.execute(sa.text("SELECT min(applied_at), max(applied_at) FROM probe_applied")).one()
    engine.dispose()
    return (n - 1) / (last - first).total_seconds()


def bare_nats(n: int) -> float:
    import nats

    async def run(url: str) -> float:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name="BARE", subjects=["bare.>"])
        body = b'{"specversion":"1.0","type":"bench.happened","data":{"i":0}}' + b" " * 200
        start = time.perf_counter()
        for i in range(0, n, 1000):
            await asyncio.gather(
                *(
                    js.publish(f"bare.agg{j // 10}", body, headers={"Nats-Msg-Id": f"m{j}"})
                    for j in range(i, min(n, i + 1000))
                )
            )
        sub = await js.pull_subscribe("bare.>", durable="bare")
        got = 0
        while got < n:
            msgs = await sub.fetch(500, timeout=5)
            for m in msgs:
                await m.ack()
            got += len(msgs)
        elapsed = time.perf_counter() - start
        await nc.close()
        return n / elapsed

    with nats_server() as url:
        return asyncio.run(run(url))


OUTBOX_INSERT = (
    "INSERT INTO outbox (id, aggregate_type, aggregate_id, type, actor, payload, occurred_at, version)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, 1)"
)


def outbox_row(e: DomainEvent) -> tuple[object, ...]:
    return (e.id, e.aggregate_type, e.aggregate_id, e.type, e.actor, json.dumps(e.data), e.occurred_at)


def produce(url: str, batch: list[DomainEvent], rate: float | None, committed: dict[str, datetime]) -> None:
    """``PRODUCERS`` threads commit ``batch`` in transactions of ``PER_TX`` events, at ``rate``
    events/s in all (as fast as they can when None), noting when each event was committed.
    The bare driver writes the outbox rows (what an order's transaction writes), so the load
    generator's own CPU stays small next to what is measured."""

    def run(k: int) -> None:
        conn = pg_connect(url)
        interval = PER_TX * PRODUCERS / rate if rate else 0.0
        start = time.perf_counter()
        for j, i in enumerate(range(k * PER_TX, len(batch), PER_TX * PRODUCERS)):
            if interval and (wait := start + j * interval - time.perf_counter()) > 0:
                time.sleep(wait)
            rows = batch[i : i + PER_TX]
            with conn.cursor() as cur:
                cur.executemany(OUTBOX_INSERT, [outbox_row(e) for e in rows])
            conn.commit()
            at = datetime.now(UTC)
            committed.update((e.id, at) for e in rows)
        conn.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(PRODUCERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def flow(dbs: Databases, n: int, bus_url: str = "") -> tuple[float, float]:
    """The sustained rate: producers commit ``n`` events as fast as they can while the worker
    runs; events/s from the first commit to the last event applied, and the producers' own rate."""
    url = dbs.postgres()
    engine = create_db_engine(url)
    probe_meta.create_all(engine)
    committed: dict[str, datetime] = {}
    with bus_worker(url, bus_url):
        first = time.perf_counter()
        produce(url, events(n), None, committed)
        produced = time.perf_counter()
        end = wait_applied(engine, n)
    engine.dispose()
    return n / (end - first), n / (produced - first)


def latency(dbs: Databases, rate: float, seconds: float = 10) -> tuple[float, float, int]:
    url = dbs.postgres()
    engine = create_db_engine(url)
    probe_meta.create_all(engine)
    committed: dict[str, datetime] = {}
    n = int(rate * seconds) // (PER_TX * PRODUCERS) * PER_TX * PRODUCERS
    with bus_worker(url):
        produce(url, events(n), rate, committed)
        wait_applied(engine, n)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT p.event_id, p.applied_at, l.published_at FROM probe_applied p"
                " JOIN outbox o ON o.id = p.event_id JOIN bus_log l ON l.seq = o.seq"
            )
        ).all()
    engine.dispose()
    lags = [(at - committed[eid]).total_seconds() for eid, at, _ in rows if eid in committed]
    relayed = [(pub - committed[eid]).total_seconds() for eid, _, pub in rows if eid in committed]
    print(
        f"  (commit → published p50 {percentile(relayed, 50) * 1000:.1f} ms, p99 {percentile(relayed, 99) * 1000:.1f} ms)"
    )
    return percentile(lags, 50), percentile(lags, 99), len(lags)


def machine_cpu_seconds() -> float:
    """CPU seconds every process of this machine has used (Linux /proc/stat): the API, the
    bus worker threads, PostgreSQL and the load generator alike."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def s1_with_and_without(dbs: Databases, n: int, rounds: int = 5) -> dict[bool, tuple[float, float]]:
    """Per setting, the medians over ``rounds`` interleaved runs of orders/s and of machine CPU
    ms per order — counted until the subscriber applied every event of the run when the bus is
    on, so the backbone's whole work is in it. This machine's noise between two runs of one
    build is larger than the effect on throughput; CPU per order is the steadier figure."""
    rng = random.Random(3)
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(rounds):
        for on in (False, True):
            url = dbs.postgres()
            engine = create_db_engine(url)
            probe_meta.create_all(engine)
            env = {
                **PLUGIN_ENV,
                "ORDERHUB_RUN_BUS": "true" if on else "false",
                "ORDERHUB_BUS_POLL_S": "0.02",
                "ORDERHUB_BUS_SUBSCRIBERS": "probe",  # the relay and one subscriber
            }
            with server(url, admin_key=ADMIN_KEY, workers=2, env=env) as (api, _pid):
                stock_world(api, skus=SKUS, on_hand=10**6)
                asyncio.run(drive_api(api, [s1_order(rng) for _ in range(200)], 8))
                if on:
                    wait_applied(engine, outbox_size(engine), timeout=60)
                cpu0 = machine_cpu_seconds()
                elapsed, _lat = asyncio.run(drive_api(api, [s1_order(rng) for _ in range(n)], 8))
                if on:  # the subscriber keeps up: every event of the run applied soon after
                    wait_applied(engine, outbox_size(engine), timeout=60)
                runs[on].append((n / elapsed, (machine_cpu_seconds() - cpu0) / n * 1000))
            engine.dispose()
    for on in (False, True):
        print(
            f"  {'with   ' if on else 'without'}: "
            + ", ".join(f"{rate:.0f} orders/s ({cpu:.2f} ms CPU/order)" for rate, cpu in runs[on])
        )
    return {on: (statistics.median(r for r, _ in runs[on]), statistics.median(c for _, c in runs[on])) for on in runs}


def outbox_size(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--only", default="drain,latency,s1")
    args = parser.parse_args()
    only = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="orderhub-bench-bus-"))
    dbs = Databases(work)
    if "drain" in only:
        backlog = drain(dbs, args.events)
        print(f"BACKLOG embedded (PostgreSQL): the worker alone drains {backlog:,.0f} events/s")
        with nats_server() as url:
            nats_backlog = drain(dbs, args.events, bus_url=url)
        print(f"BACKLOG nats: the worker alone drains {nats_backlog:,.0f} events/s")
    rate = None
    if "drain" in only or "latency" in only:
        rate, made = flow(dbs, args.events)
        print(
            f"FLOW embedded (PostgreSQL): {rate:,.0f} events/s commit → relay → subscriber table while "
            f"producers commit ({made:,.0f}/s offered) (goal ≥ 5,000)"
        )
    if "drain" in only:
        with nats_server() as url:
            nats_rate, made = flow(dbs, args.events, bus_url=url)
        print(f"FLOW nats (PostgreSQL + JetStream): {nats_rate:,.0f} events/s ({made:,.0f}/s offered) (goal ≥ 5,000)")
        bare = bare_nats(args.events)
        print(
            f"BARE nats-py publish → consume, same server build: {bare:,.0f} messages/s | "
            f"ratio nats/bare {nats_rate / bare:.2f}, embedded/bare {rate / bare:.2f}"
        )
    if "latency" in only and rate:
        p50, p99, n = latency(dbs, rate / 2)
        print(
            f"LATENCY at half the flow rate ({rate / 2:,.0f} events/s, {n} events): commit → applied "
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (goal ≤ 50)"
        )
    if "s1" in only:
        got = s1_with_and_without(dbs, args.orders)
        (off, cpu_off), (on, cpu_on) = got[False], got[True]
        print(
            f"S1 with the relay and one subscriber: {on:.0f} orders/s vs {off:.0f} without "
            f"(throughput cost {(1 - on / off) * 100:.1f} %); machine CPU {cpu_on:.2f} vs {cpu_off:.2f} ms/order "
            f"(CPU cost {(cpu_on / cpu_off - 1) * 100:.1f} %) (goal ≤ 10 %)"
        )


if __name__ == "__main__":
    main()
