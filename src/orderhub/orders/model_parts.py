"""The order's parts: statuses and the lifecycle's moves, addresses, customers, lines and
fulfilment orders. Pure values, no I/O; ``orders.model`` builds the ``Order`` aggregate on them
and re-exports every name here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from orderhub.core.money import Money


class OrderStatus(StrEnum):
    created = "created"
    awaiting_payment = "awaiting_payment"
    paid = "paid"
    allocated = "allocated"
    released = "released"
    on_hold = "on_hold"
    picked = "picked"
    packed = "packed"
    partially_shipped = "partially_shipped"
    shipped = "shipped"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    partially_delivered = "partially_delivered"
    delivered = "delivered"
    cancelled = "cancelled"
    return_requested = "return_requested"
    returned = "returned"
    refunded = "refunded"


S = OrderStatus
#: The lifecycle. ``on_hold`` returns to the state it was held from (see ``Order.release_hold``).
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.created: frozenset({S.awaiting_payment, S.paid, S.on_hold, S.cancelled}),
    S.awaiting_payment: frozenset({S.paid, S.on_hold, S.cancelled}),
    S.paid: frozenset({S.allocated, S.on_hold, S.cancelled}),
    S.allocated: frozenset({S.released, S.on_hold, S.cancelled}),
    S.released: frozenset({S.picked, S.partially_shipped, S.shipped, S.on_hold, S.cancelled}),
    S.on_hold: frozenset({S.cancelled}),
    S.picked: frozenset({S.packed, S.partially_shipped, S.shipped}),
    S.packed: frozenset({S.partially_shipped, S.shipped}),
    S.partially_shipped: frozenset({S.shipped, S.in_transit, S.partially_delivered}),
    S.shipped: frozenset({S.in_transit, S.out_for_delivery, S.partially_delivered, S.delivered}),
    S.in_transit: frozenset({S.out_for_delivery, S.partially_delivered, S.delivered}),
    S.out_for_delivery: frozenset({S.partially_delivered, S.delivered}),
    S.partially_delivered: frozenset({S.delivered, S.return_requested}),
    S.delivered: frozenset({S.return_requested}),
    S.return_requested: frozenset({S.returned, S.delivered}),
    S.returned: frozenset({S.refunded}),
    S.cancelled: frozenset({S.refunded}),
    S.refunded: frozenset(),
}
#: Reached only through returns (RMAs) and refunds (``orders.returns``, ``orders.payments``).
AFTER_SALES = frozenset({S.return_requested, S.returned, S.refunded})
HOLDABLE = frozenset({S.created, S.awaiting_payment, S.paid, S.allocated, S.released})
#: Orders can be edited until they are released to fulfilment.
EDITABLE = frozenset({S.created, S.awaiting_payment, S.paid, S.allocated, S.on_hold})
#: Statuses that shipment / delivery records move the order through.
#: (A partially delivered order may still ship its other parcels: it stays partially delivered.)
SHIPPING = frozenset({S.released, S.picked, S.packed, S.partially_shipped, S.partially_delivered})
DELIVERING = frozenset({S.partially_shipped, S.shipped, S.in_transit, S.out_for_delivery, S.partially_delivered})


class PaymentStatus(StrEnum):
    pending = "pending"
    authorized = "authorized"
    paid = "paid"
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    voided = "voided"


class DeliveryMethod(StrEnum):
    ship = "ship"  # delivered to the shipping address
    pickup = "pickup"  # click & collect at a store
    in_store = "in_store"  # handed over at the till (POS)


class CustomerTier(StrEnum):
    standard = "standard"
    silver = "silver"
    gold = "gold"
    vip = "vip"


class LineStatus(StrEnum):
    open = "open"
    allocated = "allocated"
    partially_shipped = "partially_shipped"
    shipped = "shipped"
    partially_delivered = "partially_delivered"
    delivered = "delivered"
    returned = "returned"
    cancelled = "cancelled"


@dataclass(slots=True)
class Address:
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    postal_code: str = ""
    region: str = ""
    country: str = ""
    phone: str = ""
    lat: float | None = None
    lon: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_changes(self, changes: dict[str, Any]) -> Address:
        """This address with ``changes`` applied; fields not named keep their values. The
        coordinates follow the place: a new city, postcode or country without new coordinates
        clears them rather than keep a pin in the old town."""
        merged = {**self.as_dict(), **changes}
        moved = any(merged[f] != getattr(self, f) for f in ("city", "postal_code", "country"))
        if moved and "lat" not in changes and "lon" not in changes:
            merged["lat"] = merged["lon"] = None
        return Address(**merged)


@dataclass(slots=True)
class Customer:
    email: str
    name: str = ""
    tier: CustomerTier = CustomerTier.standard
    external_id: str = ""
    phone: str = ""
    id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "tier": self.tier.value,
            "external_id": self.external_id,
            "phone": self.phone,
        }


@dataclass(slots=True)
class OrderLine:
    """One SKU on an order; quantities only grow along the flow, never below zero."""

    id: str
    sku: str
    quantity: int
    unit_price: Money
    name: str = ""
    external_line_id: str = ""
    quantity_cancelled: int = 0
    quantity_allocated: int = 0
    quantity_shipped: int = 0
    quantity_delivered: int = 0
    quantity_returned: int = 0

    @property
    def open_quantity(self) -> int:
        """Units still wanted: ordered minus cancelled."""
        return self.quantity - self.quantity_cancelled

    @property
    def total(self) -> Money:
        return self.unit_price.times(self.open_quantity)

    @property
    def status(self) -> LineStatus:
        wanted = self.open_quantity
        if wanted == 0:
            return LineStatus.cancelled
        if self.quantity_returned >= wanted:
            return LineStatus.returned
        for done, full, partial in (
            (self.quantity_delivered, LineStatus.delivered, LineStatus.partially_delivered),
            (self.quantity_shipped, LineStatus.shipped, LineStatus.partially_shipped),
        ):
            if done >= wanted:
                return full
            if done > 0:
                return partial
        return LineStatus.allocated if self.quantity_allocated >= wanted else LineStatus.open


@dataclass(slots=True)
class FulfilmentOrder:
    """The part of an order one node fulfils: ``lines`` maps order line id → quantity."""

    id: str
    node_id: str
    lines: dict[str, int]
    status: str = "allocated"
