"""Inventory use cases: nodes, items, stock positions, ATP, supply, policies, backorders.

Functions that take an ``engine`` open their own short transaction. The reservation functions
that take the caller's connection live in ``reservations`` and are re-exported here, so other
contexts import only this module.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.geo import GeoPoint
from orderhub.inventory import carts, escrow, order_names, reporters, reservations, stock, store
from orderhub.inventory.backlog import Backlog, waiting_backorders
from orderhub.inventory.carts import CartHoldOutcome, CartHoldRequest, hold_json
from orderhub.inventory.ingest import IngestResult, StockRow, ingest
from orderhub.inventory.items import (
    CSV_COLUMNS,
    add_placeholders,
    create_item,
    get_item,
    get_item_list,
    import_csv,
    item_from_fields,
    items_from_shopify_product,
    put_items,
)
from orderhub.inventory.model import (
    BACKORDER_POLICIES,
    DEFAULT_BACKORDER_POLICY,
    Candidate,
    Capability,
    Item,
    Node,
    NodeType,
    backlog_order,
    channel_atp,
    plan_reservation,
    shipping_weight_g,
)
from orderhub.inventory.planning import as_csv as replenishment_csv
from orderhub.inventory.planning import promise_dates, replenishment
from orderhub.inventory.policies import get_policies, hold_deadline, set_policy
from orderhub.inventory.reservations import (
    Held,
    LineDemand,
    OutOfStock,
    Planner,
    ReserveResult,
    allocate,
    backorders_of,
    clear_expiry,
    due_orders,
    extend,
    holds_for,
    holds_of,
    items_by_sku,
    nodes_by_id,
    policy_for,
    receive_return,
    release_order,
    rereserve,
    reserve,
    sell_from_shelf,
    ship,
)
from orderhub.platform.db import unit_of_work

# -- escrow allotments of store gateways (docs/edge.md), in the caller's transaction ---------
StoreStock = escrow.StoreStock
escrow_holder = escrow.holder_of
escrows = escrow.escrows
store_stock = escrow.store_stock
grant_escrow = escrow.grant
release_escrow = escrow.release
sell_from_escrow = escrow.sell
adjust_store_stock = escrow.adjust
central_demand = escrow.central_demand
refuse_escrow_cart = escrow.refuse_escrow_cart
claim_nodes = reporters.claim_nodes
name_orders_with = order_names.name_orders_with
order_refs = order_names.order_refs
allocated_units = escrow.allocated_units
cover_handover = escrow.cover_handover

MAX_RESERVATION_TTL_S = store.MAX_RESERVATION_TTL_S  # the longest a hold may last

__all__ = [
    "CSV_COLUMNS",
    "MAX_RESERVATION_TTL_S",
    "Backlog",
    "Capability",
    "CartHoldOutcome",
    "CartHoldRequest",
    "Held",
    "IngestResult",
    "Item",
    "LineDemand",
    "Node",
    "NodeType",
    "OutOfStock",
    "Planner",
    "ReserveResult",
    "StockRow",
    "StoreStock",
    "add_placeholders",
    "adjust_store_stock",
    "allocate",
    "allocated_units",
    "backorders_of",
    "central_demand",
    "claim_nodes",
    "clear_expiry",
    "cover_handover",
    "create_item",
    "due_orders",
    "escrow_holder",
    "escrows",
    "extend",
    "get_item",
    "get_item_list",
    "get_policies",
    "grant_escrow",
    "hold_deadline",
    "hold_json",
    "holds_of",
    "import_csv",
    "ingest",
    "item_from_fields",
    "items_by_sku",
    "items_from_shopify_product",
    "name_orders_with",
    "nodes_by_id",
    "order_refs",
    "pickup_points",
    "policy_for",
    "promise_dates",
    "put_items",
    "receive_return",
    "refuse_escrow_cart",
    "release_escrow",
    "release_order",
    "replenishment",
    "replenishment_csv",
    "rereserve",
    "reserve",
    "sell_from_escrow",
    "sell_from_shelf",
    "set_policy",
    "ship",
    "shipping_weight_g",
    "store_stock",
    "waiting_backorders",
]


# -- nodes and items --------------------------------------------------------------------------
def save_nodes(engine: Engine, *, nodes: list[Node]) -> None:
    """Create or update nodes by id (idempotent)."""
    with unit_of_work(engine) as conn:
        store.upsert_nodes(conn, nodes)
    reservations.forget_cached()


def save_items(engine: Engine, *, items: list[Item]) -> None:
    """Create or update items by SKU (idempotent)."""
    with unit_of_work(engine) as conn:
        store.upsert_items(conn, items)
    reservations.forget_cached()


def get_all_nodes(engine: Engine) -> list[Node]:
    with unit_of_work(engine, write=False) as conn:
        return store.list_nodes(conn)


def get_node(engine: Engine, *, node_id: str) -> Node:
    node = next((n for n in get_all_nodes(engine) if n.id == node_id), None)
    if node is None:
        raise NotFound(f"no node {node_id}", code="node_not_found")
    return node


def get_all_items(engine: Engine) -> list[Item]:
    with unit_of_work(engine, write=False) as conn:
        return store.list_items(conn)


def get_holds(engine: Engine, *, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    with unit_of_work(engine, write=False) as conn:
        return holds_for(conn, order_ids=order_ids)


def get_items(engine: Engine, *, skus: list[str]) -> dict[str, Item]:
    """Items of the item master by SKU (unknown SKUs are absent)."""
    with unit_of_work(engine, write=False) as conn:
        return {i.sku: i for i in store.list_items(conn, skus=skus)}


# -- positions --------------------------------------------------------------------------------
def set_position(engine: Engine, *, node_id: str, sku: str, on_hand: int, actor: str) -> IngestResult:
    """A counted quantity for one position (a snapshot of one row, with its ledger row); not at
    a node whose stock another context reports (a store with a gateway: ``reporters``)."""
    get_node(engine, node_id=node_id)
    with unit_of_work(engine, write=False) as conn:
        reporters.refuse_claimed(conn, [StockRow(node_id, sku, on_hand)], where=lambda _: {"parameter": "node_id"})
    seq = utcnow().timestamp() * 1_000_000
    result = ingest(
        engine,
        source=f"count:{actor}",
        sequence=int(seq),
        mode="snapshot",
        rows=[StockRow(node_id=node_id, sku=sku, on_hand=on_hand)],
    )
    if result.increased_skus:
        serve_backorders(engine, skus=result.increased_skus)
    return result


# -- cart holds (the flash-sale lane) ---------------------------------------------------------
def hold_for_carts(engine: Engine, *, requests: list[CartHoldRequest]) -> list[CartHoldOutcome]:
    """Hold stock for many carts in one transaction (one outcome per request, in order).

    Two processes inserting the same cart's hold at once meet the unique index; the batch is
    then run again and finds the other's hold. Nothing of a failed attempt stays written.
    Callers refuse a store gateway's escrow id first (``refuse_escrow_cart``)."""
    tries = 3
    while True:
        try:
            with unit_of_work(engine) as conn:
                return carts.hold_batch(conn, requests, now=utcnow())
        except sa.exc.IntegrityError:
            tries -= 1
            if not tries:
                raise


