"""The canonical order JSON: what the brand's web store posts, and what every channel adapter
produces. Documented in OpenAPI as ``OrderCreate``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orderhub.core.money import is_known_currency, parse_decimal
from orderhub.orders.model import CustomerTier, DeliveryMethod, PaymentStatus

DecimalString = Annotated[
    str,
    Field(
        description='A decimal amount as a string in the order currency, e.g. "19.99"',
        examples=["19.99"],
    ),
]


def _check_amount(value: str | int | float) -> str:
    if isinstance(value, bool):
        raise ValueError('must be a decimal string such as "19.99"')
    text = str(value).strip()
    number = parse_decimal(text)
    if number < 0:
        raise ValueError("must not be negative")
    return text


MAX_LINE_QUANTITY = 100_000  # units of one line, at capture and in every later edit
MAX_LINES = 500  # lines per order
MAX_TAGS = 50  # tags per order
Tag = Annotated[str, Field(min_length=1, max_length=40)]  # the order_tags.tag column


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class AddressIn(_Strict):
    name: str = Field(default="", max_length=200)
    line1: str = Field(default="", max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    region: str = Field(default="", max_length=40)
    country: str = Field(default="", description="ISO 3166-1 alpha-2", max_length=2)
    phone: str = Field(default="", max_length=40)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class CustomerIn(_Strict):
    email: str = Field(default="", max_length=254, description="Empty for an anonymous sale")
    name: str = Field(default="", max_length=200)
    tier: CustomerTier = CustomerTier.standard
    external_id: str = Field(default="", max_length=120)
    phone: str = Field(default="", max_length=40)


class LineIn(_Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=MAX_LINE_QUANTITY, strict=True)
    unit_price: DecimalString
    name: str = Field(default="", max_length=300)
    external_line_id: str = Field(default="", max_length=120)

    _amount = field_validator("unit_price", mode="before")(_check_amount)


class OrderCreate(_Strict):
    """A new order, as any channel hands it over."""

    channel: str = Field(default="web", min_length=1, max_length=40)
    external_ref: str = Field(default="", max_length=120, description="The channel's own order id; unique per channel")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR")
    customer: CustomerIn
    shipping_address: AddressIn = Field(default_factory=AddressIn)
    billing_address: AddressIn | None = None
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    shipping_total: DecimalString = "0"
    discount_total: DecimalString = "0"
    tax_total: DecimalString = "0"
    payment_status: PaymentStatus = PaymentStatus.pending
    payment_method: str = Field(
        default="", max_length=40, description="How the customer paid (card, paypal, cash, invoice …), as shown"
    )
    delivery_method: DeliveryMethod = DeliveryMethod.ship
    pickup_node_id: str = Field(default="", max_length=40)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    priority: int = Field(default=0, ge=-100, le=100, strict=True)
    notes: str = Field(default="", max_length=4000)
    placed_at: datetime | None = None
    promise_days: int | None = Field(
        default=None,
        ge=1,
        le=30,
        strict=True,
        description="delivery promised within this many days: nodes that cannot make it are excluded",
    )
    delivery_option: Literal["standard", "consolidated", "wait"] = Field(
        default="standard",
        description="The delivery option the customer chose at checkout (POST /api/v1/carbon/options)",
    )
    cart_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="The cart whose holds (POST /api/v1/carts/{cart_id}/holds) this order takes over",
    )
    on_shortage: Literal["backorder", "reject"] = Field(
        default="backorder",
        description="When stock is short: backorder the rest (the order waits) or reject the order (409)",
    )

    _amounts = field_validator("shipping_total", "discount_total", "tax_total", mode="before")(_check_amount)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.upper()
        if not is_known_currency(code):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code

    @model_validator(mode="after")
    def _pickup_needs_node(self) -> OrderCreate:
        if self.delivery_method == DeliveryMethod.pickup and not self.pickup_node_id:
            raise ValueError("pickup orders need pickup_node_id")
        return self
