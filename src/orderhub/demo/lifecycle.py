"""Walk a demo order through the lifecycle to where it should stand today."""

from __future__ import annotations

from collections.abc import Callable

from orderhub.orders.events import ReturnClosed
from orderhub.orders.model import Order, OrderStatus

RETURN_REASON = "did not suit: returned for a refund"

PATH = [
    "awaiting_payment",
    "paid",
    "allocated",
    "released",
    "picked",
    "packed",
    "shipped",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "return_requested",
    "returned",
    "refunded",
]


def walk_to(order: Order, target: str, *, node: str, new_id: Callable[[str], str]) -> None:
    """Apply the transitions that lead from the order's status to ``target`` (as the WMS,
    carrier and staff would have), recording each as the live system does: a return is an RMA
    received at the shipping node, a refund gives the whole total back for it."""
    if target == "cancelled":
        order.cancel(reason="customer changed their mind")
        return
    if target == "on_hold":
        order.mark_paid()
        order.hold(reason="address check")
        return
    current = order.status.value
    if current == "awaiting_payment" and target != "awaiting_payment":
        order.mark_paid()
    rma_id = ""
    for step in PATH[PATH.index(order.status.value) + 1 : PATH.index(target) + 1]:
        if step == "allocated":
            order.allocate({node: {line.id: line.open_quantity for line in order.lines}}, new_id=new_id)
        elif step == "return_requested":  # an RMA for everything, received whole at the node
            rma_id = new_id("rma")
            order.authorise_return(rma_id, _at_customer(order), reason=RETURN_REASON, condition="unopened")
        elif step == "returned":
            order.receive_return(_at_customer(order), node_id=node, reason=RETURN_REASON, rma_id=rma_id)
            order.changes.append(ReturnClosed(rma_id=rma_id, outcome="received"))
        elif step == "refunded":
            lines = {line.id: line.quantity_returned for line in order.lines if line.quantity_returned}
            order.record_refund(
                new_id("rfd"), order.total, lines=lines, reason=RETURN_REASON, rma_id=rma_id, all_back=True
            )
        else:
            order.transition_to(OrderStatus(step))


def _at_customer(order: Order) -> dict[str, int]:
    """Delivered units not returned yet, by line."""
    units = {line.id: line.quantity_delivered - line.quantity_returned for line in order.lines}
    return {line_id: n for line_id, n in units.items() if n > 0}
