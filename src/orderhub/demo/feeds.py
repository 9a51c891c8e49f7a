"""What the warehouse, the carriers and the drivers send about a simulated parcel.

Each carrier reports through one feed, as it would in a real set-up:

- DHL through OrderHub's own event format (``POST /api/v1/tracking/events``); cross-border
  parcels go with DHL, whose customs stages that format names;
- DPD and UPS through EasyPost: a ``tracker.updated`` Event whose ``result`` is the Tracker with
  every tracking detail so far, signed in ``X-Hmac-Signature`` (``hmac-sha256-hex=`` + the hex
  HMAC-SHA256 of the body under the NFKD-normalised secret, as EasyPost's client libraries check);
- Hermes and GLS through AfterShip: a ``tracking_update`` webhook with its checkpoints, signed in
  ``aftership-hmac-sha256`` (the base64 HMAC-SHA256 of the body).

The EasyPost and AfterShip bodies and signatures come from the tracking context's builders of
the published formats (``orderhub.tracking.carriers.samples``); this module picks the status
codes a carrier would send for each milestone, keeps each parcel's history (every webhook
repeats it) and routes each scan to its carrier's feed (``carrier_request``).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from orderhub.tracking.carriers import samples

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
    "delivery_attempted": ("in_transit", "delivery_attempt", "Delivery attempted: recipient not at home"),
    "exception": ("in_transit", "delayed", "Delayed in the network"),
    "delivered": ("delivered", "arrived_at_destination", "Delivered"),
}
# milestone: (AfterShip tag, subtag, message)
AFTERSHIP_TAG = {
    "in_transit": ("InTransit", "InTransit_001", "Parcel arrived at the parcel centre"),
    "out_for_delivery": ("OutForDelivery", "OutForDelivery_001", "Out for delivery"),
    "delivery_attempted": ("AttemptFail", "AttemptFail_002", "Delivery attempted: recipient not at home"),
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


# -- EasyPost and AfterShip: the tracking context's builders of their published formats ----
def easypost_event(parcel: Parcel, scan: Scan) -> dict[str, Any]:
    """An EasyPost ``tracker.updated`` Event: the Tracker with every detail so far."""
    status, detail, message = EASYPOST_STATUS[scan.milestone]
    event = samples.easypost_event(
        parcel.tracking_number,
        parcel.carrier.upper(),
        status,
        detail,
        scan.at,
        scan.description or message,
        scan.place.city,
        scan.place.country,
        parcel.estimated_delivery,
        service=parcel.service,
        previous=parcel.details,
    )
    parcel.details = list(event["result"]["tracking_details"])
    return event


def aftership_event(parcel: Parcel, scan: Scan) -> dict[str, Any]:
    """An AfterShip ``tracking_update`` webhook with every checkpoint so far."""
    tag, subtag, message = AFTERSHIP_TAG[scan.milestone]
    event = samples.aftership_event(
        parcel.tracking_number,
        AFTERSHIP_SLUG.get(parcel.carrier, parcel.carrier),
        tag,
        subtag,
        scan.at,
        scan.description or message,
        scan.place.city,
        scan.place.country,
        parcel.estimated_delivery,
        coordinates=(scan.place.lat, scan.place.lon),
        origin=parcel.origin.country,
        destination=parcel.destination.country,
        previous=parcel.details,
    )
    parcel.details = list(event["msg"]["checkpoints"])
    return event


# -- one boundary for every carrier event -------------------------------------------------
@dataclass(frozen=True, slots=True)
class Secrets:
    easypost: str = "demo-easypost-secret"
    aftership: str = "demo-aftership-secret"


def carrier_request(parcel: Parcel, scan: Scan, secrets: Secrets) -> tuple[str, bytes, dict[str, str]]:
    """The path, body and headers of the carrier's report of ``scan``, in its feed's format."""
    if parcel.feed == "easypost" and scan.milestone in EASYPOST_STATUS:
        body = json.dumps(easypost_event(parcel, scan)).encode()
        return "/api/v1/tracking/carriers/easypost", body, samples.sign_easypost(body, secrets.easypost)
    if parcel.feed == "aftership" and scan.milestone in AFTERSHIP_TAG:
        body = json.dumps(aftership_event(parcel, scan)).encode()
        return "/api/v1/tracking/carriers/aftership", body, samples.sign_aftership(body, secrets.aftership)
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
