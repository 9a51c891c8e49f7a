"""The guard's use case: after a run or an update has read the history, every day of demand that
arrived since the guard last looked is compared with the forecast that was live for it
(``guard.py`` says how), series and regions change state, and every region that switches is
recorded and published (``forecast.guard_switched``), in one transaction.

Forecast imports no other context: what a switch does in sourcing (the ``unreliable``
condition on the region) is wired in ``orderhub.wiring``, which subscribes to the event.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.bus import service as bus
from orderhub.core.clock import utcnow
from orderhub.core.events import DomainEvent
from orderhub.core.ids import new_id
from orderhub.forecast import guard_store, store
from orderhub.forecast.events import GuardSwitched
from orderhub.forecast.guard import UNRELIABLE, Observation, Policy, RegionWatch, SeriesDay, SeriesWatch
from orderhub.forecast.guard import watch_region as step_region
from orderhub.forecast.guard import watch_series as step_series
from orderhub.forecast.model import NODE_PREFIX
from orderhub.platform.db import unit_of_work

log = logging.getLogger("orderhub.forecast")
ACTOR = "forecast:guard"
POLICY = Policy()


def is_region(location: str) -> bool:
    """Region series decide a region's state; a node's own series are watched but switch nothing."""
    return not location.startswith(NODE_PREFIX)


def checked_through(last_run: dict[str, Any] | None) -> date | None:
    """The last day the guard has seen: what the last run or update says, else the day its
    forecasts start after (its history's end)."""
    if last_run is None:
        return None
    summary = last_run.get("summary") or {}
    through = (summary.get("guard") or {}).get("through") or summary.get("last_day")
    return date.fromisoformat(through) if through else None


def watch(engine: Engine, *, through: date, run_id: str, policy: Policy = POLICY) -> dict[str, Any]:
    """Watch every day after the last one the guard saw, through ``through``; returns what it
    did (``through``, ``days``, ``switched``, ``alarmed``) for the run's summary."""
    with unit_of_work(engine) as conn:
        since = checked_through(store.last_run(conn))
        if since is None or since >= through:
            return {"through": (since or through).isoformat(), "days": 0, "switched": []}
        rows = guard_store.watch_rows(conn, start=since + timedelta(days=1), end=through)
        switched = _watch_days(conn, rows, run_id=run_id, policy=policy)
        alarmed = sum(1 for s in guard_store.guard_states(conn).values() if s["alarmed"])
    return {"through": through.isoformat(), "days": (through - since).days, "switched": switched, "alarmed": alarmed}


def _watch_days(conn: Connection, rows: list[dict[str, Any]], *, run_id: str, policy: Policy) -> list[dict[str, str]]:
    states = {k: _series_state(v) for k, v in guard_store.guard_states(conn).items()}
    regions = {k: _region_state(v) for k, v in guard_store.guard_region_rows(conn).items()}
    touched: dict[tuple[str, str], date] = {}
    region_days: dict[str, date] = {}
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_day[r["day"]].append(r)
    switches: list[tuple[str, date, RegionWatch]] = []
    for day in sorted(by_day):
        per_region: dict[str, list[SeriesDay]] = defaultdict(list)
        for r in by_day[day]:
            key = (r["sku"], r["location"])
            obs = Observation(r["sku"], r["location"], r["actual"], r["mean"], r["hi80"], r["hi95"], r["lo95"])
            if obs.sigma(policy) is None:
                continue
            state = step_series(states.get(key, SeriesWatch()), obs, day, policy)
            states[key], touched[key] = state, day
            if is_region(r["location"]):
                per_region[r["location"]].append(SeriesDay(obs.actual, obs.mean, state.alarmed))
        for location, series in per_region.items():
            before = regions.get(location, RegionWatch())
            after = step_region(before, day, series, policy)
            regions[location], region_days[location] = after, day
            if after.state != before.state:
                switches.append((location, day, after))
    _save(conn, states, touched, regions, region_days)
    return _publish(conn, switches, run_id=run_id)


def _save(
    conn: Connection,
    states: dict[tuple[str, str], SeriesWatch],
    touched: dict[tuple[str, str], date],
    regions: dict[str, RegionWatch],
    region_days: dict[str, date],
) -> None:
    keep, forget = [], []
    for key, day in touched.items():
        s = states[key]
        if s.is_default:
            forget.append(key)
        else:
            keep.append(
                {"sku": key[0], "location": key[1], "up": s.up, "down": s.down, "alarmed": s.alarmed,
                 "since": s.since, "quiet": s.quiet, "reason": s.reason[:200], "last_z": s.last_z, "day": day}
            )  # fmt: skip
    guard_store.save_guard_states(conn, keep, forget=forget)
    guard_store.save_guard_regions(
        conn,
        [
            {"location": loc, "state": r.state, "since": r.since, "reason": r.reason[:300], "share": r.share,
             "level_actual": r.level_actual, "level_forecast": r.level_forecast, "alarmed": r.alarmed,
             "watched": r.watched, "day": day}
            for loc, day in region_days.items()
            for r in (regions[loc],)
        ],
    )  # fmt: skip


def _publish(conn: Connection, switches: list[tuple[str, date, RegionWatch]], *, run_id: str) -> list[dict[str, str]]:
    now = utcnow()
    events, rows = [], []
    for location, day, r in switches:
        ratio = round(r.ratio, 3) if r.ratio is not None and (r.level_forecast or 0) >= POLICY.min_level else None
        event = GuardSwitched(
            location=location, state=r.state, reason=r.reason, day=day.isoformat(), share=r.share,
            level_ratio=ratio, series_alarmed=r.alarmed, series_watched=r.watched,
        )  # fmt: skip
        events.append(DomainEvent.of(event, aggregate_id=location, actor=ACTOR, occurred_at=now))
        rows.append(
            {"id": new_id("fgs"), "location": location, "state": r.state, "reason": r.reason[:300], "day": day,
             "share": r.share, "level_ratio": ratio, "run_id": run_id, "at": now}
        )  # fmt: skip
        (log.warning if r.state == UNRELIABLE else log.info)("forecast guard: %s %s (%s)", location, r.state, r.reason)
    guard_store.add_switches(conn, rows)
    bus.publish(conn, events)
    return [{"location": loc, "state": r.state, "day": d.isoformat()} for loc, d, r in switches]


def _series_state(row: dict[str, Any]) -> SeriesWatch:
    return SeriesWatch(
        row["up"], row["down"], bool(row["alarmed"]), row["since"], row["quiet"], row["reason"], row["last_z"]
    )


def _region_state(row: dict[str, Any]) -> RegionWatch:
    return RegionWatch(
        row["state"], row["since"], row["reason"], row["share"], row["level_actual"], row["level_forecast"],
        row["alarmed"], row["watched"],
    )  # fmt: skip
