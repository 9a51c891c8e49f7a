"""Tracking: the milestones of an order from payment to the doorstep, and the rules of its
timeline. Pure: standard library and ``orderhub.core`` only.

Every source (the hub itself, a WMS, a carrier aggregator, a driver app) is turned into
``Update`` records: one milestone (or a bare position) of one parcel or order, at the time it
*happened*. The timeline orders them by ``occurred_at``, never by arrival, so an event that
arrives late lands where it belongs; and a parcel's state is its latest milestone in that order,
with one exception: a parcel that was delivered stays delivered when an older scan arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from orderhub.core.errors import InvalidInput


class Milestone(StrEnum):
    placed = "placed"
    paid = "paid"
    allocated = "allocated"
    released = "released"
    picked = "picked"
    packed = "packed"
    qc_passed = "qc_passed"
    qc_failed = "qc_failed"
    label_created = "label_created"
    handed_to_carrier = "handed_to_carrier"
    export_declared = "export_declared"
    import_held = "import_held"
    customs_cleared = "customs_cleared"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivery_attempted = "delivery_attempted"
    available_for_pickup = "available_for_pickup"
    delivered = "delivered"
    returned = "returned"
    return_received = "return_received"
    exception = "exception"
    cancelled = "cancelled"


M = Milestone


class System(StrEnum):
    """Who reports a milestone (documented in docs/tracking.md)."""

    oms = "oms"  # the hub itself: payment, allocation, release, cancellation
    wms = "wms"  # the warehouse or the store: picked, packed, quality check, handed over
    carrier = "carrier"  # the carrier, directly or through EasyPost / AfterShip / DHL
    customs = "customs"  # customs stages, reported by the carrier or a broker
    driver = "driver"  # the driver app or the vehicle's telematics: positions


#: The system responsible for each milestone.
RESPONSIBLE: dict[Milestone, System] = {
    M.placed: System.oms,
    M.return_received: System.oms,
    M.paid: System.oms,
    M.allocated: System.oms,
    M.released: System.oms,
    M.cancelled: System.oms,
    M.picked: System.wms,
    M.packed: System.wms,
    M.qc_passed: System.wms,
    M.qc_failed: System.wms,
    M.label_created: System.wms,
    M.handed_to_carrier: System.wms,
    M.export_declared: System.customs,
    M.import_held: System.customs,
    M.customs_cleared: System.customs,
    M.in_transit: System.carrier,
    M.out_for_delivery: System.carrier,
    M.delivery_attempted: System.carrier,
    M.available_for_pickup: System.carrier,
    M.delivered: System.carrier,
    M.returned: System.carrier,
    M.exception: System.carrier,
}

#: Milestones that are a problem the operations team should see (KPIs: error rate).
PROBLEMS = frozenset({M.qc_failed, M.import_held, M.delivery_attempted, M.returned, M.exception})

#: Milestones that end a parcel's journey.
FINAL = frozenset({M.delivered, M.returned})

#: The customer's journey, in order; what the customer view shows as steps.
JOURNEY: tuple[Milestone, ...] = (
    M.placed,
    M.paid,
    M.allocated,
    M.packed,
    M.handed_to_carrier,
    M.in_transit,
    M.out_for_delivery,
    M.delivered,
)

LANGUAGES = ("en", "de", "zh")

#: What a customer reads for each milestone, per language.
WORDS: dict[str, dict[Milestone, str]] = {
    "en": {
        M.placed: "Order placed",
        M.paid: "Payment received",
        M.allocated: "Order confirmed and reserved",
        M.released: "Sent to the warehouse",
        M.picked: "Items picked",
        M.packed: "Packed",
        M.qc_passed: "Quality check passed",
        M.qc_failed: "Quality check failed, we are replacing the item",
        M.label_created: "Shipping label created",
        M.handed_to_carrier: "Handed to the carrier",
        M.export_declared: "Export declared at customs",
        M.import_held: "Held at import customs",
        M.customs_cleared: "Cleared customs",
        M.in_transit: "On its way",
        M.out_for_delivery: "Out for delivery",
        M.delivery_attempted: "Delivery attempted, nobody was home",
        M.available_for_pickup: "Ready for pickup",
        M.delivered: "Delivered",
        M.returned: "Returned to sender",
        M.return_received: "Your return has arrived",
        M.exception: "A problem with the delivery",
        M.cancelled: "Order cancelled",
    },
    "de": {
        M.placed: "Bestellung eingegangen",
        M.paid: "Zahlung eingegangen",
        M.allocated: "Bestellung bestätigt und reserviert",
        M.released: "An das Lager übergeben",
        M.picked: "Artikel kommissioniert",
        M.packed: "Verpackt",
        M.qc_passed: "Qualitätsprüfung bestanden",
        M.qc_failed: "Qualitätsprüfung nicht bestanden, wir ersetzen den Artikel",
        M.label_created: "Versandetikett erstellt",
        M.handed_to_carrier: "An den Paketdienst übergeben",
        M.export_declared: "Ausfuhr beim Zoll angemeldet",
        M.import_held: "Beim Einfuhrzoll angehalten",
        M.customs_cleared: "Verzollt",
        M.in_transit: "Unterwegs",
        M.out_for_delivery: "In Zustellung",
        M.delivery_attempted: "Zustellversuch, niemand angetroffen",
        M.available_for_pickup: "Zur Abholung bereit",
        M.delivered: "Zugestellt",
        M.returned: "An den Absender zurückgesandt",
        M.return_received: "Ihre Rücksendung ist angekommen",
        M.exception: "Ein Problem bei der Zustellung",
        M.cancelled: "Bestellung storniert",
    },
    "zh": {
        M.placed: "订单已提交",
        M.paid: "已收到付款",
        M.allocated: "订单已确认并预留库存",
        M.released: "已发送至仓库",
        M.picked: "已拣货",
        M.packed: "已打包",
        M.qc_passed: "质检通过",
        M.qc_failed: "质检未通过，正在更换商品",
        M.label_created: "已创建运单",
        M.handed_to_carrier: "已交给承运商",
        M.export_declared: "已出口报关",
        M.import_held: "进口海关扣留",
        M.customs_cleared: "已清关",
        M.in_transit: "运输中",
        M.out_for_delivery: "派送中",
        M.delivery_attempted: "尝试派送，无人签收",
        M.available_for_pickup: "可以取件",
        M.delivered: "已签收",
        M.returned: "已退回寄件人",
        M.return_received: "退货已收到",
        M.exception: "派送出现问题",
        M.cancelled: "订单已取消",
    },
}


def words(milestone: Milestone, language: str = "en") -> str:
    """The customer's words for a milestone (English when the language is not offered)."""
    return WORDS.get(language, WORDS["en"])[milestone]


