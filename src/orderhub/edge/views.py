"""What the hub shows of its gateways: the snapshot a gateway pulls, and the console's views."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from orderhub.edge import store
from orderhub.edge.context import Context
from orderhub.edge.model import EdgePolicy, hlc_time
from orderhub.inventory import service as inventory

#: A gateway seen (heartbeat, push or pull) within this long is online.
ONLINE_WITHIN = timedelta(seconds=15)
#: Leases that left a store stay in its snapshot this long, so an offline store learns why.
CLOSED_LEASES_KEPT = timedelta(days=2)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def lease_json(lease: Any) -> dict[str, Any]:
    return {
        "order_id": lease.order_id,
        "store_id": lease.store_id,
        "token": lease.token,
        "state": lease.state,
        "target_node": lease.target_node,
        "external_ref": lease.external_ref,
        "customer": lease.customer,
        "lines": list(lease.lines),
        "granted_at": _iso(lease.granted_at),
        "expires_at": _iso(lease.expires_at),
        "changed_at": _iso(lease.changed_at),
        "changed_hlc": int(lease.changed_hlc),
        "note": lease.note,
    }


def snapshot(
    ctx: Context, gw: Any, policy: EdgePolicy, targets: dict[str, int], *, cursor: int, limit: int
) -> dict[str, Any]:
    """The store as the hub has it, read in the pull's transaction (see ``service.pull``)."""
    items = inventory.items_by_sku(ctx.conn)
    rows = inventory.store_stock(ctx.conn, node_id=ctx.store_id, holder=ctx.holder)
    messages = store.messages_after(ctx.conn, ctx.store_id, cursor, limit)
    return {
        "store_id": ctx.store_id,
        "at": ctx.now.isoformat(),
        "hub_hlc": ctx.tick(),
        "applied_seq": int(gw.applied_seq),
        "applied_event_id": gw.applied_event_id,
        "policy": policy.as_dict(),
        "stock": [
            {
                "sku": r.sku,
                "name": items[r.sku].name if r.sku in items else r.sku,
                "price_minor": items[r.sku].price_minor if r.sku in items else 0,
                "currency": items[r.sku].currency if r.sku in items else "EUR",
                "on_hand": r.on_hand,
                "escrow": r.escrow,
                "target": targets.get(r.sku, 0),
            }
            for r in rows
        ],
        "pickups": [lease_json(x) for x in store.leases_of(ctx.conn, ctx.store_id, since=ctx.now - CLOSED_LEASES_KEPT)],
        "messages": [
            {k: m[k] for k in ("id", "kind", "order_id", "event_id", "text", "hlc")}
            | {"created_at": _iso(m["created_at"])}
            for m in messages
        ],
        "cursor": messages[-1]["id"] if messages else cursor,
    }


def gateway_json(gw: Any, at: datetime) -> dict[str, Any]:
    """A gateway's status: online (seen within 15 s), last sync, lag, backlog."""
    seen = gw.last_seen_at
    return {
        "store_id": gw.store_id,
        "name": gw.name,
        "online": seen is not None and at - seen <= ONLINE_WITHIN,
        "registered_at": _iso(gw.registered_at),
        "last_seen_at": _iso(seen),
        "last_push_at": _iso(gw.last_push_at),
        "last_pull_at": _iso(gw.last_pull_at),
        "applied_seq": int(gw.applied_seq),
        "last_event_at": _iso(hlc_time(int(gw.hlc))),
        "lag_s": round(gw.lag_ms / 1000, 3) if gw.lag_ms is not None else None,
        "backlog": int(gw.backlog),
        "policy": dict(gw.policy),
    }


def conflict_json(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": c["id"],
        "store_id": c["store_id"],
        "kind": c["kind"],
        "event_id": c["event_id"],
        "order_id": c["order_id"],
        "hlc": int(c["hlc"]),
        "happened_at": _iso(hlc_time(int(c["hlc"]))),
        "detected_at": _iso(c["detected_at"]),
        "resolution": c["resolution"],
        "compensation": c["compensation"],
    }


def gateway_detail(
    conn: Connection, gw: Any, rows: list[inventory.StoreStock], targets: dict[str, int], at: datetime
) -> dict[str, Any]:
    """A gateway's status with its escrow per SKU, leases, recent events and conflicts."""
    items = inventory.items_by_sku(conn)
    return {
        **gateway_json(gw, at),
        "escrow": [
            {
                "sku": r.sku,
                "name": items[r.sku].name if r.sku in items else r.sku,
                "on_hand": r.on_hand,
                "reserved": r.reserved - r.escrow,
                "allocated": r.allocated,
                "escrow": r.escrow,
                "target": targets.get(r.sku, 0),
                "central_atp": r.free,
            }
            for r in rows
        ],
        "leases": [lease_json(x) for x in store.leases_of(conn, gw.store_id, since=at - CLOSED_LEASES_KEPT)],
        "events": [
            {**e, "applied_at": _iso(e["applied_at"]), "happened_at": _iso(hlc_time(int(e["hlc"])))}
            for e in store.recent_applied(conn, gw.store_id, 50)
        ],
        "conflicts": [conflict_json(c) for c in store.conflicts_of(conn, gw.store_id, 50)],
    }
