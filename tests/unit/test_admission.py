"""The admission queue: requests that arrive together share a batch, each caller gets its own
outcome in order, a failed batch fails only its own callers."""

from __future__ import annotations

import asyncio
import time

import pytest

from orderhub.inventory.admission import AdmissionQueue
from tests.conftest import run_async


def test_concurrent_requests_are_batched_and_answered_in_order() -> None:
    sizes: list[int] = []

    def run(batch: list[int]) -> list[int]:
        sizes.append(len(batch))
        time.sleep(0.02)  # a transaction's worth of time: the others queue up meanwhile
        return [x * 10 for x in batch]

    queue: AdmissionQueue[int, int] = AdmissionQueue(run, max_batch=16)

    async def main() -> list[int]:
        return await asyncio.gather(*(queue.submit(i) for i in range(40)))

    assert run_async(main) == [i * 10 for i in range(40)]
    assert sum(sizes) == 40 and max(sizes) == 16 and len(sizes) < 10
    assert queue.batches == len(sizes)


def test_a_lone_request_is_a_batch_of_one_without_waiting_for_company() -> None:
    sizes: list[int] = []

    def run(batch: list[int]) -> list[int]:
        sizes.append(len(batch))
        return batch

    queue: AdmissionQueue[int, int] = AdmissionQueue(run)

    async def main() -> list[int]:
        first = await queue.submit(7)
        second = await queue.submit(8)  # the queue went idle in between: a batch of its own
        return [first, second]

    assert run_async(main) == [7, 8] and sizes == [1, 1] and queue.batches == 2


def test_a_failing_batch_fails_its_callers_and_the_next_batch_runs() -> None:
    calls = {"n": 0}

    def run(batch: list[int]) -> list[int]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return batch

    queue: AdmissionQueue[int, int] = AdmissionQueue(run)

    async def main() -> None:
        with pytest.raises(RuntimeError):
            await queue.submit(1)
        assert await queue.submit(2) == 2

    run_async(main)
