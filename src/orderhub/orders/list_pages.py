"""Console pages of the orders list: filters, built-in and saved views, sortable columns with
numbered pages and the total, bulk hold / release / cancel, CSV export, and reaching an order
by its number. They call the same services as the API (``orders.browsing``, ``orders.service``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from orderhub.core.clock import utcnow
from orderhub.core.errors import DomainError, Forbidden
from orderhub.orders import browsing, listing
from orderhub.orders.api import summary_json
from orderhub.orders.model import OrderStatus
from orderhub.platform.auth.model import Principal, Role
from orderhub.web.templating import act, check_csrf, console_user, error_message, flash, redirect, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)
CHANNELS = ["web", "shopify", "woocommerce", "pos", "social"]
#: The list's query parameters, in the order a saved view's query string keeps them.
FILTER_KEYS = ("view", "status", "channel", "q", "tag", "customer", "created_from", "created_to", "sort")
#: Columns that sort: (sort key, header); the rest do not.
SORTABLE = {"number": "Order", "placed": "Placed", "channel": "Channel", "status": "Status", "total": "Total"}
#: Saving views and bulk actions: the role that works orders (operator) and every role above.
OPERATE = Role.operator


def _day(value: str, name: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        raise ValueError(f"{name}: not a date (YYYY-MM-DD)") from None


def _query(values: dict[str, str], **over: Any) -> str:
    """The list's query string: the non-empty parameters of ``values`` with ``over`` applied."""
    return urlencode([(k, v) for k, v in {**values, **over}.items() if v])


def _sort_links(values: dict[str, str], sort: listing.Sort) -> dict[str, dict[str, str]]:
    """Per sortable column: the link that sorts by it (the other way round if it sorts now)."""
    out = {}
    for key, label in SORTABLE.items():
        active = sort.key == key
        descending = not sort.descending if active else key in ("placed", "total")
        arrow = ("▼" if sort.descending else "▲") if active else ""
        value = ("-" if descending else "") + key
        out[key] = {"label": label, "href": "/console/orders?" + _query(values, sort=value, page=""), "arrow": arrow}
    return out


def _page_numbers(page: int, pages: int) -> list[int | None]:
    """Page numbers around the current one, the first and the last; None marks a gap."""
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out


def _selection(values: dict[str, str]) -> tuple[listing.OrderFilter, listing.Sort]:
    """The filter and sort the list's parameters ask for; ``DomainError`` or ``ValueError``
    (with a message for people) when one is not valid."""
    q = values["q"].strip()
    is_prefix = q.endswith("*")  # "1001*": order numbers starting 1001, as the API's number=
    where = listing.make_filter(
        status=[values["status"]] if values["status"] else None,
        channel=[values["channel"]] if values["channel"] else None,
        text="" if is_prefix else q,
        number=q if is_prefix else "",
        tag=values["tag"],
        customer=values["customer"],
        created_from=_day(values["created_from"], "from"),
        created_to=_day(values["created_to"], "to"),
        view=values["view"],
    )
    return where, listing.parse_sort(values["sort"] or None)


def _list_query(
    view: str = "",
    status: str = "",
    channel: str = "",
    q: str = "",
    tag: str = "",
    customer: str = "",
    created_from: str = "",
    created_to: str = "",
    sort: str = "",
) -> dict[str, str]:
    """The list's filters and sort as the query string gives them (the list and its export)."""
    values = {"view": view, "status": status, "channel": channel, "q": q, "tag": tag, "customer": customer}
    return values | {"created_from": created_from, "created_to": created_to, "sort": sort}


ListQuery = Annotated[dict[str, str], Depends(_list_query)]


