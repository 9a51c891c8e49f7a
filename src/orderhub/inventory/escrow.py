"""Escrow allotments: stock a store gateway may sell without asking the hub (docs/edge.md §3).

An escrow is a hold without an order at the store's position — one reservation row per store
and SKU, ``cart_id`` ``escrow:<store>``, channel ``edge``, never expiring — so its units are in
``reserved``: ATP, sourcing, cart holds and backorder service leave them out, and the
``no_oversell`` CHECK covers them. Only the functions here move an escrow, each inside the
caller's transaction: positions locked in key order, one guarded statement, a ledger row per
position moved. Promises:

- ``grant`` takes only free stock (``on_hand − reserved − allocated − safety_stock``), unless
  told the units were freed by the same transaction (a cancelled leased order's);
- ``release`` and ``sell`` never take more than the escrow holds; ``sell`` takes what the
  escrow lacks from unpromised stock, and reports what neither had as missing;
- ``adjust`` moves on hand by a delta: a loss takes its ``from_escrow`` part out of the
  escrow, the rest first from unpromised stock, then by moving central promises to backorder
  (``ingest.make_room``), the escrow last; it never writes a negative or oversold position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.core.errors import InvalidInput
from orderhub.core.ids import new_id
from orderhub.inventory import stock, store
from orderhub.inventory.ingest import ESCROW_PREFIX, make_room
from orderhub.inventory.model import LedgerReason, ReservationStatus

R = store.reservations
ACTIVE = ReservationStatus.active.value
CHANNEL = "edge"


def holder_of(store_id: str) -> str:
    """The ``cart_id`` of a store gateway's escrow holds."""
    return f"{ESCROW_PREFIX}{store_id}"


def refuse_escrow_cart(cart_id: str | None) -> None:
    """A cart id of the ``escrow:`` form belongs to a store gateway: no shopper's cart or order
    may take or give back its holds (``InvalidInput``)."""
    if cart_id and cart_id.startswith(ESCROW_PREFIX):
        raise InvalidInput(
            f"cart ids starting with {ESCROW_PREFIX!r} are store gateways' escrow",
            code="reserved_cart_id",
            errors=[{"parameter": "cart_id", "detail": f"must not start with {ESCROW_PREFIX!r}"}],
        )


@dataclass(frozen=True, slots=True)
class StoreStock:
    """One SKU at a store as the hub sees it: the position and the gateway's escrow in it."""

    sku: str
    on_hand: int
    reserved: int
    allocated: int
    safety_stock: int
    escrow: int

    @property
    def free(self) -> int:
        """What central channels may still promise here (the escrow is already left out)."""
        return max(0, self.on_hand - self.reserved - self.allocated - self.safety_stock)


# built once: a gateway's sync reads these on every pull
_HOLDS = sa.select(R.c.sku, R.c.quantity, R.c.id).where(
    R.c.cart_id == sa.bindparam("holder"), R.c.node_id == sa.bindparam("node"), R.c.status == ACTIVE
)
_AT_NODE = (
    sa.select(stock.positions).where(stock.positions.c.node_id == sa.bindparam("node")).order_by(stock.positions.c.sku)
)


def escrows(conn: Connection, *, node_id: str, holder: str) -> dict[str, int]:
    """The escrow per SKU that ``holder`` has at ``node_id`` (SKUs without one are absent)."""
    return {str(sku): int(qty) for sku, qty, _ in conn.execute(_HOLDS, {"holder": holder, "node": node_id})}


def store_stock(conn: Connection, *, node_id: str, holder: str) -> list[StoreStock]:
    """Every position at the store with the gateway's escrow in it, by SKU."""
    held = escrows(conn, node_id=node_id, holder=holder)
    return [
        StoreStock(r.sku, r.on_hand, r.reserved, r.allocated, r.safety_stock, held.get(r.sku, 0))
        for r in conn.execute(_AT_NODE, {"node": node_id})
    ]


