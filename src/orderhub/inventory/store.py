"""Tables for nodes and the item master."""

from __future__ import annotations

import time
import weakref
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.inventory.model import Capability, Item, Node, NodeType
from orderhub.platform.db import UtcDateTime, metadata, upsert

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("region", sa.String(40), nullable=False, index=True),
    sa.Column("city", sa.String(100), nullable=False, server_default=""),
    sa.Column("capabilities", sa.JSON, nullable=False),
    sa.Column("daily_capacity", sa.Integer, nullable=False, server_default="0"),
    sa.Column("closed_dates", sa.JSON, nullable=False),
    sa.Column("cutoff_hour_utc", sa.Integer, nullable=True),
    sa.Column("channels", sa.JSON, nullable=False),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("category", sa.String(60), nullable=False, index=True),
    sa.Column("weight_g", sa.Integer, nullable=True),
    sa.Column("price_minor", sa.BigInteger, nullable=False),
    sa.Column("cost_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("length_mm", sa.Integer, nullable=True),
    sa.Column("width_mm", sa.Integer, nullable=True),
    sa.Column("height_mm", sa.Integer, nullable=True),
    sa.Column("barcode", sa.String(64), nullable=False, server_default=""),
    sa.Column("co2e_kg_per_unit", sa.Float, nullable=True),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false(), index=True),
)


def upsert_nodes(conn: Connection, rows: list[Node]) -> None:
    if not rows:
        return
    values = [
        {
            "id": n.id,
            "name": n.name,
            "type": n.type.value,
            "lat": n.lat,
            "lon": n.lon,
            "region": n.region,
            "city": n.city,
            "capabilities": [c.value for c in n.capabilities],
            "daily_capacity": n.daily_capacity,
            "closed_dates": sorted(n.closed_dates),
            "cutoff_hour_utc": n.cutoff_hour_utc,
            "channels": sorted(n.channels),
        }
        for n in rows
    ]
    stmt = upsert(conn)(nodes)
    cols = {c: stmt.excluded[c] for c in values[0] if c != "id"}
    conn.execute(stmt.on_conflict_do_update(index_elements=[nodes.c.id], set_=cols), values)


def upsert_items(conn: Connection, rows: list[Item]) -> None:
    if not rows:
        return
    values = [asdict(i) for i in rows]
    stmt = upsert(conn)(items)
    cols = {c: stmt.excluded[c] for c in values[0] if c != "sku"}
    conn.execute(stmt.on_conflict_do_update(index_elements=[items.c.sku], set_=cols), values)


def _node(row: Any) -> Node:
    return Node(
        id=row.id,
        name=row.name,
        type=NodeType(row.type),
        lat=row.lat,
        lon=row.lon,
        region=row.region,
        city=row.city,
        capabilities=[Capability(c) for c in row.capabilities],
        daily_capacity=row.daily_capacity,
        closed_dates=list(row.closed_dates or []),
        cutoff_hour_utc=row.cutoff_hour_utc,
        channels=list(row.channels or []),
    )


def list_nodes(conn: Connection) -> list[Node]:
    return [_node(r) for r in conn.execute(sa.select(nodes).order_by(nodes.c.type, nodes.c.id))]


def list_items(
    conn: Connection, *, skus: list[str] | None = None, needs_review: bool | None = None, search: str = ""
) -> list[Item]:
    stmt = sa.select(items).order_by(items.c.sku)
    if skus is not None:
        stmt = stmt.where(items.c.sku.in_(sorted(set(skus))))
    if needs_review is not None:
        stmt = stmt.where(items.c.needs_review.is_(needs_review))
    if search:
        like = f"%{search.lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(items.c.sku).like(like), sa.func.lower(items.c.name).like(like)))
    return [Item(**r._mapping) for r in conn.execute(stmt)]


def insert_missing_items(conn: Connection, rows: list[Item]) -> list[str]:
    """Insert the items whose SKU is not there yet; the SKUs inserted (existing rows untouched)."""
    known = set(conn.execute(sa.select(items.c.sku).where(items.c.sku.in_([i.sku for i in rows]))).scalars())
    # in SKU order: concurrent captures naming the same new SKUs in other orders queue, never deadlock
    fresh = sorted((i for i in rows if i.sku not in known), key=lambda i: i.sku)
    if fresh:
        stmt = upsert(conn)(items).on_conflict_do_nothing(index_elements=[items.c.sku])
        conn.execute(stmt, [asdict(i) for i in fresh])
    return [i.sku for i in fresh]


