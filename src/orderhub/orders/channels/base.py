"""What every channel adapter shares: the result type, native-payload parsing, signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orderhub.core.errors import InvalidInput, json_pointer
from orderhub.core.money import currency_exponent, is_known_currency, parse_decimal
from orderhub.orders.canonical import OrderCreate

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ChannelOrder:
    """A normalized channel order, plus what the channel says happened to it already."""

    order: OrderCreate
    cancel_reason: str | None = None


def parse_native(model: type[M], payload: Any, *, channel: str) -> M:
    """Validate a native payload; errors carry JSON pointers into that payload."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [
            {"pointer": json_pointer(list(e["loc"])), "detail": e["msg"].removeprefix("Value error, ")}
            for e in exc.errors()
        ]
        first = errors[0]
        raise InvalidInput(
            f"{channel} order rejected: {first['pointer']}: {first['detail']}",
            code="channel_payload_invalid",
            errors=errors,
        ) from None


def build_canonical(data: dict[str, Any], *, channel: str) -> OrderCreate:
    """Validate the mapped canonical order (a mapping bug shows up here, named as such)."""
    try:
        return OrderCreate.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "pointer": json_pointer(list(e["loc"])),
                "detail": f"after {channel} mapping: {e['msg'].removeprefix('Value error, ')}",
            }
            for e in exc.errors()
        ]
        raise InvalidInput(
            f"{channel} order could not be mapped: {errors[0]['pointer']}: {errors[0]['detail']}",
            code="channel_mapping_failed",
            errors=errors,
        ) from None


def check_currency(value: str) -> str:
    code = str(value).upper()
    if not is_known_currency(code):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def decimal_amount(value: Any) -> Decimal:
    """A non-negative decimal from a string or number; floats go through their shortest repr."""
    if isinstance(value, bool) or value is None:
        raise ValueError("must be a number")
    number = parse_decimal(str(value))  # plain digits, within the range money takes
    if number < 0:
        raise ValueError(f"{value!r} is not a non-negative number")
    return number


def unit_amount(total: Decimal, quantity: int, currency: str) -> str:
    """``total / quantity`` rounded half-even to the currency's minor unit, as a string."""
    step = Decimal(1).scaleb(-currency_exponent(currency))
    return str((total / quantity).quantize(step, rounding=ROUND_HALF_EVEN))


def verify_hmac_base64(secret: str, body: bytes, signature: str | None) -> bool:
    """Shopify's and WooCommerce's scheme: base64(HMAC-SHA256(secret, raw body))."""
    if not signature:
        return False
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature.strip())
