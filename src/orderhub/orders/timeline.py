"""The order's event log in words: one sentence per event ("Paid 49.90 EUR by card",
"Allocated to Berlin DC", "Held: approval: big order"), staff comments among them.

Pure: the caller hands in the events, the comments and how to name lines and nodes. The raw
event stays available (``raw``, pretty JSON without escapes) for staff who need the detail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Data = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Naming:
    """How sentences name things: the order's currency and payment method, SKUs of line ids,
    node names of node ids."""

    currency: str
    method: str = ""
    skus: dict[str, str] | None = None
    nodes: dict[str, str] | None = None

    def sku(self, line_id: str) -> str:
        return (self.skus or {}).get(line_id, line_id)

    def node(self, node_id: str) -> str:
        return (self.nodes or {}).get(node_id, node_id) or "?"

    def units(self, lines: Any) -> str:
        """``{line_id: qty}`` (or a list of ``{line_id, quantity}``) as "2 × MUG-1, 1 × TEA-9"."""
        if isinstance(lines, list):
            lines = {x.get("line_id", ""): x.get("quantity", 0) for x in lines if isinstance(x, dict)}
        if not isinstance(lines, dict):
            return ""
        return ", ".join(f"{qty} × {self.sku(str(line_id))}" for line_id, qty in lines.items())

    def money(self, amount: Any) -> str:
        return f"{amount} {self.currency}"


def status(value: Any) -> str:
    return str(value or "?").replace("_", " ")


def _why(data: Data, sep: str = ": ") -> str:
    reason = str(data.get("reason") or "")
    return f"{sep}{reason}" if reason else ""


def _captured(d: Data, n: Naming) -> str:
    ref = f" as {d['external_ref']}" if d.get("external_ref") else ""
    count = d.get("lines", 0)
    paid = f", payment by {n.method}" if n.method else ""
    return f"Captured from {d.get('channel', '?')}{ref}: {count} line{'s' if count != 1 else ''}, {n.money(d.get('total'))}{paid}"


def _status_changed(d: Data, n: Naming, context: Data) -> str:
    to, before = d.get("to"), d.get("from")
    if to == "on_hold":
        return f"Held{_why(d)}"
    if before == "on_hold":
        return f"Hold released, back to {status(to)}{_why(d, ' — ')}"
    if to == "cancelled":
        return f"Cancelled{_why(d)}"
    if to == "paid" and d.get("reason") == "payment received by the channel":
        by = f" by {n.method}" if n.method else ""
        return f"Paid {n.money(context.get('total', '?'))}{by} (payment received by the channel)"
    return f"Moved from {status(before)} to {status(to)}{_why(d, ' — ')}"


def _payment(d: Data, n: Naming) -> str:
    state = d.get("payment_status")
    if state == "paid":
        amount = f" {n.money(d['amount'])}" if d.get("amount") else ""
        return f"Paid{amount}" + (f" by {n.method}" if n.method else "")
    return {
        "authorized": "Payment authorised",
        "partially_refunded": "Payment partly refunded",
        "refunded": "Payment refunded in full",
        "voided": "Payment voided",
        "pending": "Payment pending",
    }.get(str(state), f"Payment {status(state)}")


def _allocated(d: Data, n: Naming) -> str:
    fos = [f for f in d.get("fulfilment_orders") or [] if isinstance(f, dict)]
    if len(fos) == 1:
        return f"Allocated to {n.node(fos[0].get('node_id', ''))}"
    parts = [f"{n.node(f.get('node_id', ''))} ({n.units(f.get('lines') or {})})" for f in fos]
    return "Allocated to " + " and ".join(parts)


def _nodes_of(value: Any, n: Naming) -> str:
    if isinstance(value, dict):
        value = list(value)
    if isinstance(value, list):
        return " + ".join(n.node(str(x)) for x in value) or "no node"
    return str(value or "?")


def _edited(d: Data, n: Naming) -> str:
    field = d.get("field")
    if field == "shipping_address" and isinstance(d.get("after"), dict):
        a = d["after"]
        place = ", ".join(
            p for p in (a.get("line1"), " ".join(x for x in (a.get("postal_code"), a.get("city")) if x)) if p
        )
        return f"Shipping address changed to {place or 'an empty address'}"
    if field == "lines" and d.get("added"):
        x = d["added"]
        return f"Line added: {x.get('quantity')} × {x.get('sku')}"
    if field == "lines" and d.get("removed"):
        return f"Line removed: {d['removed'].get('sku')}"
    if field == "quantity":
        return f"Quantity of {n.sku(str(d.get('line_id')))} changed from {d.get('before')} to {d.get('after')}"
    if field == "tags":
        return "Tags set to " + (", ".join(d.get("after") or []) or "none")
    if field == "priority":
        return f"Priority set to {d.get('after')} (was {d.get('before')})"
    return f"{status(field).capitalize()} changed"


def _held(d: Data, n: Naming) -> str:
    by_node: dict[str, list[str]] = {}
    for h in d.get("held") or []:
        by_node.setdefault(n.node(h.get("node_id", "")), []).append(f"{h.get('quantity')} × {h.get('sku')}")
    where = "; ".join(f"{', '.join(units)} at {node}" for node, units in by_node.items())
    until = d.get("expires_at")
    deadline = f", until {str(until)[11:16]} UTC unless paid" if until else ""
    return f"Stock held: {where or 'nothing'}{deadline}"


def _received(d: Data, n: Naming) -> str:
    kept = "kept out of stock" if d.get("condition") == "damaged" else "back in stock"
    rma = f" for return {d['rma_id']}" if d.get("rma_id") else ""
    return f"Return received at {n.node(d.get('node_id', ''))}{rma}: {n.units(d.get('lines'))} ({d.get('condition', 'resellable')}, {kept})"


def _refund(d: Data, n: Naming) -> str:
    goods = f" for {n.units(d.get('lines'))}" if d.get("lines") else ""
    rma = f" (return {d['rma_id']})" if d.get("rma_id") else ""
    return f"Refunded {d.get('amount')} {d.get('currency', n.currency)}{goods}{rma}{_why(d)}"


def _sourced(d: Data, n: Naming) -> str:
    chosen = d.get("chosen") or {}
    nodes = _nodes_of(chosen.get("nodes"), n) if chosen else ""
    how = d.get("strategy") or d.get("method") or ""
    return f"Sourcing chose {nodes}" + (f" ({how})" if how else "") if nodes else f"Sourced ({how or 'fallback'})"


SENTENCES: dict[str, Callable[[Data, Naming], str]] = {
    "order.captured": _captured,
    "order.payment_changed": _payment,
    "order.hold_extended": lambda d, n: f"Payment started: stock held until {str(d.get('until'))[11:16]} UTC",
    "order.stock_reserved": _held,
    "order.backordered": lambda d, n: f"Backordered: {n.units(d.get('lines'))} wait for stock",
    "order.stock_count_due": lambda d, n: (
        f"{n.node(d.get('node_id', ''))} sold more than the hub knew: a stock count is due"
    ),
    "order.sourced": _sourced,
    "order.rerouted": lambda d, n: (
        f"Rerouted from {_nodes_of(d.get('from'), n)} to {_nodes_of(d.get('to'), n)}{_why(d)}"
    ),
    "order.allocated": _allocated,
    "order.shipment_recorded": lambda d, n: f"Shipped {n.units(d.get('lines'))}",
    "order.delivery_recorded": lambda d, n: f"Delivered {n.units(d.get('lines'))}",
    "order.return_received": _received,
    "order.return_requested": lambda d, n: (
        f"Return {d.get('rma_id')} authorised: {n.units(d.get('lines'))}{_why(d, ' — ')}"
        + (f" (customer says: {d['condition']})" if d.get("condition") else "")
    ),
    "order.return_closed": lambda d, n: (
        f"Return {d.get('rma_id')} closed: every unit received"
        if d.get("outcome") == "received"
        else f"Return {d.get('rma_id')} cancelled{_why(d)}"
    ),
    "order.refund_recorded": _refund,
    "order.edited": _edited,
    "order.line_cancelled": lambda d, n: f"Cancelled {d.get('quantity')} × {n.sku(str(d.get('line_id')))}{_why(d)}",
    "order.greener_delivery_chosen": lambda d, n: (
        f"Customer chose the greener {status(d.get('option'))} delivery: "
        f"{d.get('kg_saved')} kg CO2e saved, {d.get('points')} points"
    ),
}


def describe(event: Data, naming: Naming, context: Data | None = None) -> str:
    """One event as a sentence; an unknown type still reads as words, never as its name."""
    data = event.get("data") or {}
    if event["type"] == "order.status_changed":
        return _status_changed(data, naming, context or {})
    say = SENTENCES.get(event["type"])
    if say is None:
        return status(event["type"].split(".", 1)[-1]).capitalize()
    try:
        return say(data, naming)
    except (AttributeError, KeyError, TypeError):  # an old payload of another shape
        return status(event["type"].split(".", 1)[-1]).capitalize()


def entries(events: list[Data], comments: list[Data], naming: Naming) -> list[Data]:
    """The timeline newest first: each event as ``{at, actor, text, raw, kind}`` and each
    comment as ``{at, actor, text, kind: "comment"}``."""
    context: Data = {}
    out: list[Data] = []
    for e in events:
        if e["type"] == "order.captured":
            context["total"] = (e.get("data") or {}).get("total")
        raw = json.dumps({"type": e["type"], **(e.get("data") or {})}, ensure_ascii=False, indent=2, default=str)
        out.append(
            {
                "at": _at(e["occurred_at"]),
                "actor": e["actor"],
                "text": describe(e, naming, context),
                "raw": raw,
                "kind": "event",
            }
        )
    for c in comments:
        out.append({"at": _at(c["created_at"]), "actor": c["author"], "text": c["body"], "raw": "", "kind": "comment"})
    out.sort(key=lambda x: x["at"])  # stable: same-instant events keep their order
    out.reverse()
    return out


def _at(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
