"""JSON routes for an order's after-sales: payments and refunds, returns (RMAs), comments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from orderhub.orders import comments, payments, returns
from orderhub.orders.api import LineQuantity
from orderhub.orders.canonical import MAX_LINES
from orderhub.platform import problems
from orderhub.platform.web import EngineDep, Operator, Viewer

router = APIRouter(prefix="/api/v1", tags=["orders"], responses=problems.READ)
RmaId = Annotated[str, Path(min_length=1, max_length=40, description="the return's id (rma_…)")]
Amount = Field(max_length=40, description='decimal string in the order currency, e.g. "9.90"')


class RefundIn(BaseModel):
    amount: str = Amount
    lines: list[LineQuantity] = Field(
        default_factory=list, max_length=MAX_LINES, description="the units refunded, if the refund is for goods"
    )
    reason: str = Field(default="", max_length=500)


class ReturnCreate(BaseModel):
    lines: list[LineQuantity] = Field(min_length=1, max_length=MAX_LINES)
    reason: str = Field(default="", max_length=500)
    condition: str = Field(default="", max_length=40, description="as the customer states it: unopened, opened …")
    node_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="the parcel is already at this node (a walk-in return): received at once",
    )
    received_condition: Literal["resellable", "damaged"] = "resellable"


class ReceiveIn(BaseModel):
    node_id: str = Field(min_length=1, max_length=40, description="where it arrived: any node that takes returns")
    condition: Literal["resellable", "damaged"] = Field(
        description="resellable units go back into the node's stock; damaged ones stay out"
    )
    lines: list[LineQuantity] = Field(
        default_factory=list, max_length=MAX_LINES, description="the units that arrived; empty: all outstanding"
    )


class CancelIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class RmaRefundIn(BaseModel):
    amount: str | None = Field(
        default=None, max_length=40, description="default: the price of the units received (at most what is left)"
    )
    reason: str = Field(default="", max_length=500)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=comments.MAX_TEXT)


def _items(lines: list[LineQuantity]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in lines]


# -- payments and refunds -------------------------------------------------------------------
@router.get("/orders/{order_id}/payments", responses=problems.FOUND, summary="The order's payments and refunds")
def get_payments(order_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """Method, amounts authorised / captured / refunded, what is still refundable and the
    balance (positive: the customer owes it; negative: the customer is owed it)."""
    return payments.get(engine, order_id=order_id).as_json()


@router.post("/orders/{order_id}/refunds", responses=problems.WRITE, status_code=201, summary="Record a refund")
def post_refund(order_id: str, body: RefundIn, engine: EngineDep, who: Operator) -> JSONResponse:
    """Never more than captured minus refunded (422 at ``/amount``, ``refund_exceeds_captured``);
    lines at most the units not refunded yet (422 at ``/lines/i/quantity``). Publishes
    ``order.refund_recorded`` and ``order.payment_changed``."""
    _, refund = payments.refund(
        engine, order_id=order_id, actor=who.actor, amount=body.amount, lines=_items(body.lines), reason=body.reason
    )
    body_out = {**payments.refund_json(refund), "payments": payments.get(engine, order_id=order_id).as_json()}
    return JSONResponse(body_out, status_code=201)


# -- returns ------------------------------------------------------------------------------
@router.get("/orders/{order_id}/returns", responses=problems.FOUND, summary="The order's returns (RMAs)")
def get_returns(order_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    order, rmas = returns.get_all(engine, order_id=order_id)
    return {"items": [returns.rma_json(r, order) for r in rmas]}


@router.post(
    "/orders/{order_id}/returns",
    responses=problems.WRITE,
    status_code=201,
    summary="Authorise a return (RMA); with node_id, received there at once (return anywhere)",
)
def post_return(order_id: str, body: ReturnCreate, engine: EngineDep, who: Operator) -> JSONResponse:
    """Delivered units not yet returned nor on another open RMA (422 at ``/lines/i/quantity``,
    ``over_return``); 409 ``not_returnable`` before delivery. The order moves to
    ``return_requested``; publishes ``order.return_requested``."""
    order, rma = returns.create(
        engine,
        order_id=order_id,
        actor=who.actor,
        lines=_items(body.lines),
        reason=body.reason,
        condition=body.condition,
        node_id=body.node_id,
        received_condition=body.received_condition,
    )
    return JSONResponse(returns.rma_json(rma, order), status_code=201, headers={"Location": _rma_path(order_id, rma)})


def _rma_path(order_id: str, rma: dict[str, Any]) -> str:
    return f"/api/v1/orders/{order_id}/returns/{rma['id']}"


@router.post(
    "/orders/{order_id}/returns/{rma_id}/receive",
    responses=problems.WRITE,
    summary="Units of a return arrived at a node (resellable ones go back into its stock)",
)
def post_return_receive(
    order_id: str, rma_id: RmaId, body: ReceiveIn, engine: EngineDep, who: Operator
) -> dict[str, Any]:
    """422 ``node_takes_no_returns`` at ``/node_id``; 409 ``return_closed`` for a closed RMA.
    Publishes ``order.return_received`` (and ``order.return_closed`` when all arrived)."""
    order, rma = returns.receive(
        engine,
        order_id=order_id,
        rma_id=rma_id,
        actor=who.actor,
        node_id=body.node_id,
        condition=body.condition,
        lines=_items(body.lines),
    )
    return returns.rma_json(rma, order)


@router.post("/orders/{order_id}/returns/{rma_id}/cancel", responses=problems.WRITE, summary="Close an open return")
def post_return_cancel(
    order_id: str, rma_id: RmaId, body: CancelIn, engine: EngineDep, who: Operator
) -> dict[str, Any]:
    order, rma = returns.cancel(engine, order_id=order_id, rma_id=rma_id, actor=who.actor, reason=body.reason)
    return returns.rma_json(rma, order)


@router.post(
    "/orders/{order_id}/returns/{rma_id}/refund",
    responses=problems.WRITE,
    status_code=201,
    summary="Refund the units a return brought back",
)
def post_return_refund(
    order_id: str, rma_id: RmaId, body: RmaRefundIn, engine: EngineDep, who: Operator
) -> JSONResponse:
    """Once per RMA (409 ``return_refunded``), after units arrived (409 ``return_not_received``)."""
    order, (rma, refund) = returns.refund(
        engine, order_id=order_id, rma_id=rma_id, actor=who.actor, amount=body.amount, reason=body.reason
    )
    return JSONResponse({**payments.refund_json(refund), "return": returns.rma_json(rma, order)}, status_code=201)


# -- comments -----------------------------------------------------------------------------
@router.get("/orders/{order_id}/comments", responses=problems.FOUND, summary="Staff comments on an order")
def get_comments(order_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"items": [comments.comment_json(c) for c in comments.get_all(engine, order_id=order_id)]}


@router.post("/orders/{order_id}/comments", responses=problems.WRITE, status_code=201, summary="Comment on an order")
def post_comment(order_id: str, body: CommentIn, engine: EngineDep, who: Operator) -> JSONResponse:
    """A note for colleagues (author and time recorded); not published on the bus."""
    row = comments.create(engine, order_id=order_id, author=who.actor, text=body.text)
    return JSONResponse(comments.comment_json(row), status_code=201)
