"""Partition fuzzing of the edge, in process (docs/edge.md §8): 200 seeded schedules of a hub
and three store gateways on their own SQLite files — till sales, returns, stock moves, click &
collect, central orders, cancellations, reassignments, cut links, lost answers, clock jumps and
restarts — each followed by healing every link and syncing until nothing is pending. Zero
violations of: no unit oversold (at any moment: no gateway may sell what the hub does not hold
for it), no order shipped twice, every till sale at the hub exactly once, every stock figure
equal to its ledger and units conserved. Four chunks of 50, so xdist spreads them; about 15 s
of CPU each."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from bench.edge_fuzz import run_schedule
from bench.edge_world import Slots, Templates, make_templates

SCHEDULES = 200
CHUNKS = 4


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return make_templates(tmp_path_factory.mktemp("edge-fuzz-templates"))


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_seeded_partition_schedules_break_no_invariant(chunk: int, templates: Templates, tmp_path: Path) -> None:
    per = SCHEDULES // CHUNKS
    slots = Slots(tmp_path / "slots", templates)
    ops: Counter[str] = Counter()
    failures = []
    logging.disable(logging.WARNING)  # the schedules raise expected conflicts' alerts by the hundred
    try:
        for seed in range(chunk * per, (chunk + 1) * per):
            report = run_schedule(seed, slots)
            ops.update(report.ops)
            if report.violations:
                failures.append(f"seed {seed}: {report.violations[:5]}")
    finally:
        logging.disable(logging.NOTSET)
        slots.close()
    assert failures == []
    # the schedules did what they are for: cuts, kills, offline sales, refusals, hand-overs
    for op in ("sale", "cut", "restart_gateway", "restart_hub", "hand_over", "cancel", "reassign", "clock_jump"):
        assert ops[op] > 0, (op, dict(ops))
    assert ops["refused:beyond_escrow"] > 0, dict(ops)
