"""Stock work by hand: adjust a position (set or delta), transfer units between nodes, receive
units at a node, announced (``add_supply`` then ``receive_supply``) or not. Each is one transaction that writes its ledger rows, so the ledger check stays
clean; none takes a position below the units held or allocated there (refused, naming the
field); units added serve waiting backorders afterwards.

Positions are locked in primary-key order (``stock.lock_positions``) and moved by the guarded
statement every writer uses (``stock.move_many``). Each movement publishes
``inventory.stock_moved`` in the same transaction (subject: the node), so subscribers and
webhooks hear of stock work as they hear of orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.bus import service as bus
from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.events import DomainEvent
from orderhub.core.ids import new_id
from orderhub.inventory import service, stock, store
from orderhub.inventory.events import StockMoved
from orderhub.inventory.model import LedgerReason, low_threshold, stock_state
from orderhub.platform.db import unit_of_work

MAX_UNITS = 1_000_000_000  # an INTEGER column


@dataclass(frozen=True, slots=True)
class Moved:
    """A position after a movement: its counters and the ledger reason written."""

    node_id: str
    sku: str
    on_hand: int
    reserved: int
    allocated: int
    safety_stock: int
    reason: str

    @property
    def atp(self) -> int:
        return max(0, self.on_hand - self.reserved - self.allocated - self.safety_stock)

    def as_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "sku": self.sku,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "allocated": self.allocated,
            "safety_stock": self.safety_stock,
            "atp": self.atp,
            "state": stock_state(self.atp, low_threshold(self.safety_stock)),
            "reason": self.reason,
        }


def _known_nodes(conn: Connection, **pointers: str) -> None:
    """Refuse node ids that do not exist, naming the field (``{"/node_id": "DC-9"}``)."""
    known = set(conn.execute(sa.select(store.nodes.c.id).where(store.nodes.c.id.in_(pointers.values()))).scalars())
    unknown = {field: value for field, value in pointers.items() if value not in known}
    if unknown:
        raise InvalidInput(
            f"no node {', '.join(unknown.values())}",
            code="node_not_found",
            errors=[{"pointer": f"/{field}", "detail": f"no node {value}"} for field, value in unknown.items()],
        )


def _locked(conn: Connection, keys: list[tuple[str, str]], *, create: set[tuple[str, str]]) -> dict[Any, Any]:
    """The positions, locked in key order; those in ``create`` are inserted (0) if missing."""
    rows = stock.lock_positions(conn, keys)
    missing = [k for k in sorted(create) if k not in rows]
    if missing:
        conn.execute(stock.positions.insert(), [{"node_id": n, "sku": s, "on_hand": 0} for n, s in missing])
        rows = stock.lock_positions(conn, keys)
    return rows


def _move(
    conn: Connection,
    row: Any,
    delta: int,
    reason: LedgerReason,
    *,
    pointer: str,
    source: str,
    reference: str,
) -> Moved:
    """Change one locked position's on hand by ``delta`` and write its ledger row; refused
    (``below_held``, naming ``pointer``) when fewer units would remain than are held there."""
    held = row.reserved + row.allocated
    if row.on_hand + delta < held:
        free = row.on_hand - held
        raise InvalidInput(
            f"{row.node_id} has {free} units of {row.sku} not held for orders; {held} are held",
            code="below_held",
            errors=[{"pointer": pointer, "detail": f"at most {free} units can leave {row.node_id}"}],
            node_id=row.node_id,
            sku=row.sku,
            available=free,
            held=held,
        )
    if row.on_hand + delta > MAX_UNITS:
        raise InvalidInput("too many units", errors=[{"pointer": pointer, "detail": f"at most {MAX_UNITS} on hand"}])
    key = (row.node_id, row.sku)
    after = stock.move_many(conn, {key: (delta, 0, 0, -delta - row.safety_stock if delta < 0 else -MAX_UNITS)})
    if key not in after:  # the guard: cannot happen while the row is locked, but never write blind
        raise InvalidInput("the position changed; retry", code="reservation_raced")
    now = utcnow()
    stock.add_ledger(
        conn,
        [
            stock.ledger_row(
                node_id=row.node_id, sku=row.sku, reason=reason.value, d=(delta, 0, 0), after=after[key],
                source=source, reference=reference[:120], at=now,
            )
        ],
    )  # fmt: skip
    on_hand, reserved, allocated = after[key]
    moved = Moved(row.node_id, row.sku, on_hand, reserved, allocated, row.safety_stock, reason.value)
    event = StockMoved(
        node_id=row.node_id, sku=row.sku, reason=reason.value, delta=delta, on_hand=on_hand, atp=moved.atp,
        reference=reference[:120],
    )  # fmt: skip
    bus.publish(conn, [DomainEvent.of(event, aggregate_id=row.node_id, actor=source, occurred_at=now)])
    return moved


def _need_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidInput("say why", errors=[{"pointer": "/reason", "detail": "a reason is required"}])
    return text


def adjust(
    engine: Engine,
    *,
    node_id: str,
    sku: str,
    reason: str,
    actor: str,
    quantity: int | None = None,
    delta: int | None = None,
) -> Moved:
    """Set a position's on hand to ``quantity``, or change it by ``delta`` (exactly one of the
    two), with a reason (ledger ``adjusted``, the reason as its reference). Refused below the
    units held there (``below_held``): a count that takes promised units is a stock report
    (``PUT /inventory/{node}/{sku}``), which backorders them."""
    why = _need_reason(reason)
    if (quantity is None) == (delta is None):
        raise InvalidInput(
            "give either quantity (set) or delta (change)",
            errors=[{"pointer": "/quantity", "detail": "give quantity or delta, not both or neither"}],
        )
    key = (node_id, sku)
    with unit_of_work(engine) as conn:
        _known_nodes(conn, node_id=node_id)
        rows = _locked(conn, [key], create={key})
        row = rows[key]
        change = delta if delta is not None else int(quantity or 0) - row.on_hand
        moved = _move(
            conn, row, change, LedgerReason.adjusted, pointer="/delta" if delta is not None else "/quantity",
            source=actor, reference=why,
        )  # fmt: skip
    if change > 0:
        service.serve_backorders(engine, skus={sku})
    return moved


def transfer(
    engine: Engine, *, from_node_id: str, to_node_id: str, sku: str, quantity: int, reason: str, actor: str
) -> tuple[Moved, Moved]:
    """Move ``quantity`` units of ``sku`` from one node to another in one transaction: ledger
    ``transfer_out`` there and ``transfer_in`` here with one transfer reference. Only units not
    held or allocated can leave (``below_held`` names ``/quantity``); the sending node's safety
    stock may go (it is nobody's). Waiting backorders are served afterwards."""
    why = _need_reason(reason)
    if quantity <= 0:
        raise InvalidInput("quantity must be positive", errors=[{"pointer": "/quantity", "detail": "must be > 0"}])
    if from_node_id == to_node_id:
        raise InvalidInput(
            "a transfer goes to another node", errors=[{"pointer": "/to_node_id", "detail": "same as from_node_id"}]
        )
    here, there = (from_node_id, sku), (to_node_id, sku)
    reference = f"{new_id('trf')}: {why}"
    with unit_of_work(engine) as conn:
        _known_nodes(conn, from_node_id=from_node_id, to_node_id=to_node_id)
        rows = _locked(conn, [here, there], create={there})
        if here not in rows:
            raise InvalidInput(
                f"{from_node_id} has no {sku}",
                code="below_held",
                errors=[{"pointer": "/quantity", "detail": f"{from_node_id} has no units of {sku}"}],
                available=0,
            )
        out = _move(conn, rows[here], -quantity, LedgerReason.transfer_out, pointer="/quantity", source=actor,
                    reference=reference)  # fmt: skip
        into = _move(conn, rows[there], quantity, LedgerReason.transfer_in, pointer="/quantity", source=actor,
                     reference=reference)  # fmt: skip
    service.serve_backorders(engine, skus={sku})
    return out, into


def receive(
    engine: Engine, *, node_id: str, sku: str, quantity: int, reference: str, actor: str, reason: str = ""
) -> Moved:
    """Units arrived at a node without an announced supply (a delivery, a found case): on hand
    goes up (ledger ``received``, the reference and reason as its reference); waiting backorders
    are served. Announced supply is received with ``receive_supply``."""
    if quantity <= 0:
        raise InvalidInput("quantity must be positive", errors=[{"pointer": "/quantity", "detail": "must be > 0"}])
    text = " — ".join(t for t in (reference.strip(), reason.strip()) if t)
    if not text:
        raise InvalidInput("name the delivery", errors=[{"pointer": "/reference", "detail": "a reference is required"}])
    key = (node_id, sku)
    with unit_of_work(engine) as conn:
        _known_nodes(conn, node_id=node_id)
        rows = _locked(conn, [key], create={key})
        moved = _move(conn, rows[key], quantity, LedgerReason.received, pointer="/quantity", source=actor,
                      reference=text)  # fmt: skip
    service.serve_backorders(engine, skus={sku})
    return moved


def add_supply(
    engine: Engine,
    *,
    node_id: str,
    sku: str,
    quantity: int,
    expected_at: datetime,
    kind: str = "purchase_order",
    reference: str = "",
) -> str:
    """Announce incoming stock (a purchase order or transfer) expected at a node."""
    if quantity <= 0:
        raise InvalidInput("quantity must be positive", errors=[{"pointer": "/quantity", "detail": "must be > 0"}])
    service.get_node(engine, node_id=node_id)
    supply_id = new_id("sup")
    with unit_of_work(engine) as conn:
        conn.execute(
            store.supply.insert().values(
                id=supply_id, node_id=node_id, sku=sku, quantity=quantity, expected_at=expected_at, kind=kind,
                reference=reference, status="open",
            )
        )  # fmt: skip
    return supply_id


def receive_supply(engine: Engine, *, supply_id: str, actor: str) -> Moved:
    """Announced stock arrived: received like any delivery (ledger ``received``, its reference or
    the supply id as the reference), the supply closed, waiting orders served."""
    S = store.supply
    with unit_of_work(engine) as conn:
        row = conn.execute(sa.select(S).where(S.c.id == supply_id)).first()
        if row is None:
            raise NotFound(f"no incoming supply {supply_id}", code="supply_not_found")
        if row.status != "open":
            raise InvalidInput(f"supply {supply_id} is {row.status}", code="supply_closed")
        key = (row.node_id, row.sku)
        rows = _locked(conn, [key], create={key})
        moved = _move(conn, rows[key], row.quantity, LedgerReason.received, pointer="/quantity", source=actor,
                      reference=row.reference or supply_id)  # fmt: skip
        conn.execute(S.update().where(S.c.id == supply_id).values(status="received", received_at=utcnow()))
    service.serve_backorders(engine, skus={row.sku})
    return moved
