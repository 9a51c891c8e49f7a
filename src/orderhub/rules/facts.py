"""The facts a rule reads, flattened from what the order hands its hooks (``Order.as_facts``).

Rules never import the order context: the order arrives here as plain data, and this module
is the one place that knows its shape. Every fact in ``model.FACTS`` is set (``None`` when the
order does not say), so a table never reads a missing key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any


def _number(value: Any) -> float | None:
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None


def facts_of(order: dict[str, Any], *, now: datetime, exception: str = "") -> dict[str, Any]:
    """Flat, typed facts of ``order`` at ``now`` (what ``model.FACTS`` lists)."""
    address = order.get("address") or {}
    customer = order.get("customer") or {}
    lines = order.get("lines") or []
    tags = [str(t) for t in order.get("tags") or []]
    promise_days = order.get("promise_days")
    hours_to_promise = None
    created = order.get("created_at")
    if promise_days is not None and created:
        promised = datetime.fromisoformat(created) + timedelta(days=int(promise_days))
        hours_to_promise = round((promised - now).total_seconds() / 3600, 2)
    email = str(customer.get("email") or "")
    country = str(address.get("country") or "")
    billing = str(order.get("billing_country") or "")
    node_ids = list(order.get("node_ids") or [])
    return {
        "order_id": order.get("id"),
        "channel": order.get("channel") or "",
        "country": country,
        "region": str(address.get("region") or ""),
        "city": str(address.get("city") or ""),
        "address_complete": all(str(address.get(k) or "").strip() for k in ("line1", "city", "postal_code", "country")),
        "billing_country_differs": bool(billing) and billing != country,
        "total": _number(order.get("total")),
        "currency": order.get("currency") or "",
        "tier": str(customer.get("tier") or "standard"),
        "email_domain": email.rsplit("@", 1)[-1].lower() if "@" in email else "",
        "items": sum(int(line.get("quantity") or 0) for line in lines),
        "lines": len(lines),
        "skus": sorted({str(line.get("sku")) for line in lines}),
        "tags": tags,
        "campaign": next((t.split(":", 1)[1] for t in tags if t.startswith("campaign:")), ""),
        "delivery_method": order.get("delivery_method") or "",
        "delivery_option": order.get("delivery_option") or "",
        "promise_days": promise_days,
        "hours_to_promise": hours_to_promise,
        "status": order.get("status") or "",
        "payment_status": order.get("payment_status") or "",
        "nodes": len(node_ids),
        "node_ids": node_ids,
        "exception": exception,
        "hour": now.hour,
    }
