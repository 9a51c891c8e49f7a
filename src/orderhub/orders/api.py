"""JSON routes for orders, channel capture and dead letters (``/api/v1``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from orderhub.core.errors import NotFound
from orderhub.core.money import Money
from orderhub.orders import capture, service
from orderhub.orders.canonical import MAX_LINE_QUANTITY, MAX_LINES, MAX_TAGS, AddressIn, OrderCreate, Tag
from orderhub.orders.channels import ADAPTERS
from orderhub.orders.model import Order, OrderStatus
from orderhub.platform import jobs_api, problems
from orderhub.platform.web import EngineDep, Operator, SettingsDep, Viewer, optional_principal

router = APIRouter(prefix="/api/v1", tags=["orders"], responses=problems.READ)

_ORDER_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderCreate"}}},
    }
}
_NATIVE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The channel's native order JSON (Shopify order, WooCommerce v3 order, "
        "OrderHub POS sale or social order; see docs/channels.md).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


# -- serialisation ------------------------------------------------------------------------
def _amount(value: Money | None, currency: str) -> str:
    return (value or Money.zero(currency)).to_decimal_string()


def order_json(order: Order, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API's view of an order: money as decimal strings, line statuses derived."""
    cur = order.currency
    body: dict[str, Any] = {
        "id": order.id,
        "channel": order.channel,
        "external_ref": order.external_ref,
        "status": order.status.value,
        "allowed_next": [s.value for s in order.allowed_next()],
        "allowed_moves": [s.value for s in order.allowed_moves()],
        "payment_status": order.payment_status.value,
        "delivery_method": order.delivery_method.value,
        "pickup_node_id": order.pickup_node_id,
        "currency": cur,
        "customer": order.customer.as_dict(),
        "shipping_address": order.shipping_address.as_dict(),
        "billing_address": order.billing_address.as_dict() if order.billing_address else None,
        "lines": [
            {
                "id": line.id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": line.unit_price.to_decimal_string(),
                "total": line.total.to_decimal_string(),
                "status": line.status.value,
                "quantity_cancelled": line.quantity_cancelled,
                "quantity_allocated": line.quantity_allocated,
                "quantity_shipped": line.quantity_shipped,
                "quantity_delivered": line.quantity_delivered,
                "quantity_returned": line.quantity_returned,
                "external_line_id": line.external_line_id,
            }
            for line in order.lines
        ],
        "fulfilment_orders": [
            {"id": f.id, "node_id": f.node_id, "status": f.status, "lines": f.lines} for f in order.fulfilment_orders
        ],
        "subtotal": order.subtotal.to_decimal_string(),
        "shipping_total": _amount(order.shipping_total, cur),
        "discount_total": _amount(order.discount_total, cur),
        "tax_total": _amount(order.tax_total, cur),
        "total": order.total.to_decimal_string(),
        "tags": order.tags,
        "priority": order.priority,
        "notes": order.notes,
        "created_at": order.created_at.isoformat(),
        "version": order.version,
    }
    if events is not None:
        body["events"] = [
            {
                "id": e["id"],
                "type": e["type"],
                "actor": e["actor"],
                "occurred_at": e["occurred_at"].isoformat(),
                "data": e["data"],
            }
            for e in events
        ]
    return body


def summary_json(row: dict[str, Any]) -> dict[str, Any]:
    cur = row["currency"]
    return {
        "id": row["id"],
        "channel": row["channel"],
        "external_ref": row["external_ref"] or "",
        "status": row["status"],
        "payment_status": row["payment_status"],
        "customer_email": row["customer_email"],
        "customer_name": row["customer"].get("name", ""),
        "customer_tier": row["customer_tier"],
        "total": Money(row["total_minor"], cur).to_decimal_string(),
        "currency": cur,
        "tags": row["tags"],
        "created_at": row["created_at"].isoformat(),
    }


