"""JSON routes for the operations views: customers (``/api/v1/customers``) and exceptions
(``/api/v1/exceptions``). Read-only; any role may read them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from orderhub.orders import customers, exceptions
from orderhub.platform import problems
from orderhub.platform.web import EngineDep, Viewer

router = APIRouter(prefix="/api/v1", responses=problems.READ)

OpenStatus = StrEnum("OpenStatus", {s.value: s.value for s in exceptions.OPEN})  # type: ignore[misc]
Bucket = Literal["lt_1h", "1_4h", "4_24h", "1_3d", "gt_3d"]
Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in item.items()}


# -- customers -----------------------------------------------------------------------------
@router.get("/customers", tags=["customers"], summary="Search customers")
def list_customers(
    engine: EngineDep,
    _: Viewer,
    q: Annotated[
        str | None, Query(max_length=200, description="part of a name, email or external / loyalty id")
    ] = None,
    sort: Annotated[Literal["last_order", "lifetime_value", "orders", "name"], Query()] = "last_order",
    currency: Annotated[
        str | None,
        Query(
            pattern="^[A-Z]{3}$",
            description="lifetime value sorts in this currency (default: that of most recent orders)",
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Customers with order count, first and last order and lifetime value per currency
    (paid order totals less recorded refunds); ``total`` counts all that match."""
    page = customers.get_all(engine, q=q, sort=sort, currency=currency, limit=limit, offset=offset)
    return {
        "items": page.items,
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
        "sort": page.sort,
        "currency": page.currency,
    }


@router.get(
    "/customers/{customer}",
    tags=["customers"],
    responses=problems.FOUND,
    summary="One customer: orders, returns, tier, points, lifetime value",
)
def get_customer(
    engine: EngineDep, _: Viewer, customer: Annotated[str, Path(max_length=254, description="customer id or email")]
) -> dict[str, Any]:
    """The customer (by id or email) with its newest orders, its returns (orders in a return
    state), reward points, lifetime value per currency and first / last order."""
    return customers.get(engine, customer=customer)


# -- exceptions ----------------------------------------------------------------------------
@router.get("/exceptions/summary", tags=["exceptions"], summary="How many orders need a person, by kind")
def exceptions_summary(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    """``ageing``: open orders over 24 h in their status; ``late``: past their promise and not
    delivered (``late_unshipped``: of those, not yet shipped); ``backorders``: lines waiting
    for stock (of ``backordered_orders`` orders); ``dead_letters``: channel payloads pending."""
    s = exceptions.get_summary(engine)
    return {
        "ageing": s.ageing,
        "late": s.late,
        "late_unshipped": s.late_unshipped,
        "backorders": s.backorders,
        "backordered_orders": s.backordered_orders,
        "dead_letters": s.dead_letters,
        "ageing_after_hours": int(exceptions.AGEING_AFTER.total_seconds() // 3600),
    }


@router.get("/exceptions/ageing", tags=["exceptions"], summary="Open orders by status and time in status")
def exceptions_ageing(
    engine: EngineDep,
    _: Viewer,
    status: Annotated[OpenStatus | None, Query(description="list the orders in this status")] = None,
    bucket: Annotated[Bucket | None, Query(description="… and this time-in-status bucket")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Counts per open status and bucket (< 1 h, 1–4 h, 4–24 h, 1–3 d, > 3 d); with ``status``
    also that status's orders (in ``bucket`` if given), longest in status first."""
    body: dict[str, Any] = {
        "buckets": [{"key": k, "label": label} for k, label, _ in exceptions.BUCKETS],
        "states": exceptions.get_ageing(engine),
    }
    if status is not None:
        listing = exceptions.get_ageing_orders(engine, status=status.value, bucket=bucket, limit=limit, offset=offset)
        body.update(total=listing.total, items=[_plain(i) for i in listing.items])
    return body


@router.get("/exceptions/late", tags=["exceptions"], summary="Orders past their promise, not delivered")
def exceptions_late(engine: EngineDep, _: Viewer, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Orders whose promise (placed + ``promise_days``) has passed and that are not delivered,
    the longest overdue first."""
    listing = exceptions.get_late(engine, limit=limit, offset=offset)
    return {"total": listing.total, "items": [_plain(i) for i in listing.items]}


@router.get("/exceptions/backorders", tags=["exceptions"], summary="Order lines waiting for stock")
def exceptions_backorders(engine: EngineDep, _: Viewer, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Backordered lines still waiting, oldest first, with their order's number and status."""
    listing = exceptions.get_backorders(engine, limit=limit, offset=offset)
    return {"total": listing.total, "items": [_plain(i) for i in listing.items]}
