"""Reservations inside the caller's transaction: hold, release, allocate, ship, backorder.

These functions take the caller's open connection (like ``bus.publish``): capture reserves in
the same transaction that writes the order, so both happen or neither. Each keeps the ledger:
one row per position it moves, with the counters after the move.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.errors import InvalidInput
from orderhub.core.geo import GeoPoint
from orderhub.core.ids import new_id
from orderhub.inventory import carts, escrow, stock, store
from orderhub.inventory.model import (
    Candidate,
    Capability,
    Held,
    LedgerReason,
    LineDemand,
    Node,
    OutOfStock,
    ReservationStatus,
    channel_atp,
    plan_reservation,
)
from orderhub.inventory.stock import ledger_moves
from orderhub.inventory.store import forget_cached, items_by_sku, nodes_by_id, policy_for

__all__ = [
    "Held",
    "LineDemand",
    "OutOfStock",
    "Planner",
    "ReserveResult",
    "forget_cached",
    "items_by_sku",
    "ledger_moves",
    "nodes_by_id",
    "policy_for",
]

R = store.reservations
log = logging.getLogger("orderhub.inventory")


@dataclass(slots=True)
class ReserveResult:
    held: list[Held] = field(default_factory=list)
    backordered: dict[str, int] = field(default_factory=dict)
    routed: bool = False  # the planner chose the nodes (else the nearest-node rule did)
    from_cart: int = 0  # units the order took over from its cart's holds


#: ``planner(free, nodes) -> {line_id: node_id}``: free stock by (node, sku) under the locks
#: of the reservation, and the nodes; an empty answer means "no opinion".
Planner = Callable[[dict[tuple[str, str], int], dict[str, Node]], dict[str, str] | None]


# -- reserving --------------------------------------------------------------------------------
def reserve(
    conn: Connection,
    *,
    order_id: str,
    channel: str,
    lines: list[LineDemand],
    destination: tuple[float, float] | None = None,
    pickup_node: str | None = None,
    expires_at: datetime | None = None,
    on_shortage: Literal["backorder", "reject"] = "backorder",
    now: datetime,
    prefer_node: str | None = None,
    planner: Planner | None = None,
    priority: int = 0,
    values: dict[str, int] | None = None,
    cart_id: str | None = None,
) -> ReserveResult:
    """Hold stock for an order's lines: at the pickup store if it has one; else where the
    ``planner`` (the sourcing engine) routes each line, given the free stock it reads under the
    same locks; else — and whenever the planner has no answer or fails — at the nearest
    shipping nodes that have it. What no node has is backordered, or refused with
    ``OutOfStock`` (409) and nothing written. With ``cart_id``, the cart's holds serve the
    lines first (see ``carts.claim``)."""
    escrow.refuse_escrow_cart(cart_id)
    claim = carts.plan_claim(conn, cart_id=cart_id, lines=lines) if cart_id else None
    lock_also = claim.lock_keys if claim else set()
    if claim is not None:
        lines = claim.left  # a cart that covers the order touches no stock row: no hot-row wait
    rows = stock.lock_available(conn, (line.sku for line in lines), also=lock_also) if lines or lock_also else []
    from_cart: list[Held] = []
    if claim is not None:
        from_cart = carts.apply_claim(conn, claim, order_id=order_id, expires_at=expires_at, now=now)
    nodes = nodes_by_id(conn)
    free: dict[tuple[str, str], int] = {}
    for row in rows:
        _, buffer = policy_for(conn, channel, row.sku)
        free[(row.node_id, row.sku)] = channel_atp(stock.position_from(row).atp, buffer)
    here = GeoPoint(*destination) if destination else None
    result = ReserveResult(held=list(from_cart), from_cart=sum(h.quantity for h in from_cart))
    routed: dict[str, str] = {}
    if planner is not None and lines and not pickup_node and not prefer_node:
        try:
            routed = planner(dict(free), nodes) or {}
        except Exception:  # the plain rule below takes over; the caller records the fallback
            log.exception("sourcing planner failed for order %s; nearest-node rule used", order_id)
            routed = {}
        result.routed = bool(routed)
    for line in lines:
        candidates = []
        for (node_id, sku), available in free.items():
            node = nodes.get(node_id)
            if sku != line.sku or available <= 0 or node is None:
                continue
            if pickup_node and node_id != pickup_node:
                continue
            if not pickup_node and not node.can(Capability.ships):
                continue
            distance = here.distance_km(GeoPoint(node.lat, node.lon)) if here else 0.0
            if node_id == prefer_node or routed.get(line.line_id) == node_id:  # chosen: first
                distance = -1.0
            candidates.append(Candidate(node_id, available, distance))
        plan, short = plan_reservation(line.quantity, candidates)
        for node_id, qty in plan:
            free[(node_id, line.sku)] -= qty
            result.held.append(Held(line.line_id, line.sku, node_id, qty))
        if short:
            if on_shortage == "reject":
                raise OutOfStock(
                    f"only {line.quantity - short} of {line.quantity} × {line.sku} available",
                    sku=line.sku,
                    requested=line.quantity,
                    available=line.quantity - short,
                )
            result.backordered[line.line_id] = short
    fresh = result.held[len(from_cart) :]
    _apply_holds(conn, fresh, order_id=order_id, channel=channel, expires_at=expires_at, now=now)
    if result.backordered:
        skus = {line.line_id: line.sku for line in lines}
        # an unpaid order keeps its presale lock for what it waits for: counted from when the
        # stock arrives, so a backorder never holds stock without a deadline
        ttl_s = max(1, int((expires_at - now).total_seconds())) if expires_at else None
        conn.execute(
            store.backorders.insert(),
            [
                {
                    "id": new_id("bo"),
                    "order_id": order_id,
                    "line_id": line_id,
                    "sku": skus[line_id],
                    "quantity": qty,
                    "status": "waiting",
                    "channel": channel,
                    "priority": priority,
                    "value_minor": (values or {}).get(line_id, 0),
                    "lat": destination[0] if destination else None,
                    "lon": destination[1] if destination else None,
                    "created_at": now,
                    "hold_ttl_s": ttl_s,
                }
                for line_id, qty in result.backordered.items()
            ],
        )
    return result


#: PostgreSQL writes an order's holds in one statement: the guarded counter update, the hold
#: rows, and a ledger row per position with the counters the update returned. It answers how
#: many positions moved; fewer than asked means a guard refused and the caller rolls back.
_PG_HOLD = sa.text(
    """
