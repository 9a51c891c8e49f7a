"""The hub's side of the edge (docs/edge.md): gateways register, push their events, pull the
store's snapshot and the hub's messages; staff move leases and set policies.

Promises:
- ``push`` applies a gateway's events once and in order: events at or below the watermark are
  repeats (skipped; a different id there is 409 ``gateway_diverged``), a gap stops the batch;
  each event in its own savepoint, the batch in one transaction with the watermark.
- ``pull`` answers, from one transaction, the store's stock with its escrow, the leases it
  holds, the hub's messages after the cursor and the watermark; it first leases newly
  allocated click & collect orders, renews the store's leases and grants escrow up to target.
- The hub never shrinks an escrow on its own: only the gateway's events do (``model``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import Clock, SystemClock
from orderhub.core.errors import Conflict, DomainError, InvalidInput, NotFound
from orderhub.core.events import DomainEvent
from orderhub.edge import apply, leases, store, views
from orderhub.edge.context import Context, Outcome, conflict, message, units_of
from orderhub.edge.model import EVENT_TYPES, HOLDING, EdgePolicy, HybridClock, escrow_target, millis, unpack
from orderhub.inventory import service as inventory
from orderhub.platform.db import unit_of_work

MESSAGES_PER_PULL = 500
RATE_WINDOW = timedelta(hours=24)
_clock: Clock = SystemClock()
_hlcs: weakref.WeakKeyDictionary[Engine, HybridClock] = weakref.WeakKeyDictionary()
_hlc_lock = threading.Lock()


def use_clock(clock: Clock) -> None:
    """The clock the edge reads (lease ends, rates, HLCs): the system clock unless a
    simulation swaps in its own (``bench/edge_fuzz.py``)."""
    global _clock
    _clock = clock


def now() -> datetime:
    """The edge's time (``use_clock``)."""
    return _clock.now()


def forget_process_state() -> None:
    """Drop what this process keeps in memory (the HLCs): what a restart would lose."""
    _hlcs.clear()


class _Ticker:
    """The hub's HLC for one database at one instant: ``tick()`` stamps what the hub writes,
    ``observe`` merges what a gateway sent."""

    def __init__(self, clock: HybridClock, at: datetime) -> None:
        self.clock, self.at_ms = clock, millis(at)

    def __call__(self) -> int:
        with _hlc_lock:
            return self.clock.tick(self.at_ms)

    def observe(self, remote: int) -> int:
        with _hlc_lock:
            return self.clock.observe(remote, self.at_ms)


def _ticker(conn: Connection, at: datetime) -> _Ticker:
    """The hub's HLC for this database, seeded from the largest HLC it has seen."""
    with _hlc_lock:
        clock = _hlcs.get(conn.engine)
        if clock is None:
            clock = _hlcs[conn.engine] = HybridClock(store.max_hlc(conn))
    return _Ticker(clock, at)


def _gateway(conn: Connection, store_id: str, *, lock: bool = False) -> Any:
    gw = store.get_gateway(conn, store_id, for_update=lock)
    if gw is None:
        raise NotFound(f"no gateway is registered for store {store_id}", code="gateway_not_found", store_id=store_id)
    return gw


# -- registration -------------------------------------------------------------------------------
def reported_by_gateway(conn: Connection, node_ids: Collection[str]) -> dict[str, str]:
    """The stores among ``node_ids`` that have a gateway, with why: their stock is reported by
    the gateway alone, never by a count or a batch from another system (inventory asks, through
    ``wiring``, before it applies one; docs/edge.md §10)."""
    if not node_ids:
        return {}
    found = conn.execute(sa.select(store.gateways.c.store_id).where(store.gateways.c.store_id.in_(sorted(node_ids))))
    return {
        s: f"{s} has a store gateway: its stock is reported by the gateway (stock moves booked at the till), "
        "not by counts or batches from other systems"
        for s in found.scalars()
    }


