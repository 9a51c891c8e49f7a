"""WooCommerce: the REST API v3 order object (also what its ``order.created`` webhook sends).

Mapping: ``id`` → external_ref; ``line_items[].sku/quantity``, unit price = ``subtotal`` /
quantity (before coupons); ``discount_total``; ``shipping_total``; ``total_tax`` unless
``prices_include_tax``; ``billing.email`` → customer; ``status`` processing/completed → paid,
pending/on-hold/failed → pending, cancelled/refunded → captured then cancelled.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orderhub.orders.channels.base import (
    ChannelOrder,
    build_canonical,
    check_currency,
    decimal_amount,
    parse_native,
    unit_amount,
)

SIGNATURE_HEADER = "x-wc-webhook-signature"
SECRET_SETTING = "woocommerce_webhook_secret"

_PAYMENT = {"processing": "paid", "completed": "paid", "on-hold": "pending", "pending": "pending"}
_CANCELLED = {"cancelled", "refunded", "failed", "trash"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WooAddress(_Model):
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    email: str | None = None
    phone: str | None = None


class WooLineItem(_Model):
    id: int | str
    name: str = ""
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0, strict=True)
    subtotal: Decimal
    total: Decimal | None = None

    _amounts = field_validator("subtotal", "total", mode="before")(lambda v: decimal_amount(v))


class WooOrder(_Model):
    id: int | str
    number: str | None = None
    status: str = "pending"
    payment_method_title: str | None = None
    currency: str
    date_created_gmt: str | None = None
    prices_include_tax: bool = False
    discount_total: Decimal = Decimal(0)
    shipping_total: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    total: Decimal | None = None
    customer_id: int | str | None = None
    customer_note: str = ""
    billing: WooAddress = Field(default_factory=WooAddress)
    shipping: WooAddress = Field(default_factory=WooAddress)
    line_items: list[WooLineItem] = Field(min_length=1)

    _currency = field_validator("currency")(lambda v: check_currency(v))
    _amounts = field_validator("discount_total", "shipping_total", "total_tax", "total", mode="before")(
        lambda v: decimal_amount(v)
    )


def _address(a: WooAddress) -> dict[str, Any]:
    return {
        "name": f"{a.first_name} {a.last_name}".strip() or a.company,
        "line1": a.address_1,
        "line2": a.address_2,
        "city": a.city,
        "postal_code": a.postcode,
        "region": a.state,
        "country": a.country[:2],
        "phone": a.phone or "",
    }


def normalize(payload: Any) -> ChannelOrder:
    """A WooCommerce order payload → the canonical order (see the module doc)."""
    src = parse_native(WooOrder, payload, channel="woocommerce")
    tax = Decimal(0) if src.prices_include_tax else src.total_tax
    lines = [
        {
            "sku": li.sku,
            "quantity": li.quantity,
            "unit_price": unit_amount(li.subtotal, li.quantity, src.currency),
            "name": li.name,
            "external_line_id": str(li.id),
        }
        for li in src.line_items
    ]
    subtotal = sum((Decimal(str(x["unit_price"])) * int(str(x["quantity"])) for x in lines), Decimal(0))
    tags = []
    if src.total is not None and subtotal + src.shipping_total + tax - src.discount_total != src.total:
        tags.append("total_mismatch")
    has_shipping = any((src.shipping.address_1, src.shipping.city))
    data = {
        "channel": "woocommerce",
        "external_ref": str(src.id),
        "currency": src.currency,
        "customer": {
            "email": src.billing.email or "",
            "name": f"{src.billing.first_name} {src.billing.last_name}".strip(),
            "external_id": str(src.customer_id or ""),
            "phone": src.billing.phone or "",
        },
        "shipping_address": _address(src.shipping if has_shipping else src.billing),
        "billing_address": _address(src.billing),
        "lines": lines,
        "shipping_total": str(src.shipping_total),
        "discount_total": str(src.discount_total),
        "tax_total": str(tax),
        "payment_status": _PAYMENT.get(src.status, "pending"),
        "payment_method": (src.payment_method_title or "")[:40],
        "tags": tags,
        "notes": src.customer_note,
        "placed_at": f"{src.date_created_gmt}Z" if src.date_created_gmt else None,
    }
    reason = f"{src.status} in woocommerce" if src.status in _CANCELLED else None
    return ChannelOrder(build_canonical(data, channel="woocommerce"), cancel_reason=reason)
