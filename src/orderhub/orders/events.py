"""The order's events: what the order context tells the rest of the hub (and subscribers).

Each is a small past-tense fact about one order (the CloudEvents ``subject``), written to the
outbox in the transaction of the change it describes. Pure: standard library and core only.
The catalogue (``GET /api/v1/events/catalogue``, docs/events.md) is generated from these
classes, so a field added here is documented by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orderhub.core.events import Event

#: ``from`` is a Python keyword: the field is ``from_`` and its wire name ``from``.
FROM = {"wire": "from"}


@dataclass(frozen=True)
class OrderEvent(Event):
    AGGREGATE = "order"


@dataclass(frozen=True)
class OrderCaptured(OrderEvent):
    """A channel's order entered the hub (once per channel order)."""

    TYPE = "order.captured"
    channel: str
    external_ref: str
    total: str  # decimal string in ``currency``
    currency: str
    lines: int
    delivery_option: str = "standard"
    delivery_method: str = "ship"
    customer_email: str = ""
    customer_tier: str = "standard"
    placed_at: str = ""  # ISO 8601, UTC
    destination: dict[str, Any] = field(default_factory=dict)  # country, region, city, postal_code, lat, lon
    items: list[dict[str, Any]] = field(default_factory=list)  # line_id, sku, quantity, unit_price
    promise_days: int | None = None  # delivery promised within this many days of placed_at
    pickup_node_id: str = ""  # the store of an in-store sale or the pickup point ("" for a delivery)
    payment_method: str = ""  # how the customer paid, as the channel said (card, paypal, cash …; "" if not said)


@dataclass(frozen=True)
class OrderStatusChanged(OrderEvent):
    """The order moved along its lifecycle (``from`` → ``to``)."""

    TYPE = "order.status_changed"
    from_: str = field(default="", metadata=FROM)
    to: str = ""
    reason: str = ""


@dataclass(frozen=True)
class PaymentChanged(OrderEvent):
    """The order's payment status changed (``paid`` when the money was captured)."""

    TYPE = "order.payment_changed"
    payment_status: str
    amount: str | None = None  # decimal string in the order's currency: what was captured (when ``paid``)


@dataclass(frozen=True)
class HoldExtended(OrderEvent):
    """Payment started: the presale lock on the order's stock runs until ``until``."""

    TYPE = "order.hold_extended"
    until: str


@dataclass(frozen=True)
class StockReserved(OrderEvent):
    """Stock was held for the order's open lines (``held``: line_id, sku, node_id, quantity)."""

    TYPE = "order.stock_reserved"
    held: list[dict[str, Any]]
    expires_at: str | None = None
    cart_id: str | None = None
    from_cart: int | None = None


@dataclass(frozen=True)
class OrderBackordered(OrderEvent):
    """Some units could not be held and wait for supply (``lines``: line id → units)."""

    TYPE = "order.backordered"
    lines: dict[str, int]


@dataclass(frozen=True)
class StockCountDue(OrderEvent):
    """A till sold more than the hub knew the store had: the store should count."""

    TYPE = "order.stock_count_due"
    node_id: str
    missing_units: Any


@dataclass(frozen=True)
class OrderSourced(OrderEvent):
    """The routing engine chose the nodes; ``explanation`` lists every term it weighed."""

    TYPE = "order.sourced"
    explanation: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.explanation)  # the explanation is the payload (as before typing)


@dataclass(frozen=True)
class OrderRerouted(OrderEvent):
    """The order's nodes changed after allocation or by batch re-optimisation."""

    TYPE = "order.rerouted"
    from_: Any = field(default=None, metadata=FROM)
    to: Any = None
    reason: str = ""
    objective: list[float] | None = None


@dataclass(frozen=True)
class OrderAllocated(OrderEvent):
    """The order was split into fulfilment orders, one per node."""

    TYPE = "order.allocated"
    fulfilment_orders: list[dict[str, Any]]


@dataclass(frozen=True)
class ShipmentRecorded(OrderEvent):
    """Units left a node (``lines``: line id → units)."""

    TYPE = "order.shipment_recorded"
    lines: dict[str, int]


@dataclass(frozen=True)
class DeliveryRecorded(OrderEvent):
    """Units reached the customer (``lines``: line id → units)."""

    TYPE = "order.delivery_recorded"
    lines: dict[str, int]


@dataclass(frozen=True)
class ReturnReceived(OrderEvent):
    """Returned units arrived at ``node_id`` (any node that takes returns)."""

    TYPE = "order.return_received"
    node_id: str
    lines: dict[str, int]
    reason: str = ""
    condition: str = "resellable"  # resellable: back into the node's stock; damaged: kept out of it
    rma_id: str = ""  # the return authorisation the units arrived under ("" for a walk-in return)


@dataclass(frozen=True)
class ReturnRequested(OrderEvent):
    """A return was authorised (an RMA): ``lines`` (line id → units) are expected back."""

    TYPE = "order.return_requested"
    rma_id: str
    lines: dict[str, int]
    reason: str = ""
    condition: str = ""  # the condition the customer stated (unopened, opened, faulty …)


@dataclass(frozen=True)
class ReturnClosed(OrderEvent):
    """A return authorisation was closed: every unit arrived (``received``) or it was
    ``cancelled`` (the units are not coming back)."""

    TYPE = "order.return_closed"
    rma_id: str
    outcome: str  # received | cancelled
    reason: str = ""


@dataclass(frozen=True)
class RefundRecorded(OrderEvent):
    """Money was paid back to the customer: ``amount`` (decimal string in ``currency``) for
    ``lines`` (line id → units; empty for a refund not tied to goods)."""

    TYPE = "order.refund_recorded"
    refund_id: str
    amount: str
    currency: str
    lines: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    rma_id: str = ""


@dataclass(frozen=True)
class OrderEdited(OrderEvent):
    """A field of the order changed before release (address, lines, quantity, tags)."""

    TYPE = "order.edited"
    field: str
    before: Any = None
    after: Any = None
    line_id: str | None = None
    added: dict[str, Any] | None = None
    removed: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        full = {
            "field": self.field,
            "before": self.before,
            "after": self.after,
            "line_id": self.line_id,
            "added": self.added,
            "removed": self.removed,
        }
        return {k: v for k, v in full.items() if v is not None or k in ("before", "after")}


@dataclass(frozen=True)
class LineCancelled(OrderEvent):
    """Units of a line were cancelled before release."""

    TYPE = "order.line_cancelled"
    line_id: str
    quantity: int
    reason: str = ""


@dataclass(frozen=True)
class GreenerDeliveryChosen(OrderEvent):
    """The customer chose a greener delivery option at checkout (and earns points)."""

    TYPE = "order.greener_delivery_chosen"
    option: str
    kg_co2e: float
    kg_saved: float
    points: int
