"""A store gateway's events as the hub applies them (docs/edge.md §2 and §4).

One function per event type, each inside the push's transaction (the caller wraps each event
in a savepoint and keeps the watermark that makes a repeat a no-op). The effect on the store's
on hand and escrow is exactly what ``model.effect`` tells the gateway it will be, so the
gateway's figures — the last snapshot plus its pending events — are the hub's to come.

The store wins on its till sales (always applied), the hub on routing (a hand-over needs the
lease and its token), stock moves are deltas. Every conflict is recorded with how it was
resolved, told to the store as a message, and raised on ``orderhub.alerts``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection

from orderhub.core.errors import DomainError
from orderhub.edge import leases, store
from orderhub.edge.context import Context, Outcome, conflict, pos_payload, units_of
from orderhub.inventory import service as inventory
from orderhub.orders import service as orders


# -- the event types ---------------------------------------------------------------------------
def till_sale(ctx: Context, data: Mapping[str, Any], event_id: str, hlc: int) -> Outcome:
    """The store wins: the sale is captured as a delivered POS order and its units leave the
    escrow (then unpromised stock); units neither had are booked missing, with a conflict."""
    captured = orders.capture_channel_in(
        ctx.conn,
        adapter="pos",
        payload=pos_payload(ctx.store_id, data, handover="taken", sale_id=str(data["sale_id"])),
        actor=ctx.actor,
        stock_taken=True,
    )
    if not captured.created:
        return Outcome("applied", "the sale was already at the hub", captured.order_id)
    units = units_of(data["lines"])
    missing = inventory.sell_from_escrow(
        ctx.conn, node_id=ctx.store_id, holder=ctx.holder, units=units, reference=captured.order_id, now=ctx.now
    )
    ctx.conn.execute(
        store.sales.insert(),
        [{"store_id": ctx.store_id, "sku": s, "quantity": q, "at": ctx.now} for s, q in units.items()],
    )
    if missing:
        what = ", ".join(f"{q} × {s}" for s, q in sorted(missing.items()))
        conflict(
            ctx,
            "sale_beyond_escrow",
            f"Sale {data['sale_id']} sold {what} that neither the store's escrow nor its unpromised stock held "
            "(a central count had lowered them): the sale stands (the store wins); the units are booked missing.",
            compensation="count the store's stock of these SKUs",
            event_id=event_id,
            order_id=captured.order_id,
            hlc=hlc,
        )
        return Outcome("conflict", f"missing {what}", captured.order_id)
    return Outcome("applied", "", captured.order_id)


def till_backorder(ctx: Context, data: Mapping[str, Any], event_id: str, hlc: int) -> Outcome:
    """Units beyond the escrow, sold by policy to collect later: an ordinary pickup order at
    the store, held or backordered by the hub like any other."""
    captured = orders.capture_channel_in(
        ctx.conn,
        adapter="pos",
        payload=pos_payload(ctx.store_id, data, handover="collect_later", sale_id=str(data["sale_id"])),
        actor=ctx.actor,
    )
    return Outcome("applied", "" if captured.created else "already at the hub", captured.order_id)


def till_return(ctx: Context, data: Mapping[str, Any], event_id: str, hlc: int) -> Outcome:
    """Units of a till receipt brought back: the return is recorded on the sale's order and the
    units go on hand at the store (not into the escrow). A receipt the hub does not know, or a
    return its order cannot take, still puts the units on hand: the store wins, with a conflict."""
    sale_id, units = str(data["sale_id"]), units_of(data["lines"])
    order_id = orders.find_order_in(ctx.conn, channel="pos", external_ref=f"{ctx.store_id}/{sale_id}") or ""
    why = f"receipt {sale_id} is not known at the hub"
    if order_id:
        try:
            with ctx.conn.begin_nested():
                orders.receive_return_in(
                    ctx.conn,
                    order_id=order_id,
                    actor=ctx.actor,
                    node_id=ctx.store_id,
                    lines=_lines_of(ctx.conn, order_id, units),
                    reason=str(data.get("reason") or "returned at the till"),
                )
            return Outcome("applied", "", order_id)
        except DomainError as exc:
            why = f"the order of receipt {sale_id} cannot take this return ({exc.detail})"
    for sku, qty in sorted(units.items()):
        inventory.adjust_store_stock(
            ctx.conn,
            node_id=ctx.store_id,
            holder=ctx.holder,
            sku=sku,
            delta=qty,
            from_escrow=0,
            reference=str(data.get("return_id") or event_id),
            now=ctx.now,
        )
    conflict(
        ctx,
        "return_unknown_sale",
        f"Return {data.get('return_id', '')}: {why}; the units are back on hand at the store (the store wins).",
        compensation="check the refund against the receipt",
        event_id=event_id,
        order_id=order_id,
        hlc=hlc,
    )
    return Outcome("conflict", why, order_id)


def _lines_of(conn: Connection, order_id: str, units: dict[str, int]) -> dict[str, int]:
    """Returned units per SKU as units per order line (lines with units delivered and not yet
    returned, in order)."""
    order = orders.get_in(conn, order_id=order_id)
    left, out = dict(units), {}
    for line in order.lines if order else []:
        take = min(left.get(line.sku, 0), line.quantity_delivered - line.quantity_returned)
        if take > 0:
            out[line.id] = take
            left[line.sku] -= take
    if any(left.values()) or not out:
        raise _NotOnReceipt()
    return out


class _NotOnReceipt(DomainError):
    code = "not_on_receipt"

    def __init__(self) -> None:
        super().__init__("the receipt does not have these units left to return")


def stock_adjusted(ctx: Context, data: Mapping[str, Any], event_id: str, hlc: int) -> Outcome:
    """A stock move at the store, as a delta. A loss beyond the store's unpromised stock moves
    central promises at the store to backorder (physical truth), with a conflict."""
    made_room = inventory.adjust_store_stock(
        ctx.conn,
        node_id=ctx.store_id,
        holder=ctx.holder,
        sku=str(data["sku"]),
        delta=int(data["delta"]),
        from_escrow=int(data["from_escrow"]),
        reference=str(data.get("adjustment_id") or event_id),
        now=ctx.now,
        escrow_seen=int(data["escrow_seen"]) if data.get("escrow_seen") is not None else None,
    )
    if made_room:
        conflict(
            ctx,
            "writeoff_shortfall",
            f"A loss of {-int(data['delta'])} × {data['sku']} at {ctx.store_id} ({data.get('reason', '')}) was more "
            f"than the store's unpromised stock: {made_room} promised units moved to backorder.",
            event_id=event_id,
            hlc=hlc,
        )
        return Outcome("conflict", f"{made_room} promised units moved to backorder")
    return Outcome("applied")


def escrow_released(ctx: Context, data: Mapping[str, Any], event_id: str, hlc: int) -> Outcome:
    """The gateway gave escrow back: the units become central ATP."""
    inventory.release_escrow(
        ctx.conn,
        node_id=ctx.store_id,
        holder=ctx.holder,
        units={str(data["sku"]): int(data["quantity"])},
        now=ctx.now,
        reference=event_id,
    )
    return Outcome("applied")


APPLY: dict[str, Callable[[Context, Mapping[str, Any], str, int], Outcome]] = {  # by event type
    "till.sale": till_sale,
    "till.backorder": till_backorder,
    "till.return": till_return,
    "pickup.handed_over": leases.pickup_handed_over,
    "pickup.released": leases.pickup_released,
    "stock.adjusted": stock_adjusted,
    "escrow.released": escrow_released,
}
