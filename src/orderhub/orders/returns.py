"""Returns as RMAs (return merchandise authorisations): authorise, receive, refund, cancel.

An RMA names the delivered units expected back (lines and quantities), why, and the condition
the customer stated. Its units may arrive at any node that takes returns ("return anywhere"),
in one or more receipts, each with the condition found on receipt: ``resellable`` units go back
on hand at that node through inventory's own return operation (a ledger row ``returned``),
``damaged`` units are recorded but kept out of stock. A refund from an RMA is an ordinary
refund (``orders.payments``) for the units received, linked to the RMA.

The order follows its RMAs through the lifecycle's own transitions: the first open RMA moves a
delivered order to ``return_requested``; when every delivered unit is back it is ``returned``
(then ``refunded`` once its money is back); when its last open RMA closes with units still at
the customer, it is ``delivered`` again. Every step runs in the order's unit of work (row
lock, hooks, events in the outbox): ``order.return_requested``, ``order.return_received``,
``order.return_closed``, ``order.refund_recorded``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.core.money import Money
from orderhub.inventory import service as inventory
from orderhub.orders import aftersales_store as rows
from orderhub.orders import changes, payments, store
from orderhub.orders import events as ev
from orderhub.orders.model import Order, OrderStatus
from orderhub.platform.db import unit_of_work

OPEN = ("requested", "partially_received")
CONDITIONS = ("resellable", "damaged")
RETURNABLE = (OrderStatus.delivered, OrderStatus.partially_delivered, OrderStatus.return_requested)


def rma_json(rma: dict[str, Any], order: Order) -> dict[str, Any]:
    """The API's view of an RMA: its lines with SKU and name, receipts, refund link."""
    by_id = {line.id: line for line in order.lines}
    return {
        "id": rma["id"],
        "order_id": rma["order_id"],
        "status": rma["status"],
        "order_status": order.status.value,
        "reason": rma["reason"],
        "condition": rma["condition"],
        "lines": [
            {
                "line_id": line_id,
                "sku": by_id[line_id].sku if line_id in by_id else "",
                "name": by_id[line_id].name if line_id in by_id else "",
                "quantity": qty,
                "received": int(rma["received"].get(line_id, 0)),
            }
            for line_id, qty in rma["lines"].items()
        ],
        "receipts": rma["receipts"],
        "refund_id": rma["refund_id"],
        "created_by": rma["created_by"],
        "created_at": rma["created_at"].isoformat(),
    }


def bad_input(pointer: str, detail: str, code: str = "invalid_input") -> InvalidInput:
    return InvalidInput(detail, code=code, errors=[{"pointer": pointer, "detail": detail}])


def pending_units(open_rmas: list[dict[str, Any]]) -> dict[str, int]:
    """Units on open RMAs not received yet, per line."""
    out: dict[str, int] = {}
    for rma in open_rmas:
        for line_id, qty in rma["lines"].items():
            out[line_id] = out.get(line_id, 0) + int(qty) - int(rma["received"].get(line_id, 0))
    return out


def _units(order: Order, lines: list[dict[str, Any]], left: dict[str, int], what: str) -> dict[str, int]:
    """``lines`` as units per line, each at most ``left`` of its line (errors at ``/lines/i``)."""
    if not lines:
        raise bad_input("/lines", f"at least one line to {what}")
    out: dict[str, int] = {}
    known = {line.id: line for line in order.lines}
    for i, item in enumerate(lines):
        line_id, qty = str(item["line_id"]), int(item["quantity"])
        if line_id not in known:
            raise bad_input(f"/lines/{i}/line_id", f"no line {line_id} on this order", "unknown_line")
        room = left.get(line_id, 0) - out.get(line_id, 0)
        if qty < 1 or qty > room:
            raise bad_input(
                f"/lines/{i}/quantity", f"line {known[line_id].sku}: {room} units to {what}, not {qty}", f"over_{what}"
            )
        out[line_id] = out.get(line_id, 0) + qty
    return out


