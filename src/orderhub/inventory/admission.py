"""The admission queue in front of cart holds: group commit for hot SKUs.

A request that arrives while a batch is being written waits for the next batch; each batch is
one transaction (``service.hold_for_carts``). In a flash sale, 64 shoppers on one SKU become a
few transactions, instead of 64 transactions queueing on one row lock and each paying its own
commit. When the queue is idle a request is written at once (a batch of one): no timer, no
added latency. Correctness does not rest on the queue: every batch locks the positions and
moves them with a guarded UPDATE, so several processes (each with its own queue) stay exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from fastapi.concurrency import run_in_threadpool

Req = TypeVar("Req")
Out = TypeVar("Out")


class AdmissionQueue(Generic[Req, Out]):
    """Collects requests and runs them in batches of up to ``max_batch`` through ``run``
    (a blocking function: one list in, one outcome per request out, in order)."""

    def __init__(self, run: Callable[[list[Req]], list[Out]], *, max_batch: int = 256) -> None:
        self._run = run
        self._max = max_batch
        self._pending: list[tuple[Req, asyncio.Future[Out]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0  # for tests and metrics: how many transactions served the requests

    async def submit(self, request: Req) -> Out:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (a restarted server or test client)
            self._loop, self._pending, self._worker = loop, [], None
        future: asyncio.Future[Out] = loop.create_future()
        self._pending.append((request, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            self.batches += 1
            try:
                outcomes = await run_in_threadpool(self._run, [r for r, _ in batch])
            except Exception as exc:  # the whole transaction rolled back: every caller hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
