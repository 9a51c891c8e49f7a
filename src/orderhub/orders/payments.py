"""An order's payment: what was authorised, captured and refunded, and its balance.

The hub does not take payments; channels do, and tell it how the customer paid (the
``payment_method`` of ``order.captured``) and that the money was authorised or captured (the
order's ``payment_status``; ``order.payment_changed`` carries the amount captured when payment
arrives after capture). What the hub records itself is refunds: each one a row here and an
``order.refund_recorded`` event in the order's own transaction, so webhooks and the timeline
see it.

Amounts (all in the order's currency; docs/lifecycle.md, "Payments, refunds and returns"):

- **authorised**: the amount the channel authorised (the order total when it said
  ``authorized``, else what was captured).
- **captured**: the order total when the channel said ``paid`` at capture, or the amount of the
  later ``order.payment_changed`` to ``paid``; 0 while unpaid.
- **refunded**: the sum of the refunds recorded; never more than captured.
- **balance**: what the customer still owes (positive) or is still owed (negative). It is the
  total minus what was captured; when more was captured than the order now costs (units
  cancelled after payment), refunds first pay that difference back. Refunds beyond it (returned
  goods, goodwill) credit the order and leave the balance where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.bus import service as bus
from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.core.money import Money
from orderhub.orders import aftersales_store as rows
from orderhub.orders import changes, store
from orderhub.orders.model import Order, PaymentStatus
from orderhub.platform.db import unit_of_work

#: Payment statuses under which the order's money was captured.
CAPTURED = frozenset({PaymentStatus.paid, PaymentStatus.partially_refunded, PaymentStatus.refunded})


@dataclass(frozen=True, slots=True)
class PaymentSummary:
    """The payments panel of an order (see the module doc for what each amount means)."""

    order_id: str
    status: str
    method: str
    total: Money
    authorised: Money
    captured: Money
    refunded: Money
    refunds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def refundable(self) -> Money:
        """What may still be refunded: captured minus refunded."""
        return self.captured - self.refunded

    @property
    def balance(self) -> Money:
        owed = self.total - self.captured
        if owed.minor >= 0:
            return owed
        settled = min(self.refunded.minor, -owed.minor)  # refunds pay the overpayment back first
        return Money(owed.minor + settled, owed.currency)

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "currency": self.total.currency,
            "payment_status": self.status,
            "method": self.method,
            "total": self.total.to_decimal_string(),
            "authorised": self.authorised.to_decimal_string(),
            "captured": self.captured.to_decimal_string(),
            "refunded": self.refunded.to_decimal_string(),
            "refundable": self.refundable.to_decimal_string(),
            "balance": self.balance.to_decimal_string(),
            "refunds": [refund_json(r) for r in self.refunds],
        }


def refund_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "amount": Money(row["amount_minor"], row["currency"]).to_decimal_string(),
        "currency": row["currency"],
        "lines": [{"line_id": k, "quantity": v} for k, v in row["lines"].items()],
        "reason": row["reason"],
        "rma_id": row["rma_id"],
        "created_by": row["created_by"],
        "created_at": row["created_at"].isoformat(),
    }


def payment_method(events: list[dict[str, Any]]) -> str:
    """How the customer paid, as the channel said at capture ("" when it did not)."""
    captured = next((e for e in events if e["type"] == "order.captured"), None)
    return str((captured or {}).get("data", {}).get("payment_method") or "")


def _parse(amount: Any, currency: str) -> Money | None:
    try:
        return Money.parse(str(amount), currency)
    except (ValueError, ArithmeticError):
        return None


def summarise(order: Order, events: list[dict[str, Any]], refunds: list[dict[str, Any]]) -> PaymentSummary:
    """The payment amounts of ``order`` from its status, its event log and its refunds."""
    cur = order.currency
    zero = Money.zero(cur)
    at_capture = next((e for e in events if e["type"] == "order.captured"), None)
    captured_total = _parse(at_capture["data"].get("total"), cur) if at_capture else None
    paid_later = [
        e for e in events if e["type"] == "order.payment_changed" and e["data"].get("payment_status") == "paid"
    ]
    captured = zero
    if order.payment_status in CAPTURED:
        if paid_later:
            captured = _parse(paid_later[-1]["data"].get("amount"), cur) or order.total
        else:
            captured = captured_total or order.total
    authorised = captured
    if order.payment_status == PaymentStatus.authorized:
        authorised = captured_total or order.total
    refunded = Money(sum(r["amount_minor"] for r in refunds), cur)
    return PaymentSummary(
        order_id=order.id,
        status=order.payment_status.value,
        method=payment_method(events),
        total=order.total,
        authorised=authorised,
        captured=captured,
        refunded=refunded,
        refunds=refunds,
    )


def summarise_in(conn: Connection, order: Order) -> PaymentSummary:
    events = bus.get_history(conn, aggregate_type="order", aggregate_id=order.id)
    return summarise(order, events, rows.refunds_of(conn, order.id))


def get(engine: Engine, *, order_id: str) -> PaymentSummary:
    """The order's payments panel (404 ``order_not_found`` for an unknown order)."""
    with unit_of_work(engine, write=False) as conn:
        order = store.get_order(conn, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}", code="order_not_found", order_id=order_id)
        return summarise_in(conn, order)


