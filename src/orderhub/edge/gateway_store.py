"""The gateway's own tables (on the store's SQLite file; the hub's schema has them too, empty):
its state, the hub's last snapshot, its outbox, the click & collect orders it may hand over and
the hub's messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.ids import new_id
from orderhub.edge.model import HOLDING, Figures, HybridClock, LeaseCheck, effect, millis, pending_effects
from orderhub.platform.db import UtcDateTime, metadata

state = sa.Table(  # one row: who this gateway is and how far it is with the hub
    "edge_gw_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("store_id", sa.String(40), nullable=False),
    sa.Column("hub_url", sa.String(300), nullable=False, server_default=""),
    sa.Column("registered", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("next_seq", sa.BigInteger, nullable=False, server_default="1"),
    # the hub's watermark as of the last snapshot (the figures are that snapshot + later events)
    sa.Column("applied_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("acked_seq", sa.BigInteger, nullable=False, server_default="0"),  # as of the last push
    sa.Column("cursor", sa.BigInteger, nullable=False, server_default="0"),  # the last hub message taken
    sa.Column("hlc", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("policy", sa.JSON, nullable=False),
    sa.Column("pulled_at", UtcDateTime(), nullable=True),  # the snapshot's time at the hub
    sa.Column("contacted_at", UtcDateTime(), nullable=True),  # the last answer from the hub (local time)
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
)

stock = sa.Table(  # the hub's last snapshot per SKU, and the effect of the events it has not applied
    "edge_gw_stock",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("price_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"),
    sa.Column("hub_on_hand", sa.Integer, nullable=False, server_default="0"),
    sa.Column("hub_escrow", sa.Integer, nullable=False, server_default="0"),
    sa.Column("target", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pending_on_hand", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pending_escrow", sa.Integer, nullable=False, server_default="0"),
)

outbox = sa.Table(
    "edge_gw_outbox",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),  # 1, 2, 3 … no gaps
    sa.Column("event_id", sa.String(40), nullable=False, unique=True),
    sa.Column("hlc", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("round_trip", sa.Boolean, nullable=False, server_default=sa.false()),  # a sale that asked the hub
)

pickups = sa.Table(
    "edge_gw_pickups",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    sa.Column("external_ref", sa.String(120), nullable=False, server_default=""),
    sa.Column("customer", sa.String(300), nullable=False, server_default=""),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("token", sa.Integer, nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("hub_state", sa.String(20), nullable=False),  # the lease as the last snapshot had it
    sa.Column("target_node", sa.String(40), nullable=False, server_default=""),
    sa.Column("handed_over_at", UtcDateTime(), nullable=True),  # local: the clerk handed it over
    sa.Column("released", sa.Boolean, nullable=False, server_default=sa.false()),  # local: given back
)

messages = sa.Table(
    "edge_gw_messages",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # the hub's message id
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("event_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("hlc", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("received_at", UtcDateTime(), nullable=False),
)


# built once: every till action and every sync reads these
_STATE = sa.select(state).where(state.c.id == 1)
_PENDING = sa.select(outbox).where(outbox.c.seq > sa.bindparam("after")).order_by(outbox.c.seq)
_PENDING_SOME = _PENDING.limit(sa.bindparam("limit"))
_COUNT = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.seq > sa.bindparam("after"))
_STOCK = sa.select(stock).order_by(stock.c.sku)
_PICKUPS = sa.select(pickups).order_by(pickups.c.order_id)


def get_state(conn: Connection) -> Any:
    return conn.execute(_STATE).first()


def set_state(conn: Connection, **values: Any) -> None:
    conn.execute(state.update().where(state.c.id == 1).values(**values))


def pending(conn: Connection, after: int, *, limit: int | None = None) -> list[Any]:
    """Outbox events the hub has not applied (``seq > after``), oldest first."""
    if limit is None:
        return list(conn.execute(_PENDING, {"after": after}))
    return list(conn.execute(_PENDING_SOME, {"after": after, "limit": limit}))


def count_pending(conn: Connection, after: int) -> int:
    return int(conn.execute(_COUNT, {"after": after}).scalar_one())


def stock_rows(conn: Connection) -> dict[str, Any]:
    return {r.sku: r for r in conn.execute(_STOCK)}


def pickup_rows(conn: Connection) -> dict[str, Any]:
    return {r.order_id: r for r in conn.execute(_PICKUPS)}


def recent(conn: Connection, kinds: list[str], limit: int) -> list[Any]:
    stmt = sa.select(outbox).where(outbox.c.type.in_(kinds)).order_by(outbox.c.seq.desc()).limit(limit)
    return list(conn.execute(stmt))


def recent_messages(conn: Connection, limit: int) -> list[Any]:
    return list(conn.execute(sa.select(messages).order_by(messages.c.id.desc()).limit(limit)))


# -- the gateway's bookkeeping: events, and the figures they imply -------------------------------
def lease_check(conn: Connection) -> LeaseCheck:
    """Whether the last snapshot shows this store holding an order's lease with a token."""
    held = {(r.order_id, r.token) for r in pickup_rows(conn).values() if r.hub_state in HOLDING}
    return lambda order_id, token: (order_id, token) in held


_ADD = (
    stock.update()
    .where(stock.c.sku == sa.bindparam("key"))
    .values(
        pending_on_hand=stock.c.pending_on_hand + sa.bindparam("d_on_hand"),
        pending_escrow=stock.c.pending_escrow + sa.bindparam("d_escrow"),
    )
)


_SKUS = sa.select(stock.c.sku)
_ZERO_PENDING = stock.update().values(pending_on_hand=0, pending_escrow=0)


def _add_pending(conn: Connection, effects: dict[str, tuple[int, int]]) -> None:
    if not effects:
        return
    known = {sku for (sku,) in conn.execute(_SKUS)}
    for sku in sorted(set(effects) - known):
        conn.execute(stock.insert().values(sku=sku, name=sku))
    conn.execute(_ADD, [{"key": sku, "d_on_hand": o, "d_escrow": e} for sku, (o, e) in sorted(effects.items())])


def append(conn: Connection, kind: str, data: dict[str, Any], *, now: datetime, round_trip: bool = False) -> int:
    """Write one event to the outbox (the next ``seq``, a fresh HLC) and add its effect to the
    store's pending figures, in the caller's transaction. Returns its ``seq``."""
    st = get_state(conn)
    hlc = HybridClock(int(st.hlc)).tick(millis(now))
    seq = int(st.next_seq)
    conn.execute(
        outbox.insert().values(
            seq=seq, event_id=new_id("eev"), hlc=hlc, type=kind, data=data, created_at=now, round_trip=round_trip
        )
    )
    set_state(conn, next_seq=seq + 1, hlc=hlc)
    _add_pending(conn, effect(kind, data, lease_check(conn)))
    return seq


def recompute(conn: Connection) -> None:
    """The pending figures again from the events the last snapshot had not applied (after a
    snapshot replaced the hub's figures and leases)."""
    st = get_state(conn)
    events = [(r.type, r.data) for r in pending(conn, int(st.applied_seq))]
    conn.execute(_ZERO_PENDING)
    totals = pending_effects(events, lease_check(conn))
    _add_pending(conn, {sku: (f.on_hand, f.escrow) for sku, f in totals.items()})


def figures(conn: Connection) -> dict[str, Figures]:
    """Every SKU at the store as the gateway sees it: the hub's last figures plus its pending
    events."""
    return {
        sku: Figures(on_hand=r.hub_on_hand + r.pending_on_hand, escrow=r.hub_escrow + r.pending_escrow)
        for sku, r in stock_rows(conn).items()
    }