# -- capture ------------------------------------------------------------------------------
def _captured_response(engine: Any, result: capture.Captured) -> JSONResponse:
    """201 with the order as written, or 200 with the stored order when it existed already."""
    headers = {"Location": f"/api/v1/orders/{result.order_id}"}
    if result.created and result.order is not None:
        return JSONResponse(order_json(result.order), status_code=201, headers=headers)
    view = service.get(engine, order_id=result.order_id)
    headers["Idempotent-Replayed"] = "true"
    return JSONResponse(order_json(view.order, view.events), status_code=200, headers=headers)


@router.post(
    "/orders",
    responses=problems.WRITE,
    status_code=201,
    openapi_extra=_ORDER_BODY,
    summary="Capture an order (canonical JSON)",
)
async def create_order(
    request: Request,
    engine: EngineDep,
    principal: Operator,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Capture an order in the canonical format. ``Idempotency-Key``: same key and body → the
    same order (200, ``Idempotent-Replayed: true``); same key, other body → 409."""
    body = await request.body()

    def run() -> JSONResponse:
        result = capture.receive(
            engine,
            adapter=capture.CANONICAL,
            body=body,
            actor=principal.actor,
            idempotency_key=idempotency_key,
            principal_id=principal.user_id,
            content_type=request.headers.get("content-type", ""),
        )
        return _captured_response(engine, result)

    return await run_in_threadpool(run)


@router.post(
    "/channels/{adapter}/orders",
    responses=problems.WRITE,
    status_code=201,
    openapi_extra=_NATIVE_BODY,
    summary="Capture a channel's native order",
)
async def create_channel_order(
    adapter: Annotated[
        str,
        # documented, not enforced here: an unknown adapter is answered after the credentials are checked
        Path(json_schema_extra={"enum": sorted(ADAPTERS)}, description="the channel adapter"),
    ],
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Take a channel's own payload (``shopify``, ``woocommerce``, ``pos``, ``social``).
    Authenticated by the channel's webhook signature where it signs, or by an operator key.
    A redelivered order (same channel order id) returns the existing order with 200."""
    body = await request.body()
    return await run_in_threadpool(_receive_channel, request, engine, settings, adapter, body)


def _receive_channel(request: Request, engine: Any, settings: Any, adapter: str, body: bytes) -> JSONResponse:
    """Authenticate, capture and answer in one worker-thread hop."""
    actor = capture.check_channel_auth(
        settings, adapter=adapter, body=body, headers=request.headers, principal=optional_principal(request)
    )
    result = capture.receive(
        engine, adapter=adapter, body=body, actor=actor, content_type=request.headers.get("content-type", "")
    )
    return _captured_response(engine, result)


# -- reading ------------------------------------------------------------------------------
@router.get(
    "/orders/{order_id}", responses=problems.FOUND, summary="One order with lines, fulfilment orders and events"
)
def get_order(order_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    view = service.get(engine, order_id=order_id)
    return order_json(view.order, view.events)


# -- lifecycle and edits ------------------------------------------------------------------
class TransitionIn(BaseModel):
    to: OrderStatus
    reason: str = Field(default="", max_length=500)


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class LineQuantity(BaseModel):
    line_id: str = Field(max_length=40)
    quantity: int = Field(gt=0, le=MAX_LINE_QUANTITY, strict=True)


class LinesIn(BaseModel):
    lines: list[LineQuantity] = Field(min_length=1, max_length=MAX_LINES)


class FulfilmentIn(BaseModel):
    node_id: str = Field(min_length=1, max_length=40)
    lines: list[LineQuantity] = Field(min_length=1, max_length=MAX_LINES)


class AllocationIn(BaseModel):
    fulfilment_orders: list[FulfilmentIn] = Field(min_length=1, max_length=MAX_LINES)
    reason: str = Field(default="", max_length=500, description="why, when overriding an allocation")


class OrderPatch(BaseModel):
    shipping_address: AddressIn | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)


class LineAdd(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=MAX_LINE_QUANTITY, strict=True)
    unit_price: str = Field(max_length=40)
    name: str = Field(default="", max_length=300)


class LinePatch(BaseModel):
    quantity: int = Field(le=MAX_LINE_QUANTITY, strict=True)  # below 1: the model's own problem


class LineCancel(BaseModel):
    quantity: int | None = Field(default=None, gt=0, le=MAX_LINE_QUANTITY, strict=True)
    reason: str = Field(default="", max_length=500)


def _lines(body: LinesIn) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in body.lines:
        out[item.line_id] = out.get(item.line_id, 0) + item.quantity
    return out


def _view(engine: Any, order: Order) -> dict[str, Any]:
    return order_json(order, service.get(engine, order_id=order.id).events)


@router.post("/orders/{order_id}/transitions", responses=problems.WRITE, summary="Move an order to another status")
def post_transition(order_id: str, body: TransitionIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    """409 ``illegal_transition`` names ``current_status`` and ``allowed_next``; nothing changes."""
    order = service.transition(engine, order_id=order_id, to=body.to, actor=who.actor, reason=body.reason)
    return _view(engine, order)


@router.post(
    "/orders/{order_id}/hold",
    responses=problems.WRITE,
)
def post_hold(order_id: str, body: ReasonIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return _view(engine, service.hold(engine, order_id=order_id, actor=who.actor, reason=body.reason))


@router.post(
    "/orders/{order_id}/release-hold",
    responses=problems.WRITE,
)
def post_release_hold(order_id: str, body: ReasonIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return _view(engine, service.release_hold(engine, order_id=order_id, actor=who.actor, reason=body.reason))


@router.post(
    "/orders/{order_id}/cancel",
    responses=problems.WRITE,
)
def post_cancel(order_id: str, body: ReasonIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return _view(engine, service.cancel(engine, order_id=order_id, actor=who.actor, reason=body.reason))


@router.post("/orders/{order_id}/payment", responses=problems.WRITE, summary="Record that payment was captured")
def post_payment(order_id: str, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return _view(engine, service.mark_paid(engine, order_id=order_id, actor=who.actor))


@router.post(
    "/orders/{order_id}/allocation",
    responses=problems.WRITE,
    summary="Split a paid order into fulfilment orders, or move them (override)",
)
def post_allocation(order_id: str, body: AllocationIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    assignments: dict[str, dict[str, int]] = {}
    for fo in body.fulfilment_orders:
        node = assignments.setdefault(fo.node_id, {})
        for item in fo.lines:
            node[item.line_id] = node.get(item.line_id, 0) + item.quantity
    order = service.allocate(engine, order_id=order_id, actor=who.actor, assignments=assignments, reason=body.reason)
    return _view(engine, order)


@router.post("/orders/{order_id}/shipments", responses=problems.WRITE, summary="Record shipped units")
def post_shipment(order_id: str, body: LinesIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return _view(engine, service.record_shipment(engine, order_id=order_id, actor=who.actor, lines=_lines(body)))


@router.post("/orders/{order_id}/deliveries", responses=problems.WRITE, summary="Record delivered units")
def post_delivery(order_id: str, body: LinesIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return _view(engine, service.record_delivery(engine, order_id=order_id, actor=who.actor, lines=_lines(body)))


@router.patch("/orders/{order_id}", responses=problems.WRITE, summary="Edit address or tags (before release)")
def patch_order(order_id: str, body: OrderPatch, engine: EngineDep, who: Operator) -> dict[str, Any]:
    order = None
    if body.shipping_address is not None:
        order = service.change_address(
            engine, order_id=order_id, actor=who.actor, address=body.shipping_address.model_dump(exclude_unset=True)
        )
    if body.tags is not None:
        order = service.set_tags(engine, order_id=order_id, actor=who.actor, tags=body.tags)
    if order is None:
        order = service.get(engine, order_id=order_id).order
    return _view(engine, order)


@router.post(
    "/orders/{order_id}/lines", responses=problems.WRITE, status_code=201, summary="Add a line (before release)"
)
def post_line(order_id: str, body: LineAdd, engine: EngineDep, who: Operator) -> dict[str, Any]:
    order = service.add_line(engine, order_id=order_id, actor=who.actor, **body.model_dump())
    return _view(engine, order)


@router.patch(
    "/orders/{order_id}/lines/{line_id}", responses=problems.WRITE, summary="Change a line's quantity (before release)"
)
def patch_line(order_id: str, line_id: str, body: LinePatch, engine: EngineDep, who: Operator) -> dict[str, Any]:
    order = service.change_line_quantity(
        engine, order_id=order_id, actor=who.actor, line_id=line_id, quantity=body.quantity
    )
    return _view(engine, order)


@router.delete("/orders/{order_id}/lines/{line_id}", responses=problems.WRITE, summary="Remove a line (before release)")
def delete_line(order_id: str, line_id: str, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return _view(engine, service.remove_line(engine, order_id=order_id, actor=who.actor, line_id=line_id))


@router.post("/orders/{order_id}/lines/{line_id}/cancel", responses=problems.WRITE, summary="Cancel units of a line")
def post_line_cancel(order_id: str, line_id: str, body: LineCancel, engine: EngineDep, who: Operator) -> dict[str, Any]:
    order = service.cancel_line(
        engine, order_id=order_id, actor=who.actor, line_id=line_id, quantity=body.quantity, reason=body.reason
    )
    return _view(engine, order)


class HoldExtension(BaseModel):
    minutes: int = Field(gt=0, le=24 * 60, strict=True)


@router.get(
    "/orders/{order_id}/stock", responses=problems.FOUND, summary="What an order holds, has allocated or waits for"
)
def get_order_stock(order_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    service.get(engine, order_id=order_id)
    stock = service.get_stock(engine, order_id=order_id)
    return {
        k: [{f: (v.isoformat() if isinstance(v, datetime) else v) for f, v in row.items()} for row in rows]
        for k, rows in stock.items()
    }


@router.get(
    "/orders/{order_id}/sourcing",
    responses=problems.FOUND,
    tags=["sourcing"],
    summary="Why the order's stock is where it is",
)
def get_order_sourcing(order_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """The sourcing engine's latest decision for the order: chosen plan and its terms next to
    the best alternatives, candidates, exclusions, strategy and weights (404 if none yet)."""
    decision = service.get_sourcing(engine, order_id=order_id)
    if decision is None:
        raise NotFound(
            f"order {order_id} has no sourcing decision (pickup, in store, or no coordinates)",
            code="no_sourcing_decision",
        )
    return {"order_id": order_id, **decision}


@router.get(
    "/nodes/{node_id}/pick-list",
    responses=problems.FOUND,
    summary="A node's pick list: released work still to pick, in picking order",
)
def get_pick_list(
    node_id: Annotated[str, Path(min_length=1, max_length=40)],
    engine: EngineDep,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Ranked by priority (higher first), promised time (created_at + promise_days; earliest
    first, none last), age (oldest first), fulfilment order id. ``quantity`` per line is what
    this node still has to pick; ``order_status`` is ``released``, or ``partially_shipped`` /
    ``partially_delivered`` when another node of the order shipped first. ``count`` is the
    number of items here; ``has_more`` says more work waits beyond ``limit``. 404 for an
    unknown node."""
    picks = service.get_pick_list(engine, node_id=node_id, limit=limit)
    items = [
        {
            **asdict(x),
            "promised_by": x.promised_by.isoformat() if x.promised_by else None,
            "created_at": x.created_at.isoformat(),
        }
        for x in picks.items
    ]
    return {"node_id": picks.node_id, "items": items, "count": len(items), "has_more": picks.has_more}


@router.post(
    "/sourcing/reoptimise",
    responses=problems.WRITE,
    tags=["sourcing"],
    status_code=202,
    summary="Start re-planning the unreleased backlog together (a job; its report has the savings)",
)
def post_reoptimise(
    engine: EngineDep, who: Operator, limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000
) -> JSONResponse:
    """Queues a durable job and answers ``202`` with it and its ``Location``; poll that until
    ``status`` is ``succeeded`` (``report`` says what it saved) or ``failed``. The job re-plans
    paid orders not yet allocated against today's stock; those the planner serves better
    (fewer shipments, lower cost) move their holds."""
    return jobs_api.accepted(service.start_reoptimise(engine, limit=limit, actor=who.actor))


@router.get("/carbon/runs", tags=["carbon"], summary="Orders waiting for their area's consolidated run")
def get_runs(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    runs = service.get_wait_runs(engine)
    return {
        "areas": [
            {
                "area": area,
                "orders": len(rows),
                "oldest": rows[0]["created_at"].isoformat(),
                "order_ids": [r["id"] for r in rows],
            }
            for area, rows in sorted(runs.items())
        ]
    }


@router.post(
    "/carbon/runs/{area}/release",
    responses=problems.WRITE,
    tags=["carbon"],
    summary="The consolidated run to an area leaves now",
)
def post_run_release(area: str, engine: EngineDep, who: Operator) -> dict[str, Any]:
    return {"area": area, "released": service.release_wait_run(engine, area=area, actor=who.actor)}


@router.post(
    "/orders/{order_id}/hold-extension", responses=problems.WRITE, summary="Payment started: keep the stock held longer"
)
def post_hold_extension(order_id: str, body: HoldExtension, engine: EngineDep, who: Operator) -> dict[str, Any]:
    until = service.extend_hold(engine, order_id=order_id, minutes=body.minutes, actor=who.actor)
    return {"order_id": order_id, "expires_at": until.isoformat()}


# -- dead letters -------------------------------------------------------------------------
class ReplayIn(BaseModel):
    payload: str | None = Field(default=None, description="A corrected payload; omit to replay as stored")


def _letter_json(letter: dict[str, Any]) -> dict[str, Any]:
    out = dict(letter)
    for key in ("received_at", "resolved_at"):
        out[key] = out[key].isoformat() if out[key] else None
    return out


@router.get("/dead-letters", tags=["dead letters"])
def list_dead_letters(
    engine: EngineDep,
    _: Viewer,
    status: Annotated[Literal["pending", "replayed", "discarded", ""] | None, Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """Rejected channel payloads, newest first (``status``: pending, replayed, discarded, or
    empty), a page at a time and without their bodies (``GET /dead-letters/{id}`` has it)."""
    items, next_cursor = capture.get_dead_letters(engine, status=status or None, limit=limit, cursor=cursor)
    return {"items": [_letter_json(x) for x in items], "next_cursor": next_cursor}


@router.get("/dead-letters/{letter_id}", responses=problems.FOUND, tags=["dead letters"])
def get_dead_letter(letter_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return _letter_json(capture.get_dead_letter(engine, letter_id=letter_id))


@router.post("/dead-letters/{letter_id}/replay", responses=problems.WRITE, tags=["dead letters"])
def replay_dead_letter(letter_id: str, body: ReplayIn, engine: EngineDep, who: Operator) -> JSONResponse:
    """Capture the stored (or corrected) payload; answers the order, or the new problem."""
    result = capture.replay_dead_letter(engine, letter_id=letter_id, actor=who.actor, payload=body.payload)
    return _captured_response(engine, result)


@router.post("/dead-letters/{letter_id}/discard", responses=problems.WRITE, tags=["dead letters"], status_code=204)
def discard_dead_letter(letter_id: str, engine: EngineDep, who: Operator) -> Response:
    capture.discard_dead_letter(engine, letter_id=letter_id, actor=who.actor)
    return Response(status_code=204)


def openapi_models() -> list[type[BaseModel]]:
    """Models referenced by raw-body routes, registered in the OpenAPI components."""
    return [OrderCreate]
