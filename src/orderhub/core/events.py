"""The base of every domain event: something that happened, named in the past tense."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderhub.core.clock import utcnow
from orderhub.core.ids import new_id


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """An event about one aggregate.

    ``type`` is a dotted past-tense name (``order.captured``); ``aggregate_id`` keys the
    per-aggregate ordering on the bus; ``id`` de-duplicates deliveries.
    """

    type: str
    aggregate_type: str
    aggregate_id: str
    data: dict[str, Any]
    actor: str = "system"
    occurred_at: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=lambda: new_id("evt"))
