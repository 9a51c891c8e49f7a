"""Realistic carrier webhooks for the demo simulator and tests: EasyPost Events and AfterShip
``tracking_update`` bodies shaped as the senders publish them, and their signature headers.

Each builder takes the previous body's history (``previous``) so a parcel's webhooks grow as the
real ones do (every EasyPost Event and AfterShip webhook repeats the whole history). Ids are
derived from the inputs, so building the same step twice gives the same body: a resend.
AfterShip checkpoint times are written as the carrier does, local time without an offset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from orderhub.tracking.carriers import aftership, easypost
from orderhub.tracking.carriers.countries import alpha3, country_name
from orderhub.tracking.carriers.places import Place, zone_info, zone_of


def _id(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def easypost_event(
    tracking_number: str,
    carrier: str,
    status: str,
    status_detail: str,
    at: datetime,
    message: str,
    city: str = "",
    country: str = "",
    est_delivery: date | None = None,
    *,
    state: str = "",
    zip_code: str = "",
    service: str = "",
    previous: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """An EasyPost ``tracker.updated`` Event: the Tracker's status is this step's, and its
    ``tracking_details`` are ``previous`` (the last Event's ``result.tracking_details``) plus this
    step. ``at`` must be timezone-aware; EasyPost writes it as UTC ``Z``."""
    tracker_id = "trk_" + _id("easypost", carrier, tracking_number)
    est = f"{est_delivery.isoformat()}T00:00:00Z" if est_delivery else None
    detail = {
        "object": "TrackingDetail",
        "message": message,
        "description": "",
        "status": status,
        "status_detail": status_detail,
        "datetime": _z(at),
        "source": carrier,
        "carrier_code": "",
        "tracking_location": {
            "object": "TrackingLocation",
            "city": city.upper() or None,
            "state": state or None,
            "country": country or None,
            "zip": zip_code or None,
        },
        "est_delivery_date": est,
    }
    details = [*previous, detail]
    tracker = {
        "id": tracker_id,
        "object": "Tracker",
        "mode": "test",
        "tracking_code": tracking_number,
        "status": status,
        "status_detail": status_detail,
        "created_at": details[0]["datetime"],
        "updated_at": _z(at),
        "signed_by": None,
        "weight": None,
        "est_delivery_date": est,
        "shipment_id": None,
        "carrier": carrier,
        "tracking_details": details,
        "fees": [],
        "carrier_detail": {"object": "CarrierDetail", "service": service or None, "est_delivery_date_local": None},
        "public_url": f"https://track.easypost.com/{tracker_id}",
    }
    return {
        "id": "evt_" + _id("easypost-event", tracking_number, len(details), status, _z(at)),
        "object": "Event",
        "mode": "test",
        "description": "tracker.updated",
        "previous_attributes": {"status": previous[-1]["status"]} if previous else {},
        "created_at": _z(at),
        "updated_at": _z(at),
        "result": tracker,
        "status": "pending",
        "pending_urls": [],
        "completed_urls": [],
    }


def aftership_event(
    tracking_number: str,
    slug: str,
    tag: str,
    subtag: str,
    at: datetime,
    message: str,
    city: str = "",
    country: str = "",
    est_delivery: date | None = None,
    *,
    state: str = "",
    coordinates: tuple[float, float] | None = None,
    origin: str = "",
    destination: str = "",
    previous: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """An AfterShip ``tracking_update`` webhook: the Tracking's tag is this step's, and its
    ``checkpoints`` are ``previous`` (the last body's ``msg.checkpoints``) plus this step. The
    checkpoint time is ``at`` in the local zone of the place, written without an offset, as
    AfterShip does; countries are given as alpha-2 (``DE``) and written as alpha-3."""
    place = Place.of(country, state, city)
    name, _ = zone_of(place)
    zone = zone_info(name) if name else None
    local = at.astimezone(zone or UTC)
    checkpoint = {
        "slug": slug,
        "city": city or None,
        "created_at": _z(at),
        "location": ", ".join(p for p in (city, state, country_name(place.country)) if p) or None,
        "country_region": alpha3(place.country) or None,
        "country_region_name": country_name(place.country) or None,
        "message": message,
        "state": state or None,
        "tag": tag,
        "subtag": subtag,
        "subtag_message": message,
        "checkpoint_time": local.strftime("%Y-%m-%dT%H:%M:%S"),
        "coordinate": {"latitude": coordinates[0], "longitude": coordinates[1]} if coordinates else None,
        "zip": None,
        "raw_tag": None,
    }
    checkpoints = [*previous, checkpoint]
    return {
        "event": "tracking_update",
        "event_id": _id("aftership-event", tracking_number, len(checkpoints), tag, subtag),
        "is_tracking_first_tag": not any(c.get("tag") == tag for c in previous),
        "msg": {
            "id": _id("aftership", slug, tracking_number),
            "tracking_number": tracking_number,
            "slug": slug,
            "tag": tag,
            "subtag": subtag,
            "subtag_message": message,
            "title": tracking_number,
            "origin_country_region": alpha3(Place.of(origin).country) or None,
            "destination_country_region": alpha3(Place.of(destination).country) or None,
            "courier_tracking_link": None,
            "latest_estimated_delivery": (
                {"type": "specific", "source": "Carrier EDD", "datetime": est_delivery.isoformat()}
                if est_delivery
                else None
            ),
            "checkpoints": checkpoints,
        },
        "ts": int(at.timestamp()),
    }


def sign_easypost(body: bytes, secret: str) -> dict[str, str]:
    """The headers EasyPost sends with ``body``."""
    return {"Content-Type": "application/json", easypost.SIGNATURE_HEADER: easypost.signature(body, secret)}


def sign_aftership(body: bytes, secret: str) -> dict[str, str]:
    """The headers AfterShip sends with ``body``."""
    return {"Content-Type": "application/json", aftership.SIGNATURE_HEADER: aftership.signature(body, secret)}