#: The longest reason a refund or a return keeps.
MAX_REASON = 500


def check_reason(reason: str, pointer: str = "/reason") -> None:
    if len(reason) > MAX_REASON:
        detail = f"at most {MAX_REASON} characters"
        raise InvalidInput(detail, errors=[{"pointer": pointer, "detail": detail}])


def _check_lines(order: Order, lines: list[dict[str, Any]], refunds: list[dict[str, Any]]) -> dict[str, int]:
    """Refunded units per line: each line on the order, each quantity at most the units of the
    line not refunded already. Errors point at ``/lines/{i}/…``."""
    done: dict[str, int] = {}
    for r in refunds:
        for line_id, qty in r["lines"].items():
            done[line_id] = done.get(line_id, 0) + int(qty)
    out: dict[str, int] = {}
    for i, item in enumerate(lines):
        line_id, qty = str(item["line_id"]), int(item["quantity"])
        line = next((x for x in order.lines if x.id == line_id), None)
        if line is None:
            detail = f"no line {line_id} on this order"
            raise InvalidInput(
                detail, code="unknown_line", errors=[{"pointer": f"/lines/{i}/line_id", "detail": detail}]
            )
        left = line.quantity - done.get(line_id, 0) - out.get(line_id, 0)
        if qty < 1 or qty > left:
            detail = f"line {line.sku}: {left} units left to refund, not {qty}"
            raise InvalidInput(
                detail, code="over_refund", errors=[{"pointer": f"/lines/{i}/quantity", "detail": detail}]
            )
        out[line_id] = out.get(line_id, 0) + qty
    return out


def record_in(
    conn: Connection,
    order: Order,
    *,
    amount: str,
    lines: list[dict[str, Any]],
    reason: str,
    actor: str,
    now: datetime,
    rma_id: str = "",
) -> dict[str, Any]:
    """Record a refund on ``order`` (loaded under its lock by the caller's unit of work):
    checked against what was captured and refunded already (422 naming ``/amount`` or the
    line), written, and recorded as ``order.refund_recorded`` with the payment status it
    leaves; a returned or cancelled order whose money is all back moves to ``refunded``.
    Returns the refund row."""
    check_reason(reason)
    summary = summarise_in(conn, order)
    money = _parse(amount, order.currency)
    if money is None or money.minor <= 0:
        detail = f"a positive amount in {order.currency} with at most its decimals, e.g. 9.90"
        raise InvalidInput(detail, errors=[{"pointer": "/amount", "detail": detail}])
    if money.minor > summary.refundable.minor:
        detail = (
            f"at most {summary.refundable.to_decimal_string()} {order.currency} can be refunded "
            f"(captured {summary.captured.to_decimal_string()}, refunded {summary.refunded.to_decimal_string()})"
        )
        raise InvalidInput(
            detail,
            code="refund_exceeds_captured",
            errors=[{"pointer": "/amount", "detail": detail}],
            refundable=summary.refundable.to_decimal_string(),
        )
    units = _check_lines(order, lines, summary.refunds)
    refund_id = new_id("rfd")
    row: dict[str, Any] = {
        "id": refund_id,
        "order_id": order.id,
        "amount_minor": money.minor,
        "currency": order.currency,
        "lines": units,
        "reason": reason,
        "rma_id": rma_id or None,
        "created_by": actor,
        "created_at": now,
    }
    rows.insert_refund(conn, **row)
    all_back = summary.refunded.minor + money.minor >= summary.captured.minor
    order.record_refund(refund_id, money, lines=units, reason=reason, rma_id=rma_id, all_back=all_back)
    return row


def refund(
    engine: Engine,
    *,
    order_id: str,
    actor: str,
    amount: str,
    lines: list[dict[str, Any]] | None = None,
    reason: str = "",
) -> tuple[Order, dict[str, Any]]:
    """Record a refund (``record_in``) in the order's own unit of work; nothing is written
    when it is refused."""
    now = utcnow()
    return changes.change(
        engine,
        order_id,
        actor=actor,
        action=lambda conn, order: record_in(
            conn, order, amount=amount, lines=lines or [], reason=reason, actor=actor, now=now
        ),
    )
