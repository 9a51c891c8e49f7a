"""The two views of one timeline: the customer's (milestones in words, the estimate, the last
position) and staff's (every entry with its source, raw detail, occurred-at versus received-at
and the lag). Pure: they shape what the service read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from orderhub.tracking.model import JOURNEY, PROBLEMS, Milestone, words


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def customer(
    order: dict[str, Any], parcels: list[dict[str, Any]], events: list[dict[str, Any]], language: str
) -> dict[str, Any]:
    """What the customer sees: the journey's steps (reached or not), each milestone reached in
    words, the estimated delivery (the carrier's latest estimate, else the promise), the last
    known position, and the parcels with their tracking links. No source systems, no raw data."""
    reached: dict[str, datetime] = {}
    history = []
    for e in events:
        if not e["milestone"]:
            continue
        m = Milestone(e["milestone"])
        reached.setdefault(m.value, e["occurred_at"])
        history.append(
            {
                "milestone": m.value,
                "text": words(m, language),
                "at": _iso(e["occurred_at"]),
                "location": e["location"],
                "problem": m in PROBLEMS,
            }
        )
    current = history[-1] if history else None
    steps = [
        {
            "milestone": m.value,
            "text": words(m, language),
            "reached": m.value in reached,
            "at": _iso(reached.get(m.value)),
        }
        for m in JOURNEY
    ]
    position = None
    if order["last_lat"] is not None:
        position = {"lat": order["last_lat"], "lon": order["last_lon"], "at": _iso(order["position_at"])}
    estimate = order["estimated_delivery"] or order["promised_by"]
    return {
        "order_id": order["order_id"],
        "order_number": order["external_ref"],
        "language": language,
        "status": current["milestone"] if current else None,
        "status_text": current["text"] if current else None,
        "steps": steps,
        "milestones": list(reversed(history)),
        "estimated_delivery": _iso(estimate),
        "estimate_source": "carrier" if order["estimated_delivery"] else ("promise" if order["promised_by"] else None),
        "delivered_at": _iso(order["delivered_at"]),
        "position": position,
        "destination": {
            "city": order["dest_city"],
            "country": order["dest_country"],
            "lat": order["dest_lat"],
            "lon": order["dest_lon"],
        },
        "parcels": [
            {
                "carrier": p["carrier"],
                "service": p["service"],
                "tracking_number": p["tracking_number"],
                "tracking_url": p["tracking_url"] or None,
                "state": p["state"],
                "state_text": words(Milestone(p["state"]), language) if p["state"] else None,
            }
            for p in parcels
        ],
    }


def internal(order: dict[str, Any], parcels: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    """What staff see: every entry, in occurred-at order, with its source system, the raw
    detail the source gave, when it happened and when the hub heard of it (and the lag)."""
    return {
        "order_id": order["order_id"],
        "token": order["token"],
        "status": order["status"],
        "status_since": _iso(order["status_since"]),
        "promised_by": _iso(order["promised_by"]),
        "estimated_delivery": _iso(order["estimated_delivery"]),
        "parcels": [
            {
                "id": p["id"],
                "fulfilment_order_id": p["fulfilment_order_id"],
                "carrier": p["carrier"],
                "service": p["service"],
                "tracking_number": p["tracking_number"],
                "tracking_url": p["tracking_url"] or None,
                "lines": p["lines"],
                "state": p["state"],
                "state_at": _iso(p["state_at"]),
                "estimated_delivery": _iso(p["estimated_delivery"]),
            }
            for p in parcels
        ],
        "events": [
            {
                "id": e["id"],
                "milestone": e["milestone"],
                "text": words(Milestone(e["milestone"])) if e["milestone"] else "position",
                "source": e["source"],
                "key": e["key"],
                "parcel_id": e["parcel_id"],
                "fulfilment_order_id": e["fulfilment_order_id"] or None,
                "occurred_at": _iso(e["occurred_at"]),
                "received_at": _iso(e["received_at"]),
                "lag_ms": round((e["received_at"] - e["occurred_at"]).total_seconds() * 1000),
                "description": e["description"],
                "location": e["location"],
                "country": e["country"] or None,
                "position": {"lat": e["lat"], "lon": e["lon"]} if e["lat"] is not None else None,
                "time_note": e["time_note"] or None,
                "detail": e["detail"],
                "inbox_id": e["inbox_id"],
            }
            for e in events
        ],
    }


#: The public page's own words, per language.
PAGE_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Track your order",
        "order": "Order",
        "estimate": "Estimated delivery",
        "by_carrier": "estimate from the carrier",
        "by_promise": "as promised",
        "delivered": "Delivered on",
        "position": "Last known position",
        "parcels": "Parcels",
        "history": "History",
        "none": "No news yet.",
        "live": "Live",
        "offline": "Reconnecting…",
        "map": "Map: where your parcel was last seen and where it is going",
        "destination": "Destination",
    },
    "de": {
        "title": "Sendungsverfolgung",
        "order": "Bestellung",
        "estimate": "Voraussichtliche Zustellung",
        "by_carrier": "Schätzung des Paketdienstes",
        "by_promise": "wie zugesagt",
        "delivered": "Zugestellt am",
        "position": "Letzte bekannte Position",
        "parcels": "Pakete",
        "history": "Verlauf",
        "none": "Noch keine Neuigkeiten.",
        "live": "Live",
        "offline": "Verbindung wird wiederhergestellt…",
        "map": "Karte: wo Ihr Paket zuletzt gesehen wurde und wohin es geht",
        "destination": "Ziel",
    },
    "zh": {
        "title": "订单跟踪",
        "order": "订单",
        "estimate": "预计送达",
        "by_carrier": "承运商预计",
        "by_promise": "按承诺",
        "delivered": "签收于",
        "position": "最后已知位置",
        "parcels": "包裹",
        "history": "记录",
        "none": "暂无更新。",
        "live": "实时",
        "offline": "正在重新连接…",
        "map": "地图：包裹最后出现的位置和目的地",
        "destination": "目的地",
    },
}
