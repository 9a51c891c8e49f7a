"""Leases: one holder at a time for work that must not run twice at once.

Several API processes (``orderhub serve --workers N``, or several hosts on one PostgreSQL)
each run the timer loop; only the holder of the ``timers`` lease does a round. A holder renews
its lease every round; when it stops or dies, another takes over once the lease has run out.
One conditional UPDATE decides, so two processes can never both hold it.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.clock import utcnow
from orderhub.platform.db import UtcDateTime, metadata

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("holder", sa.String(80), nullable=False, server_default=""),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
)


def acquire(conn: Connection, *, name: str, holder: str, ttl_s: float) -> bool:
    """Take or renew ``name`` for ``holder`` for ``ttl_s`` seconds; False while another holds it."""
    now = utcnow()
    until = now + timedelta(seconds=ttl_s)
    taken = conn.execute(
        leases.update()
        .where(
            leases.c.name == name,
            sa.or_(leases.c.holder == holder, leases.c.expires_at.is_(None), leases.c.expires_at < now),
        )
        .values(holder=holder, expires_at=until)
    ).rowcount
    if taken:
        return True
    exists = conn.execute(sa.select(leases.c.name).where(leases.c.name == name)).first()
    if exists is None:
        # first use of this lease name: whoever inserts it holds it (a racing insert fails the
        # primary key and that caller tries again next round)
        try:
            with conn.begin_nested():
                conn.execute(leases.insert().values(name=name, holder=holder, expires_at=until))
        except sa.exc.IntegrityError:
            return False
        return True
    return False


def release(conn: Connection, *, name: str, holder: str) -> None:
    """Give ``name`` up (on a clean stop) so another process takes over at once."""
    conn.execute(leases.update().where(leases.c.name == name, leases.c.holder == holder).values(expires_at=None))
