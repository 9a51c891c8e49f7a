"""Cart holds: stock held for a shopper's cart before there is an order (the flash-sale lane).

A cart hold is a reservation without an order yet (``order_id`` ''), one per cart and SKU,
at one node, with a deadline. Many shoppers' holds are taken together (``hold_batch``, fed by
the admission queue in ``admission``): the SKUs' positions are locked once in primary-key
order, each request is served in arrival order from the free stock read under that lock, and
one guarded UPDATE moves the counters of the whole batch. Each hold still gets its own
reservation row and its own ledger row. An order captured with ``cart_id`` claims the cart's
holds (``claim``) instead of reserving again; holds nobody claims run out (``release_due``).

Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.geo import GeoPoint
from orderhub.core.ids import new_id
from orderhub.inventory import stock, store
from orderhub.inventory.model import (
    Capability,
    Held,
    LedgerReason,
    LineDemand,
    OutOfStock,
    ReservationStatus,
    channel_atp,
)
from orderhub.inventory.stock import ledger_moves
from orderhub.inventory.store import nodes_by_id, policy_for

R = store.reservations
ACTIVE = ReservationStatus.active.value
DEFAULT_CART_TTL_S = 15 * 60


@dataclass(frozen=True, slots=True)
class CartHoldRequest:
    cart_id: str
    sku: str
    quantity: int
    channel: str = "web"
    node_id: str | None = None  # hold at this node only
    destination: tuple[float, float] | None = None  # else: the nearest shipping node that has it
    ttl_s: int | None = None  # else: the channel's hold time, else 15 minutes


@dataclass(frozen=True, slots=True)
class CartHoldOutcome:
    """A hold (new or the cart's existing one for that SKU), or why there is none."""

    hold: dict[str, Any] | None
    created: bool = False
    refused: str | None = None
    available: int = 0


def hold_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "cart_id": row["cart_id"],
        "sku": row["sku"],
        "node_id": row["node_id"],
        "quantity": row["quantity"],
        "channel": row["channel"],
        "status": row["status"],
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
        "order_id": row["order_id"] or None,
    }


