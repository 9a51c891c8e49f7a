"""One holder at a time: the timer loop of several API processes runs in one of them."""

from __future__ import annotations

import time

from orderhub.platform import leases
from orderhub.platform.db import unit_of_work


def take(engine, holder: str, ttl_s: float = 5.0) -> bool:
    with unit_of_work(engine) as conn:
        return leases.acquire(conn, name="timers", holder=holder, ttl_s=ttl_s)


def test_one_holder_renews_others_wait_and_take_over_when_it_stops_or_lapses(engine):
    assert take(engine, "a") is True  # first use creates the lease
    assert take(engine, "b") is False
    assert take(engine, "a") is True  # renewal
    with unit_of_work(engine) as conn:
        leases.release(conn, name="timers", holder="a")
    assert take(engine, "b", ttl_s=0.2) is True  # a clean stop hands over at once
    assert take(engine, "a") is False
    time.sleep(0.3)
    assert take(engine, "a") is True  # b lapsed (died without releasing)
