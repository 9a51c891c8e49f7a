"""Social commerce: an order from a livestream or mini-program shop. OrderHub's own format,
shaped like those platforms' order pushes (documented in docs/channels.md).

``{"platform": "livestream" | "mini_program" | ..., "order_sn", "room_id", "created_ts" (epoch s),
   "currency", "buyer": {"open_id", "nickname", "mobile", "email"},
   "receiver": {"name", "mobile", "country", "province", "city", "district", "detail",
                "postcode", "lat", "lng"},
   "items": [{"item_code", "title", "count", "price_minor"}],
   "freight_minor", "discount_minor", "pay": {"status": "PAID" | "UNPAID"}}``

Amounts are integers in the currency's minor unit (fen, cents), as these platforms send them.
external_ref is ``platform/order_sn``; the platform and the live room become tags.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orderhub.core.money import currency_exponent
from orderhub.orders.channels.base import (
    ChannelOrder,
    build_canonical,
    check_currency,
    parse_native,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SocialBuyer(_Model):
    open_id: str = Field(min_length=1)
    nickname: str = ""
    mobile: str = ""
    email: str = ""


class SocialReceiver(_Model):
    name: str = Field(min_length=1)
    mobile: str = ""
    country: str = Field(min_length=2, max_length=2)
    province: str = ""
    city: str = Field(min_length=1)
    district: str = ""
    detail: str = Field(min_length=1)
    postcode: str = ""
    lat: float | None = None
    lng: float | None = None


class SocialItem(_Model):
    item_code: str = Field(min_length=1)
    title: str = ""
    count: int = Field(gt=0, strict=True)
    price_minor: int = Field(ge=0, strict=True)


class SocialPay(_Model):
    status: Literal["PAID", "UNPAID"]


class SocialOrder(_Model):
    platform: str = Field(min_length=1, max_length=30)
    order_sn: str = Field(min_length=1)
    room_id: str = ""
    created_ts: int | None = None
    currency: str
    buyer: SocialBuyer
    receiver: SocialReceiver
    items: list[SocialItem] = Field(min_length=1)
    freight_minor: int = Field(default=0, ge=0, strict=True)
    discount_minor: int = Field(default=0, ge=0, strict=True)
    pay: SocialPay

    _currency = field_validator("currency")(lambda v: check_currency(v))


def normalize(payload: Any) -> ChannelOrder:
    """A social-commerce order → the canonical order."""
    src = parse_native(SocialOrder, payload, channel="social")
    exp = currency_exponent(src.currency)

    def amount(minor: int) -> str:
        return str(Decimal(minor).scaleb(-exp))

    r = src.receiver
    tags = [f"platform:{src.platform}"] + ([f"room:{src.room_id}"] if src.room_id else [])
    data = {
        "channel": "social",
        "external_ref": f"{src.platform}/{src.order_sn}",
        "currency": src.currency,
        "customer": {
            "email": src.buyer.email,
            "name": src.buyer.nickname,
            "external_id": f"{src.platform}:{src.buyer.open_id}",
            "phone": src.buyer.mobile,
        },
        "shipping_address": {
            "name": r.name,
            "line1": r.detail,
            "line2": r.district,
            "city": r.city,
            "postal_code": r.postcode,
            "region": r.province,
            "country": r.country,
            "phone": r.mobile,
            "lat": r.lat,
            "lon": r.lng,
        },
        "lines": [
            {"sku": i.item_code, "quantity": i.count, "unit_price": amount(i.price_minor), "name": i.title}
            for i in src.items
        ],
        "shipping_total": amount(src.freight_minor),
        "discount_total": amount(src.discount_minor),
        "payment_status": "paid" if src.pay.status == "PAID" else "pending",
        "tags": tags,
        "placed_at": (datetime.fromtimestamp(src.created_ts, UTC).isoformat() if src.created_ts else None),
    }
    return ChannelOrder(build_canonical(data, channel="social"))
