"""The orders list's use cases: a numbered page with its total, the CSV export of any view,
finding an order by its number, saved views per user, and bulk hold / release / cancel.

Reads are short read-only transactions. A bulk action runs the single-order operation
(``service.hold`` …) once per order, each in its own transaction, so one refusal never undoes
or blocks the others; the result names each order's outcome.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import Conflict, DomainError, InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.core.money import Money
from orderhub.orders import listing, service
from orderhub.orders.listing import OrderFilter, Sort
from orderhub.orders.model import Order
from orderhub.platform.db import unit_of_work

#: Rows on a page of the console's list.
PAGE_SIZE = 50
#: Orders one bulk action may name.
MAX_BULK = 200
#: Rows the export reads per transaction.
EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ListPage:
    """One numbered page (1-based) of a filtered, sorted list, and how many match in all."""

    items: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    per_page: int


def get_page(engine: Engine, *, where: OrderFilter, sort: Sort, page: int = 1, per_page: int = PAGE_SIZE) -> ListPage:
    """Page ``page`` of the matching orders and their count, read in one transaction. A page
    past the end answers the last page."""
    with unit_of_work(engine, write=False) as conn:
        total = listing.count(conn, where)
        pages = max(1, math.ceil(total / per_page))
        page = min(max(1, page), pages)
        rows = listing.page(conn, where, sort, offset=(page - 1) * per_page, limit=per_page)
    return ListPage(rows, total, page, pages, per_page)


def count(engine: Engine, *, where: OrderFilter) -> int:
    """How many orders match ``where``."""
    with unit_of_work(engine, write=False) as conn:
        return listing.count(conn, where)


def find_by_number(engine: Engine, *, number: str) -> list[dict[str, Any]]:
    """The orders (at most two: enough to tell "one" from "several") whose id or order number
    is exactly ``number``, with their channel and order number."""
    if not number.strip():
        return []
    with unit_of_work(engine, write=False) as conn:
        return listing.find_by_number(conn, number)


def find_in_channel(engine: Engine, *, channel: str, number: str) -> str:
    """The id of ``channel``'s order ``number`` (404 ``order_not_found`` if there is none)."""
    with unit_of_work(engine, write=False) as conn:
        order_id = service.find_order_in(conn, channel=channel, external_ref=number)
    if order_id is None:
        raise NotFound(f"no {channel} order {number}", code="order_not_found", channel=channel, number=number)
    return order_id


# -- export ----------------------------------------------------------------------------------
CSV_COLUMNS = [
    "order_number",
    "channel",
    "order_id",
    "placed_at",
    "status",
    "payment_status",
    "customer_name",
    "customer_email",
    "customer_tier",
    "ship_to_city",
    "ship_to_postal_code",
    "ship_to_country",
    "currency",
    "subtotal",
    "shipping",
    "discount",
    "tax",
    "total",
    "tags",
]


def _cell(value: str) -> str:
    """Text a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_row(row: dict[str, Any]) -> list[str]:
    cur = row["currency"]
    ship = row["shipping_address"] or {}

    def money(minor: int) -> str:
        return Money(minor, cur).to_decimal_string()

    text = [
        row["external_ref"] or "",
        row["channel"],
        row["id"],
        as_utc(row["created_at"]).isoformat(),
        row["status"],
        row["payment_status"],
        (row["customer"] or {}).get("name", ""),
        row["customer_email"],
        row["customer_tier"],
        ship.get("city", "") or "",
        ship.get("postal_code", "") or "",
        ship.get("country", "") or "",
        cur,
    ]
    amounts = [
        money(row[k]) for k in ("subtotal_minor", "shipping_minor", "discount_minor", "tax_minor", "total_minor")
    ]
    return [_cell(str(v)) for v in text] + amounts + [_cell(" ".join(row["tags"] or []))]


def export_csv(engine: Engine, *, where: OrderFilter, sort: Sort) -> Iterator[str]:
    """Every matching order as CSV text (header first), in ``sort``'s order, a chunk per batch
    of ``EXPORT_BATCH`` rows: each batch is its own short read (keyset on the sort), so a
    large export neither holds a transaction open nor loads all rows at once."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()
    after: tuple[Any, str] | None = None
    while True:
        with unit_of_work(engine, write=False) as conn:
            rows = listing.page_after(conn, where, sort, after=after, limit=EXPORT_BATCH)
        if not rows:
            return
        out.seek(0)
        out.truncate()
        writer.writerows(_csv_row(r) for r in rows)
        yield out.getvalue()
        if len(rows) < EXPORT_BATCH:
            return
        after = (listing.sort_value(sort, rows[-1]), rows[-1]["id"])


