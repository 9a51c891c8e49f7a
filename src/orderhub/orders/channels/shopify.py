"""Shopify: the REST Admin API order resource, as sent by the ``orders/create`` webhook.

Mapping: ``id`` → external_ref; ``line_items[].sku/quantity/price`` → lines (unit price before
discounts); ``total_discounts`` → discount_total; ``shipping_lines[].price`` → shipping_total;
``total_tax`` → tax_total unless ``taxes_included``; ``financial_status`` → payment_status;
``shipping_address.latitude/longitude`` kept; ``cancelled_at`` set → captured then cancelled.
A total that differs from Shopify's ``total_price`` is captured with the tag ``total_mismatch``.
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
)

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
SECRET_SETTING = "shopify_webhook_secret"

_PAYMENT = {
    "pending": "pending",
    "authorized": "authorized",
    "partially_paid": "authorized",
    "paid": "paid",
    "partially_refunded": "paid",
    "refunded": "paid",
    "voided": "voided",
    "expired": "voided",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ShopifyAddress(_Model):
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    zip: str | None = None
    province_code: str | None = None
    province: str | None = None
    country_code: str | None = None
    phone: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class ShopifyLineItem(_Model):
    id: int | str
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0, strict=True)
    price: Decimal
    title: str | None = None
    name: str | None = None

    _price = field_validator("price", mode="before")(lambda v: decimal_amount(v))


class ShopifyShippingLine(_Model):
    price: Decimal = Decimal(0)
    _price = field_validator("price", mode="before")(lambda v: decimal_amount(v))


class ShopifyCustomer(_Model):
    id: int | str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    tags: str | None = None


class ShopifyOrder(_Model):
    id: int | str
    name: str | None = None
    email: str | None = None
    currency: str
    financial_status: str | None = "pending"
    payment_gateway_names: list[str] = Field(default_factory=list)
    created_at: str | None = None
    cancelled_at: str | None = None
    cancel_reason: str | None = None
    taxes_included: bool = False
    total_price: Decimal | None = None
    total_tax: Decimal = Decimal(0)
    total_discounts: Decimal = Decimal(0)
    note: str | None = None
    tags: str | None = ""
    line_items: list[ShopifyLineItem] = Field(min_length=1)
    shipping_lines: list[ShopifyShippingLine] = Field(default_factory=list)
    shipping_address: ShopifyAddress | None = None
    billing_address: ShopifyAddress | None = None
    customer: ShopifyCustomer | None = None

    _currency = field_validator("currency")(lambda v: check_currency(v))
    _amounts = field_validator("total_price", "total_tax", "total_discounts", mode="before")(
        lambda v: None if v is None else decimal_amount(v)
    )


def _address(a: ShopifyAddress | None) -> dict[str, Any] | None:
    if a is None:
        return None
    name = a.name or " ".join(p for p in (a.first_name, a.last_name) if p)
    return {
        "name": name,
        "line1": a.address1 or "",
        "line2": a.address2 or "",
        "city": a.city or "",
        "postal_code": a.zip or "",
        "region": a.province_code or a.province or "",
        "country": (a.country_code or "")[:2],
        "phone": a.phone or "",
        "lat": a.latitude,
        "lon": a.longitude,
    }


def normalize(payload: Any) -> ChannelOrder:
    """A Shopify order payload → the canonical order (see the module doc for the mapping)."""
    src = parse_native(ShopifyOrder, payload, channel="shopify")
    customer = src.customer or ShopifyCustomer()
    shipping = sum((s.price for s in src.shipping_lines), Decimal(0))
    tax = Decimal(0) if src.taxes_included else src.total_tax
    subtotal = sum((li.price * li.quantity for li in src.line_items), Decimal(0))
    tags = [t.strip() for t in (src.tags or "").split(",") if t.strip()]
    if src.total_price is not None and subtotal + shipping + tax - src.total_discounts != src.total_price:
        tags.append("total_mismatch")
    data = {
        "channel": "shopify",
        "external_ref": str(src.id),
        "currency": src.currency,
        "customer": {
            "email": customer.email or src.email or "",
            "name": " ".join(p for p in (customer.first_name, customer.last_name) if p),
            "external_id": str(customer.id or ""),
            "phone": customer.phone or "",
            "tier": "vip" if "vip" in (customer.tags or "").lower().split(", ") else "standard",
        },
        "shipping_address": _address(src.shipping_address) or {},
        "billing_address": _address(src.billing_address),
        "lines": [
            {
                "sku": li.sku,
                "quantity": li.quantity,
                "unit_price": str(li.price),
                "name": li.name or li.title or "",
                "external_line_id": str(li.id),
            }
            for li in src.line_items
        ],
        "shipping_total": str(shipping),
        "discount_total": str(src.total_discounts),
        "tax_total": str(tax),
        "payment_status": _PAYMENT.get(src.financial_status or "pending", "pending"),
        "payment_method": ", ".join(src.payment_gateway_names)[:40],
        "tags": tags,
        "notes": src.note or "",
        "placed_at": src.created_at,
    }
    reason = (src.cancel_reason or "cancelled in shopify") if src.cancelled_at else None
    return ChannelOrder(build_canonical(data, channel="shopify"), cancel_reason=reason)