def release_cart_holds(engine: Engine, *, cart_id: str, sku: str | None = None) -> int:
    """Give back what a cart holds (one SKU or all); returns the units released. A store
    gateway's escrow (``escrow:…``) is not a cart: refused."""
    escrow.refuse_escrow_cart(cart_id)
    with unit_of_work(engine) as conn:
        return carts.release_cart(conn, cart_id=cart_id, sku=sku, now=utcnow())


def release_due_cart_holds(engine: Engine) -> int:
    """Timer: cart holds past their deadline go back to ATP (read first, so an idle round
    does not take SQLite's write lock; the release re-checks each hold under its locks)."""
    with unit_of_work(engine, write=False) as conn:
        due = carts.due_ids(conn, now=utcnow())
    if not due:
        return 0
    with unit_of_work(engine) as conn:
        return carts.release_rows(conn, due, expired=True, now=utcnow(), source="cart-expiry")


def get_cart(engine: Engine, *, cart_id: str) -> list[dict[str, Any]]:
    with unit_of_work(engine, write=False) as conn:
        return carts.holds_of_cart(conn, cart_id=cart_id)


def ingest_and_serve(engine: Engine, **kwargs: Any) -> IngestResult:
    """Ingest a batch, then serve waiting backorders of the SKUs whose stock went up."""
    result = ingest(engine, **kwargs)
    if result.increased_skus:
        serve_backorders(engine, skus=result.increased_skus)
    return result


@dataclass(frozen=True, slots=True)
class NodeAtp:
    node_id: str
    name: str
    type: str
    region: str
    on_hand: int
    reserved: int
    allocated: int
    safety_stock: int
    atp: int
    reported_at: datetime | None
    distance_km: float | None


