"""The simulator's calendar: each order's future steps, due at a time, in one priority queue.

A step is a callable that does one thing to the hub (capture, pay, pick, a carrier scan …) and
returns the steps that follow it with their delays in *world hours*. The clock turns world
hours into real seconds (``speed`` world seconds pass per real second), so a parcel that takes a
day to arrive takes minutes in the demo and milliseconds in a test.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: A step's follow-ups: (world hours from now, step).
Followups = list[tuple[float, "Step"]]
Step = Callable[[], Followups]

#: The demo's pace: a world day passes in eight real minutes.
DEMO_SPEED = 180.0


@dataclass(frozen=True, slots=True)
class Clock:
    """World time to real time."""

    speed: float = DEMO_SPEED  # world seconds per real second

    def seconds(self, hours: float) -> float:
        return hours * 3600.0 / self.speed


@dataclass(order=True, slots=True)
class _Entry:
    due: float
    seq: int
    step: Step = field(compare=False)


class Agenda:
    """Steps due at a monotonic time, earliest first; safe to use from several threads."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._heap)

    def add(self, delay_s: float, step: Step, *, now: float | None = None) -> None:
        due = (time.monotonic() if now is None else now) + max(0.0, delay_s)
        with self._changed:
            heapq.heappush(self._heap, _Entry(due, next(self._seq), step))
            self._changed.notify()

    def next_due(self) -> float | None:
        with self._changed:
            return self._heap[0].due if self._heap else None

    def take_due(self, now: float | None = None) -> list[Step]:
        """Remove and return every step due by ``now``, earliest first."""
        now = time.monotonic() if now is None else now
        out = []
        with self._changed:
            while self._heap and self._heap[0].due <= now:
                out.append(heapq.heappop(self._heap).step)
        return out

    def wait(self, until: float) -> None:
        """Sleep until ``until`` (monotonic) or until a step is added, whichever comes first."""
        with self._changed:
            delay = until - time.monotonic()
            if delay > 0:
                self._changed.wait(delay)

    def clear(self) -> None:
        with self._changed:
            self._heap.clear()