WITH v AS (
    SELECT * FROM unnest(CAST(:nodes AS text[]), CAST(:skus AS text[]), CAST(:qtys AS int[])) AS v(node_id, sku, q)
), upd AS (
    UPDATE stock_positions AS p SET reserved = p.reserved + v.q
    FROM v
    WHERE p.node_id = v.node_id AND p.sku = v.sku
      AND p.on_hand - p.reserved - p.allocated - p.safety_stock >= v.q
    RETURNING p.node_id, p.sku, p.on_hand, p.reserved, p.allocated
), res AS (
    INSERT INTO reservations (id, order_id, line_id, sku, node_id, quantity, status, channel, expires_at, created_at)
    SELECT h.id, CAST(:order_id AS text), h.line_id, h.sku, h.node_id, h.q, CAST(:status AS text),
           CAST(:channel AS text), CAST(:expires_at AS timestamptz), CAST(:at AS timestamptz)
    FROM unnest(CAST(:hold_ids AS text[]), CAST(:hold_lines AS text[]), CAST(:hold_skus AS text[]),
                CAST(:hold_nodes AS text[]), CAST(:hold_qtys AS int[])) AS h(id, line_id, sku, node_id, q)
), led AS (
    INSERT INTO inventory_ledger (node_id, sku, reason, d_on_hand, d_reserved, d_allocated,
                                  on_hand_after, reserved_after, allocated_after, source, reference, at)
    SELECT upd.node_id, upd.sku, CAST(:reason AS text), 0, v.q, 0, upd.on_hand, upd.reserved, upd.allocated,
           CAST(:source AS text), CAST(:order_id AS text), CAST(:at AS timestamptz)
    FROM upd JOIN v ON v.node_id = upd.node_id AND v.sku = upd.sku
    ORDER BY upd.node_id, upd.sku
)
SELECT count(*) FROM upd
"""
)


def _apply_holds(
    conn: Connection, held: list[Held], *, order_id: str, channel: str, expires_at: datetime | None, now: datetime
) -> None:
    if not held:
        return
    if conn.dialect.name == "postgresql":
        _apply_holds_pg(conn, held, order_id=order_id, channel=channel, expires_at=expires_at, now=now)
        return
    moves: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for h in held:
        m = moves[(h.node_id, h.sku)]
        m[1] += h.quantity
        m[3] += h.quantity
    after = stock.move_many(conn, {k: (v[0], v[1], v[2], v[3]) for k, v in moves.items()})
    if len(after) != len(moves):
        raise OutOfStock("stock changed while it was being reserved; retry", code="reservation_raced")
    conn.execute(
        R.insert(),
        [
            {
                "id": new_id("res"),
                "order_id": order_id,
                "line_id": h.line_id,
                "sku": h.sku,
                "node_id": h.node_id,
                "quantity": h.quantity,
                "status": ReservationStatus.active.value,
                "channel": channel,
                "expires_at": expires_at,
                "created_at": now,
            }
            for h in held
        ],
    )
    ledger_moves(conn, moves, after, LedgerReason.reserved, source=f"order:{order_id}", reference=order_id, now=now)


def _apply_holds_pg(
    conn: Connection, held: list[Held], *, order_id: str, channel: str, expires_at: datetime | None, now: datetime
) -> None:
    need: dict[tuple[str, str], int] = defaultdict(int)
    for h in held:
        need[(h.node_id, h.sku)] += h.quantity
    moved = conn.execute(
        _PG_HOLD,
        {
            "nodes": [k[0] for k in need],
            "skus": [k[1] for k in need],
            "qtys": list(need.values()),
            "hold_ids": [new_id("res") for _ in held],
            "hold_lines": [h.line_id for h in held],
            "hold_skus": [h.sku for h in held],
            "hold_nodes": [h.node_id for h in held],
            "hold_qtys": [h.quantity for h in held],
            "order_id": order_id,
            "status": ReservationStatus.active.value,
            "channel": channel,
            "expires_at": expires_at,
            "at": now,
            "reason": LedgerReason.reserved.value,
            "source": f"order:{order_id}",
        },
    ).scalar_one()
    if moved != len(need):
        raise OutOfStock("stock changed while it was being reserved; retry", code="reservation_raced")


# -- changing what an order holds -------------------------------------------------------------
def _rows(conn: Connection, order_id: str, status: ReservationStatus) -> list[Any]:
    return list(conn.execute(sa.select(R).where(R.c.order_id == order_id, R.c.status == status.value)))


def _move_rows(
    conn: Connection,
    rows: list[Any],
    *,
    delta: tuple[int, int, int],
    reason: LedgerReason,
    new_status: ReservationStatus,
    order_id: str,
    now: datetime,
) -> None:
    """Move the counters of ``rows`` by ``delta`` per unit and close the rows."""
    if not rows:
        return
    moves: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        m = moves[(r.node_id, r.sku)]
        for i in range(3):
            m[i] += delta[i] * r.quantity
    stock.lock_positions(conn, moves)
    after = stock.move_many(conn, {k: (v[0], v[1], v[2], 0) for k, v in moves.items()})
    conn.execute(R.update().where(R.c.id.in_([r.id for r in rows])).values(status=new_status.value))
    ledger_moves(conn, moves, after, reason, source=f"order:{order_id}", reference=order_id, now=now)


def release_order(conn: Connection, *, order_id: str, now: datetime, expired: bool = False) -> int:
    """Give back everything an order holds or has allocated, and drop its backorders.
    Returns the units returned to ATP."""
    held = _rows(conn, order_id, ReservationStatus.active)
    reason = LedgerReason.expired if expired else LedgerReason.released
    status = ReservationStatus.expired if expired else ReservationStatus.released
    _move_rows(conn, held, delta=(0, -1, 0), reason=reason, new_status=status, order_id=order_id, now=now)
    allocated = _rows(conn, order_id, ReservationStatus.allocated)
    _move_rows(
        conn,
        allocated,
        delta=(0, 0, -1),
        reason=LedgerReason.deallocated,
        new_status=ReservationStatus.released,
        order_id=order_id,
        now=now,
    )
    conn.execute(
        store.backorders.update()
        .where(store.backorders.c.order_id == order_id, store.backorders.c.status == "waiting")
        .values(status="cancelled")
    )
    return sum(r.quantity for r in held + allocated)


def rereserve(
    conn: Connection, *, order_id: str, channel: str, lines: list[LineDemand], now: datetime, **kw: Any
) -> ReserveResult:
    """After an edit: release what the order holds and reserve its open quantities again."""
    expires = [r.expires_at for r in _rows(conn, order_id, ReservationStatus.active) if r.expires_at]
    release_order(conn, order_id=order_id, now=now)
    return reserve(
        conn, order_id=order_id, channel=channel, lines=lines, now=now, expires_at=min(expires, default=None), **kw
    )


def allocate(
    conn: Connection, *, order_id: str, assignments: dict[str, dict[str, int]], skus: dict[str, str], now: datetime
) -> None:
    """Turn an order's holds into allocations at the chosen nodes (``{node: {line_id: qty}}``).
    Units held at the chosen node move from reserved to allocated; others are released there
    and taken from the chosen node's free stock, or the whole allocation is refused."""
    held = _rows(conn, order_id, ReservationStatus.active)
    prior = _rows(conn, order_id, ReservationStatus.allocated)  # an override moves these too
    moves: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    own: dict[tuple[str, str], int] = defaultdict(int)  # units the order already has there
    for r in held:
        moves[(r.node_id, r.sku)][1] -= r.quantity
        own[(r.node_id, r.sku)] += r.quantity
    for r in prior:
        moves[(r.node_id, r.sku)][2] -= r.quantity
        own[(r.node_id, r.sku)] += r.quantity
    assigned: dict[tuple[str, str], int] = defaultdict(int)
    for node, lines in assignments.items():
        for line_id, qty in lines.items():
            moves[(node, skus[line_id])][2] += qty
            assigned[(node, skus[line_id])] += qty
    for key, m in moves.items():
        m[3] = max(0, assigned[key] - own[key])  # units not covered by what the order had there
    held = held + prior
    stock.lock_positions(conn, moves)
    after = stock.move_many(conn, {k: (v[0], v[1], v[2], v[3]) for k, v in moves.items()})
    refused = sorted(set(moves) - set(after))
    if refused:
        node, sku = refused[0]
        raise OutOfStock(f"{node} has not enough free {sku} to allocate", sku=sku, node_id=node)
    if held:
        conn.execute(R.update().where(R.c.id.in_([r.id for r in held])).values(status=ReservationStatus.released.value))
    conn.execute(
        R.insert(),
        [
            {
                "id": new_id("res"),
                "order_id": order_id,
                "line_id": line_id,
                "sku": skus[line_id],
                "node_id": node,
                "quantity": qty,
                "status": ReservationStatus.allocated.value,
                "channel": "",
                "expires_at": None,
                "created_at": now,
            }
            for node, lines in sorted(assignments.items())
            for line_id, qty in lines.items()
        ],
    )
    ledger_moves(conn, moves, after, LedgerReason.allocated, source=f"order:{order_id}", reference=order_id, now=now)