def get_atp(
    engine: Engine,
    *,
    sku: str,
    region: str | None = None,
    channel: str | None = None,
    near: tuple[float, float] | None = None,
    on: datetime | None = None,
) -> dict[str, Any]:
    """Available to promise for a SKU: per node (with freshness), per region and network.

    ``channel`` applies that channel's buffer; ``near`` sorts nodes by distance; ``on`` adds
    open incoming supply expected by that date (future ATP).
    """
    with unit_of_work(engine, write=False) as conn:
        rows = stock.positions_for(conn, sku=sku)
        nodes = reservations.nodes_by_id(conn)
        buffer = policy_for(conn, channel, sku)[1] if channel else 0.0
        incoming: dict[str, int] = defaultdict(int)
        if on is not None:
            S = store.supply
            for node_id, qty in conn.execute(
                sa.select(S.c.node_id, sa.func.sum(S.c.quantity))
                .where(S.c.sku == sku, S.c.status == "open", S.c.expected_at <= on)
                .group_by(S.c.node_id)
            ):
                incoming[node_id] = int(qty)
    here = GeoPoint(*near) if near else None
    per_node: list[NodeAtp] = []
    for row in rows:
        node = nodes.get(row.node_id)
        if node is None or (region and node.region != region):
            continue
        free = stock.position_from(row).atp + incoming.get(row.node_id, 0)
        per_node.append(
            NodeAtp(
                node_id=node.id,
                name=node.name,
                type=node.type.value,
                region=node.region,
                on_hand=row.on_hand,
                reserved=row.reserved,
                allocated=row.allocated,
                safety_stock=row.safety_stock,
                atp=channel_atp(free, buffer),
                reported_at=row.reported_at,
                distance_km=round(here.distance_km(GeoPoint(node.lat, node.lon)), 1) if here else None,
            )
        )
    per_node.sort(key=lambda n: (n.distance_km if n.distance_km is not None else 0.0, -n.atp, n.node_id))
    regions: dict[str, int] = defaultdict(int)
    for n in per_node:
        regions[n.region] += n.atp
    return {
        "sku": sku,
        "channel": channel,
        "buffer_pct": buffer,
        "as_of": (on or utcnow()),
        "nodes": per_node,
        "regions": dict(sorted(regions.items())),
        "total": sum(n.atp for n in per_node),
    }


def node_load(engine: Engine, *, since: datetime) -> dict[str, int]:
    """Orders each node took on (held or allocated for) since ``since``: the dispatch load."""
    with unit_of_work(engine, write=False) as conn:
        return node_load_on(conn, since=since)


def node_load_on(conn: Any, *, since: datetime) -> dict[str, int]:
    R = store.reservations
    rows = conn.execute(
        sa.select(R.c.node_id, sa.func.count(sa.distinct(R.c.order_id)))
        .where(R.c.created_at >= since, R.c.status.in_(["active", "allocated", "fulfilled"]))
        .group_by(R.c.node_id)
    )
    return {str(n): int(c) for n, c in rows}


# -- click & collect --------------------------------------------------------------------------
#: Hours from order to "ready for pickup" when the store has every unit on its shelf.
PICKUP_READY_H = 2


def pickup_points(
    engine: Engine, *, basket: list[tuple[str, int]], near: tuple[float, float], limit: int = 5
) -> list[dict[str, Any]]:
    """Stores near a place that can hand over the whole basket now (live ATP), nearest first,
    with the distance and when the order would be ready."""
    need: dict[str, int] = defaultdict(int)
    for sku, qty in basket:
        need[sku] += qty
    with unit_of_work(engine, write=False) as conn:
        nodes = reservations.nodes_by_id(conn)
        free: dict[str, dict[str, int]] = defaultdict(dict)
        for sku in need:
            for row in stock.positions_for(conn, sku=sku):
                free[row.node_id][sku] = stock.position_from(row).atp
    here = GeoPoint(*near)
    ready = utcnow() + timedelta(hours=PICKUP_READY_H)
    out = []
    for node_id, atp in free.items():
        node = nodes.get(node_id)
        if node is None or not node.can(Capability.pickup):
            continue
        if all(atp.get(sku, 0) >= qty for sku, qty in need.items()):
            out.append(
                {
                    "node_id": node.id,
                    "name": node.name,
                    "city": node.city,
                    "lat": node.lat,
                    "lon": node.lon,
                    "distance_km": round(here.distance_km(GeoPoint(node.lat, node.lon)), 1),
                    "ready_at": ready.isoformat(),
                }
            )
    return sorted(out, key=lambda p: (p["distance_km"], p["node_id"]))[:limit]


# -- backorders -------------------------------------------------------------------------------


