"""Order use cases after capture: read, search, lifecycle, editing, fulfilment records.

Each function is one short transaction: load the aggregate (row-locked on PostgreSQL), let
the model decide, save with a version check, and append the model's changes as order events
and outbox events in the same transaction. Nothing is written when the model refuses.
Capture lives in ``capture.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.bus import service as bus
from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.core.events import DomainEvent
from orderhub.core.ids import new_id
from orderhub.core.money import Money
from orderhub.inventory import service as inventory
from orderhub.orders import aftersales_store, capture, changes, dead_letters, holds, listing, picking, returns, store
from orderhub.orders.events import HoldExtended
from orderhub.orders.model import Order, OrderLine
from orderhub.orders.model import OrderStatus as OrderStatus  # other contexts name statuses by it
from orderhub.orders.picking import PickItem as PickItem
from orderhub.platform import jobs
from orderhub.platform.db import unit_of_work


def _change(engine: Engine, order_id: str, actor: str, action: Callable[[Order], None]) -> Order:
    """A model method applied through the order's unit of work (``changes.change``)."""
    order, _ = changes.change(engine, order_id, actor=actor, action=lambda _conn, o: action(o))
    return order


#: The unit of work of an order change, for other contexts: ``change(engine, order_id, actor=,
#: action=(conn, order) -> T)`` loads the order under lock, runs ``action``, saves and writes the
#: events (``orders.changes``); ``change_in`` does the same in the caller's transaction.
change = changes.change
change_in = changes.change_in
#: A channel payload captured in the caller's transaction (``capture.capture_in``): a store
#: gateway's till sale is recorded with its stock move in one transaction (docs/edge.md).
capture_channel_in = capture.capture_in