@router.get("/orders", response_class=HTMLResponse)
def orders_list(request: Request, user: User, values: ListQuery, page: str = "1") -> Response:
    """The list, a page at a time with the total. A search that is exactly one order's number
    or id opens that order (on a full page load; typing only filters the rows)."""
    engine = request.app.state.engine
    q = values["q"]
    if q and not request.headers.get("hx-request"):
        found = browsing.find_by_number(engine, number=q)
        if len(found) == 1:
            return redirect(f"/console/orders/{found[0]['id']}")
    error, result = None, None
    order = listing.Sort.parse(listing.DEFAULT_SORT)
    try:
        where, order = _selection(values)
        number = int(page) if page.isdigit() else 1
        result = browsing.get_page(engine, where=where, sort=order, page=number)
    except DomainError as exc:
        error = exc.detail
    except ValueError as exc:
        error = str(exc)
    query = _query(values)
    context = {
        "user": user,
        "nav": "orders",
        "rows": [summary_json(r) for r in result.items] if result else [],
        "result": result,
        "pages": _page_numbers(result.page, result.pages) if result else [],
        "filters": values,
        "query": query,
        "page_href": "/console/orders?" + (query + "&" if query else "") + "page=",
        "sorts": _sort_links(values, order),
        "views": listing.VIEWS,
        "saved": browsing.get_views(engine, user_id=user.user_id),
        "statuses": list(OrderStatus),
        "channels": CHANNELS,
        "error": error,
        "can_operate": user.role >= OPERATE,
    }
    return render(request, "orders/list.html", context, fragment="orders/_rows.html")


@router.get("/orders.csv")
def orders_export(request: Request, user: User, values: ListQuery) -> Response:
    """The current view (filters and sort) as CSV, every matching row, streamed."""
    try:
        where, order = _selection(values)
    except (DomainError, ValueError) as exc:
        message = exc.detail if isinstance(exc, DomainError) else str(exc)
        return render(request, "web/error.html", {"user": user, "message": message}, status_code=422)
    headers = {"Content-Disposition": f'attachment; filename="orders-{utcnow():%Y%m%d-%H%M}.csv"'}
    return StreamingResponse(
        browsing.export_csv(request.app.state.engine, where=where, sort=order),
        media_type="text/csv; charset=utf-8",
        headers=headers,
    )


@router.get("/orders/by-number/{channel}/{number:path}")
def order_by_number(request: Request, channel: str, number: str, user: User) -> Response:
    """A channel's order number opens its order (e.g. ``/console/orders/by-number/pos/ST-1/77``)."""
    try:
        order_id = browsing.find_in_channel(request.app.state.engine, channel=channel, number=number)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    return redirect(f"/console/orders/{order_id}")


# -- saved views ----------------------------------------------------------------------------
def _clean_query(query: str) -> str:
    """Only the list's own parameters are kept in a saved view (never a page number)."""
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?")) if k in FILTER_KEYS and v]
    return urlencode(pairs)


@router.post("/orders/views", dependencies=[Csrf])
def view_save(
    request: Request, user: User, name: Annotated[str, Form()] = "", query: Annotated[str, Form()] = ""
) -> Response:
    """Save the list's current filters and sort under a name, for this user."""
    kept = _clean_query(query)

    def save() -> str:
        browsing.save_view(request.app.state.engine, user_id=user.user_id, name=name, query=kept)
        return f"View “{' '.join(name.split())}” saved"

    return act(request, user, OPERATE, "/console/orders" + ("?" + kept if kept else ""), save)


@router.post("/orders/views/{view_id}/delete", dependencies=[Csrf])
def view_delete(request: Request, view_id: str, user: User) -> Response:
    def delete() -> str:
        browsing.delete_view(request.app.state.engine, user_id=user.user_id, view_id=view_id)
        return "View deleted"

    return act(request, user, OPERATE, "/console/orders", delete)


# -- bulk actions ---------------------------------------------------------------------------
@router.post("/orders/bulk", dependencies=[Csrf])
def orders_bulk(
    request: Request,
    user: User,
    action: Annotated[str, Form()] = "",
    order_id: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Hold, release or cancel the selected orders, each through its own order operation; the
    answer lists each order's outcome (htmx swaps it in above the list and reloads the rows)."""
    outcomes, error = [], None
    try:
        user.require(OPERATE)
        outcomes = browsing.act_on_many(
            request.app.state.engine, action=action, order_ids=order_id or [], actor=user.actor, reason=reason
        )
    except Forbidden as exc:
        error = exc.detail
    except DomainError as exc:
        error = error_message(exc)
    done = sum(1 for o in outcomes if o.done)
    if not request.headers.get("hx-request"):
        flash(request, error or f"{action}: {done} done, {len(outcomes) - done} refused", "error" if error else "ok")
        return redirect("/console/orders", request)
    context = {"user": user, "outcomes": outcomes, "done": done, "action": action, "error": error}
    response = render(request, "orders/_bulk_result.html", context)
    if outcomes:
        response.headers["HX-Trigger"] = "orders-changed"
    return response
