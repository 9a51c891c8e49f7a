"""Visibility KPIs, computed from tracking's live read model: how long orders dwell at each step,
which are late against their promise, which are stuck, and the table a business compares its
channels by. Pure: the service hands in rows.

Definitions (docs/tracking.md):

- *dwell* of a step A → B: time from an order's first A to its first B, over orders placed in
  the window that reached both; median and 90th percentile.
- *late*: promised by a date that has passed, not delivered, not cancelled.
- *stuck*: in a status longer than that status's threshold (``STUCK_AFTER_H``).
- per channel, over orders placed in the window: volume; average hours from order to shipped
  (orders shipped); error rate = orders that hit a problem milestone, plus payloads refused as
  dead letters, over orders plus dead letters; on-time delivery % = delivered on or before the
  promised date (both as the destination's calendar reads them), over delivered orders with a
  promise.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from orderhub.tracking.carriers.places import local_date
from orderhub.tracking.model import Milestone

M = Milestone
#: The steps dwell is measured over, in journey order.
STEPS: tuple[tuple[Milestone, Milestone], ...] = (
    (M.placed, M.paid),
    (M.paid, M.allocated),
    (M.allocated, M.released),
    (M.released, M.picked),
    (M.picked, M.packed),
    (M.packed, M.handed_to_carrier),
    (M.handed_to_carrier, M.in_transit),
    (M.in_transit, M.out_for_delivery),
    (M.out_for_delivery, M.delivered),
)

#: Hours an order may stay in a status before it is listed as stuck.
STUCK_AFTER_H: dict[str, float] = {
    "created": 1,
    "awaiting_payment": 24,
    "paid": 2,
    "allocated": 4,
    "released": 8,
    "picked": 4,
    "packed": 8,
    "on_hold": 24,
    "partially_shipped": 48,
    "shipped": 48,
    "in_transit": 96,
    "out_for_delivery": 12,
    "partially_delivered": 72,
    "return_requested": 168,
}
FINAL_STATUSES = frozenset({"delivered", "cancelled", "returned", "refunded"})


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


@dataclass(frozen=True, slots=True)
class Dwell:
    step: str
    orders: int
    median_h: float | None
    p90_h: float | None


def dwell(first_reached: dict[str, dict[str, datetime]]) -> list[Dwell]:
    """``first_reached``: order id → milestone → when it was first reached."""
    out = []
    for a, b in STEPS:
        hours = [
            (seen[b.value] - seen[a.value]).total_seconds() / 3600
            for seen in first_reached.values()
            if a.value in seen and b.value in seen and seen[b.value] >= seen[a.value]
        ]
        out.append(
            Dwell(
                f"{a.value} → {b.value}",
                len(hours),
                round(statistics.median(hours), 2) if hours else None,
                round(_quantile(hours, 0.9), 2) if hours else None,
            )
        )
    return out


def is_late(order: dict[str, Any], today: date) -> bool:
    promised = order["promised_by"]
    return bool(
        promised and promised < today and order["delivered_at"] is None and order["status"] not in FINAL_STATUSES
    )


def stuck_for_h(order: dict[str, Any], now: datetime) -> float | None:
    """Hours past its status's threshold, or None when the order is moving (or done)."""
    limit = STUCK_AFTER_H.get(order["status"])
    if limit is None:
        return None
    waited = (now - order["status_since"]).total_seconds() / 3600
    return round(waited, 1) if waited > limit else None


@dataclass(frozen=True, slots=True)
class ChannelRow:
    channel: str
    orders: int
    shipped: int
    avg_hours_to_ship: float | None
    problems: int
    dead_letters: int
    error_rate_pct: float | None
    delivered_with_promise: int
    on_time_pct: float | None


def channels(orders: list[dict[str, Any]], dead_letters: dict[str, int]) -> list[ChannelRow]:
    """The channel table over ``orders`` (tracking_orders rows placed in the window)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for o in orders:
        by.setdefault(o["channel"] or "?", []).append(o)
    for name in dead_letters:
        by.setdefault(name, [])
    rows = []
    for name in sorted(by):
        group = by[name]
        ship_h = [(o["shipped_at"] - o["placed_at"]).total_seconds() / 3600 for o in group if o["shipped_at"]]
        problems = sum(1 for o in group if o["problem_at"] is not None)
        dead = dead_letters.get(name, 0)
        promised = [o for o in group if o["delivered_at"] and o["promised_by"]]
        on_time = sum(1 for o in promised if local_date(o["delivered_at"], o["dest_country"]) <= o["promised_by"])
        seen = len(group) + dead
        rows.append(
            ChannelRow(
                channel=name,
                orders=len(group),
                shipped=len(ship_h),
                avg_hours_to_ship=round(sum(ship_h) / len(ship_h), 2) if ship_h else None,
                problems=problems,
                dead_letters=dead,
                error_rate_pct=round(100 * (problems + dead) / seen, 1) if seen else None,
                delivered_with_promise=len(promised),
                on_time_pct=round(100 * on_time / len(promised), 1) if promised else None,
            )
        )
    return rows


def window_start(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
