"""Forecast's events: what the guard tells the rest of the hub. Pure: standard library and core
only; the catalogue (docs/events.md) is generated from these classes."""

from __future__ import annotations

from dataclasses import dataclass

from orderhub.core.events import Event


@dataclass(frozen=True)
class GuardSwitched(Event):
    """The forecast guard switched a region (the subject): ``unreliable`` when its forecasts
    broke out (sourcing then flags the region's inputs unreliable and the plain rule decides
    there), ``reliable`` when their errors came back in band (the flag is lifted). ``reason``
    says why; ``day`` is the day of demand that decided it; ``share`` the share of the region's
    volume in series out of band; ``level_ratio`` its demand over its forecast (moving
    averages; null when the forecast is too small to say)."""

    TYPE = "forecast.guard_switched"
    AGGREGATE = "forecast_region"
    location: str
    state: str  # unreliable | reliable
    reason: str
    day: str  # ISO date
    share: float = 0.0
    level_ratio: float | None = None
    series_alarmed: int = 0
    series_watched: int = 0