def get_pickups_in(conn: Connection, *, node_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """Click & collect orders waiting at ``node_id`` to be handed over (``picking.pickups``),
    read in the caller's transaction."""
    return picking.pickups(conn, node_id=node_id, limit=limit)


def find_order_in(conn: Connection, *, channel: str, external_ref: str) -> str | None:
    """The id of the order a channel sent as ``external_ref``, or None."""
    return store.find_order_id_by_external_ref(conn, channel, external_ref)


def get_in(conn: Connection, *, order_id: str) -> Order | None:
    """The order as stored (no lock), read in the caller's transaction; None if unknown."""
    return store.get_order(conn, order_id)


def hand_over_in(conn: Connection, *, order_id: str, actor: str, lines: dict[str, int]) -> Order:
    """A click & collect order handed to its customer at the pickup store, in the caller's
    transaction: released if it was only allocated, then ``lines`` ({line id: units}) shipped
    and delivered, its stock taken off the store's shelf. The model refuses what its state
    does not allow (nothing is written then)."""

    def act(_: Connection, order: Order) -> None:
        if order.status == OrderStatus.allocated:
            order.transition_to(OrderStatus.released, reason="handed over at the store")
        order.record_shipment(lines, reason="handed over at the store")
        order.record_delivery(lines, reason="handed over at the store")

    order, _ = changes.change_in(conn, order_id, actor=actor, action=act)
    return order


def receive_return_in(
    conn: Connection, *, order_id: str, actor: str, node_id: str, lines: dict[str, int], reason: str = ""
) -> Order:
    """``receive_return`` in the caller's transaction."""
    order, _ = changes.change_in(
        conn, order_id, actor=actor, action=lambda _c, o: o.receive_return(lines, node_id=node_id, reason=reason)
    )
    return order


def get_contact(conn: Connection, *, order_id: str) -> dict[str, str] | None:
    """How to reach an order's customer (``email``; ``phone``: the shipping address's, else the
    customer's), read in the caller's transaction; ``None`` for an unknown order."""
    order = store.get_order(conn, order_id)
    if order is None:
        return None
    return {"email": order.customer.email, "phone": order.shipping_address.phone or order.customer.phone}


def get_recent_facts(
    engine: Engine, *, limit: int, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` orders created in [since, until) as the facts their hooks see
    (``Order.as_facts``), newest first: what a rule simulation replays."""
    with unit_of_work(engine, write=False) as conn:
        return [o.as_facts() for o in store.latest_orders(conn, limit=limit, since=since, until=until)]


def fulfilment_orders_of(engine: Engine, ids: list[str]) -> dict[str, str]:
    """The order each of these fulfilment orders belongs to (unknown ids are left out)."""
    with unit_of_work(engine, write=False) as conn:
        return store.orders_of_fulfilment_orders(conn, ids)


def get_refs(engine: Engine, ids: list[str]) -> dict[str, dict[str, str]]:
    """How other pages name these orders: channel, channel order number, status."""
    with unit_of_work(engine, write=False) as conn:
        return store.refs_of(conn, sorted(set(ids))[:1000])


def count_dead_letters(engine: Engine, *, since: datetime) -> dict[str, int]:
    """Channel payloads refused since ``since``, by adapter (``canonical``: the JSON API)."""
    with unit_of_work(engine, write=False) as conn:
        return dead_letters.count_by_adapter(conn, since=since)


def expire_unpaid(engine: Engine, *, now: datetime | None = None) -> list[str]:
    """Cancel unpaid orders whose presale lock ran out by ``now`` (their stock returns to
    ATP). Each order in its own transaction, under its row lock, so a payment arriving at the
    same moment wins or loses cleanly. Returns the orders cancelled."""
    now = now or utcnow()
    with unit_of_work(engine, write=False) as conn:
        due = holds.due_for_expiry(conn, now=now)
    cancelled = []
    for order_id in due:
        try:
            order, _ = changes.change(
                engine,
                order_id,
                actor="system:presale-lock",
                action=lambda conn, o: holds.expire(conn, o, now=now),
                follow_stock=False,
            )
        except NotFound:
            continue
        if order.status == OrderStatus.cancelled:
            cancelled.append(order_id)
    return cancelled


def extend_hold(engine: Engine, *, order_id: str, minutes: int, actor: str) -> datetime:
    """Payment started: keep the order's stock held ``minutes`` longer from now."""
    until = utcnow() + timedelta(minutes=minutes)

    def action(conn: Connection, order: Order) -> None:
        if order.status not in holds.UNPAID:
            raise Conflict(f"order {order_id} is {order.status.value}; only unpaid holds expire", code="not_unpaid")
        inventory.extend(conn, order_id=order_id, until=until)
        order.changes.append(HoldExtended(until=until.isoformat()))

    changes.change(engine, order_id, actor=actor, action=action, follow_stock=False)
    return until


#: A consolidated run leaves for an area once its oldest waiting order has waited this long.
WAIT_RUN_EVERY = timedelta(hours=24)


def get_wait_runs(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Orders held for their area's consolidated run, by area (oldest first)."""
    with unit_of_work(engine, write=False) as conn:
        rows = store.waiting_for_run(conn)
    areas: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        areas.setdefault(row["area"], []).append(row)
    return areas


def release_wait_run(engine: Engine, *, area: str, actor: str) -> list[str]:
    """The run to ``area`` leaves: release every order waiting for it, together."""
    released = []
    for row in get_wait_runs(engine).get(area, []):
        try:
            release_hold(engine, order_id=row["id"], actor=actor, reason=f"consolidated run to area {area}")
        except Conflict:
            continue  # changed meanwhile (cancelled, edited): not ours to release
        released.append(row["id"])
    return released


def release_due_wait_runs(engine: Engine) -> dict[str, list[str]]:
    """Release the areas whose oldest waiting order has waited ``WAIT_RUN_EVERY``."""
    due = utcnow() - WAIT_RUN_EVERY
    out = {}
    for area, rows in get_wait_runs(engine).items():
        if rows and rows[0]["created_at"] <= due:
            out[area] = release_wait_run(engine, area=area, actor="system:consolidated-run")
    return out


def get_sourcing(engine: Engine, *, order_id: str) -> dict[str, Any] | None:
    """The latest sourcing decision recorded for an order (its ``order.sourced`` event)."""
    return latest_sourcing(get(engine, order_id=order_id).events)


def latest_sourcing(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest ``order.sourced`` decision in an order's event log, if any."""
    decided = [e for e in events if e["type"] == "order.sourced"]
    return {**decided[-1]["data"], "decided_at": decided[-1]["occurred_at"].isoformat()} if decided else None


def reoptimise(
    engine: Engine,
    *,
    limit: int = 10_000,
    actor: str = "system:re-optimisation",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Re-plan the paid, unallocated orders (oldest first) against today's stock and move the
    holds of those the planner can serve better; report what it saved.

    Restartable: each order moves in its own transaction and the next run re-plans only what
    is still unallocated, so a run stopped halfway (cancelled, or its process died and the job
    was requeued) is simply started again. ``progress`` may raise (``platform.jobs.Cancelled``)
    to stop it; the orders already moved stay moved."""
    started = time.perf_counter()
    with unit_of_work(engine, write=False) as conn:
        ids = store.unallocated_paid(conn, limit=limit)
    report = {
        "examined": len(ids),
        "replanned": 0,
        "shipments_before": 0,
        "shipments_after": 0,
        "cost_before_eur": 0.0,
        "cost_after_eur": 0.0,
        "kg_before": 0.0,
        "kg_after": 0.0,
    }
    for done, order_id in enumerate(ids):
        if progress is not None and done % 25 == 0:
            progress(done, len(ids))
        try:
            _, moved = changes.change(
                engine,
                order_id,
                actor=actor,
                action=lambda conn, o: holds.reroute(conn, o, now=utcnow()),
                follow_stock=False,
            )
        except (holds.NoGain, NotFound):
            continue
        if moved is None:
            continue
        before, after = moved
        report["replanned"] += 1
        report["shipments_before"] += len(before.shipments)
        report["shipments_after"] += len(after.shipments)
        report["cost_before_eur"] += before.cost
        report["cost_after_eur"] += after.cost
        report["kg_before"] += before.kg_co2e
        report["kg_after"] += after.kg_co2e
    report = {k: round(v, 3) if isinstance(v, float) else v for k, v in report.items()}
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


REOPTIMISE_JOB = "sourcing.reoptimise"


def start_reoptimise(engine: Engine, *, limit: int = 10_000, actor: str) -> jobs.Job:
    """Queue a batch re-optimisation as a durable job (``REOPTIMISE_JOB``, registered by the
    composition root); a runner of any process runs it. Returns the queued job."""
    job_id = jobs.submit(engine, REOPTIMISE_JOB, {"limit": limit, "actor": actor}, created_by=actor)
    return jobs.get(engine, job_id)


def get_stock(engine: Engine, *, order_id: str) -> dict[str, Any]:
    """What an order holds or has allocated, and what it waits for."""
    with unit_of_work(engine, write=False) as conn:
        return {
            "holds": inventory.holds_of(conn, order_id=order_id),
            "backorders": inventory.backorders_of(conn, order_id=order_id),
        }


# -- reading ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with its event log, as the API and console show it."""

    order: Order
    events: list[dict[str, Any]]


def get(engine: Engine, *, order_id: str) -> OrderView:
    """The order with lines, fulfilment orders and its full event log (404 if unknown)."""
    with unit_of_work(engine, write=False) as conn:
        order = store.get_order(conn, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}", code="order_not_found", order_id=order_id)
        events = bus.get_history(conn, aggregate_type="order", aggregate_id=order_id)
    return OrderView(order, events)


@dataclass(frozen=True, slots=True)
class OrderPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def get_all(
    engine: Engine,
    *,
    status: list[str] | None = None,
    channel: list[str] | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    customer: str | None = None,
    tag: str | None = None,
    text: str | None = None,
    number: str | None = None,
    view: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> OrderPage:
    """Search orders one page at a time (opaque ``next_cursor``, made for this ``sort``;
    default newest first). ``number``: an order number or id, exact, or ``1001*`` for order
    numbers starting 1001; ``view``: a built-in view (``listing.VIEWS``). Unknown statuses,
    views, sorts and foreign cursors are problems naming the parameter."""
    where = listing.make_filter(
        status=status,
        channel=channel,
        created_from=created_from,
        created_to=created_to,
        customer=customer,
        tag=tag,
        text=text,
        number=number,
        view=view,
    )
    return get_page_after(engine, where=where, sort=sort, cursor=cursor, limit=limit)


def get_page_after(
    engine: Engine, *, where: listing.OrderFilter, sort: str | None, cursor: str | None, limit: int
) -> OrderPage:
    """``get_all`` for a filter already checked (``listing.make_filter``)."""
    order = listing.parse_sort(sort)
    after = None
    if cursor:
        try:
            after = listing.decode_cursor(cursor, order)
        except ValueError:
            raise InvalidInput(
                "the cursor is not one this API handed out for this sort",
                errors=[{"parameter": "cursor", "detail": "invalid cursor"}],
            ) from None
    with unit_of_work(engine, write=False) as conn:
        rows = listing.page_after(conn, where, order, after=after, limit=limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    return OrderPage(rows, listing.encode_cursor(order, rows[-1]) if has_more else None)


@dataclass(frozen=True, slots=True)
class PickList:
    """A node's pick list: ``items`` in picking order (rank 1 first); ``has_more`` when more
    work waits than the ``limit`` asked for."""

    node_id: str
    items: list[PickItem]
    has_more: bool


def get_pick_list(engine: Engine, *, node_id: str, limit: int = 100) -> PickList:
    """The fulfilment orders at ``node_id`` still to be picked, in the order to pick them:
    priority (higher first), promised time (created_at + promise_days; earliest first, no
    promise last), created_at (oldest first), then fulfilment order id. Sorted and limited by
    the database in one statement. 404 ``node_not_found`` for an unknown node.

    On the list: live (``allocated``) fulfilment orders whose order is ``released``, or
    ``partially_shipped`` / ``partially_delivered`` with units of their lines not yet shipped
    (another node of the order shipped first). Not on it: orders not yet released, held
    (``on_hold``, also when held from ``released``), ``picked`` or later, cancelled
    fulfilment orders. Lines carry what this node still has to pick. Per-node pick reports go
    to tracking, not here: a node's part stays listed until the whole order is ``picked`` or
    its units ship (``orders.picking`` says more)."""
    inventory.get_node(engine, node_id=node_id)
    with unit_of_work(engine, write=False) as conn:
        items, has_more = picking.pick_list(conn, node_id=node_id, limit=limit, now=utcnow())
    return PickList(node_id, items, has_more)


@dataclass(frozen=True, slots=True)
class Dashboard:
    by_status: dict[str, int]
    by_channel: dict[str, int]
    by_channel_today: dict[str, int]
    per_day: list[tuple[str, int]]
    dead_letters_pending: int
    total: int


def get_dashboard(engine: Engine, *, days: int = 30) -> Dashboard:
    """Counts for the console dashboard: by status, by channel, per day, dead letters."""
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with unit_of_work(engine, write=False) as conn:
        by_status = store.count_by(conn, "status")
        by_channel = store.count_by(conn, "channel")
        today_channel = store.count_by(conn, "channel", since=today)
        first = today - timedelta(days=days - 1)
        counted = dict(store.daily_counts(conn, since=first))
        pending = dead_letters.count_pending(conn)
    per_day = [
        (day, counted.get(day, 0)) for day in ((first + timedelta(days=i)).date().isoformat() for i in range(days))
    ]
    return Dashboard(by_status, by_channel, today_channel, per_day, pending, sum(by_status.values()))


# -- lifecycle ----------------------------------------------------------------------------
def transition(engine: Engine, *, order_id: str, to: str, actor: str, reason: str = "") -> Order:
    """Move an order to ``to``; an illegal move is a Conflict naming the allowed next states."""
    try:
        target = OrderStatus(to)
    except ValueError:
        raise InvalidInput(
            f"unknown status {to!r}",
            errors=[{"pointer": "/to", "detail": f"one of {', '.join(OrderStatus)}"}],
        ) from None
    return _change(engine, order_id, actor, lambda o: o.move_to(target, reason=reason))


def hold(engine: Engine, *, order_id: str, actor: str, reason: str) -> Order:
    return _change(engine, order_id, actor, lambda o: o.hold(reason=reason))


def release_hold(engine: Engine, *, order_id: str, actor: str, reason: str = "") -> Order:
    return _change(engine, order_id, actor, lambda o: o.release_hold(reason=reason))


def cancel(engine: Engine, *, order_id: str, actor: str, reason: str) -> Order:
    """Cancel the whole order (allowed until it is picked)."""
    return _change(engine, order_id, actor, lambda o: o.cancel(reason=reason))


def mark_paid(engine: Engine, *, order_id: str, actor: str) -> Order:
    return _change(engine, order_id, actor, lambda o: o.mark_paid())


def allocate(
    engine: Engine, *, order_id: str, actor: str, assignments: dict[str, dict[str, int]], reason: str = ""
) -> Order:
    """Split a paid order into fulfilment orders, one per node; on an allocated order, an
    override that moves them (checked against free stock, logged with its reason)."""
    return _change(engine, order_id, actor, lambda o: o.allocate(assignments, new_id=new_id, reason=reason))


def record_shipment(engine: Engine, *, order_id: str, actor: str, lines: dict[str, int]) -> Order:
    return _change(engine, order_id, actor, lambda o: o.record_shipment(lines))


def receive_return(
    engine: Engine, *, order_id: str, actor: str, node_id: str, lines: dict[str, int], reason: str = ""
) -> Order:
    """Returned units arrived at any node that takes returns; the stock goes back there."""
    return _change(engine, order_id, actor, lambda o: o.receive_return(lines, node_id=node_id, reason=reason))


def record_delivery(engine: Engine, *, order_id: str, actor: str, lines: dict[str, int]) -> Order:
    return _change(engine, order_id, actor, lambda o: o.record_delivery(lines))


# -- editing ------------------------------------------------------------------------------
def change_address(engine: Engine, *, order_id: str, actor: str, address: dict[str, Any]) -> Order:
    """Change the shipping address (before release): the fields in ``address`` replace the
    current ones, the rest are kept (see ``Address.with_changes``); an empty city is refused."""
    return _change(
        engine, order_id, actor, lambda o: o.change_shipping_address(o.shipping_address.with_changes(address))
    )


def add_line(
    engine: Engine, *, order_id: str, actor: str, sku: str, quantity: int, unit_price: str, name: str = ""
) -> Order:
    """Add a line (before release); the price is a decimal string in the order currency."""

    def action(order: Order) -> None:
        try:
            price = Money.parse(unit_price, order.currency)
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[{"pointer": "/unit_price", "detail": str(exc)}]) from None
        order.add_line(OrderLine(id=new_id("ol"), sku=sku, quantity=quantity, unit_price=price, name=name))

    return _change(engine, order_id, actor, action)


def change_line_quantity(engine: Engine, *, order_id: str, actor: str, line_id: str, quantity: int) -> Order:
    return _change(engine, order_id, actor, lambda o: o.change_line_quantity(line_id, quantity))


def cancel_line(
    engine: Engine, *, order_id: str, actor: str, line_id: str, quantity: int | None = None, reason: str = ""
) -> Order:
    return _change(engine, order_id, actor, lambda o: o.cancel_line(line_id, quantity, reason=reason))


def remove_line(engine: Engine, *, order_id: str, actor: str, line_id: str) -> Order:
    return _change(engine, order_id, actor, lambda o: o.remove_line(line_id))


def set_tags(engine: Engine, *, order_id: str, actor: str, tags: list[str]) -> Order:
    return _change(engine, order_id, actor, lambda o: o.set_tags(tags))


#: Hours after creation at which the n-th recorded change of an imported order is dated.
HISTORY_STEP_HOURS = [0, 0.05, 0.5, 2, 5, 7, 18, 22, 30, 44, 60, 120, 150, 170]


def import_history(engine: Engine, *, orders: list[Order], actor: str) -> int:
    """Bulk-load past orders (demo data, migrations from another OMS) in one transaction.

    Each order's audit trail is what the model recorded while it was built, dated along the
    order's first days (never in the future); nothing is published to the bus. The returns and
    refunds it records become the order's RMA and refund rows (``returns.history_rows``).
    """
    now = utcnow()

    def when(order: Order, step: int) -> datetime:
        hours = HISTORY_STEP_HOURS[min(step, len(HISTORY_STEP_HOURS) - 1)]
        return min(order.created_at + timedelta(hours=hours), now)

    since = {
        order.id: when(order, step)
        for order in orders
        for step, change in enumerate(order.changes)
        if change.type == "order.status_changed"
    }  # the last status change of each order wins
    after_sales = [returns.history_rows(order, partial(when, order), actor=actor) for order in orders]
    with unit_of_work(engine) as conn:
        store.bulk_insert(conn, orders, now=now, status_since=since)
        aftersales_store.insert_history(
            conn, returns=[r for rmas, _ in after_sales for r in rmas], refunds=[f for _, fs in after_sales for f in fs]
        )
        bus.record_history(
            conn,
            [
                DomainEvent(
                    type=change.type,
                    aggregate_type="order",
                    aggregate_id=order.id,
                    data=change.data,
                    actor=actor,
                    occurred_at=when(order, step),
                    id=new_id("evt", millis=int(when(order, step).timestamp() * 1000)),
                )
                for order in orders
                for step, change in enumerate(order.changes)
            ],
            at=now,
        )
    return len(orders)


def import_customers(engine: Engine, *, customers: list[dict[str, Any]]) -> None:
    """Bulk-load customers (``id, email, name, tier, external_id, phone, created_at``)."""
    with unit_of_work(engine) as conn:
        store.bulk_insert_customers(conn, customers)
