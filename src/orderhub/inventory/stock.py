"""Stock tables and the SQL that must never oversell.

This module owns row locking for stock (the Saleor habit): positions are read ``FOR UPDATE``
in primary-key order (node_id, sku) on PostgreSQL, so two transactions never wait on each other
in opposite orders; every counter change is one conditional UPDATE whose WHERE clause re-checks
the free quantity; and a CHECK constraint refuses ``reserved + allocated > on_hand`` whatever
the code does. SQLite serialises writers, so its reads need no row locks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.inventory.model import LedgerReason, Position
from orderhub.platform.db import UtcDateTime, metadata

BULK = 50  # from this many rows, PostgreSQL gets one array statement instead of a pipeline

positions = sa.Table(
    "stock_positions",
    metadata,
    sa.Column("node_id", sa.String(40), primary_key=True),
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
    sa.Column("allocated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("safety_stock", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_source", sa.String(80), nullable=False, server_default=""),
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("reported_at", UtcDateTime(), nullable=True),
    sa.CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    sa.CheckConstraint("reserved >= 0 AND allocated >= 0 AND safety_stock >= 0", name="counters_not_negative"),
    sa.CheckConstraint("reserved + allocated <= on_hand", name="no_oversell"),
    sa.Index("ix_stock_positions_sku", "sku"),
)

ledger = sa.Table(
    "inventory_ledger",
    metadata,
    sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("node_id", sa.String(40), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(20), nullable=False),
    sa.Column("d_on_hand", sa.Integer, nullable=False),
    sa.Column("d_reserved", sa.Integer, nullable=False),
    sa.Column("d_allocated", sa.Integer, nullable=False),
    sa.Column("on_hand_after", sa.Integer, nullable=False),
    sa.Column("reserved_after", sa.Integer, nullable=False),
    sa.Column("allocated_after", sa.Integer, nullable=False),
    sa.Column("source", sa.String(80), nullable=False),
    sa.Column("reference", sa.String(120), nullable=False, server_default=""),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index("ix_inventory_ledger_position", "sku", "node_id", "seq"),
)


def position_from(row: Any) -> Position:
    return Position(
        node_id=row.node_id,
        sku=row.sku,
        on_hand=row.on_hand,
        reserved=row.reserved,
        allocated=row.allocated,
        safety_stock=row.safety_stock,
    )


_FREE = positions.c.on_hand - positions.c.reserved - positions.c.allocated - positions.c.safety_stock


_LOCK_FREE_PG = sa.text(
    "SELECT * FROM stock_positions WHERE sku = ANY(CAST(:skus AS text[])) "
    "AND on_hand - reserved - allocated - safety_stock > 0 ORDER BY node_id, sku FOR UPDATE"
)


def lock_available(conn: Connection, skus: Iterable[str], also: Iterable[tuple[str, str]] = ()) -> list[Any]:
    """Positions of ``skus`` that have free stock, and the positions ``also`` names whatever
    they have, locked together in primary-key order (PostgreSQL)."""
    extra = sorted(set(also))
    if not extra and conn.dialect.name == "postgresql":
        # the capture's path: one prepared statement and no IN list rendered per call (in
        # process, 3.28 → 3.11 ms CPU per 3-line capture, median of 10 alternating rounds)
        return list(conn.execute(_LOCK_FREE_PG, {"skus": sorted(set(skus))}))
    condition = sa.and_(positions.c.sku.in_(sorted(set(skus))), _FREE > 0)
    if extra:
        condition = sa.or_(condition, sa.tuple_(positions.c.node_id, positions.c.sku).in_(extra))
    stmt = sa.select(positions).where(condition).order_by(positions.c.node_id, positions.c.sku)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list(conn.execute(stmt))


def lock_positions(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Exactly these positions, locked in primary-key order (PostgreSQL)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    if conn.dialect.name == "postgresql" and len(wanted) >= BULK:
        rows = conn.execute(_LOCK_MANY, {"nodes": [k[0] for k in wanted], "skus": [k[1] for k in wanted]}).all()
        return {(r.node_id, r.sku): r for r in rows}
    stmt = (
        sa.select(positions)
        .where(sa.tuple_(positions.c.node_id, positions.c.sku).in_(wanted))
        .order_by(positions.c.node_id, positions.c.sku)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return {(r.node_id, r.sku): r for r in conn.execute(stmt).all()}


_LOCK_KEYS = (
    "SELECT {what} FROM stock_positions AS p "
    "JOIN unnest(CAST(:nodes AS text[]), CAST(:skus AS text[])) AS k(node_id, sku) "
    "ON p.node_id = k.node_id AND p.sku = k.sku ORDER BY p.node_id, p.sku FOR UPDATE OF p"
)
_LOCK_MANY = sa.text(_LOCK_KEYS.format(what="p.*"))
_LOCK_ONLY = sa.text(f"SELECT count(*) FROM ({_LOCK_KEYS.format(what='1')}) AS locked")


def lock_only_pg(conn: Connection, keys: list[tuple[str, str]]) -> None:
    """Lock these positions in primary-key order without reading them back (PostgreSQL): for
    a statement that reads them next, with a snapshot taken after every lock is held."""
    conn.execute(_LOCK_ONLY, {"nodes": [k[0] for k in keys], "skus": [k[1] for k in keys]})


_LEDGER_COLS = (
    "node_id",
    "sku",
    "reason",
    "d_on_hand",
    "d_reserved",
    "d_allocated",
    "on_hand_after",
    "reserved_after",
    "allocated_after",
    "source",
    "reference",
    "at",
)
_LEDGER_TYPES = ("text", "text", "text", "int", "int", "int", "int", "int", "int", "text", "text", "timestamptz")
_BULK_SQL: dict[tuple[str, tuple[bool, ...], str], sa.TextClause] = {}


def bulk_insert_pg(
    conn: Connection,
    table: str,
    cols: tuple[str, ...],
    types: tuple[str, ...],
    rows: list[dict[str, Any]],
    suffix: str = "",
) -> None:
    """``INSERT … SELECT FROM unnest(arrays)``: one statement for many rows on PostgreSQL.
    Columns with one value for every row travel once, as a scalar."""
    first, middle, last = rows[0], rows[len(rows) // 2], rows[-1]
    same = tuple(
        first[c] == middle[c] == last[c] and all(r[c] == first[c] for r in rows)  # varying columns fail fast
        for c in cols
    )
    if all(same):  # every row alike: unnest needs at least one array
        same = (False, *same[1:])
    key = (table, same, suffix)
    if key not in _BULK_SQL:
        arrays = [f"CAST(:{c} AS {t}[])" for c, t, s in zip(cols, types, same, strict=True) if not s]
        names = [c for c, s in zip(cols, same, strict=True) if not s]
        select = [f"CAST(:{c} AS {t})" if s else f"u.{c}" for c, t, s in zip(cols, types, same, strict=True)]
        _BULK_SQL[key] = sa.text(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(select)} "
            f"FROM unnest({', '.join(arrays)}) AS u({', '.join(names)}) {suffix}"
        )
    params = {c: (rows[0][c] if s else [r[c] for r in rows]) for c, s in zip(cols, same, strict=True)}
    conn.execute(_BULK_SQL[key], params)


def add_ledger(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= BULK:
        bulk_insert_pg(conn, "inventory_ledger", _LEDGER_COLS, _LEDGER_TYPES, rows)
    else:
        conn.execute(ledger.insert(), rows)


def ledger_row(
    *,
    node_id: str,
    sku: str,
    reason: str,
    d: tuple[int, int, int],
    after: Any,
    source: str,
    reference: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "sku": sku,
        "reason": reason,
        "d_on_hand": d[0],
        "d_reserved": d[1],
        "d_allocated": d[2],
        "on_hand_after": after[0],
        "reserved_after": after[1],
        "allocated_after": after[2],
        "source": source,
        "reference": reference,
        "at": at,
    }


def positions_for(conn: Connection, *, sku: str | None = None, node_id: str | None = None) -> list[Any]:
    stmt = sa.select(positions).order_by(positions.c.sku, positions.c.node_id)
    if sku:
        stmt = stmt.where(positions.c.sku == sku)
    if node_id:
        stmt = stmt.where(positions.c.node_id == node_id)
    return list(conn.execute(stmt))


def ledger_for(conn: Connection, *, sku: str, node_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    stmt = sa.select(ledger).where(ledger.c.sku == sku).order_by(ledger.c.seq.desc()).limit(limit)
    if node_id:
        stmt = stmt.where(ledger.c.node_id == node_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def ledger_totals(conn: Connection) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Positions as the ledger tells them: the sum of every movement per (node, sku)."""
    stmt = sa.select(
        ledger.c.node_id,
        ledger.c.sku,
        sa.func.sum(ledger.c.d_on_hand),
        sa.func.sum(ledger.c.d_reserved),
        sa.func.sum(ledger.c.d_allocated),
    ).group_by(ledger.c.node_id, ledger.c.sku)
    return {(n, s): (int(a), int(b), int(c)) for n, s, a, b, c in conn.execute(stmt)}


