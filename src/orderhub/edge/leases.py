"""Click & collect under a lease with a fencing token (docs/edge.md §5): leasing orders to a
store, the store's hand-over and give-back as the hub applies them, moving a lease, and what a
central cancellation leaves with the store.

The hub wins on routing: a hand-over counts only with the lease's current token; a lease
moves when its store gives it back, or by force with a new token. Units a store may still hold
when its lease is taken away (cancelled or forced) go into its escrow in the same transaction,
so nothing it does with them offline can oversell.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from orderhub.core.errors import DomainError
from orderhub.core.ids import new_id
from orderhub.edge import store
from orderhub.edge.context import Context, Outcome, conflict, message, pos_payload, units_of
from orderhub.edge.model import HOLDING, EdgePolicy, hlc_time
from orderhub.inventory import service as inventory
from orderhub.orders import service as orders


def pickup_handed_over(ctx: Context, data: Mapping[str, Any], event_id: str, hlc: int) -> Outcome:
    """A click & collect order handed over at the store. With the lease and its token: shipped
    and delivered. Cancelled while the store held it: the order stays cancelled, the units
    leave the escrow the cancellation put them in, and a compensating POS order asks for the
    payment. Reassigned meanwhile (a stale token): refused; the units still leave the store."""
    order_id, token = str(data["order_id"]), int(data["token"])
    lease = store.get_lease(ctx.conn, order_id)
    units = units_of(data["lines"], "quantity")
    if lease is not None and lease.store_id == ctx.store_id and lease.token == token and lease.state in HOLDING:
        lines = {str(li["line_id"]): int(li["quantity"]) for li in data["lines"]}
        allocated = inventory.allocated_units(ctx.conn, order_id=order_id, node_id=ctx.store_id)
        short = {s: q - allocated.get(s, 0) for s, q in units.items() if q > allocated.get(s, 0)}
        try:
            with ctx.conn.begin_nested():
                orders.hand_over_in(ctx.conn, order_id=order_id, actor=ctx.actor, lines=lines)
                if short:  # a loss booked earlier took this order's units: the ones handed over were others
                    inventory.cover_handover(
                        ctx.conn,
                        node_id=ctx.store_id,
                        holder=ctx.holder,
                        order_id=order_id,
                        short=short,
                        reference=order_id,
                        now=ctx.now,
                    )
        except DomainError as exc:  # e.g. the hub put the order on hold meanwhile
            conflict(
                ctx,
                "handover_not_recorded",
                f"Order {lease.external_ref or order_id} was handed over at {ctx.store_id} under its lease, but the "
                f"hub could not record it ({exc.detail}): the order and its allocated units stay as they were.",
                compensation="record the hand-over by hand once the order can take it",
                event_id=event_id,
                order_id=order_id,
                hlc=hlc,
            )
            return Outcome("conflict", exc.detail, order_id)
        _close(ctx, order_id, "handed_over", "handed over at the store")
        return Outcome("applied", "", order_id)
    missing = inventory.sell_from_escrow(
        ctx.conn, node_id=ctx.store_id, holder=ctx.holder, units=units, reference=order_id, now=ctx.now
    )
    if missing:
        what = ", ".join(f"{q} × {s}" for s, q in sorted(missing.items()))
        conflict(
            ctx,
            "sale_beyond_escrow",
            f"The hand-over of order {order_id} took {what} that the store's books did not have: booked missing.",
            compensation="count the store's stock of these SKUs",
            event_id=event_id,
            order_id=order_id,
            hlc=hlc,
        )
    when = f"at {hlc_time(lease.changed_hlc):%Y-%m-%d %H:%M:%S} UTC" if lease is not None and lease.changed_hlc else ""
    if lease is not None and lease.state == "cancelled" and lease.store_id == ctx.store_id:
        compensation = _compensate(ctx, data, order_id, units)
        conflict(
            ctx,
            "handover_after_cancel",
            f"Order {lease.external_ref or order_id} was handed over at {ctx.store_id} although it was cancelled "
            f"centrally {when}: the order stays cancelled; the goods left the store's stock.",
            compensation=compensation,
            event_id=event_id,
            order_id=order_id,
            hlc=hlc,
        )
        return Outcome("conflict", "handed over after a central cancellation", order_id)
    owner = (lease.target_node or lease.store_id) if lease is not None else ""
    text = (
        f"Order {order_id} was reassigned to {owner or 'another node'} {when} (token {lease.token}) while this "
        f"store held token {token}; the hand-over was not recorded. Call the hub: the customer may receive it twice."
        if lease is not None
        else f"Order {order_id} was never leased to {ctx.store_id}; the hand-over was not recorded."
    )
    conflict(
        ctx,
        "handover_after_reassign",
        text,
        compensation="recall the other shipment or charge the customer; the units left the store's stock",
        event_id=event_id,
        order_id=order_id,
        hlc=hlc,
    )
    return Outcome("refused", text, order_id)


def _compensate(ctx: Context, data: Mapping[str, Any], order_id: str, units: dict[str, int]) -> str:
    """The compensating action for goods handed over on a cancelled order: a POS order for
    them with payment pending (its stock already moved), tagged for staff."""
    items = inventory.items_by_sku(ctx.conn)
    currency = next((items[s].currency for s in units if s in items), "EUR")
    doc = {
        "currency": currency,
        "lines": [
            {"sku": s, "qty": q, "unit_price": f"{(items[s].price_minor if s in items else 0) / 100:.2f}"}
            for s, q in sorted(units.items())
        ],
    }
    captured = orders.capture_channel_in(
        ctx.conn,
        adapter="pos",
        payload=pos_payload(ctx.store_id, doc, handover="taken", sale_id=f"handover-{order_id}", paid=False),
        actor=ctx.actor,
        stock_taken=True,
    )
    return f"POS order {captured.order_id} ({ctx.store_id}/handover-{order_id}) with payment pending for the goods handed over"


def _close(ctx: Context, order_id: str, state: str, note: str) -> None:
    ctx.conn.execute(
        store.leases.update()
        .where(store.leases.c.order_id == order_id)
        .values(state=state, changed_at=ctx.now, changed_hlc=ctx.tick(), note=note)
    )


def pickup_released(ctx: Context, data: Mapping[str, Any], event_id: str, hlc: int) -> Outcome:
    """The gateway gave a lease back (the hub had asked for it: ``revoking``): the order goes
    where the hub wanted it. A stale or unknown lease is a no-op."""
    order_id, token = str(data["order_id"]), int(data["token"])
    lease = store.get_lease(ctx.conn, order_id)
    if lease is None or lease.store_id != ctx.store_id or lease.token != token or lease.state not in HOLDING:
        return Outcome("applied", "no such lease held: nothing to do", order_id)
    if lease.state == "revoking" and lease.target_node:
        try:
            with ctx.conn.begin_nested():
                move_lease(ctx, lease, lease.target_node, force=False)
            return Outcome("applied", f"reassigned to {lease.target_node}", order_id)
        except DomainError as exc:  # the target cannot take it now: it stays here, leased anew
            _close(ctx, order_id, "released", f"could not move to {lease.target_node}: {exc.detail}")
            message(
                ctx,
                "pickup.kept",
                f"Order {lease.external_ref or order_id} could not go to {lease.target_node} ({exc.detail}); "
                "it stays with this store.",
                order_id=order_id,
            )
            return Outcome("applied", f"stays: {exc.detail}", order_id)
    _close(ctx, order_id, "released", "given back by the store")
    return Outcome("applied", "", order_id)


def move_lease(ctx: Context, lease: Any, to_node: str, *, force: bool) -> None:
    """Give a leased order to ``to_node`` (the hub wins on routing): its allocation moves, the
    token grows. Forced while the store may still hold it, its units at the store go into the
    store's escrow, so whatever the store does with them offline is covered."""
    lines = {str(li["line_id"]): int(li["quantity"]) for li in lease.lines}
    orders.change_in(
        ctx.conn,
        lease.order_id,
        actor=f"edge:reassign:{lease.store_id}",
        action=lambda _c, o: o.allocate({to_node: lines}, new_id=new_id, reason=f"lease moved from {lease.store_id}"),
    )
    if force and lease.state in HOLDING:
        inventory.grant_escrow(
            ctx.conn,
            node_id=lease.store_id,
            holder=inventory.escrow_holder(lease.store_id),
            wanted=units_of(lease.lines, "quantity"),
            now=ctx.now,
            reference=lease.order_id,
            freed_here=True,
        )
    ctx.conn.execute(
        store.leases.update()
        .where(store.leases.c.order_id == lease.order_id)
        .values(
            state="reassigned",
            token=lease.token + 1,
            target_node=to_node,
            changed_at=ctx.now,
            changed_hlc=ctx.tick(),
            note=("forced: " if force else "") + f"moved to {to_node}",
        )
    )
    message(
        ctx,
        "pickup.reassigned",
        f"Order {lease.external_ref or lease.order_id} was reassigned to {to_node}: do not hand it over"
        + ("; its units stay with the store." if force else "."),
        order_id=lease.order_id,
        store_id=lease.store_id,
    )


