"""Walk a demo order through the lifecycle to where it should stand today."""

from __future__ import annotations

from collections.abc import Callable

from orderhub.orders.model import Order, OrderStatus

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
    carrier and staff would have), recording each as the live system does."""
    if target == "cancelled":
        order.cancel(reason="customer changed their mind")
        return
    if target == "on_hold":
        order.mark_paid()
        order.hold(reason="address check")
        return
    if target == "refunded" and order.status.value == "awaiting_payment":
        target = "delivered"
    current = order.status.value
    if current == "awaiting_payment" and target != "awaiting_payment":
        order.mark_paid()
    for step in PATH[PATH.index(order.status.value) + 1 : PATH.index(target) + 1]:
        if step == "allocated":
            order.allocate({node: {line.id: line.open_quantity for line in order.lines}}, new_id=new_id)
        else:
            order.transition_to(OrderStatus(step))