# -- reservations, backorders, supply, policies, ingestion ------------------------------------
reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # a cart hold has no order yet: order_id and line_id are '' until an order claims it
    sa.Column("order_id", sa.String(40), nullable=False, index=True),
    sa.Column("line_id", sa.String(40), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("node_id", sa.String(40), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("channel", sa.String(40), nullable=False, server_default=""),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("cart_id", sa.String(80), nullable=False, server_default=""),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.Index("ix_reservations_due", "status", "expires_at"),
    sa.Index("ix_reservations_sku_node", "sku", "node_id", "status"),
    # one active hold per cart and SKU (a repeated request finds it instead of holding twice)
    sa.Index(
        "uq_reservations_cart_sku",
        "cart_id",
        "sku",
        unique=True,
        sqlite_where=sa.text("status = 'active' AND cart_id <> ''"),
        postgresql_where=sa.text("status = 'active' AND cart_id <> ''"),
    ),
)

backorders = sa.Table(
    "backorders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), nullable=False, index=True),
    sa.Column("line_id", sa.String(40), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("channel", sa.String(40), nullable=False, server_default=""),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),  # customer tier rank
    sa.Column("value_minor", sa.BigInteger, nullable=False, server_default="0"),  # the line's price
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # an unpaid order's presale lock (seconds): its holds expire this long after stock is held
    sa.Column("hold_ttl_s", sa.Integer, nullable=True),
    sa.Index("ix_backorders_waiting", "status", "sku", "created_at"),
)

supply = sa.Table(
    "incoming_supply",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("node_id", sa.String(40), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("expected_at", UtcDateTime(), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("reference", sa.String(120), nullable=False, server_default=""),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=True),
    sa.Index("ix_incoming_supply_sku", "sku", "status", "expected_at"),
)

policies = sa.Table(
    "stock_policies",
    metadata,
    sa.Column("channel", sa.String(40), primary_key=True),
    sa.Column("sku", sa.String(64), primary_key=True),  # "*" for every SKU of the channel
    sa.Column("reservation_ttl_s", sa.Integer, nullable=True),
    sa.Column("buffer_pct", sa.Float, nullable=False, server_default="0"),
)

ingestion_batches = sa.Table(
    "ingestion_batches",
    metadata,
    sa.Column("source", sa.String(80), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
)


MAX_RESERVATION_TTL_S = 30 * 24 * 3600  # the longest an unpaid order or a cart may hold stock


# -- read models cached per database (nodes and policies change rarely) ---------------------
_CACHE_S = 5.0
# Keyed by the engine object itself (weakly): an id() can be reused by a later engine.
_cache: weakref.WeakKeyDictionary[Any, dict[str, tuple[float, Any]]] = weakref.WeakKeyDictionary()


def _cached(conn: Connection, name: str, load: Any) -> Any:
    per_engine = _cache.setdefault(conn.engine, {})
    hit = per_engine.get(name)
    now = time.monotonic()
    if hit and hit[0] > now:
        return hit[1]
    value = load(conn)
    per_engine[name] = (now + _CACHE_S, value)
    return value


def forget_cached() -> None:
    """Drop the cached nodes and policies (after they change)."""
    _cache.clear()


def items_by_sku(conn: Connection) -> dict[str, Any]:
    """The item master, cached like the nodes (weights for routing and carbon)."""
    return dict(_cached(conn, "items", lambda c: {i.sku: i for i in list_items(c)}))


def nodes_by_id(conn: Connection) -> dict[str, Node]:
    return dict(_cached(conn, "nodes", lambda c: {n.id: n for n in list_nodes(c)}))


def _policies(conn: Connection) -> dict[tuple[str, str], tuple[int | None, float]]:
    def load(c: Connection) -> dict[tuple[str, str], tuple[int | None, float]]:
        rows = c.execute(sa.select(policies))
        # a TTL stored before it was bounded (SQLite took any size) counts as the longest allowed
        return {
            (r.channel, r.sku): (
                None if r.reservation_ttl_s is None else min(r.reservation_ttl_s, MAX_RESERVATION_TTL_S),
                r.buffer_pct,
            )
            for r in rows
        }

    return dict(_cached(conn, "policies", load))


def policy_for(conn: Connection, channel: str, sku: str) -> tuple[int | None, float]:
    """(reservation TTL in seconds or None, channel buffer %) for a channel and SKU."""
    table = _policies(conn)
    for key in ((channel, sku), (channel, "*"), ("*", sku), ("*", "*")):
        if key in table:
            return table[key]
    return None, 0.0