def register(engine: Engine, *, store_id: str, name: str = "") -> dict[str, Any]:
    """Register the gateway of ``store_id`` (a store node of the hub); idempotent: a second
    registration keeps the watermark, the policy and the leases. Returns the gateway."""
    node = inventory.get_node(engine, node_id=store_id)
    if node.type != inventory.NodeType.store:
        raise InvalidInput(
            f"{store_id} is a {node.type.value}, not a store",
            code="not_a_store",
            errors=[{"parameter": "store_id", "detail": "a node of type store"}],
        )
    at = now()
    with unit_of_work(engine) as conn:
        if store.get_gateway(conn, store_id) is None:
            conn.execute(
                store.gateways.insert().values(
                    store_id=store_id,
                    name=name or node.name,
                    registered_at=at,
                    last_seen_at=at,
                    policy=EdgePolicy().as_dict(),
                )
            )
        else:
            store.touch(conn, store_id, last_seen_at=at)
    return get(engine, store_id=store_id)


def set_policy(engine: Engine, *, store_id: str, policy: dict[str, Any]) -> dict[str, Any]:
    """Replace a gateway's policy (escrow targets, beyond-escrow rule, lease length)."""
    checked = EdgePolicy.from_dict({**EdgePolicy().as_dict(), **policy})
    with unit_of_work(engine) as conn:
        _gateway(conn, store_id, lock=True)
        store.touch(conn, store_id, policy=checked.as_dict())
    return checked.as_dict()


# -- push ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """One event from a gateway's outbox."""

    event_id: str
    seq: int
    hlc: int
    type: str
    data: dict[str, Any]


@dataclass(slots=True)
class PushResult:
    """How far the hub got: every event up to ``applied_through`` is applied; ``results`` has
    the outcome of each event of this push that was new (repeats say ``duplicate``)."""

    applied_through: int
    hub_hlc: int
    results: list[dict[str, Any]] = field(default_factory=list)


def push(engine: Engine, *, store_id: str, events: list[GatewayEvent]) -> PushResult:
    """Apply a gateway's events once and in order (see the module doc)."""
    at = now()
    with unit_of_work(engine) as conn:
        gw = _gateway(conn, store_id, lock=True)
        tick = _ticker(conn, at)
        ctx = Context(conn, store_id, at, tick)
        through, last_id, top = int(gw.applied_seq), gw.applied_event_id, int(gw.hlc)
        ordered = sorted(events, key=lambda e: e.seq)
        seen = store.applied_ids(conn, store_id, [e.seq for e in ordered if e.seq <= through])
        results: list[dict[str, Any]] = []
        oldest: int | None = None
        for e in ordered:
            if e.seq <= through:
                if seen.get(e.seq, e.event_id) != e.event_id:
                    raise Conflict(
                        f"event {e.seq} of {store_id} was {seen.get(e.seq)}, now {e.event_id}: the gateway's "
                        "database is not the one the hub knew",
                        code="gateway_diverged",
                    )
                results.append({"event_id": e.event_id, "seq": e.seq, "outcome": "duplicate"})
                continue
            if e.seq != through + 1:
                break  # a gap: the gateway sends again from the watermark
            tick.observe(e.hlc)
            outcome = _apply_one(ctx, e)
            conn.execute(
                store.applied.insert().values(
                    event_id=e.event_id,
                    store_id=store_id,
                    seq=e.seq,
                    hlc=e.hlc,
                    type=e.type,
                    applied_at=at,
                    outcome=outcome.outcome,
                    detail=outcome.detail[:2000],
                    order_id=outcome.order_id,
                )
            )
            results.append({"event_id": e.event_id, "seq": e.seq, "outcome": outcome.outcome, "detail": outcome.detail})
            through, last_id, top = e.seq, e.event_id, max(top, e.hlc)
            oldest = e.hlc if oldest is None else min(oldest, e.hlc)
        values: dict[str, Any] = {"applied_seq": through, "applied_event_id": last_id, "hlc": top}
        values.update(last_push_at=at, last_seen_at=at)
        if oldest is not None:
            values["lag_ms"] = max(0, millis(at) - unpack(oldest)[0])
        store.touch(conn, store_id, **values)
        return PushResult(applied_through=through, hub_hlc=tick(), results=results)


def _apply_one(ctx: Context, e: GatewayEvent) -> Outcome:
    """One event in a savepoint: a refusal (a domain error) rolls back only this event's
    writes, is recorded as a conflict and told to the store; the queue moves on."""
    handler = apply.APPLY.get(e.type)
    try:
        if handler is None:
            raise InvalidInput(f"unknown event type {e.type!r} (known: {', '.join(EVENT_TYPES)})")
        with ctx.conn.begin_nested():
            return handler(ctx, e.data, e.event_id, e.hlc)
    except (DomainError, KeyError, TypeError, ValueError, sa.exc.IntegrityError) as exc:
        # refused, recorded and told; the store's queue goes on (a poison event never blocks it)
        detail = exc.detail if isinstance(exc, DomainError) else f"could not apply: {exc!r}"[:500]
        conflict(
            ctx,
            "event_refused",
            f"The hub could not apply {e.type} {e.event_id}: {detail}",
            compensation="fix it at the hub by hand; nothing of it was recorded",
            event_id=e.event_id,
            hlc=e.hlc,
        )
        return Outcome("refused", detail)


