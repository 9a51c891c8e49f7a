"""Store POS: a sale rung up at a till. OrderHub's own format (documented in docs/channels.md).

``{"store_id", "till", "cashier", "sale_id", "sold_at", "currency",
   "customer": {"loyalty_id", "email", "name", "tier"} | null,
   "lines": [{"sku", "qty", "unit_price", "description"}],
   "payment": {"method", "amount", "status": "captured" | "pending"},
   "handover": "taken" | "deliver" | "collect_later", "delivery_address": {...}}``

``taken``: the customer walked out with the goods (delivered on the spot);
``deliver``: shipped to ``delivery_address`` (required); ``collect_later``: picked up at the
same store later. external_ref is ``store_id/sale_id`` so two stores' receipt numbers never clash.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orderhub.orders.channels.base import (
    ChannelOrder,
    build_canonical,
    check_currency,
    decimal_amount,
    parse_native,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PosLine(_Model):
    sku: str = Field(min_length=1)
    qty: int = Field(gt=0, strict=True)
    unit_price: Decimal
    description: str = ""

    _price = field_validator("unit_price", mode="before")(lambda v: decimal_amount(v))


class PosPayment(_Model):
    method: str = "card"
    amount: Decimal | None = None
    status: Literal["captured", "pending"] = "captured"


class PosCustomer(_Model):
    loyalty_id: str = ""
    email: str = ""
    name: str = ""
    tier: Literal["standard", "silver", "gold", "vip"] = "standard"


class PosAddress(_Model):
    name: str = ""
    line1: str = Field(min_length=1)
    line2: str = ""
    city: str = Field(min_length=1)
    postal_code: str = ""
    country: str = Field(min_length=2, max_length=2)
    phone: str = ""
    lat: float | None = None
    lon: float | None = None


class PosSale(_Model):
    store_id: str = Field(min_length=1)
    till: str = ""
    cashier: str = ""
    sale_id: str = Field(min_length=1)
    sold_at: datetime | None = None
    currency: str
    customer: PosCustomer | None = None
    lines: list[PosLine] = Field(min_length=1)
    payment: PosPayment = Field(default_factory=PosPayment)
    handover: Literal["taken", "deliver", "collect_later"] = "taken"
    delivery_address: PosAddress | None = None

    _currency = field_validator("currency")(lambda v: check_currency(v))

    @model_validator(mode="after")
    def _address_for_delivery(self) -> PosSale:
        if self.handover == "deliver" and self.delivery_address is None:
            raise ValueError("handover 'deliver' needs delivery_address")
        return self


_METHOD = {"taken": "in_store", "deliver": "ship", "collect_later": "pickup"}


def normalize(payload: Any) -> ChannelOrder:
    """A POS sale → the canonical order."""
    src = parse_native(PosSale, payload, channel="pos")
    customer = src.customer or PosCustomer()
    address = src.delivery_address.model_dump() if src.delivery_address else {}
    data = {
        "channel": "pos",
        "external_ref": f"{src.store_id}/{src.sale_id}",
        "currency": src.currency,
        "customer": {
            "email": customer.email,
            "name": customer.name,
            "external_id": customer.loyalty_id,
            "tier": customer.tier,
        },
        "shipping_address": address,
        "lines": [
            {"sku": li.sku, "quantity": li.qty, "unit_price": str(li.unit_price), "name": li.description}
            for li in src.lines
        ],
        "payment_status": "paid" if src.payment.status == "captured" else "pending",
        "payment_method": src.payment.method[:40],
        "delivery_method": _METHOD[src.handover],
        "pickup_node_id": src.store_id if src.handover != "deliver" else "",
        "tags": [f"store:{src.store_id}"],
        "notes": f"till {src.till}, cashier {src.cashier}".strip(", "),
        "placed_at": src.sold_at.isoformat() if src.sold_at else None,
    }
    return ChannelOrder(build_canonical(data, channel="pos"))