_MOVE_SQL: dict[tuple[str, int], sa.TextClause] = {}


def _move_sql(dialect: str, n: int) -> sa.TextClause:
    """One UPDATE that moves ``n`` positions, each guarded by its own free-quantity check."""
    key = (dialect, n)
    if key not in _MOVE_SQL:
        if dialect == "postgresql":
            rows = ", ".join(
                f"(CAST(:n{i} AS varchar), CAST(:s{i} AS varchar), CAST(:o{i} AS integer), "
                f"CAST(:r{i} AS integer), CAST(:a{i} AS integer), CAST(:f{i} AS integer))"
                for i in range(n)
            )
            sql = (
                "UPDATE stock_positions AS p SET on_hand = p.on_hand + v.o, reserved = p.reserved + v.r, "
                "allocated = p.allocated + v.a "
                f"FROM (VALUES {rows}) AS v(node_id, sku, o, r, a, f) "
                "WHERE p.node_id = v.node_id AND p.sku = v.sku "
                "AND p.on_hand - p.reserved - p.allocated - p.safety_stock >= v.f "
                "RETURNING p.node_id, p.sku, p.on_hand, p.reserved, p.allocated"
            )
        else:
            rows = " UNION ALL ".join(
                f"SELECT :n{i} AS node_id, :s{i} AS sku, :o{i} AS o, :r{i} AS r, :a{i} AS a, :f{i} AS f"
                for i in range(n)
            )
            sql = (
                "UPDATE stock_positions SET on_hand = on_hand + v.o, reserved = reserved + v.r, "
                "allocated = allocated + v.a "
                f"FROM ({rows}) AS v "
                "WHERE stock_positions.node_id = v.node_id AND stock_positions.sku = v.sku "
                "AND stock_positions.on_hand - stock_positions.reserved - stock_positions.allocated "
                "- stock_positions.safety_stock >= v.f "
                "RETURNING stock_positions.node_id, stock_positions.sku, stock_positions.on_hand, "
                "stock_positions.reserved, stock_positions.allocated"
            )
        _MOVE_SQL[key] = sa.text(sql)
    return _MOVE_SQL[key]


