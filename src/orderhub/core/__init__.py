"""The shared kernel: ids, money, clock, geography, the domain error tree and events.

Everything here is pure and small; every context may import it.
"""

from orderhub.core.clock import Clock, SystemClock, utcnow
from orderhub.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from orderhub.core.events import DomainEvent
from orderhub.core.geo import GeoPoint
from orderhub.core.ids import new_id
from orderhub.core.money import Money, currency_exponent, is_known_currency

__all__ = [
    "Clock",
    "Conflict",
    "DomainError",
    "DomainEvent",
    "Forbidden",
    "GeoPoint",
    "InvalidInput",
    "Money",
    "NotFound",
    "SystemClock",
    "Unauthorized",
    "currency_exponent",
    "is_known_currency",
    "new_id",
    "utcnow",
]
