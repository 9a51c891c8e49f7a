"""Money as integer minor units and an ISO 4217 currency; decimal strings at the edges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

# ISO 4217 active codes (fund and precious-metal codes without minor units are left out).
# fmt: off
_CODES = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD", "BIF",
    "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF",
    "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD",
    "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR",
    "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
    "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD",
    "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV",
    "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
]
# fmt: on
# Minor-unit exponents that are not 2 (ISO 4217 list one, table A.1).
# fmt: off
_EXPONENTS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VUV",
                     "VND", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    "CLF": 4,
    "UYW": 4,
}
# fmt: on
CURRENCIES: frozenset[str] = frozenset(_CODES)
# The largest amount taken, in major units: beyond any real order, well inside a BIGINT of minor units.
MAX_MAJOR_UNITS = 10**12
_DECIMAL = re.compile(r"[+-]?[0-9]{1,30}(\.[0-9]{1,30})?")


def parse_decimal(text: str) -> Decimal:
    """A plain decimal string (no exponent, at most 10^12 in magnitude) as a Decimal."""
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f'{text[:40]!r} is not a plain decimal number such as "19.99"')
    value = Decimal(text)
    if abs(value) > MAX_MAJOR_UNITS:
        raise ValueError(f"must be at most {MAX_MAJOR_UNITS} in magnitude")
    return value


def is_known_currency(code: str) -> bool:
    """True for an active ISO 4217 code with a minor unit, such as ``EUR``."""
    return code in CURRENCIES


def currency_exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (2 for EUR, 0 for JPY)."""
    if code not in CURRENCIES:
        raise ValueError(f"unknown currency {code!r}")
    return _EXPONENTS.get(code, 2)


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in a currency's minor units (cents for EUR): exact, never a float."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int of minor units")
        if self.currency not in CURRENCIES:
            raise ValueError(f"unknown currency {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, amount: str | int | Decimal, currency: str) -> Money:
        """From a decimal string such as ``"19.99"``; more decimals than the currency has
        are an error, not silently rounded."""
        if isinstance(amount, (bool, float)):
            raise ValueError("amounts must be decimal strings, not floats")
        if isinstance(amount, Decimal):
            if not amount.is_finite():
                raise ValueError(f"{amount!r} is not a finite number")
            amount = format(amount, "f")
        value = parse_decimal(str(amount))
        exponent = currency_exponent(currency)
        scaled = value.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount!r} has more than {exponent} decimals for {currency}")
        return cls(int(scaled), currency)

    def to_decimal_string(self) -> str:
        """``"19.99"`` for 1999 EUR cents; ``"1999"`` for 1999 JPY."""
        exponent = currency_exponent(self.currency)
        return str(Decimal(self.minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.minor * quantity, self.currency)

    def share(self, numerator: int, denominator: int) -> Money:
        """``self × numerator / denominator``, rounded half-even to a minor unit."""
        value = (Decimal(self.minor) * numerator / denominator).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return Money(int(value), self.currency)

    def __str__(self) -> str:
        return f"{self.to_decimal_string()} {self.currency}"
