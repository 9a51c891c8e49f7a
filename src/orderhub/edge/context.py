"""What applying an event or a hub action at one store needs: the transaction, the store,
the hub's time and clock; outcomes; conflicts and messages to the store (docs/edge.md §4)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from orderhub.core.ids import new_id
from orderhub.edge import store
from orderhub.inventory import service as inventory

alerts = logging.getLogger("orderhub.alerts")


@dataclass(frozen=True, slots=True)
class Context:
    """One push (or one hub action) at one store: the connection, the store, the hub's time
    and its clock (``tick`` stamps what the hub writes)."""

    conn: Connection
    store_id: str
    now: datetime
    tick: Callable[[], int]

    @property
    def holder(self) -> str:
        return inventory.escrow_holder(self.store_id)

    @property
    def actor(self) -> str:
        return f"edge:{self.store_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of an event: ``applied``, ``conflict`` (applied, with a resolution) or
    ``refused`` (nothing of it was recorded as asked; the store is told why)."""

    outcome: str
    detail: str = ""
    order_id: str = ""


def message(ctx: Context, kind: str, text: str, *, order_id: str = "", event_id: str = "", store_id: str = "") -> None:
    """A message to a store, delivered at its next pull (the hub's outbox to the store)."""
    ctx.conn.execute(
        store.messages.insert().values(
            store_id=store_id or ctx.store_id,
            hlc=ctx.tick(),
            kind=kind,
            order_id=order_id,
            event_id=event_id,
            text=text,
            created_at=ctx.now,
        )
    )


def conflict(
    ctx: Context,
    kind: str,
    resolution: str,
    *,
    event_id: str = "",
    order_id: str = "",
    hlc: int = 0,
    compensation: str = "",
) -> None:
    """Record a conflict with its resolution, tell the store, raise an alert."""
    ctx.conn.execute(
        store.conflicts.insert().values(
            id=new_id("ecf"),
            store_id=ctx.store_id,
            kind=kind,
            event_id=event_id,
            order_id=order_id,
            hlc=hlc,
            detected_at=ctx.now,
            resolution=resolution,
            compensation=compensation,
        )
    )
    text = resolution + (f" Compensation: {compensation}" if compensation else "")
    message(ctx, "conflict", text, order_id=order_id, event_id=event_id)
    alerts.warning("edge %s at %s: %s", kind, ctx.store_id, text)


def units_of(lines: list[Mapping[str, Any]], key: str = "qty") -> dict[str, int]:
    units: dict[str, int] = defaultdict(int)
    for line in lines:
        units[str(line["sku"])] += int(line[key])
    return dict(units)


def pos_payload(
    store_id: str, data: Mapping[str, Any], *, handover: str, sale_id: str, paid: bool = True
) -> dict[str, Any]:
    """A till sale as the POS channel's document (docs/channels.md)."""
    return {
        "store_id": store_id,
        "till": str(data.get("till") or ""),
        "cashier": str(data.get("cashier") or ""),
        "sale_id": sale_id,
        "sold_at": data.get("sold_at"),
        "currency": data["currency"],
        "customer": data.get("customer"),
        "lines": [
            {"sku": li["sku"], "qty": li["qty"], "unit_price": li["unit_price"], "description": li.get("name", "")}
            for li in data["lines"]
        ],
        "payment": {"method": str(data.get("payment_method") or "card"), "status": "captured" if paid else "pending"},
        "handover": handover,
    }