# -- pull ---------------------------------------------------------------------------------------
def pull(
    engine: Engine,
    *,
    store_id: str,
    cursor: int = 0,
    want: dict[str, int] | None = None,
    backlog: int = 0,
    hlc: int = 0,
) -> dict[str, Any]:
    """The store's snapshot (see the module doc). ``want``: units per SKU the till asks for on
    top of its escrow (granted from free stock, as far as it goes); ``backlog``: events the
    gateway still has to push (shown in the console)."""
    at = now()
    with unit_of_work(engine) as conn:
        gw = _gateway(conn, store_id, lock=True)
        tick = _ticker(conn, at)
        if hlc:
            tick.observe(hlc)
        ctx = Context(conn, store_id, at, tick)
        policy = EdgePolicy.from_dict(gw.policy)
        leases.lease_pickups(ctx, policy)
        targets = _rebalance(ctx, policy, want or {})
        store.touch(conn, store_id, last_pull_at=at, last_seen_at=at, backlog=max(0, backlog))
        return views.snapshot(ctx, gw, policy, targets, cursor=cursor, limit=MESSAGES_PER_PULL)


def _rebalance(ctx: Context, policy: EdgePolicy, want: dict[str, int]) -> dict[str, int]:
    """Grant escrow up to each SKU's target (and what the till asked for on top); returns the
    targets. Above a target nothing is taken: the gateway gives the excess back itself."""
    rows = inventory.store_stock(ctx.conn, node_id=ctx.store_id, holder=ctx.holder)
    targets = targets_for(ctx.conn, ctx.store_id, rows, policy, ctx.now)
    wanted = {}
    for r in rows:
        extra = max(0, targets[r.sku] - r.escrow) + max(0, want.get(r.sku, 0))
        if extra:
            wanted[r.sku] = extra
    if wanted:
        inventory.grant_escrow(ctx.conn, node_id=ctx.store_id, holder=ctx.holder, wanted=wanted, now=ctx.now)
    return targets


def targets_for(
    conn: Connection, store_id: str, rows: list[inventory.StoreStock], policy: EdgePolicy, at: datetime
) -> dict[str, int]:
    """The escrow target of every SKU at the store, from the store's own sales rate and the
    central demand rate of the last ``RATE_WINDOW`` (``model.escrow_target``)."""
    since = at - RATE_WINDOW
    hours = RATE_WINDOW.total_seconds() / 3600
    sold = store.sold_since(conn, store_id, since)
    central = inventory.central_demand(conn, skus=[r.sku for r in rows], since=since)
    return {
        r.sku: escrow_target(
            available=r.free + r.escrow,
            store_rate=sold.get(r.sku, 0) / hours,
            central_rate=central.get(r.sku, 0) / hours,
            policy=policy,
        )
        for r in rows
    }


def heartbeat(engine: Engine, *, store_id: str, backlog: int = 0, hlc: int = 0) -> dict[str, Any]:
    """The gateway is alive (and has ``backlog`` events to push); answers the hub's HLC."""
    at = now()
    with unit_of_work(engine) as conn:
        _gateway(conn, store_id, lock=True)
        tick = _ticker(conn, at)
        if hlc:
            tick.observe(hlc)
        store.touch(conn, store_id, last_seen_at=at, backlog=max(0, backlog))
        return {"store_id": store_id, "hub_hlc": tick(), "at": at.isoformat()}


