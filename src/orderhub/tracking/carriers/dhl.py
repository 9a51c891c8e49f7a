"""DHL Shipment Tracking - Unified API: a response (``{"shipments": [...]}``) read into one ``Feed``
per shipment. Pure: no I/O; the caller fetches (the API is polled, not pushed, and not signed).

Events have no id: each is keyed by a hash of shipment id, timestamp as sent, status code and
text. Event timestamps usually carry no offset: they are local time at the event's location.
See docs/tracking-carriers.md for the tables and the traps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orderhub.tracking.carriers.document import (
    Path,
    as_list,
    as_object,
    event_key,
    joined,
    maybe_object,
    read_date,
    read_position,
    read_time,
    refuse,
    required_text,
    text,
)
from orderhub.tracking.carriers.phrases import customs_side, settle
from orderhub.tracking.carriers.places import Place
from orderhub.tracking.model import Feed, Milestone, Update

M = Milestone
SOURCE = "dhl"

#: ``statusCode`` → milestone.
STATUS_CODES: dict[str, Milestone] = {
    "pre-transit": M.label_created,
    "transit": M.in_transit,
    "delivered": M.delivered,
    "failure": M.exception,
    "unknown": M.in_transit,
}


def status_code(value: Any) -> str:
    """``PRE_TRANSIT``, ``pre transit``, ``pretransit`` → ``pre-transit``; else lower-case as given."""
    code = text(value).casefold().replace("_", "-").replace(" ", "-")
    return "pre-transit" if code == "pretransit" else code


def parse(body: Any) -> list[Feed]:
    """One Feed per shipment of a DHL Unified Tracking response.

    Raises InvalidInput (pointing into the document) for a body that is not an object, one
    without a ``shipments`` array, a shipment without ``id``, or an event whose ``timestamp``
    cannot be read.
    """
    document = as_object(body, ())
    if not isinstance(document.get("shipments"), list):
        raise refuse(("shipments",), "a shipments array is required")
    shipments = as_list(document["shipments"], ("shipments",))
    return [_read_shipment(as_object(s, ("shipments", i)), ("shipments", i)) for i, s in enumerate(shipments)]


def _read_shipment(shipment: dict[str, Any], path: Path) -> Feed:
    number = required_text(shipment, "id", path)
    context = {
        "number": number,
        "service": text(shipment.get("service")),
        "origin": _country(shipment.get("origin")),
        "destination": _country(shipment.get("destination")),
    }
    events = as_list(shipment.get("events"), (*path, "events"))
    updates = [
        _read_event(as_object(e, (*path, "events", i)), (*path, "events", i), context) for i, e in enumerate(events)
    ]
    if not updates and isinstance(shipment.get("status"), dict):
        # no history given: the shipment's current status is its one event
        updates = [_read_event(shipment["status"], (*path, "status"), context)]
    frame = maybe_object(shipment.get("estimatedDeliveryTimeFrame"))
    estimate = read_date(shipment.get("estimatedTimeOfDelivery")) or read_date(frame.get("estimatedThrough"))
    updates.sort(key=lambda u: (u.occurred_at, u.key))
    if updates and estimate and updates[-1].estimated_delivery is None:
        updates[-1] = replace(updates[-1], estimated_delivery=estimate)
    return Feed(
        updates=updates,
        tracking_number=number,
        carrier=SOURCE,
        service=context["service"],
        public_url=text(shipment.get("serviceUrl")),
        estimated_delivery=estimate,
    )


def _country(end: Any) -> str:
    return Place.of(text(maybe_object(maybe_object(end).get("address")).get("countryCode"))).country


def _read_event(event: dict[str, Any], path: Path, context: dict[str, str]) -> Update:
    location = maybe_object(event.get("location"))
    address = maybe_object(location.get("address"))
    place = Place.of(text(address.get("countryCode")), text(address.get("addressRegion")), _city(address))
    occurred_at, note = read_time(event.get("timestamp"), (*path, "timestamp"), place=place)
    code = status_code(event.get("statusCode"))
    status, description = text(event.get("status")), text(event.get("description"))
    coded = STATUS_CODES.get(code)
    notes: dict[str, Any] = {"mapped_by": "statusCode"} if coded else {"mapped_by": "default", "unmapped": True}
    side = customs_side(place.country, context["origin"], context["destination"])
    milestone, said = settle(
        coded or M.in_transit, joined(status, description, text(event.get("remark")), sep=" "), side=side
    )
    kept = {
        "statusCode": event.get("statusCode"),
        "status": event.get("status"),
        "statusDetailed": event.get("statusDetailed"),
        "description": event.get("description"),
        "remark": event.get("remark"),
        "nextSteps": event.get("nextSteps"),
        "timestamp": event.get("timestamp"),
        "service": context["service"],
        **notes,
        **said,
    }
    return Update(
        source=SOURCE,
        key=event_key(context["number"], text(event.get("timestamp")), code, status, description),
        occurred_at=occurred_at,
        milestone=milestone,
        tracking_number=context["number"],
        carrier=SOURCE,
        description=description or status,
        location=joined(text(address.get("addressLocality")), text(address.get("postalCode")), place.country),
        country=place.country,
        position=read_position(location.get("geo") or location.get("coordinates"), (*path, "location")),
        time_note=note,
        detail={k: v for k, v in kept.items() if v not in (None, "")},
    )


def _city(address: dict[str, Any]) -> str:
    """DHL writes the locality as ``"Oderweg 2, AMSTERDAM"`` or ``"AMSTERDAM - NETHERLANDS"``: the
    city is its last comma-separated part, before any `` - COUNTRY``."""
    locality = text(address.get("addressLocality"))
    return locality.split(",")[-1].split(" - ")[0].strip()
