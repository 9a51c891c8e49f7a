"""KPI rules that need no database: dates as the destination's calendar reads them, the dwell
quantiles, late and stuck."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from orderhub.tracking import kpis
from orderhub.tracking.carriers.places import local_date


def order(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "channel": "web",
        "placed_at": datetime(2026, 11, 24, 9, tzinfo=UTC),
        "shipped_at": datetime(2026, 11, 24, 15, tzinfo=UTC),
        "delivered_at": None,
        "promised_by": date(2026, 11, 26),
        "problem_at": None,
        "dest_country": "DE",
        "status": "shipped",
    }
    return base | over


def test_a_date_is_read_where_the_parcel_arrives() -> None:
    late_evening = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert local_date(late_evening, "DE") == date(2026, 11, 27)  # 00:30 in Berlin
    assert local_date(late_evening, "") == date(2026, 11, 26)
    assert local_date(datetime(2026, 11, 26, 20, tzinfo=UTC), "JP") == date(2026, 11, 27)


def test_on_time_by_the_destination_calendar() -> None:
    rows = kpis.channels(
        [
            order(delivered_at=datetime(2026, 11, 26, 22, 30, tzinfo=UTC), dest_country="GB"),  # 22:30 on the 26th
            order(delivered_at=datetime(2026, 11, 26, 23, 30, tzinfo=UTC), dest_country="DE"),  # 00:30 on the 27th
        ],
        {},
    )
    assert rows[0].delivered_with_promise == 2 and rows[0].on_time_pct == 50.0


def test_late_and_stuck() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert kpis.is_late(order(), now.date())
    assert not kpis.is_late(order(delivered_at=now), now.date())
    assert not kpis.is_late(order(status="cancelled"), now.date())
    assert kpis.stuck_for_h(order(status="paid", status_since=now - timedelta(hours=3)), now) == 3.0
    assert kpis.stuck_for_h(order(status="paid", status_since=now - timedelta(hours=1)), now) is None
    assert kpis.stuck_for_h(order(status="delivered", status_since=now - timedelta(days=9)), now) is None


def test_dwell_median_and_p90() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    reached = {f"o{i}": {"placed": t0, "paid": t0 + timedelta(hours=i)} for i in range(1, 11)}
    first = kpis.dwell(reached)[0]
    assert first.step == "placed → paid" and first.orders == 10
    assert first.median_h == 5.5 and first.p90_h is not None and 9 <= first.p90_h <= 10
