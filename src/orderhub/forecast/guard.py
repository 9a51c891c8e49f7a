"""The forecast guard: watches each series' live forecast errors as days of actual demand arrive,
and says when a region's forecasts break out (and when they are back in band).

Pure: standard library only. The service feeds it one day at a time, for every series that had
a forecast for that day (the forecast made before the day's demand was known):

- **Series.** The day's error is scaled by the series' own spread: σ from the forecast's
  conformal intervals (the 80 % half-width over z₀.₉ = 1.2816, or the 95 % one over 1.96,
  whichever is wider; at least ``sigma_floor`` units). The scaled error is clipped at
  ± ``z_clip`` — one day, however wild (a wholesale order), never raises an alarm alone — and
  fed to a two-sided tabular CUSUM (Page 1954): ``up = max(0, up + z − k)``,
  ``down = max(0, down − z − k)``. A series **breaks out** when either sum reaches ``h_on``
  (with the defaults: two days at 3σ or more above the forecast, or five or so at 1.5σ). It is
  **back in band** after ``quiet_days`` days in a row inside its 95 % interval; its sums then
  start again from 0. Raising on a sum and lowering on a run of quiet days is the hysteresis: a
  series does not flap between the two on alternate days.
- **Region.** A region's forecasts break out when the series out of band carry at least
  ``share_on`` of its volume (each series weighs the larger of its forecast and its demand that
  day), or when its demand level jumps: the ratio of two moving averages (EWMA, ``level_alpha``)
  of the region's daily demand and of its forecast reaches ``level_on`` (or falls to
  1/``level_on``) while the forecast averages at least ``min_level`` units a day. A day's
  demand counts at most ``level_clip`` × its forecast in that average, so the level too needs
  more than one day to jump. The region is back when the share falls below ``share_off`` and
  the ratio is back within [1/``level_off``, ``level_off``].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

RELIABLE, UNRELIABLE = "reliable", "unreliable"
Z80, Z95 = 1.2816, 1.96


@dataclass(frozen=True, slots=True)
class Policy:
    """The guard's thresholds (docs/forecast.md, "The guard")."""

    k: float = 0.5  # CUSUM allowance, in σ: errors below it are forgotten
    h_on: float = 5.0  # a CUSUM sum this high breaks a series out
    z_clip: float = 3.0  # one day's scaled error counts at most this much
    cap: float = 20.0  # the sums stop growing here (a display value; lifting resets them)
    quiet_days: int = 3  # days in a row inside the 95 % interval that bring a series back
    sigma_floor: float = 0.5  # units: a series whose errors were all 0 still has a spread
    share_on: float = 0.2  # share of a region's volume out of band that breaks it out
    share_off: float = 0.1  # ... and below which it is back (with its level in band)
    level_alpha: float = 0.3  # weight of a new day in the region's moving averages
    level_on: float = 2.0  # demand / forecast at or above this (or at or below its inverse)
    level_off: float = 1.5  # ... back within [1/level_off, level_off]
    level_clip: float = 3.0  # a day's demand counts at most this many times its forecast
    min_level: float = 5.0  # units a day the region's forecast must average for its level to count


@dataclass(frozen=True, slots=True)
class Observation:
    """One series on one day: the forecast that was live for the day and the demand that came."""

    sku: str
    location: str
    actual: float
    mean: float
    hi80: float | None
    hi95: float | None
    lo95: float | None

    def sigma(self, policy: Policy) -> float | None:
        """The series' spread from its intervals; None when it has none (a series too short
        to backtest is not watched)."""
        if self.hi80 is None or self.hi95 is None:
            return None
        return max((self.hi80 - self.mean) / Z80, (self.hi95 - self.mean) / Z95, policy.sigma_floor)

    def in_band(self) -> bool:
        lo = self.lo95 if self.lo95 is not None else 0.0
        hi = self.hi95 if self.hi95 is not None else self.mean
        return lo - 1e-9 <= self.actual <= hi + 1e-9


@dataclass(frozen=True, slots=True)
class SeriesWatch:
    """A series' guard state; the default one (sums at 0, in band) is not stored."""

    up: float = 0.0
    down: float = 0.0
    alarmed: bool = False
    since: date | None = None  # the day it broke out
    quiet: int = 0  # days in a row in band since it broke out
    reason: str = ""
    last_z: float = 0.0

    @property
    def is_default(self) -> bool:
        return not self.alarmed and self.up == 0.0 and self.down == 0.0


