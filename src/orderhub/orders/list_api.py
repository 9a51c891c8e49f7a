"""JSON and CSV routes of the orders list (``/api/v1/orders``, ``/api/v1/orders.csv``): search
by filters, built-in views and order numbers, any sort, cursor pages, an optional total, and
the export of the same selection as CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from orderhub.core.clock import utcnow
from orderhub.orders import browsing, listing, service
from orderhub.orders.api import summary_json
from orderhub.orders.model import OrderStatus
from orderhub.platform import problems
from orderhub.platform.web import EngineDep, Operator, Viewer

router = APIRouter(prefix="/api/v1", tags=["orders"], responses=problems.READ)

View = Literal["awaiting_payment", "unfulfilled", "late", "on_hold", "backordered", "exceptions"]
SortKey = Literal[
    "placed", "-placed", "total", "-total", "status", "-status", "channel", "-channel", "number", "-number"
]
_NUMBER = (
    "an order number (the channel's, any channel) or an order id, exact; end it with * for order "
    "numbers starting with it (1001*)"
)
_VIEW = (
    "a built-in view: awaiting_payment, unfulfilled (paid, not all shipped), late (past its promise, "
    "not delivered), on_hold, backordered, exceptions (held, backordered, late, payment failed, "
    "exception tags)"
)


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


class _Filters:
    """The query parameters both routes take, as a checked ``listing.OrderFilter``."""

    def __init__(
        self,
        status: Annotated[list[OrderStatus] | None, Query()] = None,
        channel: Annotated[list[Annotated[str, Query(max_length=40)]] | None, Query()] = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        customer: Annotated[str | None, Query(max_length=254, description="customer email or id")] = None,
        tag: Annotated[str | None, Query(max_length=40)] = None,
        q: Annotated[
            str | None, Query(max_length=200, description="free text: id, order number, name, email, city, SKU")
        ] = None,
        number: Annotated[str | None, Query(max_length=121, description=_NUMBER)] = None,
        view: Annotated[View | None, Query(description=_VIEW)] = None,
    ) -> None:
        self.where = listing.make_filter(
            status=[s.value for s in status] if status else None,
            channel=channel,
            created_from=created_from,
            created_to=created_to,
            customer=customer,
            tag=tag,
            text=q,
            number=number,
            view=view,
        )


@router.get("/orders", summary="Search orders")
def list_orders(
    engine: EngineDep,
    _: Viewer,
    filters: Annotated[_Filters, Depends()],
    sort: Annotated[SortKey, Query(description="sort key; '-' in front: descending")] = "-placed",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    total: Annotated[bool, Query(description="also count every matching order (`total`)")] = False,
) -> dict[str, Any]:
    """Orders in ``sort`` order (newest first by default), ``limit`` at a time: pass
    ``next_cursor`` back as ``cursor`` with the same filters and sort for the next page. Ties
    break on the order id, so pages never repeat or skip an order. ``total=true`` adds the
    number of matching orders."""
    page = service.get_page_after(engine, where=filters.where, sort=sort, cursor=cursor, limit=limit)
    body: dict[str, Any] = {"items": [summary_json(r) for r in page.items], "next_cursor": page.next_cursor}
    if total:
        body["total"] = browsing.count(engine, where=filters.where)
    return body


@router.get(
    "/orders.csv",
    summary="Export orders as CSV",
    response_class=CsvResponse,
    responses={200: {"description": "every matching order, one row each, header first"}},
)
def export_orders(
    engine: EngineDep,
    _: Viewer,
    filters: Annotated[_Filters, Depends()],
    sort: Annotated[SortKey, Query(description="sort key; '-' in front: descending")] = "-placed",
) -> CsvResponse:
    """Every order the same filters and view select in ``GET /orders``, in ``sort`` order, as
    CSV (``text/csv``, UTF-8, streamed while it is read in batches). Columns: order_number,
    channel, order_id, placed_at, status, payment_status, customer_name, customer_email,
    customer_tier, ship_to_city, ship_to_postal_code, ship_to_country, currency, subtotal,
    shipping, discount, tax, total, tags (space-separated). Text a spreadsheet would read as a
    formula starts with an apostrophe."""
    chunks = browsing.export_csv(engine, where=filters.where, sort=listing.parse_sort(sort))
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    headers = {"Content-Disposition": f'attachment; filename="orders-{stamp}.csv"'}
    return CsvResponse(chunks, headers=headers, media_type="text/csv; charset=utf-8")


class BulkIn(BaseModel):
    action: Literal["hold", "release", "cancel"]
    order_ids: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        min_length=1, max_length=browsing.MAX_BULK
    )
    reason: str = Field(default="", max_length=500)


@router.post("/orders/bulk", responses=problems.WRITE, summary="Hold, release or cancel many orders")
def post_bulk(body: BulkIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    """Runs the single-order operation (``/hold``, ``/release-hold``, ``/cancel``) on each
    order, each in its own transaction: one refusal neither undoes nor stops the others. The
    answer has every order's outcome, in the order given (an id named twice counts once):
    ``done`` with its status now, or ``refused`` with the reason the operation gave."""
    outcomes = browsing.act_on_many(
        engine, action=body.action, order_ids=body.order_ids, actor=who.actor, reason=body.reason
    )
    done = sum(1 for o in outcomes if o.done)
    return {
        "action": body.action,
        "done": done,
        "refused": len(outcomes) - done,
        "results": [
            {
                "order_id": o.order_id,
                "order_number": o.order_number,
                "outcome": "done" if o.done else "refused",
                "detail": o.detail,
                "status": o.status,
            }
            for o in outcomes
        ],
    }
