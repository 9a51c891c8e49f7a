"""What the warehouse, the carriers and the drivers send about a simulated parcel.

Each carrier reports through one feed, as it would in a real set-up:

- DHL through OrderHub's own event format (``POST /api/v1/tracking/events``); cross-border
  parcels go with DHL, whose customs stages that format names;
- DPD and UPS through EasyPost: a ``tracker.updated`` Event whose ``result`` is the Tracker with
  every tracking detail so far, signed in ``X-Hmac-Signature`` (``hmac-sha256-hex=`` + the hex
  HMAC-SHA256 of the body under the NFKD-normalised secret, as EasyPost's client libraries check);
- Hermes and GLS through AfterShip: a ``tracking_update`` webhook with its checkpoints, signed in
  ``aftership-hmac-sha256`` (the base64 HMAC-SHA256 of the body).

These builders follow the published formats (docs.easypost.com Tracker and Event,
aftership.com/docs/tracking webhook); the tracking context's own sample builders
(``orderhub.tracking.carriers.samples``) can replace ``easypost_event`` / ``aftership_event``
when they land, behind the same ``carrier_request`` boundary.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

CARRIERS: dict[str, tuple[str, str]] = {  # carrier: (service, feed)
    "dhl": ("paket", "orderhub"),
    "dpd": ("classic", "easypost"),
    "ups": ("standard", "easypost"),
    "hermes": ("paket", "aftership"),
    "gls": ("business", "aftership"),
}
CARRIER_SHARE = {"dhl": 40, "dpd": 20, "ups": 10, "hermes": 20, "gls": 10}
AFTERSHIP_SLUG = {"hermes": "hermes-de", "gls": "gls"}

# milestone: (EasyPost status, status_detail, message)
EASYPOST_STATUS = {
    "in_transit": ("in_transit", "arrived_at_facility", "Arrived at sort facility"),
    "out_for_delivery": ("out_for_delivery", "out_for_delivery", "Out for delivery"),
    "delivery_attempted": ("in_transit", "delivery_exception", "Delivery attempted: recipient not at home"),
    "exception": ("in_transit", "delayed", "Delayed in the network"),
    "delivered": ("delivered", "arrived_at_destination", "Delivered"),
}
# milestone: (AfterShip tag, subtag, message)
AFTERSHIP_TAG = {
    "in_transit": ("InTransit", "InTransit_001", "Parcel arrived at the parcel centre"),
    "out_for_delivery": ("OutForDelivery", "OutForDelivery_001", "Out for delivery"),
    "delivery_attempted": ("AttemptFail", "AttemptFail_001", "Delivery attempted: recipient not at home"),
    "exception": ("Exception", "Exception_001", "Delayed in the network"),
    "delivered": ("Delivered", "Delivered_001", "Delivered"),
}


@dataclass(slots=True)
class Place:
    city: str
    country: str
    lat: float
    lon: float


@dataclass(slots=True)
class Parcel:
    """A parcel as the simulator knows it: what it carries, who carries it, what was said."""

    fulfilment_order_id: str
    carrier: str
    tracking_number: str
    origin: Place
    destination: Place
    lines: dict[str, int]
    estimated_delivery: date | None = None
    details: list[dict[str, Any]] = field(default_factory=list)  # EasyPost's cumulative history

    @property
    def service(self) -> str:
        return CARRIERS[self.carrier][0]

    @property
    def feed(self) -> str:
        return CARRIERS[self.carrier][1]


@dataclass(frozen=True, slots=True)
class Scan:
    """One thing that happened to a parcel, where and when."""

    milestone: str
    at: datetime
    place: Place
    description: str = ""


def pick_carrier(rng: random.Random, *, cross_border: bool) -> str:
    if cross_border:
        return "dhl"
    return rng.choices(list(CARRIER_SHARE), list(CARRIER_SHARE.values()))[0]


def tracking_number(carrier: str, rng: random.Random) -> str:
    """A number shaped like the carrier's own."""
    digits = "".join(rng.choice("0123456789") for _ in range(18))
    return {
        "dhl": f"JJD{digits}",
        "dpd": digits[:14],
        "ups": "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16)),
        "hermes": f"H{digits}0",
        "gls": digits[:11],
    }[carrier]


def _event_id() -> str:
    return uuid.uuid4().hex


# -- the warehouse ------------------------------------------------------------------------
def wms_event(*, fulfilment_order_id: str, event: str, site: str, at: datetime) -> dict[str, Any]:
    """One WMS event (picked, packed, qc_passed, qc_failed) for ``POST /api/v1/tracking/wms``."""
    return {
        "id": f"wms-{_event_id()}",
        "fulfilment_order_id": fulfilment_order_id,
        "event": event,
        "occurred_at": at.isoformat(),
        "site": site,
    }


# -- OrderHub's own format ----------------------------------------------------------------
def orderhub_event(
    scan: Scan, *, tracking_number: str = "", order_id: str = "", eta: date | None = None
) -> dict[str, Any]:
    """One event in OrderHub's own format, for a parcel (tracking number) or an order."""
    body: dict[str, Any] = {
        "id": f"sim-{_event_id()}",
        "milestone": scan.milestone,
        "occurred_at": scan.at.isoformat(),
        "description": scan.description or scan.milestone.replace("_", " "),
        "location": scan.place.city,
        "country": scan.place.country,
        "position": {"lat": scan.place.lat, "lon": scan.place.lon},
    }
    body.update({"tracking_number": tracking_number} if tracking_number else {"order_id": order_id})
    if eta is not None:
        body["estimated_delivery"] = eta.isoformat()
    return body


