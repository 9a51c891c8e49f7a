"""AfterShip: ``tracking_update`` webhooks (``msg`` is a Tracking with its checkpoints) read into a
``Feed``, and the ``aftership-hmac-sha256`` check. Pure: no I/O.

Checkpoints have no id: each is keyed by a hash of tracking number, time as sent, normalised
subtag and message. ``checkpoint_time`` is the local time at the checkpoint, usually without an
offset: it is read in the zone of the checkpoint's state, city or country (``places.py``). See
docs/tracking-carriers.md for the tables and the traps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
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
from orderhub.tracking.carriers.phrases import customs_side, settle
from orderhub.tracking.carriers.places import Place
from orderhub.tracking.model import Feed, Milestone, Update

M = Milestone
SOURCE = "aftership"
SIGNATURE_HEADER = "aftership-hmac-sha256"

#: Delivery statuses (``tag``) → milestone.
TAGS: dict[str, Milestone] = {
    "Pending": M.label_created,
    "InfoReceived": M.label_created,
    "InTransit": M.in_transit,
    "OutForDelivery": M.out_for_delivery,
    "AttemptFail": M.delivery_attempted,
    "Delivered": M.delivered,
    "AvailableForPickup": M.available_for_pickup,
    "Exception": M.exception,
    "Expired": M.exception,
}

#: Delivery sub-statuses (``subtag``, AfterShip's published list) → milestone, where they say
#: more than their tag. Customs ones that depend on the side of the border are in _coded().
SUBTAGS: dict[str, Milestone] = {
    "Pending_001": M.label_created,
    "InfoReceived_001": M.label_created,
    "InTransit_001": M.in_transit,  # in transit
    "InTransit_002": M.handed_to_carrier,  # acceptance scan: accepted by the carrier
    "InTransit_003": M.in_transit,  # arrival scan
    "InTransit_004": M.in_transit,  # arrived at the destination country
    "InTransit_005": M.customs_cleared,  # customs clearance completed
    "InTransit_006": M.in_transit,  # handed to customs: export_declared at the origin
    "InTransit_007": M.in_transit,  # departure scan
    "InTransit_008": M.in_transit,  # problem resolved
    "InTransit_009": M.in_transit,  # forwarded to another address
    "OutForDelivery_001": M.out_for_delivery,
    "OutForDelivery_002": M.available_for_pickup,  # older list: at a facility, ready for pickup
    "OutForDelivery_003": M.out_for_delivery,  # customer contacted
    "OutForDelivery_004": M.out_for_delivery,  # delivery appointment scheduled
    "AttemptFail_001": M.delivery_attempted,
    "AttemptFail_002": M.delivery_attempted,  # addressee not available
    "AttemptFail_003": M.delivery_attempted,  # business closed
    "Delivered_001": M.delivered,
    "Delivered_002": M.delivered,  # picked up by the customer
    "Delivered_003": M.delivered,  # signed by the customer
    "Delivered_004": M.delivered,  # cash on delivery collected
    "Delivered_005": M.delivered,  # delivered to a neighbour
    "AvailableForPickup_001": M.available_for_pickup,
    "Exception_001": M.exception,
    "Exception_002": M.exception,  # customer moved
    "Exception_003": M.exception,  # refused by the customer
    "Exception_004": M.import_held,  # delayed (customs clearance)
    "Exception_005": M.exception,  # delayed (external factors)
    "Exception_006": M.exception,  # held for payment: import_held when duties/customs named
    "Exception_007": M.exception,  # incorrect address
    "Exception_008": M.exception,  # pickup missed
    "Exception_009": M.exception,  # rejected by the carrier
    "Exception_010": M.returned,  # returning to sender
    "Exception_011": M.returned,  # returned to sender
    "Exception_012": M.exception,  # damaged
    "Exception_013": M.exception,  # lost
    "Exception_016": M.exception,  # delayed (processing issue)
    "Exception_017": M.exception,  # delayed (extreme weather)
    "Exception_018": M.import_held,  # incorrect / missing documents (regulatory hold)
    "Exception_019": M.exception,  # delayed (late flight)
    "Exception_020": M.exception,  # shipment cancelled: a problem with the parcel, not the order cancelled
    "Exception_021": M.exception,  # disposed
    "Expired_001": M.exception,
}

_TAG_NAMES = {name.casefold(): name for name in TAGS}
_SUBTAG = re.compile(r"([A-Za-z_]*?)[_\-\s]*0*(\d+)")


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Whether ``aftership-hmac-sha256`` is the base64 HMAC-SHA256 of the raw body keyed by the
    webhook secret, compared in constant time."""
    wanted = SIGNATURE_HEADER.casefold()
    given = next((v for k, v in headers.items() if k.casefold() == wanted), "")
    if not secret or not given:
        return False
    return hmac.compare_digest(signature(body, secret).encode(), given.strip().encode())