def ship(conn: Connection, *, order_id: str, lines: dict[str, int], now: datetime) -> None:
    """Units left their node: allocated and on hand both go down (allocations consumed FIFO)."""
    rows = sorted(_rows(conn, order_id, ReservationStatus.allocated), key=lambda r: r.created_at)
    left = dict(lines)
    moves: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    done, shrink = [], {}
    for r in rows:
        take = min(left.get(r.line_id, 0), r.quantity)
        if take <= 0:
            continue
        left[r.line_id] -= take
        m = moves[(r.node_id, r.sku)]
        m[0] -= take
        m[2] -= take
        if take == r.quantity:
            done.append(r.id)
        else:
            shrink[r.id] = r.quantity - take
    if not moves:
        return
    stock.lock_positions(conn, moves)
    after = stock.move_many(conn, {k: (v[0], v[1], v[2], 0) for k, v in moves.items()})
    if done:
        conn.execute(R.update().where(R.c.id.in_(done)).values(status=ReservationStatus.fulfilled.value))
    for rid, qty in shrink.items():
        conn.execute(R.update().where(R.c.id == rid).values(quantity=qty))
    ledger_moves(conn, moves, after, LedgerReason.shipped, source=f"order:{order_id}", reference=order_id, now=now)


def sell_from_shelf(conn: Connection, *, node_id: str, lines: list[LineDemand], order_id: str, now: datetime) -> int:
    """A till sale: the units left the store with the customer. Takes them from the store's
    unpromised stock (safety stock included: it is on the shelf); returns how many units the
    books did not have, which calls for a count."""
    rows = stock.lock_positions(conn, [(node_id, line.sku) for line in lines])
    moves: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    missing = 0
    for line in lines:
        key = (node_id, line.sku)
        row = rows.get(key)
        unpromised = (row.on_hand - row.reserved - row.allocated) if row else 0
        take = max(0, min(line.quantity, unpromised + moves[key][0]))
        missing += line.quantity - take
        if take:
            moves[key][0] -= take
    moves = defaultdict(lambda: [0, 0, 0, 0], {k: v for k, v in moves.items() if v[0]})
    if moves:
        after = stock.move_many(conn, {k: (v[0], 0, 0, 0) for k, v in moves.items()})
        ledger_moves(conn, moves, after, LedgerReason.delta, source=f"pos:{node_id}", reference=order_id, now=now)
    return missing