def _load(conn: Connection, order: Order, rma_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    all_rmas = rows.returns_of(conn, order.id)
    rma = next((r for r in all_rmas if r["id"] == rma_id), None)
    if rma is None:
        raise NotFound(f"order {order.id} has no return {rma_id}", code="return_not_found", rma_id=rma_id)
    return rma, all_rmas


def _settle(order: Order, still_open: bool, reason: str) -> None:
    """No RMA open any more but units still at the customer: the order is delivered again."""
    fully_delivered = all(line.quantity_delivered >= line.open_quantity for line in order.lines)
    if not still_open and order.status == OrderStatus.return_requested and fully_delivered:
        order.transition_to(OrderStatus.delivered, reason=reason)


def create_in(
    conn: Connection,
    order: Order,
    *,
    lines: list[dict[str, Any]],
    reason: str,
    condition: str,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Authorise the return of delivered units not yet returned nor on another open RMA."""
    payments.check_reason(reason)
    if len(condition) > 40:
        raise bad_input("/condition", "at most 40 characters")
    if order.status not in RETURNABLE:
        raise Conflict(
            f"an order in status {order.status.value} has nothing delivered to return",
            code="not_returnable",
            current_status=order.status.value,
        )
    pending = pending_units([r for r in rows.returns_of(conn, order.id) if r["status"] in OPEN])
    left = {x.id: x.quantity_delivered - x.quantity_returned - pending.get(x.id, 0) for x in order.lines}
    units = _units(order, lines, left, "return")
    rma_id = new_id("rma")
    rma: dict[str, Any] = {
        "id": rma_id,
        "order_id": order.id,
        "status": "requested",
        "lines": units,
        "received": {},
        "receipts": [],
        "reason": reason,
        "condition": condition,
        "refund_id": None,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }
    rows.insert_return(conn, **rma)
    order.authorise_return(rma_id, units, reason=reason, condition=condition)
    return rma


def receive_in(
    conn: Connection,
    order: Order,
    rma_id: str,
    *,
    node_id: str,
    condition: str,
    lines: list[dict[str, Any]] | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Units of an open RMA arrived at ``node_id``: recorded on the order (resellable ones go
    back into that node's stock as the change is saved) and on the RMA."""
    rma, all_rmas = _load(conn, order, rma_id)
    if rma["status"] not in OPEN:
        raise Conflict(f"return {rma_id} is {rma['status']}", code="return_closed", rma_status=rma["status"])
    if condition not in CONDITIONS:
        raise bad_input("/condition", f"one of {', '.join(CONDITIONS)}")
    node = inventory.nodes_by_id(conn).get(node_id)
    if node is None or not node.can(inventory.Capability.returns):
        raise bad_input("/node_id", f"{node_id} is not a node that takes returns", "node_takes_no_returns")
    left = {k: int(v) - int(rma["received"].get(k, 0)) for k, v in rma["lines"].items()}
    wanted = lines if lines else [{"line_id": k, "quantity": v} for k, v in left.items() if v > 0]
    units = _units(order, wanted, left, "receive")
    order.receive_return(units, node_id=node_id, reason=rma["reason"], condition=condition, rma_id=rma_id)
    received = {k: int(rma["received"].get(k, 0)) + units.get(k, 0) for k in rma["lines"]}
    done = all(received[k] >= int(v) for k, v in rma["lines"].items())
    receipt = {"node_id": node_id, "condition": condition, "lines": units, "at": now.isoformat(), "by": actor}
    rma.update(status="received" if done else "partially_received", received=received)
    rma["receipts"] = [*rma["receipts"], receipt]
    rows.update_return(conn, rma_id, now=now, status=rma["status"], received=received, receipts=rma["receipts"])
    if done:
        order.changes.append(ev.ReturnClosed(rma_id=rma_id, outcome="received"))
        still_open = any(r["status"] in OPEN for r in all_rmas if r["id"] != rma_id)
        _settle(order, still_open, f"return {rma_id} received")
    return rma


def cancel_in(conn: Connection, order: Order, rma_id: str, *, reason: str, now: datetime) -> dict[str, Any]:
    """The units of an open RMA are not coming (any more): it is closed as cancelled."""
    payments.check_reason(reason)
    rma, all_rmas = _load(conn, order, rma_id)
    if rma["status"] not in OPEN:
        raise Conflict(f"return {rma_id} is {rma['status']}", code="return_closed", rma_status=rma["status"])
    rma["status"] = "cancelled"
    rows.update_return(conn, rma_id, now=now, status="cancelled")
    order.changes.append(ev.ReturnClosed(rma_id=rma_id, outcome="cancelled", reason=reason))
    still_open = any(r["status"] in OPEN for r in all_rmas if r["id"] != rma_id)
    _settle(order, still_open, reason or f"return {rma_id} cancelled")
    return rma


def refund_in(
    conn: Connection, order: Order, rma_id: str, *, amount: str | None, reason: str, actor: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Refund the units an RMA brought back (``payments.record_in``), once per RMA. Without an
    ``amount``: their price, at most what may still be refunded."""
    rma, _ = _load(conn, order, rma_id)
    received = {k: int(v) for k, v in rma["received"].items() if int(v) > 0}
    if rma["refund_id"]:
        raise Conflict(f"return {rma_id} was refunded already", code="return_refunded", refund_id=rma["refund_id"])
    if not received:
        raise Conflict(f"nothing of return {rma_id} was received yet", code="return_not_received")
    if amount is None:
        value = sum(order.line(k).unit_price.minor * q for k, q in received.items())
        refundable = payments.summarise_in(conn, order).refundable.minor
        amount = Money(min(value, refundable), order.currency).to_decimal_string()
    lines = [{"line_id": k, "quantity": q} for k, q in received.items()]
    refund = payments.record_in(
        conn, order, amount=amount, lines=lines, reason=reason or rma["reason"], actor=actor, now=now, rma_id=rma_id
    )
    rma["refund_id"] = refund["id"]
    rows.update_return(conn, rma_id, now=now, refund_id=refund["id"])
    return rma, refund


def history_rows(
    order: Order, at: Callable[[int], datetime], *, actor: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The RMA and refund rows that an imported order's recorded after-sales events stand for
    (``at(i)``: when its ``i``-th change happened), so an order imported returned or refunded
    shows its returns and refunds as one worked live does."""
    rmas: dict[str, dict[str, Any]] = {}
    refunds: list[dict[str, Any]] = []
    for step, change in enumerate(order.changes):
        when, data = at(step), change.data
        rma = rmas.get(data.get("rma_id") or "")
        if isinstance(change, ev.ReturnRequested):
            rmas[change.rma_id] = {
                "id": change.rma_id, "order_id": order.id, "status": "requested", "lines": dict(change.lines),
                "received": {}, "receipts": [], "reason": change.reason, "condition": change.condition,
                "refund_id": None, "created_by": actor, "created_at": when, "updated_at": when,
            }  # fmt: skip
        elif isinstance(change, ev.ReturnReceived) and rma is not None:
            got = {k: int(rma["received"].get(k, 0)) + change.lines.get(k, 0) for k in rma["lines"]}
            done = all(got[k] >= int(v) for k, v in rma["lines"].items())
            receipt = {"node_id": change.node_id, "condition": change.condition, "lines": dict(change.lines),
                       "at": when.isoformat(), "by": actor}  # fmt: skip
            rma.update(received=got, receipts=[*rma["receipts"], receipt], updated_at=when,
                       status="received" if done else "partially_received")  # fmt: skip
        elif isinstance(change, ev.ReturnClosed) and rma is not None and change.outcome == "cancelled":
            rma.update(status="cancelled", updated_at=when)
        elif isinstance(change, ev.RefundRecorded):
            refunds.append(
                {"id": change.refund_id, "order_id": order.id, "currency": change.currency, "lines": dict(change.lines),
                 "amount_minor": Money.parse(change.amount, change.currency).minor, "reason": change.reason,
                 "rma_id": change.rma_id or None, "created_by": actor, "created_at": when}
            )  # fmt: skip
            if rma is not None:
                rma.update(refund_id=change.refund_id, updated_at=when)
    return list(rmas.values()), refunds


# -- use cases: one unit of work each -------------------------------------------------------
def create(
    engine: Engine,
    *,
    order_id: str,
    actor: str,
    lines: list[dict[str, Any]],
    reason: str = "",
    condition: str = "",
    node_id: str | None = None,
    received_condition: str = "resellable",
) -> tuple[Order, dict[str, Any]]:
    """Authorise a return (``create_in``). With ``node_id`` the parcel is already there (a
    walk-in return at a store): the RMA is received at once, in the same transaction."""
    now = utcnow()

    def act(conn: Connection, order: Order) -> dict[str, Any]:
        rma = create_in(conn, order, lines=lines, reason=reason, condition=condition, actor=actor, now=now)
        if node_id is None:
            return rma
        return receive_in(
            conn, order, rma["id"], node_id=node_id, condition=received_condition, lines=None, actor=actor, now=now
        )

    return changes.change(engine, order_id, actor=actor, action=act)


def receive(
    engine: Engine,
    *,
    order_id: str,
    rma_id: str,
    actor: str,
    node_id: str,
    condition: str,
    lines: list[dict[str, Any]] | None = None,
) -> tuple[Order, dict[str, Any]]:
    """Record units of an RMA arriving at a node (``receive_in``); all that is outstanding when
    ``lines`` is empty."""
    now = utcnow()
    return changes.change(
        engine,
        order_id,
        actor=actor,
        action=lambda conn, order: receive_in(
            conn, order, rma_id, node_id=node_id, condition=condition, lines=lines, actor=actor, now=now
        ),
    )


def cancel(engine: Engine, *, order_id: str, rma_id: str, actor: str, reason: str = "") -> tuple[Order, dict[str, Any]]:
    now = utcnow()
    return changes.change(
        engine, order_id, actor=actor, action=lambda conn, order: cancel_in(conn, order, rma_id, reason=reason, now=now)
    )


def refund(
    engine: Engine, *, order_id: str, rma_id: str, actor: str, amount: str | None = None, reason: str = ""
) -> tuple[Order, tuple[dict[str, Any], dict[str, Any]]]:
    """Refund what an RMA brought back (``refund_in``)."""
    now = utcnow()
    return changes.change(
        engine,
        order_id,
        actor=actor,
        action=lambda conn, order: refund_in(conn, order, rma_id, amount=amount, reason=reason, actor=actor, now=now),
    )


def get_all(engine: Engine, *, order_id: str) -> tuple[Order, list[dict[str, Any]]]:
    """The order and its RMAs, oldest first (404 for an unknown order)."""
    with unit_of_work(engine, write=False) as conn:
        order = store.get_order(conn, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}", code="order_not_found", order_id=order_id)
        return order, rows.returns_of(conn, order_id)