# -- saved views -------------------------------------------------------------------------------
def get_views(engine: Engine, *, user_id: str) -> list[dict[str, Any]]:
    """The user's saved views (name, query string), by name."""
    with unit_of_work(engine, write=False) as conn:
        return listing.get_views(conn, user_id)


def save_view(engine: Engine, *, user_id: str, name: str, query: str) -> str:
    """Save the list's query string under ``name`` for this user; a view of the same name is
    replaced. Returns the view's id."""
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise InvalidInput("a view needs a name of 1 to 80 characters", errors=[{"pointer": "/name", "detail": "1-80"}])
    if len(query) > 2000:
        raise InvalidInput("the view's query is too long", errors=[{"pointer": "/query", "detail": "at most 2000"}])
    try:
        with unit_of_work(engine) as conn:
            return listing.put_view(
                conn, view_id=new_id("view"), user_id=user_id, name=name, query=query.lstrip("?"), now=utcnow()
            )
    except IntegrityError:  # saved under the same name at the same moment
        raise Conflict(f"a view named {name!r} was just saved; reload", code="view_exists") from None


def delete_view(engine: Engine, *, user_id: str, view_id: str) -> None:
    """Delete one of the user's views (404 for another user's or an unknown one)."""
    with unit_of_work(engine) as conn:
        if not listing.delete_view(conn, view_id=view_id, user_id=user_id):
            raise NotFound(f"no view {view_id}", code="view_not_found", view_id=view_id)


# -- bulk actions ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BulkOutcome:
    """One order's result: ``done``, or refused with the reason (the operation's own problem)."""

    order_id: str
    order_number: str
    done: bool
    detail: str
    status: str


BULK_ACTIONS: dict[str, Callable[..., Order]] = {
    "hold": lambda engine, order_id, actor, reason: service.hold(
        engine, order_id=order_id, actor=actor, reason=reason or "held from the orders list"
    ),
    "release": lambda engine, order_id, actor, reason: service.release_hold(
        engine, order_id=order_id, actor=actor, reason=reason
    ),
    "cancel": lambda engine, order_id, actor, reason: service.cancel(
        engine, order_id=order_id, actor=actor, reason=reason or "cancelled from the orders list"
    ),
}


def act_on_many(
    engine: Engine, *, action: str, order_ids: list[str], actor: str, reason: str = ""
) -> list[BulkOutcome]:
    """Run ``action`` (hold, release, cancel) on each order through the single-order service
    function, each in its own transaction; the outcome of each, in the order given (an id
    named twice counts once). Refusals (illegal state, unknown order, stale version) are
    reported, never raised."""
    run = BULK_ACTIONS.get(action)
    if run is None:
        raise InvalidInput(
            f"unknown bulk action {action!r}", errors=[{"pointer": "/action", "detail": "hold, release or cancel"}]
        )
    ids = list(dict.fromkeys(i for i in order_ids if i))
    if not ids or len(ids) > MAX_BULK:
        raise InvalidInput(
            f"select 1 to {MAX_BULK} orders", errors=[{"pointer": "/order_ids", "detail": f"1-{MAX_BULK} ids"}]
        )
    refs = service.get_refs(engine, ids)
    out = []
    for order_id in ids:
        number = refs.get(order_id, {}).get("external_ref", "")
        try:
            order = run(engine, order_id, actor, reason)
        except DomainError as exc:
            status = refs.get(order_id, {}).get("status", "")
            out.append(BulkOutcome(order_id, number, False, _reason(exc), status))
            continue
        out.append(BulkOutcome(order_id, number, True, "done", order.status.value))
    return out


def _reason(exc: DomainError) -> str:
    allowed = exc.fields.get("allowed_next")
    return exc.detail + (f" (allowed next: {', '.join(allowed) or 'none'})" if allowed is not None else "")