# -- EasyPost -----------------------------------------------------------------------------
def easypost_event(parcel: Parcel, scan: Scan) -> dict[str, Any]:
    """An EasyPost ``tracker.updated`` Event: the Tracker with every detail so far."""
    status, detail, message = EASYPOST_STATUS[scan.milestone]
    at = scan.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = parcel.details[-1]["status"] if parcel.details else "pre_transit"
    parcel.details.append(
        {
            "object": "TrackingDetail",
            "message": scan.description or message,
            "description": "",
            "status": status,
            "status_detail": detail,
            "datetime": at,
            "source": parcel.carrier.upper(),
            "carrier_code": "",
            "tracking_location": {
                "object": "TrackingLocation",
                "city": scan.place.city,
                "state": None,
                "country": scan.place.country,
                "zip": None,
            },
            "est_delivery_date": None,
        }
    )
    eta = f"{parcel.estimated_delivery.isoformat()}T18:00:00Z" if parcel.estimated_delivery else None
    tracker_id = "trk_" + hashlib.sha256(parcel.tracking_number.encode()).hexdigest()[:32]
    return {
        "object": "Event",
        "id": "evt_" + _event_id(),
        "mode": "test",
        "description": "tracker.updated",
        "created_at": at,
        "updated_at": at,
        "status": "pending",
        "previous_attributes": {"status": previous},
        "pending_urls": [],
        "completed_urls": [],
        "result": {
            "id": tracker_id,
            "object": "Tracker",
            "mode": "test",
            "tracking_code": parcel.tracking_number,
            "status": status,
            "status_detail": detail,
            "created_at": parcel.details[0]["datetime"],
            "updated_at": at,
            "signed_by": "Customer" if status == "delivered" else None,
            "weight": None,
            "est_delivery_date": eta,
            "shipment_id": None,
            "carrier": parcel.carrier.upper(),
            "tracking_details": list(parcel.details),
            "fees": [],
            "carrier_detail": {"object": "CarrierDetail", "service": parcel.service},
            "public_url": f"https://track.easypost.com/{tracker_id}",
        },
    }


def sign_easypost(body: bytes, secret: str) -> str:
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


# -- AfterShip ----------------------------------------------------------------------------
def aftership_event(parcel: Parcel, scan: Scan) -> dict[str, Any]:
    """An AfterShip ``tracking_update`` webhook with the new checkpoint."""
    tag, subtag, message = AFTERSHIP_TAG[scan.milestone]
    slug = AFTERSHIP_SLUG.get(parcel.carrier, parcel.carrier)
    first = not parcel.details
    parcel.details.append({"tag": tag})
    return {
        "event": "tracking_update",
        "event_id": str(uuid.uuid4()),
        "is_tracking_first_tag": first,
        "msg": {
            "id": hashlib.sha256(parcel.tracking_number.encode()).hexdigest()[:32],
            "tracking_number": parcel.tracking_number,
            "slug": slug,
            "tag": tag,
            "subtag": subtag,
            "subtag_message": message,
            "title": parcel.tracking_number,
            "expected_delivery": parcel.estimated_delivery.isoformat() if parcel.estimated_delivery else None,
            "checkpoints": [
                {
                    "checkpoint_time": scan.at.isoformat(timespec="seconds"),
                    "message": scan.description or message,
                    "slug": slug,
                    "tag": tag,
                    "subtag": subtag,
                    "city": scan.place.city,
                    "country_iso3": {"DE": "DEU", "CH": "CHE", "GB": "GBR", "NO": "NOR"}.get(scan.place.country),
                    "location": f"{scan.place.city}, {scan.place.country}",
                    "coordinates": [scan.place.lat, scan.place.lon],
                }
            ],
        },
        "ts": int(scan.at.timestamp()),
    }


def sign_aftership(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# -- one boundary for every carrier event -------------------------------------------------
@dataclass(frozen=True, slots=True)
class Secrets:
    easypost: str = "demo-easypost-secret"
    aftership: str = "demo-aftership-secret"


def carrier_request(parcel: Parcel, scan: Scan, secrets: Secrets) -> tuple[str, bytes, dict[str, str]]:
    """The path, body and headers of the carrier's report of ``scan``, in its feed's format."""
    if parcel.feed == "easypost" and scan.milestone in EASYPOST_STATUS:
        body = json.dumps(easypost_event(parcel, scan)).encode()
        return "/api/v1/tracking/carriers/easypost", body, {"X-Hmac-Signature": sign_easypost(body, secrets.easypost)}
    if parcel.feed == "aftership" and scan.milestone in AFTERSHIP_TAG:
        body = json.dumps(aftership_event(parcel, scan)).encode()
        return (
            "/api/v1/tracking/carriers/aftership",
            body,
            {"aftership-hmac-sha256": sign_aftership(body, secrets.aftership)},
        )
    event = orderhub_event(scan, tracking_number=parcel.tracking_number, eta=parcel.estimated_delivery)
    return "/api/v1/tracking/events", json.dumps({"events": [event]}).encode(), {}


# -- the driver ---------------------------------------------------------------------------
def driver_path(origin: Place, destination: Place, points: int, rng: random.Random) -> list[tuple[float, float]]:
    """Positions along a plausible road from ``origin`` to ``destination``: the straight line,
    bent a little, ending at the door."""
    bend_lat, bend_lon = rng.gauss(0, 0.05), rng.gauss(0, 0.08)
    path = []
    for i in range(1, points + 1):
        f = i / points
        curve = 4 * f * (1 - f)  # 0 at both ends, 1 halfway
        lat = origin.lat + (destination.lat - origin.lat) * f + bend_lat * curve
        lon = origin.lon + (destination.lon - origin.lon) * f + bend_lon * curve
        path.append((round(lat, 5), round(lon, 5)))
    return path
