"""The hub's edge tables: gateways, applied events, leases, conflicts, messages to stores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.edge.model import HOLDING
from orderhub.platform.db import UtcDateTime, metadata

gateways = sa.Table(
    "edge_gateways",
    metadata,
    sa.Column("store_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("registered_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=True),
    sa.Column("last_push_at", UtcDateTime(), nullable=True),
    sa.Column("last_pull_at", UtcDateTime(), nullable=True),
    # the watermark: every event up to applied_seq is applied (applied_event_id is the last one)
    sa.Column("applied_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("applied_event_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("hlc", sa.BigInteger, nullable=False, server_default="0"),  # the largest HLC seen from it
    sa.Column("lag_ms", sa.BigInteger, nullable=True),  # age of the oldest event of the last push
    sa.Column("backlog", sa.Integer, nullable=False, server_default="0"),  # pending events it reported
    sa.Column("policy", sa.JSON, nullable=False),
)

applied = sa.Table(
    "edge_applied",
    metadata,
    sa.Column("event_id", sa.String(40), primary_key=True),
    sa.Column("store_id", sa.String(40), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hlc", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("applied_at", UtcDateTime(), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),  # applied | conflict | refused
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("order_id", sa.String(40), nullable=False, server_default=""),
    sa.UniqueConstraint("store_id", "seq", name="uq_edge_applied_store_seq"),
)

sales = sa.Table(  # the store's till sales per SKU: its own sales rate, for the escrow target
    "edge_sales",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("store_id", sa.String(40), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index("ix_edge_sales_store_sku_at", "store_id", "sku", "at"),
)

leases = sa.Table(
    "edge_leases",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    sa.Column("store_id", sa.String(40), nullable=False),  # the owner ('' once nobody holds it)
    sa.Column("token", sa.Integer, nullable=False),  # the fencing token: +1 at every change of owner
    # held | revoking (the hub asked for it back) | handed_over | cancelled | reassigned | released
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("target_node", sa.String(40), nullable=False, server_default=""),  # where a revoked lease goes
    sa.Column("fulfilment_order_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("external_ref", sa.String(120), nullable=False, server_default=""),
    sa.Column("customer", sa.String(300), nullable=False, server_default=""),
    sa.Column("lines", sa.JSON, nullable=False),  # [{line_id, sku, name, quantity}]
    sa.Column("granted_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
    sa.Column("changed_hlc", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_edge_leases_store_state", "store_id", "state"),
)

conflicts = sa.Table(
    "edge_conflicts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("store_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("order_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("hlc", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("detected_at", UtcDateTime(), nullable=False),
    sa.Column("resolution", sa.Text, nullable=False),
    sa.Column("compensation", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_edge_conflicts_store", "store_id", "detected_at"),
)

messages = sa.Table(  # the hub's outbox to each store, read by cursor (id)
    "edge_messages",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("store_id", sa.String(40), nullable=False),
    sa.Column("hlc", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("event_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_edge_messages_store", "store_id", "id"),
)


# Statements a gateway's sync runs every second are built once (building one costs more than
# running it on SQLite).
_GATEWAY = sa.select(gateways).where(gateways.c.store_id == sa.bindparam("store"))
_GATEWAY_LOCKED = _GATEWAY.with_for_update()
_SOLD = (
    sa.select(sales.c.sku, sa.func.sum(sales.c.quantity))
    .where(sales.c.store_id == sa.bindparam("store"), sales.c.at >= sa.bindparam("since"))
    .group_by(sales.c.sku)
)
_MESSAGES = (
    sa.select(messages)
    .where(messages.c.store_id == sa.bindparam("store"), messages.c.id > sa.bindparam("cursor"))
    .order_by(messages.c.id)
    .limit(sa.bindparam("limit"))
)
_HELD = sa.select(leases).where(leases.c.store_id == sa.bindparam("store"), leases.c.state.in_(HOLDING))
_HELD_OR_CHANGED = sa.select(leases).where(
    leases.c.store_id == sa.bindparam("store"),
    sa.or_(leases.c.state.in_(HOLDING), leases.c.changed_at >= sa.bindparam("since")),
)
_LEASES_OF = sa.select(leases).where(leases.c.order_id.in_(sa.bindparam("orders", expanding=True)))


# -- gateways -------------------------------------------------------------------------------------
def get_gateway(conn: Connection, store_id: str, *, for_update: bool = False) -> Any:
    stmt = _GATEWAY_LOCKED if for_update and conn.dialect.name == "postgresql" else _GATEWAY
    return conn.execute(stmt, {"store": store_id}).first()


def all_gateways(conn: Connection) -> list[Any]:
    return list(conn.execute(sa.select(gateways).order_by(gateways.c.store_id)))


def touch(conn: Connection, store_id: str, **values: Any) -> None:
    conn.execute(gateways.update().where(gateways.c.store_id == store_id).values(**values))


def max_hlc(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.max(gateways.c.hlc))).scalar() or 0)


# -- applied events -------------------------------------------------------------------------------
def applied_ids(conn: Connection, store_id: str, seqs: list[int]) -> dict[int, str]:
    if not seqs:
        return {}
    rows = conn.execute(
        sa.select(applied.c.seq, applied.c.event_id).where(applied.c.store_id == store_id, applied.c.seq.in_(seqs))
    )
    return {int(s): str(e) for s, e in rows}


def recent_applied(conn: Connection, store_id: str, limit: int) -> list[dict[str, Any]]:
    stmt = sa.select(applied).where(applied.c.store_id == store_id).order_by(applied.c.seq.desc()).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def sold_since(conn: Connection, store_id: str, since: datetime) -> dict[str, int]:
    return {str(s): int(q) for s, q in conn.execute(_SOLD, {"store": store_id, "since": since})}


# -- leases ---------------------------------------------------------------------------------------
def get_lease(conn: Connection, order_id: str) -> Any:
    return conn.execute(sa.select(leases).where(leases.c.order_id == order_id)).first()


def leases_of(conn: Connection, store_id: str, *, since: datetime | None = None) -> list[Any]:
    """The store's held leases, and (with ``since``) those that left it since then."""
    if since is None:
        rows = conn.execute(_HELD, {"store": store_id})
    else:
        rows = conn.execute(_HELD_OR_CHANGED, {"store": store_id, "since": since})
    return sorted(rows, key=lambda r: (r.granted_at, r.order_id))


def held_lease_ids(conn: Connection, order_ids: list[str]) -> set[str]:
    if not order_ids:
        return set()
    rows = conn.execute(
        sa.select(leases.c.order_id).where(leases.c.order_id.in_(order_ids), leases.c.state.in_(HOLDING))
    )
    return {str(r) for r in rows.scalars()}


# -- conflicts and messages -----------------------------------------------------------------------
def conflicts_of(conn: Connection, store_id: str | None, limit: int) -> list[dict[str, Any]]:
    stmt = sa.select(conflicts).order_by(conflicts.c.detected_at.desc(), conflicts.c.id.desc()).limit(limit)
    if store_id is not None:
        stmt = stmt.where(conflicts.c.store_id == store_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def messages_after(conn: Connection, store_id: str, cursor: int, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(_MESSAGES, {"store": store_id, "cursor": cursor, "limit": limit}).mappings()
    return [dict(r) for r in rows]


def leases_for(conn: Connection, order_ids: list[str]) -> dict[str, Any]:
    if not order_ids:
        return {}
    return {r.order_id: r for r in conn.execute(_LEASES_OF, {"orders": order_ids})}