def watch_series(state: SeriesWatch, obs: Observation, day: date, policy: Policy) -> SeriesWatch:
    """The series' state after one more day (unchanged when it has no spread to scale by)."""
    sigma = obs.sigma(policy)
    if sigma is None:
        return state
    z = max(-policy.z_clip, min(policy.z_clip, (obs.actual - obs.mean) / sigma))
    up = min(policy.cap, max(0.0, state.up + z - policy.k))
    down = min(policy.cap, max(0.0, state.down - z - policy.k))
    if not state.alarmed:
        if max(up, down) < policy.h_on:
            return SeriesWatch(up=up, down=down, last_z=round(z, 3))
        side = "above" if up >= down else "below"
        reason = f"demand {side} the forecast: CUSUM {max(up, down):.1f}σ (day {obs.actual:g} vs {obs.mean:.1f})"
        return SeriesWatch(up, down, True, day, 0, reason, round(z, 3))
    quiet = state.quiet + 1 if obs.in_band() else 0
    if quiet >= policy.quiet_days:
        return SeriesWatch(last_z=round(z, 3))  # back in band: the sums start again
    return replace(state, up=up, down=down, quiet=quiet, last_z=round(z, 3))


@dataclass(frozen=True, slots=True)
class RegionWatch:
    """A region's guard state: the share of its volume out of band, its moving demand and
    forecast levels, and whether its forecasts are trusted."""

    state: str = RELIABLE
    since: date | None = None
    reason: str = ""
    share: float = 0.0
    level_actual: float | None = None
    level_forecast: float | None = None
    alarmed: int = 0
    watched: int = 0

    @property
    def ratio(self) -> float | None:
        if self.level_actual is None or not self.level_forecast:
            return None
        return self.level_actual / self.level_forecast


@dataclass(frozen=True, slots=True)
class SeriesDay:
    """What the region needs of one of its series on one day."""

    actual: float
    mean: float
    alarmed: bool


def watch_region(state: RegionWatch, day: date, series: Iterable[SeriesDay], policy: Policy) -> RegionWatch:
    """The region's state after one more day of its series (``series``: every watched one)."""
    rows = list(series)
    total = sum(max(s.mean, s.actual) for s in rows)
    out_of_band = sum(max(s.mean, s.actual) for s in rows if s.alarmed)
    share = out_of_band / total if total > 0 else state.share  # a closed day says nothing
    actual = sum(min(s.actual, policy.level_clip * s.mean) if s.mean > 0 else s.actual for s in rows)
    forecast = sum(s.mean for s in rows)
    a = policy.level_alpha
    # a region's first day starts both averages at its forecast: one day cannot jump the level
    level_a = (1 - a) * (forecast if state.level_actual is None else state.level_actual) + a * actual
    level_f = (1 - a) * (forecast if state.level_forecast is None else state.level_forecast) + a * forecast
    after = replace(
        state,
        share=round(share, 4),
        level_actual=round(level_a, 4),
        level_forecast=round(level_f, 4),
        alarmed=sum(1 for s in rows if s.alarmed),
        watched=len(rows),
    )
    ratio = after.ratio if level_f >= policy.min_level else None
    if state.state == RELIABLE:
        jumped = ratio is not None and (ratio >= policy.level_on or ratio <= 1 / policy.level_on)
        if share >= policy.share_on or jumped:
            return replace(after, state=UNRELIABLE, since=day, reason=_why(after, ratio, policy))
        return after
    level_back = ratio is None or 1 / policy.level_off <= ratio <= policy.level_off
    if share < policy.share_off and level_back:
        return replace(after, state=RELIABLE, since=day, reason=_back(after, ratio))
    return after


def _why(r: RegionWatch, ratio: float | None, policy: Policy) -> str:
    parts = []
    if r.share >= policy.share_on:
        parts.append(f"{r.alarmed} of {r.watched} series out of band ({r.share:.0%} of the volume)")
    if ratio is not None and (ratio >= policy.level_on or ratio <= 1 / policy.level_on):
        parts.append(f"demand {ratio:.1f}× the forecast (moving average)")
    return "forecasts unreliable: " + "; ".join(parts)


def _back(r: RegionWatch, ratio: float | None) -> str:
    level = f"; demand {ratio:.2f}× the forecast" if ratio is not None else ""
    return f"forecast errors back in band: {r.alarmed} of {r.watched} series out ({r.share:.0%} of the volume){level}"
