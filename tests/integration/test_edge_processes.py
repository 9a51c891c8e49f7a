"""Partition fuzzing with real processes (docs/edge.md §8): an ``orderhub serve`` hub and three
``orderhub edge`` gateways on loopback, started once, each gateway behind a TCP proxy that the
schedules cut (open connections reset, new ones refused) and heal; 200 seeded schedules
(``bench.edge_net``) of till sales, returns, stock moves, hand-overs, central orders,
cancellations and reassignments over HTTP, a gateway SIGKILLed with a sale in flight in about
one schedule in 16 and the hub in about one in 30, state carrying over from one schedule to the
next. After each schedule, with every link healed and every gateway synced: no position
oversold and each gateway's figures the hub's, no order shipped twice, every till sale at the
hub exactly once (and every sale a clerk was told of among them), the ledger and the units at
every node conserved.

``ORDERHUB_EDGE_PROCESS_SCHEDULES`` (default 200) and ``ORDERHUB_EDGE_PROCESS_FIRST`` (default
0) choose the seeds. About 4-5 minutes on a shared 2-core machine; its own xdist group."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from bench.edge_net import Net, run_schedule

# one xdist group with the crash tests: the suites that start (and kill) whole processes run one at
# a time, so none of them starves another of CPU on a 2-core machine
pytestmark = pytest.mark.xdist_group("crash")
SCHEDULES = int(os.environ.get("ORDERHUB_EDGE_PROCESS_SCHEDULES", "200"))
FIRST = int(os.environ.get("ORDERHUB_EDGE_PROCESS_FIRST", "0"))


def test_seeded_schedules_on_real_processes_break_no_invariant(tmp_path: Path) -> None:
    started = time.perf_counter()
    net = Net.start(tmp_path)
    failures: list[str] = []
    ran = 0
    try:
        for seed in range(FIRST, FIRST + SCHEDULES):
            failures = run_schedule(net, seed)
            ran += 1
            if failures:  # state carries over: what follows a violation is its echo
                break
    finally:
        net.stop()
    took, cpu = time.perf_counter() - started, net.cpu_s()
    ops = dict(sorted(net.ops.items()))
    print(f"{ran} schedules on real processes in {took:.0f} s, {cpu:.0f} s CPU (hub, gateways, harness): {ops}")
    assert failures == [], (failures[:10], ops)
    assert ran == SCHEDULES
    if SCHEDULES >= 200:  # the schedules did what they are for
        assert net.ops["kill_gateway"] >= 8 and net.ops["kill_hub"] >= 2, ops
        assert net.ops["cut"] >= 100 and net.ops["sale 201"] >= 300 and net.ops["sale 409"] >= 10, ops
        assert net.ops["click_and_collect 200"] >= 15 and net.ops["hand_over 200"] >= 10, ops
        assert net.ops["shipped"] >= 20, ops
        assert sum(n for k, n in net.ops.items() if k.startswith("return 201")) >= 10, ops