_AT_NODE_SKUS = (
    sa.select(stock.positions)
    .where(
        stock.positions.c.node_id == sa.bindparam("node"),
        stock.positions.c.sku.in_(sa.bindparam("skus", expanding=True)),
    )
    .order_by(stock.positions.c.sku)  # one node: primary-key order
)
_LOCK_AT_NODE = _AT_NODE_SKUS.with_for_update()


def _lock(conn: Connection, node_id: str, skus: Iterable[str]) -> dict[str, Any]:
    """The store's positions of ``skus``, locked in key order (PostgreSQL; SQLite serialises
    writers). One statement built once: a till sale runs this for every receipt."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    stmt = _LOCK_AT_NODE if conn.dialect.name == "postgresql" else _AT_NODE_SKUS
    return {row.sku: row for row in conn.execute(stmt, {"node": node_id, "skus": wanted})}


_HOLD = _HOLDS.where(R.c.sku == sa.bindparam("sku"))
_RESIZE = R.update().where(R.c.id == sa.bindparam("hold_id")).values(quantity=sa.bindparam("quantity"))
_CLOSE = R.update().where(R.c.id == sa.bindparam("hold_id")).values(status=ReservationStatus.released.value)


def _set_hold(conn: Connection, *, node_id: str, holder: str, sku: str, change: int, now: datetime) -> None:
    """Grow or shrink the escrow row by ``change`` (a row at 0 is closed; a new one opened)."""
    row = conn.execute(_HOLD, {"holder": holder, "node": node_id, "sku": sku}).first()
    if row is None:
        if change > 0:
            conn.execute(
                R.insert().values(
                    id=new_id("res"),
                    order_id="",
                    line_id="",
                    cart_id=holder,
                    sku=sku,
                    node_id=node_id,
                    quantity=change,
                    status=ACTIVE,
                    channel=CHANNEL,
                    expires_at=None,
                    created_at=now,
                )
            )
        return
    left = row.quantity + change
    if left > 0:
        conn.execute(_RESIZE, {"hold_id": row.id, "quantity": left})
    else:
        conn.execute(_CLOSE, {"hold_id": row.id})


def _record(
    conn: Connection,
    node_id: str,
    moves: dict[str, tuple[int, int]],
    reason: LedgerReason,
    *,
    source: str,
    reference: str,
    now: datetime,
) -> None:
    """Apply ``{sku: (d_on_hand, d_reserved)}`` at the (locked) store and write the ledger."""
    moves = {sku: m for sku, m in moves.items() if m != (0, 0)}
    if not moves:
        return
    after = stock.move_many(conn, {(node_id, sku): (o, r, 0, 0) for sku, (o, r) in moves.items()})
    if len(after) != len(moves):  # the CHECK constraints refuse a bad move; a missing row is ours
        raise RuntimeError(f"an escrow move at {node_id} found no position for {sorted(moves)}")
    stock.ledger_moves(
        conn,
        {(node_id, sku): [o, r, 0] for sku, (o, r) in moves.items()},
        after,
        reason,
        source=source,
        reference=reference,
        now=now,
    )


def grant(
    conn: Connection,
    *,
    node_id: str,
    holder: str,
    wanted: dict[str, int],
    now: datetime,
    reference: str = "",
    freed_here: bool = False,
) -> dict[str, int]:
    """Grow ``holder``'s escrow by up to ``wanted`` units per SKU, as far as free stock goes.

    ``freed_here``: the units were freed by this very transaction (a cancelled or re-routed
    order leased to the store) and are taken whatever the safety stock says; the CHECK still
    refuses more than is on hand. Returns the units granted per SKU (zeros left out)."""
    rows = _lock(conn, node_id, [s for s, q in wanted.items() if q > 0])
    granted: dict[str, int] = {}
    for sku, qty in sorted(wanted.items()):
        row = rows.get(sku)
        if row is None or qty <= 0:
            continue
        room = row.on_hand - row.reserved - row.allocated - (0 if freed_here else row.safety_stock)
        take = max(0, min(qty, room))
        if take:
            granted[sku] = take
            _set_hold(conn, node_id=node_id, holder=holder, sku=sku, change=take, now=now)
    _record(
        conn,
        node_id,
        {sku: (0, q) for sku, q in granted.items()},
        LedgerReason.escrow_granted,
        source=holder,
        reference=reference,
        now=now,
    )
    return granted


def release(
    conn: Connection, *, node_id: str, holder: str, units: dict[str, int], now: datetime, reference: str = ""
) -> dict[str, int]:
    """Shrink ``holder``'s escrow by up to ``units`` per SKU (never below zero): the units
    become free for every channel. Returns what was released."""
    _lock(conn, node_id, units)
    held = escrows(conn, node_id=node_id, holder=holder)
    done = {sku: min(q, held.get(sku, 0)) for sku, q in units.items() if q > 0 and held.get(sku, 0) > 0}
    for sku, qty in done.items():
        _set_hold(conn, node_id=node_id, holder=holder, sku=sku, change=-qty, now=now)
    _record(
        conn,
        node_id,
        {sku: (0, -q) for sku, q in done.items()},
        LedgerReason.escrow_released,
        source=holder,
        reference=reference,
        now=now,
    )
    return done


def sell(
    conn: Connection, *, node_id: str, holder: str, units: dict[str, int], reference: str, now: datetime
) -> dict[str, int]:
    """Units sold at the store's till and taken away: out of the escrow first, then from the
    store's unpromised stock. Returns, per SKU, the units neither covered (missing from the
    books: a count is due); those are not written anywhere."""
    rows = _lock(conn, node_id, units)
    held = escrows(conn, node_id=node_id, holder=holder)
    from_escrow: dict[str, tuple[int, int]] = {}
    from_shelf: dict[str, tuple[int, int]] = {}
    missing: dict[str, int] = {}
    for sku, qty in sorted(units.items()):
        row = rows.get(sku)
        mine = min(qty, held.get(sku, 0)) if row is not None else 0
        unpromised = (row.on_hand - row.reserved - row.allocated) if row is not None else 0
        other = max(0, min(qty - mine, unpromised))
        if mine:
            from_escrow[sku] = (-mine, -mine)
            _set_hold(conn, node_id=node_id, holder=holder, sku=sku, change=-mine, now=now)
        if other:
            from_shelf[sku] = (-other, 0)
        if qty - mine - other:
            missing[sku] = qty - mine - other
    _record(conn, node_id, from_escrow, LedgerReason.escrow_sold, source=holder, reference=reference, now=now)
    _record(conn, node_id, from_shelf, LedgerReason.delta, source=f"pos:{node_id}", reference=reference, now=now)
    return missing


def adjust(
    conn: Connection,
    *,
    node_id: str,
    holder: str,
    sku: str,
    delta: int,
    from_escrow: int,
    reference: str,
    now: datetime,
    escrow_seen: int | None = None,
) -> int:
    """Move the store's on hand by ``delta`` (units received, found, damaged, counted).

    A loss takes ``from_escrow`` of its units out of the escrow (as the gateway decided when it
    happened); then, with ``escrow_seen`` (the escrow the gateway saw), whatever escrow the hub
    added since it saw it (units a cancellation left with the store, a grant it had not pulled):
    the store's own units, and taking them never leaves the hub holding less than the gateway
    counts on. The rest comes from unpromised stock, then by moving the newest central promises
    at the store to backorder; the rest of the escrow gives up units only when nothing else is
    left. Returns how many promised units had to make room (0 when the loss fitted)."""
    rows = _lock(conn, node_id, [sku])
    if sku not in rows:
        if delta <= 0:
            return 0  # nothing on the books to lose
        conn.execute(stock.positions.insert().values(node_id=node_id, sku=sku, on_hand=0))
    if delta >= 0:
        _record(conn, node_id, {sku: (delta, 0)}, LedgerReason.delta, source=holder, reference=reference, now=now)
        return 0
    loss = -delta
    held = escrows(conn, node_id=node_id, holder=holder).get(sku, 0)
    mine = min(from_escrow, loss, held)
    if escrow_seen is not None:  # the escrow the hub added since the gateway looked is the store's too
        mine += min(loss - mine, max(0, (held - mine) - (escrow_seen - from_escrow)))
    if mine:
        _set_hold(conn, node_id=node_id, holder=holder, sku=sku, change=-mine, now=now)
        _record(
            conn, node_id, {sku: (-mine, -mine)}, LedgerReason.escrow_sold, source=holder, reference=reference, now=now
        )
    rest = loss - mine
    row = _lock(conn, node_id, [sku])[sku]
    rest = min(rest, row.on_hand)  # the books cannot lose more than they have
    excess = row.reserved + row.allocated - (row.on_hand - rest)
    if excess > 0:
        make_room(conn, node_id, sku, excess, row, now=now)
    _record(conn, node_id, {sku: (-rest, 0)}, LedgerReason.delta, source=holder, reference=reference, now=now)
    return max(0, int(excess))


def central_demand(conn: Connection, *, skus: list[str], since: datetime) -> dict[str, int]:
    """Units of each SKU held for orders and carts anywhere since ``since`` (escrows left
    out): how hot a SKU is for the central channels."""
    if not skus:
        return {}
    rows = conn.execute(_DEMAND, {"skus": sorted(set(skus)), "since": since})
    return {str(sku): int(qty) for sku, qty in rows}


_DEMAND = (
    sa.select(R.c.sku, sa.func.sum(R.c.quantity))
    .where(
        R.c.sku.in_(sa.bindparam("skus", expanding=True)),
        R.c.created_at >= sa.bindparam("since"),
        sa.not_(R.c.cart_id.startswith(ESCROW_PREFIX, autoescape=True)),
    )
    .group_by(R.c.sku)
)


_ALLOCATED = (
    sa.select(R.c.sku, sa.func.sum(R.c.quantity))
    .where(R.c.order_id == sa.bindparam("order"), R.c.node_id == sa.bindparam("node"), R.c.status == "allocated")
    .group_by(R.c.sku)
)


def allocated_units(conn: Connection, *, order_id: str, node_id: str) -> dict[str, int]:
    """Units per SKU allocated to ``order_id`` at ``node_id`` (a shortage may have taken some)."""
    return {str(sku): int(q) for sku, q in conn.execute(_ALLOCATED, {"order": order_id, "node": node_id})}


def cover_handover(
    conn: Connection, *, node_id: str, holder: str, order_id: str, short: dict[str, int], reference: str, now: datetime
) -> None:
    """Units a store handed over for an order whose allocation there a loss had taken: they
    left the store all the same, so they come out of its other stock as a loss would
    (unpromised, then the newest central promises, the escrow last), and the order's waiting
    backorders for them are closed (it has its units). Call it after the shipment."""
    B = store.backorders
    for sku, qty in sorted(short.items()):
        if qty <= 0:
            continue
        adjust(conn, node_id=node_id, holder=holder, sku=sku, delta=-qty, from_escrow=0, reference=reference, now=now)
        left = qty
        waiting = conn.execute(
            sa.select(B.c.id, B.c.quantity)
            .where(B.c.order_id == order_id, B.c.sku == sku, B.c.status == "waiting")
            .order_by(B.c.created_at)
        ).all()
        for b in waiting:
            if left <= 0:
                break
            take = min(left, b.quantity)
            left -= take
            values = {"quantity": b.quantity - take} if take < b.quantity else {"status": "cancelled"}
            conn.execute(B.update().where(B.c.id == b.id).values(**values))