# -- leases -------------------------------------------------------------------------------------
def reassign(engine: Engine, *, order_id: str, to_node: str, force: bool, actor: str) -> dict[str, Any]:
    """Give a leased click & collect order to ``to_node`` (the hub wins on routing).

    Not leased, or given back: moved at once. Held by a gateway: ``revoking`` — the gateway
    stops handing it over at its next sync and gives it back (``pickup.released``, after any
    hand-over it made first), and the order moves then. ``force``: moved now with a new token
    (a hand-over the store made meanwhile is refused at its reconnect, and flagged); the
    units at the store go into its escrow."""
    inventory.get_node(engine, node_id=to_node)
    at = now()
    with unit_of_work(engine) as conn:
        lease = store.get_lease(conn, order_id)
        if lease is None:
            raise NotFound(f"order {order_id} is not leased to any store gateway", code="lease_not_found")
        ctx = Context(conn, lease.store_id, at, _ticker(conn, at))
        if lease.state in HOLDING and not force:
            conn.execute(
                store.leases.update()
                .where(store.leases.c.order_id == order_id)
                .values(
                    state="revoking", target_node=to_node, changed_at=at, changed_hlc=ctx.tick(), note=f"by {actor}"
                )
            )
            message(
                ctx,
                "pickup.revoking",
                f"Order {lease.external_ref or order_id} goes to {to_node}: do not hand it over.",
                order_id=order_id,
            )
        elif lease.state in (*HOLDING, "released"):
            leases.move_lease(ctx, lease, to_node, force=force)
        else:
            raise Conflict(f"order {order_id}'s lease is {lease.state}: nothing to move", code="lease_closed")
        return views.lease_json(store.get_lease(conn, order_id))


def on_order_changed(conn: Connection, *, order: dict[str, Any], events: list[DomainEvent], actor: str) -> None:
    """The order hook (registered by ``wiring``): a leased order is shipped or re-routed only by
    its store's gateway (``Conflict lease_held`` for anyone else); a cancellation while a store
    holds the lease puts the freed units into that store's escrow and tells the store."""
    kinds = {e.type for e in events}
    cancelled = order.get("status") == "cancelled" and "order.status_changed" in kinds
    moving = kinds & {"order.shipment_recorded", "order.rerouted", "order.allocated"}
    if not (cancelled or moving) or actor.startswith("edge:"):
        return
    lease = store.get_lease(conn, str(order["id"]))
    if lease is None or lease.state not in HOLDING:
        return
    at = now()
    ctx = Context(conn, lease.store_id, at, _ticker(conn, at))
    if not cancelled:
        raise Conflict(
            f"order {order['id']} is leased to store {lease.store_id} (token {lease.token}) until "
            f"{lease.expires_at:%Y-%m-%d %H:%M} UTC: only its gateway hands it over; move it with "
            f"POST /api/v1/edge/leases/{order['id']}/reassign",
            code="lease_held",
            store_id=lease.store_id,
        )
    inventory.grant_escrow(
        conn,
        node_id=lease.store_id,
        holder=ctx.holder,
        wanted=units_of(lease.lines, "quantity"),
        now=at,
        reference=lease.order_id,
        freed_here=True,
    )
    conn.execute(
        store.leases.update()
        .where(store.leases.c.order_id == lease.order_id)
        .values(state="cancelled", changed_at=at, changed_hlc=ctx.tick(), note=f"cancelled by {actor}")
    )
    message(
        ctx,
        "pickup.cancelled",
        f"Order {lease.external_ref or lease.order_id} was cancelled centrally: do not hand it over; "
        "put the goods back on the shelf (they are the store's to sell).",
        order_id=lease.order_id,
    )


# -- reading --------------------------------------------------------------------------------------
def get_all(engine: Engine) -> list[dict[str, Any]]:
    """Every gateway with its status (online, last sync, lag, backlog)."""
    at = now()
    with unit_of_work(engine, write=False) as conn:
        return [views.gateway_json(gw, at) for gw in store.all_gateways(conn)]


def get(engine: Engine, *, store_id: str) -> dict[str, Any]:
    """One gateway: status, escrow per SKU, leases, recent events and conflicts."""
    at = now()
    with unit_of_work(engine, write=False) as conn:
        gw = _gateway(conn, store_id)
        rows = inventory.store_stock(conn, node_id=store_id, holder=inventory.escrow_holder(store_id))
        targets = targets_for(conn, store_id, rows, EdgePolicy.from_dict(gw.policy), at)
        return views.gateway_detail(conn, gw, rows, targets, at)


def get_conflicts(engine: Engine, *, store_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Conflicts and how each was resolved, newest first."""
    with unit_of_work(engine, write=False) as conn:
        return [views.conflict_json(c) for c in store.conflicts_of(conn, store_id, limit)]
