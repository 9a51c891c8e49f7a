"""The order domain: Order, OrderLine, FulfilmentOrder and the lifecycle state machine.

Pure: no I/O. Every change goes through a method that checks the rules and records what
happened in ``order.changes`` (type + data); the service turns them into events and the
audit trail in the same transaction as the save.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderhub.core.errors import Conflict, InvalidInput
from orderhub.core.money import Money
from orderhub.orders import events as ev
from orderhub.orders.model_parts import (
    AFTER_SALES,
    DELIVERING,
    EDITABLE,
    HOLDABLE,
    SHIPPING,
    TRANSITIONS,
    Address,
    Customer,
    CustomerTier,
    DeliveryMethod,
    FulfilmentOrder,
    LineStatus,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    S,
)

#: The aggregate, and the parts it is made of (``model_parts``), for every importer.
__all__ = [
    "AFTER_SALES",
    "DELIVERING",
    "EDITABLE",
    "HOLDABLE",
    "SHIPPING",
    "TRANSITIONS",
    "Address",
    "Customer",
    "CustomerTier",
    "DeliveryMethod",
    "FulfilmentOrder",
    "LineStatus",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PaymentStatus",
    "S",
]


@dataclass(slots=True)
class Order:
    """The order aggregate: one consistency boundary, guarded by ``version``."""

    id: str
    channel: str
    currency: str
    customer: Customer
    shipping_address: Address
    lines: list[OrderLine]
    created_at: datetime
    external_ref: str = ""
    billing_address: Address | None = None
    status: OrderStatus = OrderStatus.created
    payment_status: PaymentStatus = PaymentStatus.pending
    delivery_method: DeliveryMethod = DeliveryMethod.ship
    pickup_node_id: str = ""
    delivery_option: str = "standard"  # standard | consolidated | wait (a greener choice)
    promise_days: int | None = None  # delivery promised within this many days
    tags: list[str] = field(default_factory=list)
    priority: int = 0
    notes: str = ""
    shipping_total: Money | None = None
    discount_total: Money | None = None
    tax_total: Money | None = None
    held_from: OrderStatus | None = None
    fulfilment_orders: list[FulfilmentOrder] = field(default_factory=list)
    version: int = 0
    changes: list[ev.OrderEvent] = field(default_factory=list)

    # -- totals -----------------------------------------------------------------------------
    def _money(self, value: Money | None) -> Money:
        return value if value is not None else Money.zero(self.currency)

    @property
    def subtotal(self) -> Money:
        total = Money.zero(self.currency)
        for line in self.lines:
            total = total + line.total
        return total

    @property
    def total(self) -> Money:
        return (
            self.subtotal
            + self._money(self.shipping_total)
            + self._money(self.tax_total)
            - self._money(self.discount_total)
        )

    def line(self, line_id: str) -> OrderLine:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise InvalidInput(
            f"order {self.id} has no line {line_id}",
            code="unknown_line",
            errors=[{"pointer": "/line_id", "detail": f"no line {line_id} on this order"}],
        )

    @property
    def is_holdable(self) -> bool:
        return self.status in HOLDABLE

    def as_facts(self) -> dict[str, Any]:
        """The order as plain facts (what hooks and decision tables read)."""
        a = self.shipping_address
        return {
            "id": self.id,
            "channel": self.channel,
            "external_ref": self.external_ref,
            "status": self.status.value,
            "payment_status": self.payment_status.value,
            "currency": self.currency,
            "total": self.total.to_decimal_string(),
            "customer": {"email": self.customer.email, "tier": self.customer.tier.value},
            "address": {
                "country": a.country,
                "region": a.region,
                "city": a.city,
                "postal_code": a.postal_code,
                "line1": a.line1,
                "lat": a.lat,
                "lon": a.lon,
            },
            "billing_country": self.billing_address.country if self.billing_address else "",
            "delivery_method": self.delivery_method.value,
            "delivery_option": self.delivery_option,
            "promise_days": self.promise_days,
            "lines": [{"id": line.id, "sku": line.sku, "quantity": line.open_quantity} for line in self.lines],
            "tags": list(self.tags),
            "priority": self.priority,
            "node_ids": sorted({f.node_id for f in self.fulfilment_orders}),
            "created_at": self.created_at.isoformat(),
        }

    @property
    def is_editable(self) -> bool:
        """Lines and address can change until the order is released to fulfilment."""
        return self.status in EDITABLE

    # -- lifecycle --------------------------------------------------------------------------
    def allowed_next(self) -> list[OrderStatus]:
        allowed = set(TRANSITIONS[self.status])
        if self.status == S.on_hold and self.held_from is not None:
            allowed.add(self.held_from)
        return sorted(allowed, key=list(OrderStatus).index)

    def _illegal(self, target: str) -> Conflict:
        return Conflict(
            f"an order in status {self.status.value} cannot move to {target}",
            code="illegal_transition",
            current_status=self.status.value,
            requested_status=target,
            allowed_next=[s.value for s in self.allowed_next()],
        )

    def allowed_moves(self) -> list[OrderStatus]:
        """The states a person may move the order to directly: ``allowed_next`` without
        ``allocated``, which only an allocation reaches (it creates the fulfilment orders) —
        except leaving a hold back to an allocation that still exists — and without the
        after-sales states, which only returns (RMAs) and refunds reach (``AFTER_SALES``)."""
        returning = self.status == S.on_hold and self.held_from == S.allocated
        return [
            s
            for s in self.allowed_next()
            if (s != S.allocated or returning) and s not in AFTER_SALES and self.status != S.return_requested
        ]

    def move_to(self, target: OrderStatus, *, reason: str = "") -> None:
        """A person's status move: ``transition_to`` limited to ``allowed_moves``; moving to
        ``allocated`` by hand is a Conflict naming the allocation route, a move into or out
        of the after-sales states one naming the returns and refunds routes; nothing changes."""
        if target in self.allowed_next() and target not in self.allowed_moves() and target != S.allocated:
            raise Conflict(
                f"an order reaches {target.value} through its returns and refunds, not by a status move: "
                f"POST /api/v1/orders/{self.id}/returns or /refunds",
                code="return_or_refund_required",
                current_status=self.status.value,
                returns_route=f"/api/v1/orders/{self.id}/returns",
                refunds_route=f"/api/v1/orders/{self.id}/refunds",
                allowed_next=[s.value for s in self.allowed_moves()],
            )
        if target == S.allocated and target not in self.allowed_moves():
            raise Conflict(
                "an order is allocated by choosing nodes, not by a status move: "
                f"POST /api/v1/orders/{self.id}/allocation or let sourcing allocate it",
                code="allocation_required",
                current_status=self.status.value,
                allocation_route=f"/api/v1/orders/{self.id}/allocation",
                allowed_next=[s.value for s in self.allowed_moves()],
            )
        self.transition_to(target, reason=reason)

    def transition_to(self, target: OrderStatus, *, reason: str = "") -> None:
        """Move to ``target`` if the lifecycle allows it, else ``Conflict`` and no change."""
        if target not in self.allowed_next():
            raise self._illegal(target.value)
        if target == S.on_hold:
            self.hold(reason=reason)
            return
        if target == S.cancelled:
            self.cancel(reason=reason)
            return
        previous = self.status
        self.status = target
        if previous == S.on_hold:
            self.held_from = None
        if target == S.delivered:
            for line in self.lines:
                line.quantity_shipped = max(line.quantity_shipped, line.open_quantity)
                line.quantity_delivered = line.open_quantity
        elif target == S.shipped:
            for line in self.lines:
                line.quantity_shipped = line.open_quantity
        elif target == S.returned:
            for line in self.lines:
                line.quantity_returned = line.quantity_delivered
        self._status_changed(previous, reason)

    def _status_changed(self, previous: OrderStatus, reason: str) -> None:
        self.changes.append(ev.OrderStatusChanged(from_=previous.value, to=self.status.value, reason=reason))

    def mark_paid(self) -> None:
        """Payment captured: record it and, if the order was waiting for it, move on."""
        self.payment_status = PaymentStatus.paid
        self.changes.append(ev.PaymentChanged(payment_status="paid", amount=self.total.to_decimal_string()))
        if self.status in (S.created, S.awaiting_payment):
            self.transition_to(S.paid)
            self.wait_for_run()

    @property
    def run_area(self) -> str:
        """The delivery area a consolidated run serves: the postcode's leading two digits, or
        the region or city when there is no postcode."""
        a = self.shipping_address
        return a.postal_code[:2] if a.postal_code else (a.region or a.city or "?")

    def wait_for_run(self) -> None:
        """A paid order whose customer chose to wait for the area's consolidated run is held
        until that run leaves (``release_hold``, for every order of the area together)."""
        if self.delivery_option == "wait" and self.status == S.paid:
            self.hold(reason=f"waiting for the consolidated run to area {self.run_area}")

    def hold(self, *, reason: str) -> None:
        if self.status not in HOLDABLE:
            raise self._illegal(S.on_hold.value)
        previous, self.held_from, self.status = self.status, self.status, S.on_hold
        self._status_changed(previous, reason)

    def release_hold(self, *, reason: str = "") -> None:
        """Leave ``on_hold`` for the state the order was held from."""
        if self.status != S.on_hold or self.held_from is None:
            raise self._illegal("(release hold)")
        self.transition_to(self.held_from, reason=reason)

    def cancel(self, *, reason: str) -> None:
        """Cancel the whole order: every open unit is cancelled, fulfilment orders too."""
        if S.cancelled not in self.allowed_next():
            raise self._illegal(S.cancelled.value)
        previous = self.status
        for line in self.lines:
            line.quantity_cancelled = line.quantity
            line.quantity_allocated = 0
        for fo in self.fulfilment_orders:
            fo.status = "cancelled"
        self.status, self.held_from = S.cancelled, None
        self._status_changed(previous, reason)

    def hand_over_in_store(self) -> None:
        """A POS sale taken away at the till: paid, and delivered on the spot."""
        previous = self.status
        for line in self.lines:
            line.quantity_shipped = line.quantity_delivered = line.open_quantity
        self.status = S.delivered
        self._status_changed(previous, "handed over in store")

    # -- fulfilment -------------------------------------------------------------------------
    def allocate(self, assignments: dict[str, dict[str, int]], *, new_id: Any, reason: str = "") -> None:
        """Split the order into fulfilment orders: ``{node_id: {line_id: qty}}``. On an order
        already allocated this is an operator's override: the fulfilment orders move, and the
        move is recorded with its reason.

        Every open unit must be assigned exactly once.
        """
        if self.status == S.allocated:
            before = {f.node_id: dict(f.lines) for f in self.fulfilment_orders}
            self.changes.append(ev.OrderRerouted(from_=before, to=assignments, reason=reason))
            self.fulfilment_orders = []
            previous, self.status = self.status, S.paid
            self._status_changed(previous, reason or "allocation overridden")
        if self.status != S.paid:
            raise self._illegal(S.allocated.value)
        assigned: dict[str, int] = {}
        for node_lines in assignments.values():
            for line_id, qty in node_lines.items():
                if qty <= 0:
                    raise InvalidInput(f"quantity for line {line_id} must be positive")
                assigned[line_id] = assigned.get(line_id, 0) + qty
        for line in self.lines:
            if line.open_quantity and assigned.get(line.id, 0) != line.open_quantity:
                raise InvalidInput(
                    f"line {line.id} needs {line.open_quantity} units assigned, got {assigned.get(line.id, 0)}",
                    code="allocation_mismatch",
                )
        unknown = set(assigned) - {line.id for line in self.lines}
        if unknown:
            raise InvalidInput(f"unknown lines {sorted(unknown)}", code="unknown_line")
        self.fulfilment_orders = [
            FulfilmentOrder(id=new_id("fo"), node_id=node, lines=dict(node_lines))
            for node, node_lines in sorted(assignments.items())
        ]
        for line in self.lines:
            line.quantity_allocated = line.open_quantity
        self.changes.append(
            ev.OrderAllocated(
                fulfilment_orders=[{"node_id": f.node_id, "lines": f.lines} for f in self.fulfilment_orders]
            )
        )
        self.transition_to(S.allocated, reason=reason)

    def record_shipment(self, quantities: dict[str, int], *, reason: str = "") -> None:
        """Units of lines left the building: the order becomes partially shipped or shipped."""
        if self.status not in SHIPPING:
            raise self._illegal(S.shipped.value)
        for line_id, qty in quantities.items():
            line = self.line(line_id)
            if qty <= 0 or line.quantity_shipped + qty > line.open_quantity:
                raise InvalidInput(
                    f"line {line_id}: cannot ship {qty} of {line.open_quantity - line.quantity_shipped} left",
                    code="over_shipment",
                )
            line.quantity_shipped += qty
        self.changes.append(ev.ShipmentRecorded(lines=quantities))
        if self.status == S.partially_delivered:
            return  # some units are delivered already: the order stays partially delivered
        done = all(line.quantity_shipped >= line.open_quantity for line in self.lines)
        self._settle(S.shipped if done else S.partially_shipped, reason)

    def record_delivery(self, quantities: dict[str, int], *, reason: str = "") -> None:
        """Units reached the customer: partially delivered or delivered."""
        if self.status not in DELIVERING:
            raise self._illegal(S.delivered.value)
        for line_id, qty in quantities.items():
            line = self.line(line_id)
            if qty <= 0 or line.quantity_delivered + qty > line.quantity_shipped:
                raise InvalidInput(
                    f"line {line_id}: cannot deliver {qty}; only "
                    f"{line.quantity_shipped - line.quantity_delivered} shipped and not delivered",
                    code="over_delivery",
                )
            line.quantity_delivered += qty
        self.changes.append(ev.DeliveryRecorded(lines=quantities))
        done = all(line.quantity_delivered >= line.open_quantity for line in self.lines)
        self._settle(S.delivered if done else S.partially_delivered, reason)

    def _settle(self, target: OrderStatus, reason: str) -> None:
        """After a shipment or delivery record: the status the line quantities now imply."""
        if target != self.status:
            previous, self.status = self.status, target
            self._status_changed(previous, reason)

    def receive_return(
        self,
        quantities: dict[str, int],
        *,
        node_id: str,
        reason: str = "",
        condition: str = "resellable",
        rma_id: str = "",
    ) -> None:
        """Returned units arrived at ``node_id`` (any node that takes returns): the order is
        return_requested until every delivered unit is back, then returned. ``condition``
        ``damaged`` units are recorded but kept out of the node's stock."""
        if self.status not in (S.delivered, S.partially_delivered, S.return_requested):
            raise self._illegal(S.returned.value)
        for line_id, qty in quantities.items():
            line = self.line(line_id)
            if qty <= 0 or line.quantity_returned + qty > line.quantity_delivered:
                raise InvalidInput(
                    f"line {line_id}: cannot return {qty}; {line.quantity_delivered - line.quantity_returned} delivered and not returned",
                    code="over_return",
                )
            line.quantity_returned += qty
        self.changes.append(
            ev.ReturnReceived(node_id=node_id, lines=quantities, reason=reason, condition=condition, rma_id=rma_id)
        )
        if self.status != S.return_requested:
            previous, self.status = self.status, S.return_requested
            self._status_changed(previous, reason or "return received")
        if all(line.quantity_returned >= line.quantity_delivered for line in self.lines if line.quantity_delivered):
            self._settle(S.returned, reason)

    def authorise_return(self, rma_id: str, units: dict[str, int], *, reason: str, condition: str) -> None:
        """A return authorisation (RMA) for delivered units (the caller checked them against
        what is delivered and not yet on its way back): recorded, and the order is
        return_requested while it is open."""
        self.changes.append(ev.ReturnRequested(rma_id=rma_id, lines=units, reason=reason, condition=condition))
        if self.status != S.return_requested:
            self.transition_to(S.return_requested, reason=f"return {rma_id} authorised")

    def record_refund(
        self, refund_id: str, amount: Money, *, lines: dict[str, int], reason: str, rma_id: str = "", all_back: bool
    ) -> None:
        """Money went back (the caller checked ``amount`` against what was captured and refunded
        before; ``all_back``: nothing captured is left): recorded with the payment status it
        leaves, and a returned or cancelled order whose money is all back is refunded."""
        self.changes.append(
            ev.RefundRecorded(
                refund_id=refund_id, amount=amount.to_decimal_string(), currency=self.currency, lines=lines,
                reason=reason, rma_id=rma_id,
            )
        )  # fmt: skip
        self.payment_status = PaymentStatus.refunded if all_back else PaymentStatus.partially_refunded
        self.changes.append(ev.PaymentChanged(payment_status=self.payment_status.value))
        if all_back and S.refunded in self.allowed_next():
            self.transition_to(S.refunded, reason=reason or "refunded in full")

    # -- editing before release -------------------------------------------------------------
    def _check_editable(self, what: str) -> None:
        if self.status not in EDITABLE:
            raise Conflict(
                f"an order in status {self.status.value} can no longer be edited ({what})",
                code="not_editable",
                current_status=self.status.value,
                editable_statuses=sorted(s.value for s in EDITABLE),
            )

    def change_shipping_address(self, address: Address) -> None:
        """Replace the shipping address (before release); a shipped-to address needs a city."""
        self._check_editable("address")
        if self.delivery_method == DeliveryMethod.ship and not address.city.strip():
            raise InvalidInput(
                "a city is required", errors=[{"pointer": "/shipping_address/city", "detail": "a city is required"}]
            )
        before = self.shipping_address.as_dict()
        self.shipping_address = address
        self.changes.append(ev.OrderEdited(field="shipping_address", before=before, after=address.as_dict()))

    def add_line(self, line: OrderLine) -> None:
        self._check_editable("add line")
        if line.unit_price.currency != self.currency:
            raise InvalidInput(
                f"line price is in {line.unit_price.currency}, the order in {self.currency}",
                errors=[{"pointer": "/unit_price", "detail": "currency differs from the order"}],
            )
        self._drop_allocation()
        self.lines.append(line)
        self.changes.append(
            ev.OrderEdited(field="lines", added={"line_id": line.id, "sku": line.sku, "quantity": line.quantity})
        )

    def change_line_quantity(self, line_id: str, quantity: int) -> None:
        """Set a line's ordered quantity (≥ 1); cancelling is ``cancel_line``."""
        self._check_editable("change quantity")
        if quantity < 1:
            raise InvalidInput(
                "quantity must be at least 1; cancel the line instead",
                errors=[{"pointer": "/quantity", "detail": "must be ≥ 1"}],
            )
        line = self.line(line_id)
        if quantity < line.quantity_cancelled:
            raise InvalidInput("quantity is below what was already cancelled")
        before, line.quantity = line.quantity, quantity
        self._drop_allocation()
        self.changes.append(ev.OrderEdited(field="quantity", line_id=line_id, before=before, after=quantity))

    def cancel_line(self, line_id: str, quantity: int | None = None, *, reason: str = "") -> None:
        """Cancel ``quantity`` units of a line (all open units if None); the last open unit
        of the whole order cancels the order."""
        self._check_editable("cancel line")
        line = self.line(line_id)
        qty = line.open_quantity if quantity is None else quantity
        if qty <= 0 or qty > line.open_quantity:
            raise InvalidInput(
                f"can cancel 1..{line.open_quantity} units of line {line_id}, not {qty}",
                errors=[{"pointer": "/quantity", "detail": f"must be 1..{line.open_quantity}"}],
            )
        line.quantity_cancelled += qty
        self._drop_allocation()
        self.changes.append(ev.LineCancelled(line_id=line_id, quantity=qty, reason=reason))
        if all(item.open_quantity == 0 for item in self.lines):
            self.cancel(reason=reason or "every line cancelled")

    def remove_line(self, line_id: str) -> None:
        """Remove a line entirely (only while nothing of it was cancelled or allocated)."""
        self._check_editable("remove line")
        line = self.line(line_id)
        if len([item for item in self.lines if item.open_quantity]) == 1 and line.open_quantity:
            raise Conflict("cannot remove the last line; cancel the order instead", code="last_line")
        self._drop_allocation()
        self.lines.remove(line)
        self.changes.append(ev.OrderEdited(field="lines", removed={"line_id": line_id, "sku": line.sku}))

    def _drop_allocation(self) -> None:
        """An edit invalidates the split: the order goes back to paid to be allocated again."""
        if self.status == S.allocated:
            self.fulfilment_orders = []
            for line in self.lines:
                line.quantity_allocated = 0
            previous, self.status = self.status, S.paid
            self._status_changed(previous, "edited after allocation")

    def set_priority(self, priority: int) -> None:
        """The picking priority (higher first); rules set it from the order's facts."""
        before, self.priority = self.priority, priority
        self.changes.append(ev.OrderEdited(field="priority", before=before, after=priority))

    def set_tags(self, tags: list[str]) -> None:
        before, self.tags = list(self.tags), sorted(set(tags))
        self.changes.append(ev.OrderEdited(field="tags", before=before, after=self.tags))