def serve_backorders(engine: Engine, *, skus: set[str] | None = None, policy: str = DEFAULT_BACKORDER_POLICY) -> int:
    """Hold stock for waiting backorders in the order ``policy`` gives (VIP first by default),
    at the nearest nodes with free stock; the whole backlog at once, not order by order.
    Returns the units served."""
    if policy not in BACKORDER_POLICIES:
        raise InvalidInput(
            f"policy is one of {', '.join(BACKORDER_POLICIES)}", errors=[{"parameter": "policy", "detail": "unknown"}]
        )
    now = utcnow()
    B = store.backorders
    served = 0
    with unit_of_work(engine, write=False) as conn:
        # the SKUs anyone waits for (an index-only read): a stock report of 10,000 SKUs that
        # nobody waits for ends here, without a write lock or a 10,000-item IN list
        backlog = set(conn.execute(sa.select(B.c.sku).where(B.c.status == "waiting").distinct()).scalars())
    wanted = backlog & skus if skus else backlog
    if not wanted:
        return 0
    with unit_of_work(engine) as conn:
        stmt = sa.select(B).where(B.c.status == "waiting", B.c.sku.in_(sorted(wanted)))
        costs = {sku: item.cost_minor for sku, item in reservations.items_by_sku(conn).items()}
        waiting = backlog_order(list(conn.execute(stmt)), policy=policy, costs=costs)
        if not waiting:
            return 0
        rows = stock.lock_available(conn, {w.sku for w in waiting})
        nodes = reservations.nodes_by_id(conn)
        free = {(r.node_id, r.sku): stock.position_from(r).atp for r in rows}
        for w in waiting:
            here = GeoPoint(w.lat, w.lon) if w.lat is not None and w.lon is not None else None
            candidates = [
                Candidate(n, a, here.distance_km(GeoPoint(nodes[n].lat, nodes[n].lon)) if here else 0.0)
                for (n, s), a in free.items()
                if s == w.sku and a > 0 and n in nodes and nodes[n].can(Capability.ships)
            ]
            plan, short = plan_reservation(w.quantity, candidates)
            if not plan:
                continue
            for node_id, qty in plan:
                free[(node_id, w.sku)] -= qty
            held = [Held(w.line_id, w.sku, node_id, qty) for node_id, qty in plan]
            expires_at = now + timedelta(seconds=w.hold_ttl_s) if w.hold_ttl_s else None  # unpaid: presale lock
            reservations._apply_holds(
                conn, held, order_id=w.order_id, channel=w.channel, expires_at=expires_at, now=now
            )
            served += w.quantity - short
            if short:
                conn.execute(B.update().where(B.c.id == w.id).values(quantity=short))
            else:
                conn.execute(B.update().where(B.c.id == w.id).values(status="served"))
    return served


# -- views for the console and checks ---------------------------------------------------------
def get_stock_view(engine: Engine, *, sku: str) -> dict[str, Any]:
    """Everything about a SKU: positions with ATP, active holds, incoming supply, the ledger."""
    R, S, B = store.reservations, store.supply, store.backorders
    with unit_of_work(engine, write=False) as conn:
        holds = [
            dict(r)
            for r in conn.execute(
                sa.select(R)
                .where(R.c.sku == sku, R.c.status.in_(["active", "allocated"]))
                .order_by(R.c.expires_at, R.c.created_at)
            ).mappings()
        ]
        incoming = [
            dict(r) for r in conn.execute(sa.select(S).where(S.c.sku == sku).order_by(S.c.expected_at)).mappings()
        ]
        waiting = [
            dict(r)
            for r in conn.execute(
                sa.select(B).where(B.c.sku == sku, B.c.status == "waiting").order_by(B.c.created_at)
            ).mappings()
        ]
        ledger = stock.ledger_for(conn, sku=sku)
        item = conn.execute(sa.select(store.items).where(store.items.c.sku == sku)).mappings().first()
    return {
        "sku": sku,
        "item": dict(item) if item else None,
        "atp": get_atp(engine, sku=sku),
        "holds": holds,
        "supply": incoming,
        "backorders": waiting,
        "ledger": ledger,
    }


def get_node_view(engine: Engine, *, node_id: str) -> dict[str, Any]:
    node = get_node(engine, node_id=node_id)
    with unit_of_work(engine, write=False) as conn:
        rows = stock.positions_for(conn, node_id=node_id)
    return {
        "node": node,
        "positions": [stock.position_from(r) for r in rows],
        "reported_at": max((r.reported_at for r in rows if r.reported_at), default=None),
    }


def check_ledger(engine: Engine) -> list[dict[str, Any]]:
    """Positions whose counters differ from the sum of their ledger rows (should be none)."""
    with unit_of_work(engine, write=False) as conn:
        totals = stock.ledger_totals(conn)
        rows = stock.positions_for(conn)
    out = []
    for r in rows:
        want = totals.get((r.node_id, r.sku), (0, 0, 0))
        if want != (r.on_hand, r.reserved, r.allocated):
            out.append(
                {"node_id": r.node_id, "sku": r.sku, "position": (r.on_hand, r.reserved, r.allocated), "ledger": want}
            )
    return out


def backordered_orders() -> sa.Select[tuple[str]]:
    """A SQL subquery for another context's query: the ids of orders with units waiting on a
    backorder (``… WHERE id IN (backordered_orders())``), read from the index of waiting
    backorders, so a list can filter and count by it in one statement."""
    B = store.backorders
    return sa.select(B.c.order_id).where(B.c.status == "waiting")