def move_many(conn: Connection, moves: dict[tuple[str, str], tuple[int, int, int, int]]) -> dict[tuple[str, str], Any]:
    """Apply ``{(node, sku): (d_on_hand, d_reserved, d_allocated, need_free)}`` in one statement.

    Each position changes only if it has ``need_free`` free units; returns the new counters of
    the positions that changed (a missing key means that position was refused). Callers lock
    the positions first (``lock_available`` / ``lock_positions``) so the multi-row update
    cannot deadlock with another.
    """
    if not moves:
        return {}
    params: dict[str, Any] = {}
    for i, ((node, sku), (o, r, a, f)) in enumerate(sorted(moves.items())):
        params.update({f"n{i}": node, f"s{i}": sku, f"o{i}": o, f"r{i}": r, f"a{i}": a, f"f{i}": f})
    result = conn.execute(_move_sql(conn.dialect.name, len(moves)), params)
    return {(row[0], row[1]): (row[2], row[3], row[4]) for row in result}


def ledger_moves(
    conn: Connection,
    moves: dict[tuple[str, str], list[int]],
    after: dict[tuple[str, str], Any],
    reason: LedgerReason,
    *,
    source: str,
    reference: str,
    now: datetime,
) -> None:
    add_ledger(
        conn,
        [
            ledger_row(
                node_id=node,
                sku=sku,
                reason=reason.value,
                d=(m[0], m[1], m[2]),
                after=after[(node, sku)],
                source=source,
                reference=reference,
                at=now,
            )
            for (node, sku), m in sorted(moves.items())
        ],
    )