def receive_return(conn: Connection, *, node_id: str, lines: list[LineDemand], order_id: str, now: datetime) -> None:
    """Returned units go back on hand at the node that received them (it must take returns)."""
    node = nodes_by_id(conn).get(node_id)
    if node is None or not node.can(Capability.returns):
        raise InvalidInput(
            f"{node_id} does not take returns",
            code="node_takes_no_returns",
            errors=[{"pointer": "/node_id", "detail": "a node with the returns capability"}],
        )
    moves: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for line in lines:
        moves[(node_id, line.sku)][0] += line.quantity
    existing = stock.lock_positions(conn, moves)
    for key in moves:
        if key not in existing:
            conn.execute(stock.positions.insert().values(node_id=key[0], sku=key[1], on_hand=0))
    after = stock.move_many(conn, {k: (v[0], 0, 0, 0) for k, v in moves.items()})
    ledger_moves(conn, moves, after, LedgerReason.returned, source=f"return:{node_id}", reference=order_id, now=now)


def clear_expiry(conn: Connection, *, order_id: str) -> None:
    """Paid: the holds no longer expire, nor do those it will get for what it waits for."""
    conn.execute(
        R.update().where(R.c.order_id == order_id, R.c.status == ReservationStatus.active.value).values(expires_at=None)
    )
    B = store.backorders
    conn.execute(B.update().where(B.c.order_id == order_id, B.c.hold_ttl_s.is_not(None)).values(hold_ttl_s=None))


