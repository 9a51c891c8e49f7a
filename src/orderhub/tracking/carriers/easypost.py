"""EasyPost: ``tracker.updated`` / ``tracker.created`` webhook Events (and a bare Tracker object)
read into a ``Feed``, and the ``X-Hmac-Signature`` check. Pure: no I/O.

A Tracker carries its whole history (``tracking_details``) in every Event, so each detail becomes
an Update keyed by a hash of what identifies it; a second delivery gives the same keys. See
docs/tracking-carriers.md for the tables and the traps.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
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
    required_text,
    text,
)
from orderhub.tracking.carriers.phrases import customs_side, customs_stage, settle
from orderhub.tracking.carriers.places import Place
from orderhub.tracking.model import Feed, Milestone, Update

M = Milestone
SOURCE = "easypost"
SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="

#: Tracker / TrackingDetail ``status`` → milestone.
STATUSES: dict[str, Milestone] = {
    "pre_transit": M.label_created,
    "in_transit": M.in_transit,
    "out_for_delivery": M.out_for_delivery,
    "delivered": M.delivered,
    "available_for_pickup": M.available_for_pickup,
    "return_to_sender": M.returned,
    "failure": M.exception,
    "cancelled": M.exception,  # a voided label: not the order cancelled
    "canceled": M.exception,
    "error": M.exception,
    "unknown": M.in_transit,
}

#: ``status_detail`` values that say more than their status (for the statuses in SHARPENABLE).
STATUS_DETAILS: dict[str, Milestone] = {
    "label_created": M.label_created,
    "awaiting_despatch": M.label_created,
    "out_for_delivery": M.out_for_delivery,
    "arrived_at_pickup_location": M.available_for_pickup,
    "delivery_attempt": M.delivery_attempted,
    "delivery_attempted": M.delivery_attempted,
    "attempted_delivery": M.delivery_attempted,
    "notice_left": M.delivery_attempted,
    "address_correction": M.exception,
    "delivery_exception": M.exception,
    "delayed": M.exception,
    "weather_delay": M.exception,
    "pickup_delayed": M.exception,
    "package_damaged": M.exception,
    "package_refused": M.exception,
    "package_disposed": M.exception,
    "package_held": M.exception,
    "lost": M.exception,
    "package_lost": M.exception,
    "return_to_sender": M.returned,
    "return": M.returned,
    "returned": M.returned,
    "cancelled": M.exception,
}

#: ``status_detail`` values that keep their status's milestone (listed so none looks unmapped).
NEUTRAL_DETAILS = frozenset(
    {
        "status_update",
        "arrived_at_facility",
        "departed_facility",
        "arrived_at_destination",
        "received_at_destination_facility",
        "in_transit",
        "package_accepted",
        "package_forwarded",
        "destination_changed",
        "delivered",
        "other",
        "unknown",
    }
)

#: Statuses a status_detail may sharpen: a delivered, returned, cancelled or pickup status stands.
SHARPENABLE = frozenset({"pre_transit", "in_transit", "out_for_delivery", "failure", "error", "unknown"})


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Whether ``X-Hmac-Signature`` is ``hmac-sha256-hex=`` + the HMAC-SHA256 (hex) of the raw
    body keyed by the webhook secret (NFKD-normalised, UTF-8), compared in constant time."""
    given = _header(headers, SIGNATURE_HEADER)
    if not secret or not given:
        return False
    return hmac.compare_digest(signature(body, secret).encode(), given.strip().lower().encode())


def signature(body: bytes, secret: str) -> str:
    """The ``X-Hmac-Signature`` value EasyPost sends for ``body``."""
    key = unicodedata.normalize("NFKD", secret).encode()
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.casefold()
    return next((v for k, v in headers.items() if k.casefold() == wanted), "")


def parse(body: Any) -> Feed:
    """The Feed of an EasyPost Event whose ``result`` is a Tracker, or of a bare Tracker.

    An Event about something else (a batch, a refund …) is well-formed but says nothing about a
    parcel: its Feed is empty, so the caller can answer 2xx and ignore it. Raises InvalidInput
    (pointing into the document) for a body that is not an object, a Tracker without
    ``tracking_code``, or a detail whose ``datetime`` cannot be read.
    """
    document = as_object(body, ())
    path: Path = ()
    tracker = document
    event_id = ""
    if text(document.get("object")) == "Event" or "result" in document:
        event_id = text(document.get("id"))
        path = ("result",)
        tracker = as_object(document.get("result"), path)
        if text(tracker.get("object")) not in ("Tracker", ""):
            return Feed(updates=[])
    return _read_tracker(tracker, path, event_id)