def signature(body: bytes, secret: str) -> str:
    """The ``aftership-hmac-sha256`` value AfterShip sends for ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def tag_name(value: Any) -> str:
    """A tag as AfterShip spells it (``in_transit``, ``INTRANSIT`` → ``InTransit``), else as given."""
    raw = text(value)
    return _TAG_NAMES.get(raw.replace("_", "").replace("-", "").replace(" ", "").casefold(), raw)


def subtag_name(value: Any, tag: str = "") -> str:
    """A subtag as AfterShip publishes it: ``InTransit_1``, ``intransit_0001`` or a bare ``7``
    under tag ``InTransit`` → ``InTransit_001``, ``InTransit_007``. Else as given."""
    raw = text(value)
    match = _SUBTAG.fullmatch(raw)
    if not match:
        return raw
    name = tag_name(match.group(1)) if match.group(1) else tag
    return f"{name}_{int(match.group(2)):03d}" if name in TAGS else raw


def parse(body: Any) -> Feed:
    """The Feed of an AfterShip webhook (``{"event": ..., "msg": {Tracking}}``) or a bare Tracking.

    Raises InvalidInput (pointing into the document) for a body that is not an object, a
    Tracking without ``tracking_number``, or a checkpoint whose time cannot be read.
    """
    document = as_object(body, ())
    path: Path = ("msg",) if "msg" in document else ()
    tracking = as_object(document["msg"], path) if path else document
    number = required_text(tracking, "tracking_number", path)
    origin = _country(tracking, "origin")
    destination = _country(tracking, "destination")
    context = {
        "number": number,
        "slug": text(tracking.get("slug")).lower(),
        "event_id": text(document.get("event_id")),
        "tracking_id": text(tracking.get("id")),
        "origin": origin,
        # a domestic shipment's checkpoints that name no country are in that country
        "home": origin if origin and origin == destination else "",
        "destination": destination,
    }
    checkpoints = as_list(tracking.get("checkpoints"), (*path, "checkpoints"))
    updates = [
        _read_checkpoint(as_object(c, (*path, "checkpoints", i)), (*path, "checkpoints", i), context)
        for i, c in enumerate(checkpoints)
    ]
    estimate = _estimate(tracking)
    updates.sort(key=lambda u: (u.occurred_at, u.key))
    if updates and estimate and updates[-1].estimated_delivery is None:
        updates[-1] = replace(updates[-1], estimated_delivery=estimate)
    return Feed(
        updates=updates,
        tracking_number=number,
        carrier=context["slug"],
        service=text(tracking.get("shipment_type")),
        public_url=text(tracking.get("courier_tracking_link")) or text(tracking.get("aftership_tracking_url")),
        estimated_delivery=estimate,
    )


def _country(tracking: dict[str, Any], end: str) -> str:
    for field in (f"{end}_country_region", f"{end}_country_iso3", f"{end}_country_name"):
        code = Place.of(text(tracking.get(field))).country
        if code:
            return code
    return ""


def _estimate(tracking: dict[str, Any]) -> Any:
    latest = maybe_object(tracking.get("latest_estimated_delivery"))
    for value in (
        latest.get("datetime") or latest.get("datetime_max"),
        maybe_object(tracking.get("courier_estimated_delivery_date")).get("estimated_delivery_date"),
        maybe_object(tracking.get("aftership_estimated_delivery_date")).get("estimated_delivery_date"),
        tracking.get("expected_delivery"),
    ):
        estimate = read_date(value)
        if estimate:
            return estimate
    return None


def _read_checkpoint(checkpoint: dict[str, Any], path: Path, context: dict[str, str]) -> Update:
    country = ""
    for field in ("country_region", "country_iso3", "country_name", "country_region_name"):
        country = country or Place.of(text(checkpoint.get(field))).country
    place = Place(country or context["home"], text(checkpoint.get("state")), text(checkpoint.get("city")))
    occurred_at, note = read_time(checkpoint.get("checkpoint_time"), (*path, "checkpoint_time"), place=place)
    tag = tag_name(checkpoint.get("tag"))
    subtag = subtag_name(checkpoint.get("subtag"), tag)
    message = text(checkpoint.get("message"))
    words = joined(message, text(checkpoint.get("subtag_message")), sep=" ")
    side = customs_side(place.country, context["origin"], context["destination"])
    coded, how, notes = _coded(tag, subtag, words, side)
    milestone, said = settle(coded, message, side=side)
    kept = {
        "tag": checkpoint.get("tag"),
        "subtag": checkpoint.get("subtag"),
        "subtag_normalised": subtag if subtag != text(checkpoint.get("subtag")) else None,
        "subtag_message": checkpoint.get("subtag_message"),
        "raw_tag": checkpoint.get("raw_tag"),
        "slug": checkpoint.get("slug"),
        "checkpoint_time": checkpoint.get("checkpoint_time"),
        "tracking_id": context["tracking_id"],
        "event_id": context["event_id"],
        "mapped_by": how,
        **notes,
        **said,
    }
    return Update(
        source=SOURCE,
        key=event_key(context["number"], text(checkpoint.get("checkpoint_time")), subtag or tag, message),
        occurred_at=occurred_at,
        milestone=milestone,
        tracking_number=context["number"],
        carrier=text(checkpoint.get("slug")).lower() or context["slug"],
        description=message or text(checkpoint.get("subtag_message")),
        location=text(checkpoint.get("location"))
        or joined(place.city, place.state, text(checkpoint.get("zip")), place.country),
        country=place.country,
        position=_position(checkpoint, path),
        time_note=note,
        detail={k: v for k, v in kept.items() if v not in (None, "")},
    )


def _position(checkpoint: dict[str, Any], path: Path) -> Any:
    for field in ("coordinate", "coordinates"):
        if checkpoint.get(field) is not None:
            return read_position(checkpoint[field], (*path, field))
    return None


def _coded(tag: str, subtag: str, words: str, side: str) -> tuple[Milestone, str, dict[str, Any]]:
    """The milestone the codes give, how it was found, and what to note."""
    notes: dict[str, Any] = {}
    if subtag in SUBTAGS:
        milestone, how = SUBTAGS[subtag], "subtag"
        if tag in TAGS and not subtag.startswith(tag + "_"):
            notes["contradiction"] = {"tag_says": TAGS[tag].value, "subtag_says": milestone.value}
    elif tag in TAGS:
        milestone, how = TAGS[tag], "tag"
    elif subtag.partition("_")[0] in TAGS:
        milestone, how = TAGS[subtag.partition("_")[0]], "subtag's tag"
    else:
        return M.in_transit, "default", {"unmapped": True}
    if subtag == "InTransit_006" and side == "export":
        milestone = M.export_declared
    elif subtag in ("Exception_004", "Exception_018") and side == "export":
        milestone = M.exception
    elif subtag == "Exception_006" and re.search(r"customs|dut(y|ies)|tax|import", words.casefold()):
        milestone = M.import_held
    return milestone, how, notes
