"""The guard's policy on known errors: CUSUM on scaled errors, one wild day never alarms alone,
quiet days in band bring a series back; a region breaks out on the share of its volume out of
band or on a jump of its demand level, and comes back only below the lower thresholds."""

from __future__ import annotations

from datetime import date, timedelta

from orderhub.forecast.guard import (
    RELIABLE,
    UNRELIABLE,
    Observation,
    Policy,
    RegionWatch,
    SeriesDay,
    SeriesWatch,
    watch_region,
    watch_series,
)

P = Policy()
DAY = date(2026, 3, 2)


def obs(actual: float, mean: float = 10.0, q80: float = 2.5632, q95: float = 3.92) -> Observation:
    """σ = 2 (the 80 % half-width over 1.2816 and the 95 % one over 1.96 agree)."""
    return Observation("A", "BY", actual, mean, mean + q80, mean + q95, max(mean - q95, 0.0))


def run(state: SeriesWatch, actuals: list[float]) -> SeriesWatch:
    for k, a in enumerate(actuals):
        state = watch_series(state, obs(a), DAY + timedelta(days=k), P)
    return state


def test_errors_are_scaled_by_the_intervals_and_a_series_without_them_is_not_watched() -> None:
    assert obs(10).sigma(P) == 2.0
    assert Observation("A", "BY", 3, 0.0, 0.0, 0.0, 0.0).sigma(P) == P.sigma_floor  # errors were all 0
    unwatched = Observation("A", "BY", 99, 1.0, None, None, None)
    assert watch_series(SeriesWatch(), unwatched, DAY, P) == SeriesWatch()


def test_one_wild_day_never_alarms_alone_but_two_days_at_three_sigma_do() -> None:
    one = run(SeriesWatch(), [10_000])  # a wholesale order: clipped at 3σ
    assert (one.alarmed, one.up) == (False, 2.5)
    faded = run(one, [10, 10, 10, 10, 10])
    assert faded.is_default  # forgotten at k = 0.5 a day
    two = run(SeriesWatch(), [16, 16])
    assert two.alarmed and two.since == DAY + timedelta(days=1)
    assert two.reason.startswith("demand above the forecast: CUSUM 5.0σ")
    low = run(SeriesWatch(), [6, 6, 6])  # 2σ below, three days: 4.5
    assert not low.alarmed and low.down == 4.5
    low = run(low, [6])
    assert low.alarmed and low.reason == "demand below the forecast: CUSUM 6.0σ (day 6 vs 10.0)"


def test_a_series_comes_back_after_quiet_days_in_its_95_percent_band_and_starts_afresh() -> None:
    alarmed = run(SeriesWatch(), [20, 20])
    assert alarmed.alarmed
    nearly = run(alarmed, [12, 11])  # in band, but only two days
    assert nearly.alarmed and nearly.quiet == 2
    reset = run(nearly, [20])  # out of band again: the count starts over
    assert reset.alarmed and reset.quiet == 0
    back = run(reset, [10, 9, 11])
    assert back == SeriesWatch(last_z=0.5)  # default sums: watched afresh


def day(actuals: list[tuple[float, float, bool]]) -> list[SeriesDay]:
    return [SeriesDay(a, m, alarmed) for a, m, alarmed in actuals]


def test_a_region_breaks_out_on_the_volume_share_out_of_band_and_comes_back_below_the_lower_share() -> None:
    calm = [(10, 10, False)] * 8
    r = watch_region(RegionWatch(), DAY, day(calm), P)
    assert (r.state, r.share, r.ratio) == (RELIABLE, 0.0, 1.0)
    # one series of nine alarmed, but it carries a fifth of the volume
    r = watch_region(r, DAY, day([*calm, (20, 10, True)]), P)
    assert r.state == UNRELIABLE and r.share == 0.2
    assert r.reason == "forecasts unreliable: 1 of 9 series out of band (20% of the volume)"
    r = watch_region(r, DAY, day([*[(10, 10, False)] * 7, (10, 10, True)]), P)  # 12.5 %: between the thresholds
    assert r.state == UNRELIABLE
    r = watch_region(r, DAY, day([*[(10, 10, False)] * 9, (10, 10, True)]), P)  # 10 %: not below it
    assert r.state == UNRELIABLE
    r = watch_region(r, DAY, day([(10, 10, False)] * 10), P)
    assert r.state == RELIABLE and r.reason.startswith("forecast errors back in band: 0 of 10 series out")


def test_a_level_jump_needs_more_than_one_day_and_small_regions_have_no_level() -> None:
    r = watch_region(RegionWatch(), DAY, day([(10, 10, False)] * 2), P)
    r = watch_region(r, DAY, day([(100, 10, False)] * 2), P)  # ten times, once: counted at 3×
    assert r.state == RELIABLE and round(r.ratio or 0, 2) == 1.6
    r = watch_region(r, DAY, day([(100, 10, False)] * 2), P)
    assert r.state == UNRELIABLE and r.reason == "forecasts unreliable: demand 2.0× the forecast (moving average)"
    first = watch_region(RegionWatch(), DAY, day([(0, 10, False)] * 2), P)  # a first day of nothing
    assert first.state == RELIABLE and round(first.ratio or 0, 2) == 0.7
    tiny = watch_region(RegionWatch(), DAY, day([(0.1, 1, False)]), P)
    for _ in range(5):
        tiny = watch_region(tiny, DAY, day([(30, 1, False)]), P)  # a forecast under 5 a day: no level
    assert tiny.state == RELIABLE
    closed = watch_region(r, DAY, day([(0, 0, False)] * 2), P)  # a closed day says nothing of the share
    assert closed.share == r.share