def _read_tracker(tracker: dict[str, Any], path: Path, event_id: str) -> Feed:
    number = required_text(tracker, "tracking_code", path)
    carrier_detail = maybe_object(tracker.get("carrier_detail"))
    origin = Place.of(text(maybe_object(carrier_detail.get("origin_tracking_location")).get("country"))).country
    destination = Place.of(
        text(maybe_object(carrier_detail.get("destination_tracking_location")).get("country"))
    ).country
    context = {
        "number": number,
        "carrier": text(tracker.get("carrier")).lower(),
        "tracker_id": text(tracker.get("id")),
        "event_id": event_id,
        "origin": origin,
        "destination": destination,
    }
    details = as_list(tracker.get("tracking_details"), (*path, "tracking_details"))
    updates = [
        _read_detail(as_object(d, (*path, "tracking_details", i)), (*path, "tracking_details", i), context)
        for i, d in enumerate(details)
    ]
    if not updates and text(tracker.get("status")):
        updates = [_read_detail(_tracker_as_detail(tracker), path, context)]
    estimate = read_date(carrier_detail.get("est_delivery_date_local")) or read_date(tracker.get("est_delivery_date"))
    updates.sort(key=lambda u: (u.occurred_at, u.key))
    if updates and estimate and updates[-1].estimated_delivery is None:
        updates[-1] = replace(updates[-1], estimated_delivery=estimate)
    return Feed(
        updates=updates,
        tracking_number=number,
        carrier=context["carrier"],
        service=text(carrier_detail.get("service")),
        public_url=text(tracker.get("public_url")),
        estimated_delivery=estimate,
    )


def _tracker_as_detail(tracker: dict[str, Any]) -> dict[str, Any]:
    """A Tracker with no history yet: its own status, at its last update, is the one event."""
    return {
        "status": tracker.get("status"),
        "status_detail": tracker.get("status_detail"),
        "datetime": tracker.get("updated_at") or tracker.get("created_at"),
        "message": "",
        "tracking_location": {},
    }


def _read_detail(detail: dict[str, Any], path: Path, context: dict[str, str]) -> Update:
    location = maybe_object(detail.get("tracking_location"))
    place = Place.of(text(location.get("country")), text(location.get("state")), text(location.get("city")))
    # EasyPost documents its datetimes as UTC ("...Z"): one without an offset is read as UTC.
    occurred_at, note = read_time(detail.get("datetime"), (*path, "datetime"), place=None)
    status, status_detail = text(detail.get("status")), text(detail.get("status_detail"))
    message, description = text(detail.get("message")), text(detail.get("description"))
    side = customs_side(place.country, context["origin"], context["destination"])
    coded, how, notes = _coded(status.lower(), status_detail.lower(), side)
    milestone, said = settle(coded, joined(message, description, sep=" "), side=side)
    kept = {
        "status": detail.get("status"),
        "status_detail": detail.get("status_detail"),
        "carrier_code": detail.get("carrier_code"),
        "source": detail.get("source"),
        "datetime": detail.get("datetime"),
        "tracker_id": context["tracker_id"],
        "event_id": context["event_id"],
        "mapped_by": how,
        **notes,
        **said,
    }
    return Update(
        source=SOURCE,
        key=event_key(context["number"], text(detail.get("datetime")), status, status_detail, message),
        occurred_at=occurred_at,
        milestone=milestone,
        tracking_number=context["number"],
        carrier=context["carrier"],
        description=message or description,
        location=joined(place.city, place.state, text(location.get("zip")), place.country),
        country=place.country,
        position=read_position(location.get("coordinates", location), (*path, "tracking_location")),
        estimated_delivery=read_date(detail.get("est_delivery_date")),
        time_note=note,
        detail={k: v for k, v in kept.items() if v not in (None, "")},
    )


def _coded(status: str, status_detail: str, side: str) -> tuple[Milestone, str, dict[str, Any]]:
    """The milestone the codes give, how it was found, and what to note."""
    base = STATUSES.get(status)
    if base is not None and status not in SHARPENABLE:
        said = STATUS_DETAILS.get(status_detail)
        if said is not None and said != base:
            return base, "status", {"contradiction": {"status_detail_says": said.value, "status_says": base.value}}
        return base, "status", {}
    if status_detail in STATUS_DETAILS:
        return STATUS_DETAILS[status_detail], "status_detail", {}
    notes: dict[str, Any] = {}
    if "customs" in status_detail:
        stage = customs_stage(status_detail.replace("_", " "), side=side)
        if stage is not None:
            return stage, "status_detail", {}
        notes["customs"] = status_detail
    if base is None:
        return M.in_transit, "default", {**notes, "unmapped": True}
    return base, "status", notes
