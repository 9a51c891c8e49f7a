"""Console pages for operations: customers (list and page) and exceptions (ageing, late,
backorders, dead letters). They call the same services as ``ops_api``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.core.errors import DomainError
from orderhub.orders import customers, exceptions
from orderhub.platform.auth.model import Principal
from orderhub.web.templating import console_user, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
PAGE = 50
SORT_LABELS = {
    "last_order": "last order",
    "lifetime_value": "lifetime value",
    "orders": "number of orders",
    "name": "name",
}
TABS = {"ageing": "Ageing", "late": "Late", "backorders": "Backorders", "dead-letters": "Dead letters"}


def _page_number(value: str) -> int:
    """A page number from the query string: anything that is not a positive number is page 1."""
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else 1


def _pager(total: int, page: int, base: dict[str, str]) -> dict[str, Any]:
    last = max(1, -(-total // PAGE))

    def href(n: int) -> str:
        return "?" + urlencode({**{k: v for k, v in base.items() if v}, "page": n})

    return {
        "page": page,
        "last": last,
        "prev": href(page - 1) if page > 1 else None,
        "next": href(page + 1) if page < last else None,
    }


@router.get("/customers", response_class=HTMLResponse)
def customer_list(request: Request, user: User, q: str = "", sort: str = "last_order", page: str = "1") -> Response:
    """Searchable customer list with its total, sorting and paging; the rows come as an htmx
    fragment when the search changes."""
    number = _page_number(page)
    sort = sort if sort in customers.SORTS else "last_order"
    error = None
    try:
        found = customers.get_all(
            request.app.state.engine, q=q or None, sort=sort, limit=PAGE, offset=(number - 1) * PAGE
        )
        rows, total, currency = found.items, found.total, found.currency
    except DomainError as exc:
        rows, total, currency, error = [], 0, "", exc.detail
    return render(
        request,
        "orders/customers.html",
        {
            "user": user,
            "nav": "customers",
            "rows": rows,
            "total": total,
            "currency": currency,
            "q": q,
            "sort": sort,
            "sorts": SORT_LABELS,
            "pager": _pager(total, number, {"q": q, "sort": sort}),
            "error": error,
        },
        fragment="orders/_customer_rows.html",
    )


@router.get("/customers/{customer}", response_class=HTMLResponse)
def customer_page(request: Request, customer: str, user: User) -> Response:
    """One customer: profile, value, points, orders and returns."""
    try:
        c = customers.get(request.app.state.engine, customer=customer)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    return render(request, "orders/customer.html", {"user": user, "nav": "customers", "c": c})


def _ageing_context(request: Request, status: str, bucket: str, number: int) -> dict[str, Any]:
    engine = request.app.state.engine
    context: dict[str, Any] = {
        "buckets": exceptions.BUCKETS,
        "ageing": exceptions.get_ageing(engine),
        "status": status,
        "bucket": bucket,
        "listing": None,
    }
    if status:
        listing = exceptions.get_ageing_orders(
            engine, status=status, bucket=bucket or None, limit=PAGE, offset=(number - 1) * PAGE
        )
        context["listing"] = listing
        context["pager"] = _pager(listing.total, number, {"tab": "ageing", "status": status, "bucket": bucket})
    return context


@router.get("/exceptions", response_class=HTMLResponse)
def exceptions_page(
    request: Request, user: User, tab: str = "ageing", status: str = "", bucket: str = "", page: str = "1"
) -> Response:
    """Orders that need a person, by kind (one tab each), with the count of every kind."""
    engine = request.app.state.engine
    tab = tab if tab in TABS else "ageing"
    number = _page_number(page)
    context: dict[str, Any] = {"user": user, "nav": "exceptions", "tab": tab, "tabs": TABS, "error": None}
    context["summary"] = exceptions.get_summary(engine)
    try:
        if tab == "ageing":
            context.update(_ageing_context(request, status, bucket, number))
        elif tab == "late":
            listing = exceptions.get_late(engine, limit=PAGE, offset=(number - 1) * PAGE)
            context.update(listing=listing, pager=_pager(listing.total, number, {"tab": tab}))
        elif tab == "backorders":
            listing = exceptions.get_backorders(engine, limit=PAGE, offset=(number - 1) * PAGE)
            context.update(listing=listing, pager=_pager(listing.total, number, {"tab": tab}))
    except DomainError as exc:
        context.update(error=exc.detail, listing=None, ageing=exceptions.get_ageing(engine), buckets=exceptions.BUCKETS)
        context.update(status="", bucket="")
    return render(request, "orders/exceptions.html", context)
