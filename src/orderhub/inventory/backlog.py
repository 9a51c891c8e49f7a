"""The waiting backlog as the exceptions view reads it: lines of orders waiting for stock.

Read-only, in the caller's transaction; ``service.serve_backorders`` is what works it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.inventory import store


@dataclass(frozen=True, slots=True)
class Backlog:
    """``lines`` waiting (oldest first, one page of them) out of ``total`` lines, ``units``
    units and ``orders`` distinct orders waiting in all."""

    total: int
    units: int
    orders: int
    lines: list[dict[str, Any]]


def waiting_backorders(conn: Connection, *, limit: int, offset: int = 0) -> Backlog:
    """Backordered lines still waiting for stock, oldest first (``ix_backorders_waiting``)."""
    B = store.backorders
    waiting = B.c.status == "waiting"
    total, units, orders = conn.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(B.c.quantity), 0), sa.func.count(B.c.order_id.distinct())
        ).where(waiting)
    ).one()
    rows = conn.execute(
        sa.select(B.c.id, B.c.order_id, B.c.line_id, B.c.sku, B.c.quantity, B.c.channel, B.c.created_at)
        .where(waiting)
        .order_by(B.c.created_at, B.c.id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return Backlog(int(total), int(units), int(orders), [dict(r) for r in rows])
