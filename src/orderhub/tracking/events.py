"""Tracking's events: what the timeline tells the rest of the hub (live pages, notifications,
the order's status, webhook subscribers). Pure: standard library and core only."""

from __future__ import annotations

from dataclasses import dataclass

from orderhub.core.events import Event


@dataclass(frozen=True)
class TrackingUpdated(Event):
    """A new entry on an order's timeline: a milestone reached (``milestone``) or a position
    reported (``milestone`` empty, ``lat``/``lon`` set), as it happened (``occurred_at``) and
    who said so (``source``). A duplicate delivery of the same source event publishes nothing."""

    TYPE = "tracking.updated"
    # its subject is the order's id (per-order ordering on the bus), but it is not part of the
    # order aggregate's own history: the timeline is tracking's
    AGGREGATE = "tracking"
    milestone: str
    source: str
    occurred_at: str  # ISO 8601, UTC
    parcel_id: str = ""
    tracking_number: str = ""
    fulfilment_order_id: str = ""
    description: str = ""
    location: str = ""
    country: str = ""
    lat: float | None = None
    lon: float | None = None