def _active_of_carts(conn: Connection, cart_ids: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    rows = conn.execute(
        sa.select(R).where(R.c.cart_id.in_(sorted(set(cart_ids))), R.c.status == ACTIVE, R.c.order_id == "")
    ).mappings()
    return {(r["cart_id"], r["sku"]): dict(r) for r in rows}


def hold_batch(conn: Connection, requests: list[CartHoldRequest], *, now: datetime) -> list[CartHoldOutcome]:
    """Serve ``requests`` in order from the free stock, in one transaction; one outcome each.

    A cart that already holds the SKU gets its existing hold back (nothing more is held). A
    request no single eligible node can serve whole is refused with the quantity it could
    have had; it holds nothing."""
    existing = _active_of_carts(conn, [r.cart_id for r in requests])
    fresh = [r for r in requests if (r.cart_id, r.sku) not in existing]
    rows = stock.lock_available(conn, {r.sku for r in fresh}) if fresh else []
    nodes = nodes_by_id(conn)
    start = {(row.node_id, row.sku): row for row in rows}
    atp0 = {key: stock.position_from(row).atp for key, row in start.items()}
    taken: dict[tuple[str, str], int] = defaultdict(int)
    outcomes: list[CartHoldOutcome] = []
    new_rows: list[dict[str, Any]] = []
    for req in requests:
        key = (req.cart_id, req.sku)
        if key in existing:
            outcomes.append(CartHoldOutcome(hold=existing[key]))
            continue
        ttl, buffer = policy_for(conn, req.channel, req.sku)
        here = GeoPoint(*req.destination) if req.destination else None
        best: tuple[float, str] | None = None
        most = 0
        for (node_id, sku), atp in atp0.items():
            node = nodes.get(node_id)
            if sku != req.sku or node is None:
                continue
            if req.node_id and node_id != req.node_id:
                continue
            if not req.node_id and not node.can(Capability.ships):
                continue
            free = channel_atp(atp, buffer) - taken[(node_id, sku)]
            most = max(most, free)
            if free < req.quantity:
                continue
            # nearest first; with no destination, the node with the most to spare
            rank = here.distance_km(GeoPoint(node.lat, node.lon)) if here is not None else -float(free)
            if best is None or rank < best[0]:
                best = (rank, node_id)
        if best is None:
            outcomes.append(CartHoldOutcome(hold=None, refused="out_of_stock", available=max(0, most)))
            continue
        node_id = best[1]
        taken[(node_id, req.sku)] += req.quantity
        row = {
            "id": new_id("res"),
            "order_id": "",
            "line_id": "",
            "cart_id": req.cart_id,
            "sku": req.sku,
            "node_id": node_id,
            "quantity": req.quantity,
            "status": ACTIVE,
            "channel": req.channel,
            "expires_at": now + timedelta(seconds=req.ttl_s or ttl or DEFAULT_CART_TTL_S),
            "created_at": now,
        }
        existing[key] = row  # a repeat of this cart and SKU later in the batch finds it
        new_rows.append(row)
        outcomes.append(CartHoldOutcome(hold=row, created=True))
    if new_rows:
        _write_holds(conn, new_rows, taken, start, now=now)
    return outcomes


def _write_holds(
    conn: Connection,
    new_rows: list[dict[str, Any]],
    taken: dict[tuple[str, str], int],
    start: dict[tuple[str, str], Any],
    *,
    now: datetime,
) -> None:
    moves = {key: (0, qty, 0, qty) for key, qty in taken.items() if qty}
    after = stock.move_many(conn, moves)
    if len(after) != len(moves):  # cannot happen under the locks; never write half a batch
        raise RuntimeError("a locked position changed during a cart-hold batch")
    if conn.dialect.name == "postgresql" and len(new_rows) >= stock.BULK:
        stock.bulk_insert_pg(conn, "reservations", _RES_COLS, _RES_TYPES, new_rows)
    else:
        conn.execute(R.insert(), new_rows)
    reserved = {key: start[key].reserved for key in moves}
    ledger = []
    for row in new_rows:  # one ledger row per hold, counters after each in turn
        key = (row["node_id"], row["sku"])
        reserved[key] += row["quantity"]
        ledger.append(
            stock.ledger_row(
                node_id=key[0],
                sku=key[1],
                reason=LedgerReason.reserved.value,
                d=(0, row["quantity"], 0),
                after=(after[key][0], reserved[key], after[key][2]),
                source=f"cart:{row['cart_id']}",
                reference=row["id"],
                at=now,
            )
        )
    stock.add_ledger(conn, ledger)


_RES_COLS = (
    "id",
    "order_id",
    "line_id",
    "cart_id",
    "sku",
    "node_id",
    "quantity",
    "status",
    "channel",
    "expires_at",
    "created_at",
)
_RES_TYPES = ("text", "text", "text", "text", "text", "text", "int", "text", "text", "timestamptz", "timestamptz")


# -- giving holds back ------------------------------------------------------------------------
def release_rows(conn: Connection, ids: list[str], *, expired: bool, now: datetime, source: str) -> int:
    """Close the active, unclaimed holds ``ids`` and return their stock to ATP. Positions are
    locked first and the rows are closed by a conditional UPDATE, so a hold an order claimed
    meanwhile is left alone. Returns the units given back."""
    if not ids:
        return 0
    keys = conn.execute(sa.select(R.c.node_id, R.c.sku).where(R.c.id.in_(ids)).distinct()).all()
    stock.lock_positions(conn, [(k[0], k[1]) for k in keys])
    status = ReservationStatus.expired if expired else ReservationStatus.released
    closed = conn.execute(
        R.update()
        .where(R.c.id.in_(ids), R.c.status == ACTIVE, R.c.order_id == "")
        .values(status=status.value)
        .returning(R.c.node_id, R.c.sku, R.c.quantity)
    ).all()
    moves: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in closed:
        moves[(row.node_id, row.sku)][1] -= row.quantity
    _move_and_record(conn, moves, LedgerReason.expired if expired else LedgerReason.released, source, source, now)
    return -sum(m[1] for m in moves.values())


def _move_and_record(
    conn: Connection,
    moves: dict[tuple[str, str], list[int]],
    reason: LedgerReason,
    source: str,
    reference: str,
    now: datetime,
) -> None:
    """Apply ``{(node, sku): [d_on_hand, d_reserved, d_allocated]}`` (positions already locked)
    and write their ledger rows."""
    if not moves:
        return
    after = stock.move_many(conn, {k: (m[0], m[1], m[2], 0) for k, m in moves.items()})
    ledger_moves(conn, moves, after, reason, source=source, reference=reference, now=now)


def release_cart(conn: Connection, *, cart_id: str, sku: str | None, now: datetime) -> int:
    """The shopper emptied the cart (or removed a SKU): give its holds back."""
    stmt = sa.select(R.c.id).where(R.c.cart_id == cart_id, R.c.status == ACTIVE, R.c.order_id == "")
    if sku:
        stmt = stmt.where(R.c.sku == sku)
    ids = [str(x) for x in conn.execute(stmt).scalars()]
    return release_rows(conn, ids, expired=False, now=now, source=f"cart:{cart_id}")


def due_ids(conn: Connection, *, now: datetime, limit: int = 500) -> list[str]:
    """Cart holds past their deadline that no order claimed."""
    stmt = (
        sa.select(R.c.id)
        .where(R.c.status == ACTIVE, R.c.order_id == "", R.c.cart_id != "", R.c.expires_at <= now)
        .order_by(R.c.expires_at)
        .limit(limit)
    )
    return [str(x) for x in conn.execute(stmt).scalars()]


def holds_of_cart(conn: Connection, *, cart_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(R).where(R.c.cart_id == cart_id).order_by(R.c.created_at, R.c.id)).mappings()
    return [dict(r) for r in rows]


# -- an order takes the cart over -------------------------------------------------------------
@dataclass(slots=True)
class ClaimPlan:
    """What an order will take from its cart, worked out before any lock is taken."""

    cart_id: str
    takes: list[tuple[Any, LineDemand, int]] = field(default_factory=list)  # (hold row, line, units)
    surplus: list[tuple[Any, int]] = field(default_factory=list)  # holds larger than their line
    unordered: list[Any] = field(default_factory=list)  # holds of SKUs the order does not have
    left: list[LineDemand] = field(default_factory=list)  # what the cart does not cover

    @property
    def lock_keys(self) -> set[tuple[str, str]]:
        """Positions whose counters the claim changes (the rest of the claim touches no stock)."""
        return {(r.node_id, r.sku) for r, _ in self.surplus} | {(r.node_id, r.sku) for r in self.unordered}


def plan_claim(conn: Connection, *, cart_id: str, lines: list[LineDemand]) -> ClaimPlan:
    """Match the cart's active holds to the order's lines (one hold serves the first line of
    its SKU). A hold larger than its line gives the rest back; holds of SKUs the order does not
    have are given back (the cart became the order)."""
    rows = conn.execute(
        sa.select(R).where(R.c.cart_id == cart_id, R.c.status == ACTIVE, R.c.order_id == "").order_by(R.c.id)
    ).all()
    by_sku = {r.sku: r for r in rows}
    plan = ClaimPlan(cart_id)
    for line in lines:
        row = by_sku.pop(line.sku, None)
        if row is None:
            plan.left.append(line)
            continue
        take = min(row.quantity, line.quantity)
        plan.takes.append((row, line, take))
        if row.quantity > take:
            plan.surplus.append((row, row.quantity - take))
        if line.quantity > take:
            plan.left.append(LineDemand(line.line_id, line.sku, line.quantity - take))
    plan.unordered = list(by_sku.values())
    return plan


def apply_claim(
    conn: Connection, plan: ClaimPlan, *, order_id: str, expires_at: datetime | None, now: datetime
) -> list[Held]:
    """Hand the planned holds to the order (the caller has locked ``plan.lock_keys``). A hold
    that ran out since it was read fails the capture with a retryable 409: the retry reserves
    afresh."""
    held: list[Held] = []
    for row, line, take in plan.takes:
        claimed = conn.execute(
            R.update()
            .where(R.c.id == row.id, R.c.status == ACTIVE, R.c.order_id == "")
            .values(order_id=order_id, line_id=line.line_id, quantity=take, expires_at=expires_at)
        ).rowcount
        if not claimed:
            raise OutOfStock(
                f"the hold of cart {plan.cart_id} on {row.sku} ran out just now; retry",
                code="reservation_raced",
                sku=row.sku,
            )
        held.append(Held(line.line_id, line.sku, row.node_id, take))
    surplus = {(r.node_id, r.sku): [0, -q, 0] for r, q in plan.surplus}
    _move_and_record(conn, surplus, LedgerReason.released, f"cart:{plan.cart_id}", order_id, now)
    release_rows(conn, [r.id for r in plan.unordered], expired=False, now=now, source=f"cart:{plan.cart_id}")
    return held
