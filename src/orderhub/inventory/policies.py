"""Stock policies per channel (and SKU): how long an unpaid order's presale lock holds stock,
and the share of ATP held back from the channel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.errors import InvalidInput
from orderhub.inventory import reservations, store
from orderhub.inventory.reservations import policy_for
from orderhub.platform.db import unit_of_work


def set_policy(
    engine: Engine, *, channel: str, sku: str = "*", reservation_ttl_s: int | None, buffer_pct: float
) -> None:
    """How long a channel's unpaid orders hold stock (None: until cancelled) and the share of
    ATP held back from the channel, for one SKU or ``*``."""
    if not 0 <= buffer_pct < 100:
        raise InvalidInput(
            "buffer_pct must be in [0, 100)", errors=[{"pointer": "/buffer_pct", "detail": "0 ≤ x < 100"}]
        )
    if reservation_ttl_s is not None and reservation_ttl_s <= 0:
        raise InvalidInput(
            "reservation_ttl_s must be positive", errors=[{"pointer": "/reservation_ttl_s", "detail": "> 0"}]
        )
    P = store.policies
    with unit_of_work(engine) as conn:
        conn.execute(P.delete().where(P.c.channel == channel, P.c.sku == sku))
        conn.execute(
            P.insert().values(channel=channel, sku=sku, reservation_ttl_s=reservation_ttl_s, buffer_pct=buffer_pct)
        )
    reservations.forget_cached()


def get_policies(engine: Engine) -> list[dict[str, Any]]:
    with unit_of_work(engine, write=False) as conn:
        return [dict(r) for r in conn.execute(sa.select(store.policies).order_by(store.policies.c.channel)).mappings()]


def hold_deadline(conn: Any, *, channel: str, skus: list[str], now: datetime, default_ttl_s: int) -> datetime:
    """When an unpaid order's holds expire: the shortest TTL among its SKUs' policies."""
    ttls = [policy_for(conn, channel, sku)[0] for sku in skus]
    ttl = min((t for t in ttls if t is not None), default=default_ttl_s)
    return now + timedelta(seconds=ttl)