def language_of(*candidates: str) -> str:
    """The first offered language among candidates such as ``de-DE``, ``zh_CN`` or ``en``."""
    for candidate in candidates:
        code = (candidate or "").replace("_", "-").split("-")[0].strip().lower()
        if code in LANGUAGES:
            return code
    return "en"


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            detail = f"position {self.lat},{self.lon} is not a WGS84 point"
            raise InvalidInput(detail, errors=[{"pointer": "/position", "detail": detail}])


@dataclass(frozen=True, slots=True)
class Update:
    """One thing that happened to a parcel (or, without a tracking number, to an order).

    ``milestone`` is None for a bare position report. ``key`` identifies the update at its
    source, so a second delivery of the same update is recognised (``source`` + ``key`` is
    unique). ``occurred_at`` is timezone-aware UTC; ``time_note`` says how it was read when the
    source gave no offset.
    """

    source: str  # oms | wms | api | easypost | aftership | dhl | driver
    key: str
    occurred_at: datetime
    milestone: Milestone | None = None
    tracking_number: str = ""
    carrier: str = ""
    order_id: str = ""
    fulfilment_order_id: str = ""
    description: str = ""
    location: str = ""  # as the source wrote it: "HOUSTON, TX 77063, US"
    country: str = ""  # ISO 3166-1 alpha-2 where known
    position: Position | None = None
    estimated_delivery: date | None = None
    time_note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)  # the source's own codes, kept as given

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            detail = "occurred_at must carry a UTC offset"
            raise InvalidInput(detail, errors=[{"pointer": "/occurred_at", "detail": detail}])
        if self.milestone is None and self.position is None:
            detail = "an update needs a milestone or a position"
            raise InvalidInput(detail, errors=[{"pointer": "/milestone", "detail": detail}])


@dataclass(frozen=True, slots=True)
class Feed:
    """What one inbound message says: its updates, and facts about the parcel."""

    updates: list[Update]
    tracking_number: str = ""
    carrier: str = ""
    service: str = ""
    public_url: str = ""
    estimated_delivery: date | None = None


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def parcel_state(milestones: list[tuple[datetime, Milestone]]) -> Milestone | None:
    """A parcel's state from its milestones (any order): the latest by occurred-at, except that
    a final milestone (delivered, returned) is never undone by an older scan arriving late.
    A later final milestone wins over an earlier one (a parcel delivered, then returned)."""
    if not milestones:
        return None
    ordered = sorted(milestones, key=lambda m: m[0])
    finals = [m for m in ordered if m[1] in FINAL]
    return finals[-1][1] if finals else ordered[-1][1]


#: Carriers the hub knows by name, with the public tracking page of each (``{number}`` is the
#: tracking number). An unknown carrier is accepted; its parcels have no tracking link unless
#: the shipment gives one.
CARRIER_PAGES: dict[str, str] = {
    "dhl": "https://www.dhl.com/de-en/home/tracking/tracking-parcel.html?submit=1&tracking-id={number}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{number}",
    "hermes": "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation#{number}",
    "gls": "https://gls-group.com/DE/en/parcel-tracking?match={number}",
    "ups": "https://www.ups.com/track?tracknum={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "royal-mail": "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
    "postnl": "https://jouw.postnl.nl/track-and-trace/{number}",
    "la-poste": "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    "cargo-bike": "",
}


def carrier_slug(name: str) -> str:
    """``DHL Express`` → ``dhl-express``; the key of ``CARRIER_PAGES`` where one matches."""
    slug = "-".join(name.strip().lower().replace("_", " ").split())
    if slug in CARRIER_PAGES:
        return slug
    head = slug.split("-")[0]
    return head if head in CARRIER_PAGES else slug


def tracking_url(carrier: str, number: str) -> str:
    template = CARRIER_PAGES.get(carrier_slug(carrier), "")
    return template.format(number=quote(number, safe="")) if template else ""


def language_for_country(country: str) -> str:
    """The language a destination country most likely reads (the order gives no other hint)."""
    code = (country or "").strip().upper()
    if code in {"DE", "AT", "CH", "LI", "LU"}:
        return "de"
    if code in {"CN", "TW", "HK", "MO", "SG"}:
        return "zh"
    return "en"
