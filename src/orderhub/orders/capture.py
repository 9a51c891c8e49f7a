"""Capture: every channel's order enters here, once.

Promises:
- Idempotent. The same ``Idempotency-Key`` with the same body returns the same order; with a
  different body it is a Conflict. The same channel order (channel + external_ref) delivered
  twice — a webhook retry — yields one order.
- All or nothing. The order, its lines, its first events and their outbox rows are written in
  one transaction.
- Nothing lost. A payload that cannot be taken (not JSON, fails validation or mapping) is kept
  in the dead-letter list with the error, for staff to inspect and replay; the problem
  response names its ``dead_letter_id``. A bad webhook signature stores nothing at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from orderhub.carbon import service as carbon
from orderhub.core import jsondoc
from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Unauthorized,
    json_pointer,
)
from orderhub.core.ids import new_id
from orderhub.core.money import MAX_MAJOR_UNITS, Money, currency_exponent
from orderhub.inventory import service as inventory
from orderhub.orders import changes, dead_letters, store
from orderhub.orders import events as ev
from orderhub.orders.canonical import OrderCreate
from orderhub.orders.channels import ADAPTERS, ChannelOrder, verify_hmac_base64
from orderhub.orders.holds import hold_stock
from orderhub.orders.model import (
    Address,
    Customer,
    DeliveryMethod,
    Order,
    OrderLine,
    PaymentStatus,
)
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.db import unit_of_work
from orderhub.platform.settings import Settings

CANONICAL = "canonical"
DEAD_LETTER_BODY_BYTES = 64 * 1024  # a rejected body longer than this keeps this prefix


@dataclass(frozen=True, slots=True)
class Captured:
    """The outcome of a capture: the order id, whether this call created it, and the order as
    written when it did (so the caller need not read it back)."""

    order_id: str
    created: bool
    order: Order | None = None


@dataclass(frozen=True, slots=True)
class Idempotency:
    principal: str
    key: str
    request_hash: str


# -- canonical → model --------------------------------------------------------------------
def _money(amount: str, currency: str, pointer: str) -> Money:
    try:
        return Money.parse(amount, currency)
    except ValueError as exc:
        raise InvalidInput(f"{pointer}: {exc}", errors=[{"pointer": pointer, "detail": str(exc)}]) from None


def build_order(data: OrderCreate) -> Order:
    """The model aggregate for a validated canonical order (status still ``created``)."""
    cur = data.currency
    lines = [
        OrderLine(
            id=new_id("ol"),
            sku=line.sku,
            quantity=line.quantity,
            unit_price=_money(line.unit_price, cur, f"/lines/{i}/unit_price"),
            name=line.name,
            external_line_id=line.external_line_id,
        )
        for i, line in enumerate(data.lines)
    ]
    order = Order(
        id=new_id("ord"),
        channel=data.channel,
        currency=cur,
        customer=Customer(**data.customer.model_dump()),
        shipping_address=Address(**data.shipping_address.model_dump()),
        billing_address=Address(**data.billing_address.model_dump()) if data.billing_address else None,
        lines=lines,
        created_at=as_utc(data.placed_at) if data.placed_at else utcnow(),
        external_ref=data.external_ref,
        payment_status=data.payment_status,
        delivery_method=data.delivery_method,
        pickup_node_id=data.pickup_node_id,
        delivery_option=data.delivery_option,
        promise_days=data.promise_days,
        tags=sorted(set(data.tags)),
        priority=data.priority,
        notes=data.notes,
        shipping_total=_money(data.shipping_total, cur, "/shipping_total"),
        discount_total=_money(data.discount_total, cur, "/discount_total"),
        tax_total=_money(data.tax_total, cur, "/tax_total"),
    )
    _check_totals(order)
    a = order.shipping_address
    order.changes.append(
        ev.OrderCaptured(
            channel=order.channel,
            external_ref=order.external_ref,
            total=order.total.to_decimal_string(),
            currency=cur,
            lines=len(lines),
            delivery_option=data.delivery_option,
            delivery_method=order.delivery_method.value,
            customer_email=order.customer.email.lower(),
            customer_tier=order.customer.tier.value,
            placed_at=order.created_at.isoformat(),
            destination={
                "country": a.country,
                "region": a.region,
                "city": a.city,
                "postal_code": a.postal_code,
                "lat": a.lat,
                "lon": a.lon,
            },
            items=[
                {"line_id": x.id, "sku": x.sku, "quantity": x.quantity, "unit_price": x.unit_price.to_decimal_string()}
                for x in lines
            ],
            promise_days=order.promise_days,
            pickup_node_id=order.pickup_node_id,
            payment_method=data.payment_method,
        )
    )
    return order


def _check_totals(order: Order) -> None:
    """Sums stay within the range one amount may have (and so within a BIGINT of minor units)."""
    limit = MAX_MAJOR_UNITS * 10 ** currency_exponent(order.currency)
    for name, amount in (("/lines", order.subtotal), ("", order.total)):
        if abs(amount.minor) > limit:
            detail = f"the order's amounts add up to more than {MAX_MAJOR_UNITS} {order.currency}"
            raise InvalidInput(detail, errors=[{"pointer": name, "detail": detail}])


def start_lifecycle(order: Order, cancel_reason: str | None = None) -> None:
    """Where a new order starts in the lifecycle, from what the channel told us."""
    if order.payment_status in (PaymentStatus.paid, PaymentStatus.authorized):
        order.transition_to(order.status.paid, reason="payment received by the channel")
        if order.delivery_method == DeliveryMethod.in_store:
            order.hand_over_in_store()
        order.wait_for_run()
    elif order.payment_status == PaymentStatus.pending:
        order.transition_to(order.status.awaiting_payment)
    if cancel_reason and order.status != order.status.delivered:
        order.cancel(reason=cancel_reason)


# -- the capture transaction --------------------------------------------------------------
def capture(
    engine: Engine,
    *,
    data: OrderCreate,
    actor: str,
    idempotency: Idempotency | None = None,
    cancel_reason: str | None = None,
) -> Captured:
    """Write a new order from a canonical order, once, holding its stock in the same
    transaction (see the module doc). ``OutOfStock`` (409) when stock is short and the order
    asked to be rejected rather than backordered: then nothing is written."""
    order = build_order(data)
    start_lifecycle(order, cancel_reason)
    green = _green_choice(engine, order) if order.delivery_option != "standard" else None
    try:
        return _insert(
            engine,
            order,
            actor=actor,
            idempotency=idempotency,
            on_shortage=data.on_shortage,
            green=green,
            cart_id=data.cart_id,
        )
    except IntegrityError:
        # A concurrent delivery of the same order or key won the race: answer with its result.
        found = _find_existing(engine, order, idempotency)
        if found is None:
            raise
        return found


def _find_existing(engine: Engine, order: Order, idem: Idempotency | None) -> Captured | None:
    with unit_of_work(engine, write=False) as conn:
        return _find_existing_in(conn, order, idem)


def _green_choice(engine: Engine, order: Order) -> tuple[Any, Any]:
    """The greener option the customer chose, priced against standard (it must be on offer)."""
    a = order.shipping_address
    if a.lat is None or a.lon is None:
        raise InvalidInput(
            "a greener delivery option needs the shipping address coordinates",
            errors=[{"pointer": "/shipping_address/lat", "detail": "required with delivery_option"}],
        )
    offered = carbon.delivery_options(
        engine,
        lines=[carbon.BasketItem(line.sku, line.quantity) for line in order.lines],
        destination=(a.lat, a.lon),
        channel=order.channel,
        currency=order.currency,
        subtotal=Decimal(order.subtotal.to_decimal_string()),
        country=a.country,
    )
    chosen = next((o for o in offered if o.name == order.delivery_option), None)
    if chosen is None or not offered:
        raise InvalidInput(
            f"delivery option {order.delivery_option} is not on offer for this basket now",
            errors=[
                {"pointer": "/delivery_option", "detail": f"offered: {', '.join(o.name for o in offered) or 'none'}"}
            ],
        )
    return chosen, offered[0]


def _insert(
    engine: Engine,
    order: Order,
    *,
    actor: str,
    idempotency: Idempotency | None,
    on_shortage: str = "backorder",
    green: tuple[Any, Any] | None = None,
    cart_id: str | None = None,
) -> Captured:
    """Insert first, ask later: the idempotency key row and the order row are unique, so a
    repeat fails on a constraint (IntegrityError, handled by ``capture``) instead of costing
    every new order a look-up."""
    now = utcnow()
    with unit_of_work(engine) as conn:
        _write(
            conn,
            order,
            actor=actor,
            idempotency=idempotency,
            now=now,
            on_shortage=on_shortage,
            green=green,
            cart_id=cart_id,
        )
    return Captured(order.id, created=True, order=order)


def _write(
    conn: Connection,
    order: Order,
    *,
    actor: str,
    idempotency: Idempotency | None,
    now: datetime,
    on_shortage: str = "backorder",
    green: tuple[Any, Any] | None = None,
    cart_id: str | None = None,
    take_stock: bool = True,
) -> None:
    """The capture's writes in the caller's transaction: key, customer, order, stock, events."""
    if idempotency is not None:
        store.insert_idempotency_key(
            conn,
            principal=idempotency.principal,
            key=idempotency.key,
            request_hash=idempotency.request_hash,
            order_id=order.id,
            created_at=now,
        )
    if order.customer.email:
        order.customer.email = order.customer.email.lower()
        order.customer.id = store.upsert_customer(conn, order.customer, new_id=new_id("cus"), now=now)
    store.insert_order(conn, order, now=now)
    if green is not None:
        chosen, standard = green
        carbon.record_choice(
            conn, order_id=order.id, customer_email=order.customer.email, chosen=chosen, standard=standard, at=now
        )
        order.changes.append(
            ev.GreenerDeliveryChosen(
                option=chosen.name,
                kg_co2e=round(chosen.kg_co2e, 3),
                kg_saved=round(chosen.savings_kg, 3),
                points=chosen.points,
            )
        )
    # an SKU first seen here gets a placeholder item flagged for review, not a silent 500 g
    inventory.add_placeholders(conn, [(line.sku, line.name) for line in order.lines])
    prefer = next(iter(green[0].lines_from)) if green and len(green[0].lines_from) == 1 else None
    if take_stock:  # last: row locks held briefly
        hold_stock(conn, order, on_shortage=on_shortage, now=now, prefer_node=prefer, cart_id=cart_id)
    changes.save(conn, order, actor=actor, now=now, new=True)


def capture_in(conn: Connection, *, adapter: str, payload: Any, actor: str, stock_taken: bool = False) -> Captured:
    """Capture a channel payload inside the caller's transaction (a store gateway's event is
    applied with its stock move and its record in one transaction: docs/edge.md).

    Idempotent by channel order (channel + external_ref): a payload seen before answers the
    existing order, ``created`` False, and writes nothing. ``stock_taken``: the caller moves
    the stock itself (a till sale out of the store's escrow), so capture holds nothing.
    ``InvalidInput`` for a payload that cannot be taken; nothing is kept as a dead letter here
    (the caller records it)."""
    result = normalize(adapter, payload)
    order = build_order(result.order)
    start_lifecycle(order, result.cancel_reason)
    found = _find_existing_in(conn, order, None)
    if found is not None:
        return found
    _write(
        conn,
        order,
        actor=actor,
        idempotency=None,
        now=utcnow(),
        on_shortage=result.order.on_shortage,
        take_stock=not stock_taken,
    )
    return Captured(order.id, created=True, order=order)


def _find_existing_in(conn: Connection, order: Order, idem: Idempotency | None) -> Captured | None:
    if idem is not None:
        row = store.get_idempotency_key(conn, idem.principal, idem.key)
        if row is not None:
            if row["request_hash"] != idem.request_hash:
                raise Conflict(
                    "this Idempotency-Key was used with a different body",
                    code="idempotency_key_reused",
                    order_id=row["order_id"],
                )
            return Captured(row["order_id"], created=False)
    if order.external_ref:
        existing = store.find_order_id_by_external_ref(conn, order.channel, order.external_ref)
        if existing:
            return Captured(existing, created=False)
    return None


# -- receiving raw payloads ---------------------------------------------------------------
def parse_json(body: bytes) -> Any:
    """The JSON document of a channel body, strictly (duplicate keys, control characters,
    non-finite numbers and deep nesting refused; see ``core.jsondoc``)."""
    return jsondoc.parse(body)


def request_hash(payload: Any) -> str:
    """A hash of the JSON document (key order and whitespace do not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def normalize(adapter: str, payload: Any) -> ChannelOrder:
    """Native payload → canonical order, for a channel adapter or the canonical format."""
    if adapter == CANONICAL:
        try:
            return ChannelOrder(OrderCreate.model_validate(payload))
        except ValidationError as exc:
            errors = [
                {"pointer": json_pointer(list(e["loc"])), "detail": e["msg"].removeprefix("Value error, ")}
                for e in exc.errors()
            ]
            raise InvalidInput(f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors) from None
    normalize_fn = ADAPTERS[adapter].normalize
    result: ChannelOrder = normalize_fn(payload)
    return result


def check_channel_auth(
    settings: Settings, *, adapter: str, body: bytes, headers: Mapping[str, str], principal: Principal | None
) -> str:
    """Who is delivering: a valid channel signature, or an operator's API key. Returns the actor."""
    if adapter != CANONICAL and adapter not in ADAPTERS:
        if principal is None:  # who asks comes first: strangers learn nothing of our adapters
            raise Unauthorized("send a signed webhook or an API key", code="authentication_required")
        raise NotFound(
            f"no channel adapter {adapter!r}; one of {', '.join(sorted(ADAPTERS))}",
            code="unknown_adapter",
        )
    module = ADAPTERS.get(adapter)
    header = getattr(module, "SIGNATURE_HEADER", None)
    if header and headers.get(header) is not None:
        secret = getattr(settings, module.SECRET_SETTING, None)  # type: ignore[union-attr]
        if not secret:
            raise Unauthorized(f"no webhook secret is configured for {adapter}", code="no_webhook_secret")
        if not verify_hmac_base64(secret, body, headers.get(header)):
            raise Unauthorized(f"the {header} signature does not match", code="bad_signature")
        return f"channel:{adapter}"
    if principal is None:
        raise Unauthorized(f"send a signed {adapter} webhook or an API key", code="authentication_required")
    principal.require(Role.operator)
    return principal.actor


def receive(
    engine: Engine,
    *,
    adapter: str,
    body: bytes,
    actor: str,
    content_type: str = "application/json",
    idempotency_key: str | None = None,
    principal_id: str = "",
) -> Captured:
    """Parse, normalize and capture a raw payload; on bad input keep it as a dead letter."""
    try:
        payload = parse_json(body)
        result = normalize(adapter, payload)
        idem = Idempotency(principal_id, idempotency_key, request_hash(payload)) if idempotency_key else None
        return capture(engine, data=result.order, actor=actor, idempotency=idem, cancel_reason=result.cancel_reason)
    except InvalidInput as exc:
        exc.fields["dead_letter_id"] = keep_dead_letter(
            engine, adapter=adapter, body=body, content_type=content_type, error=exc
        )
        raise


def keep_dead_letter(engine: Engine, *, adapter: str, body: bytes, content_type: str, error: InvalidInput) -> str:
    """Store a rejected payload with its error; returns the dead letter's id.

    Kept verbatim up to ``DEAD_LETTER_BODY_BYTES``; a longer body keeps that prefix, and the
    error records the full size and SHA-256 (``received``). NUL, which text columns cannot
    hold, is kept as U+FFFD, like bytes that are not UTF-8."""
    letter_id = new_id("dl")
    kept = body[:DEAD_LETTER_BODY_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    received = {
        "bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "truncated": len(body) > DEAD_LETTER_BODY_BYTES,
    }
    with unit_of_work(engine) as conn:
        dead_letters.insert(
            conn,
            id=letter_id,
            adapter=adapter,
            received_at=utcnow(),
            payload=kept,
            content_type=content_type[:100],
            error={"code": error.code, "detail": error.detail, "errors": error.errors[:20], "received": received},
            status="pending",
            attempts=1,
        )
    return letter_id


# -- dead letters -------------------------------------------------------------------------
def get_dead_letters(
    engine: Engine, *, status: str | None = "pending", limit: int = 50, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of dead letters, newest first, without their bodies; and the next page's cursor."""
    with unit_of_work(engine, write=False) as conn:
        return dead_letters.list_letters(conn, status=status, limit=limit, cursor=cursor)


def get_dead_letter(engine: Engine, *, letter_id: str) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        letter = dead_letters.get(conn, letter_id)
    if letter is None:
        raise NotFound(f"no dead letter {letter_id}", code="dead_letter_not_found")
    return letter


def replay_dead_letter(engine: Engine, *, letter_id: str, actor: str, payload: str | None = None) -> Captured:
    """Run a dead letter through its adapter again — as stored, or with ``payload`` as corrected
    by staff. Success marks it replayed with the order id; failure records the new error and
    keeps it pending."""
    letter = get_dead_letter(engine, letter_id=letter_id)
    if letter["status"] != "pending":
        raise Conflict(f"dead letter {letter_id} is {letter['status']}", code="dead_letter_closed")
    if payload is None and letter["error"].get("received", {}).get("truncated"):
        raise Conflict(
            f"dead letter {letter_id} kept only a prefix of its body; replay it with a corrected payload",
            code="dead_letter_truncated",
        )
    body = (payload if payload is not None else letter["payload"]).encode()
    try:
        parsed = parse_json(body)
        result = normalize(letter["adapter"], parsed)
        captured = capture(engine, data=result.order, actor=actor, cancel_reason=result.cancel_reason)
    except InvalidInput as exc:
        with unit_of_work(engine) as conn:
            dead_letters.update(
                conn,
                letter_id,
                attempts=letter["attempts"] + 1,
                payload=body[:DEAD_LETTER_BODY_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
                error={"code": exc.code, "detail": exc.detail, "errors": exc.errors[:20]},
            )
        exc.fields["dead_letter_id"] = letter_id
        raise
    with unit_of_work(engine) as conn:
        dead_letters.mark(conn, letter_id, status="replayed", order_id=captured.order_id, by=actor, at=utcnow())
    return captured


def discard_dead_letter(engine: Engine, *, letter_id: str, actor: str) -> None:
    """Close a dead letter without an order (it stays listed as discarded)."""
    letter = get_dead_letter(engine, letter_id=letter_id)
    if letter["status"] != "pending":
        raise Conflict(f"dead letter {letter_id} is {letter['status']}", code="dead_letter_closed")
    with unit_of_work(engine) as conn:
        dead_letters.mark(conn, letter_id, status="discarded", order_id=None, by=actor, at=utcnow())