def lease_pickups(ctx: Context, policy: EdgePolicy) -> None:
    """Lease to the store every click & collect order allocated there (token 1, or the next
    token when the order comes back to it), and renew the leases it holds."""
    until = ctx.now + timedelta(seconds=policy.lease_s)
    waiting = orders.get_pickups_in(ctx.conn, node_id=ctx.store_id)
    known = store.leases_for(ctx.conn, [p["order_id"] for p in waiting])
    for p in waiting:
        lease = known.get(p["order_id"])
        if lease is None:
            ctx.conn.execute(
                store.leases.insert().values(
                    order_id=p["order_id"],
                    store_id=ctx.store_id,
                    token=1,
                    state="held",
                    fulfilment_order_id=p["fulfilment_order_id"],
                    external_ref=p["external_ref"],
                    customer=p["customer"][:300],
                    lines=p["lines"],
                    granted_at=ctx.now,
                    expires_at=until,
                    changed_at=ctx.now,
                    changed_hlc=ctx.tick(),
                )
            )
        elif lease.store_id == ctx.store_id and lease.state in HOLDING:
            ctx.conn.execute(
                store.leases.update().where(store.leases.c.order_id == lease.order_id).values(expires_at=until)
            )
        elif lease.state in ("reassigned", "released"):  # it came back to this store: a new owner, a new token
            ctx.conn.execute(
                store.leases.update()
                .where(store.leases.c.order_id == lease.order_id)
                .values(
                    store_id=ctx.store_id,
                    token=lease.token + 1,
                    state="held",
                    target_node="",
                    fulfilment_order_id=p["fulfilment_order_id"],
                    lines=p["lines"],
                    granted_at=ctx.now,
                    expires_at=until,
                    changed_at=ctx.now,
                    changed_hlc=ctx.tick(),
                    note="",
                )
            )