def extend(conn: Connection, *, order_id: str, until: datetime) -> int:
    """Payment started: push the order's active holds' deadline to ``until``."""
    result = conn.execute(
        R.update()
        .where(R.c.order_id == order_id, R.c.status == ReservationStatus.active.value, R.c.expires_at.is_not(None))
        .values(expires_at=until)
    )
    return int(result.rowcount or 0)


def due_orders(conn: Connection, *, now: datetime, limit: int = 200) -> list[str]:
    """Orders with holds past their deadline."""
    stmt = (
        sa.select(R.c.order_id)
        .where(R.c.status == ReservationStatus.active.value, R.c.expires_at <= now, R.c.order_id != "")
        .group_by(R.c.order_id)
        .order_by(sa.func.min(R.c.expires_at))
        .limit(limit)
    )
    return [str(x) for x in conn.execute(stmt).scalars()]


def holds_of(conn: Connection, *, order_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(R).where(R.c.order_id == order_id).order_by(R.c.created_at, R.c.id)).mappings()
    return [dict(r) for r in rows]


def holds_for(conn: Connection, *, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Holds of many orders at once, by order id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for i in range(0, len(order_ids), 1000):
        chunk = order_ids[i : i + 1000]
        for r in conn.execute(sa.select(R).where(R.c.order_id.in_(chunk)).order_by(R.c.created_at, R.c.id)).mappings():
            out.setdefault(r["order_id"], []).append(dict(r))
    return out


def backorders_of(conn: Connection, *, order_id: str) -> list[dict[str, Any]]:
    B = store.backorders
    rows = conn.execute(sa.select(B).where(B.c.order_id == order_id).order_by(B.c.created_at)).mappings()
    return [dict(r) for r in rows]
