"""Dynamic conditions an operator or a feed sets for a while: a delay on a region or node
(traffic, weather), a node outage, a staff shortage cutting a node's capacity. Each expires on
its own; the planner reads the active ones with the node's load today."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import as_utc, utcnow
from orderhub.core.errors import InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.inventory import service as inventory
from orderhub.platform.db import after_commit, unit_of_work
from orderhub.sourcing import store

KINDS = ("delay", "outage", "capacity", "unreliable")  # days | closed | % capacity lost | optimiser off


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    kind: str
    scope: str  # node | region
    target: str
    value: float
    reason: str
    expires_at: datetime
    source: str = ""  # who set it: "" for an operator or a feed, "forecast:guard" for the guard

    def applies(self, node: inventory.Node, now: datetime) -> bool:
        return self.expires_at > now and (node.id if self.scope == "node" else node.region) == self.target


@dataclass(frozen=True, slots=True)
class NodeState:
    delay_days: int = 0
    eligible: bool = True
    capacity_left: int = 1_000_000
    why: str = ""


_cache: weakref.WeakKeyDictionary[Any, tuple[float, tuple[list[Condition], dict[str, int]]]] = (
    weakref.WeakKeyDictionary()
)


def _load(conn: Any) -> tuple[list[Condition], dict[str, int]]:
    hit = _cache.get(conn.engine)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    row = conn.execute(sa.select(store.settings.c.value).where(store.settings.c.key == "conditions")).scalar()
    conditions = [
        Condition(**{**c, "expires_at": as_utc(datetime.fromisoformat(c["expires_at"]))}) for c in (row or [])
    ]
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    load = inventory.node_load_on(conn, since=today)
    _cache[conn.engine] = (time.monotonic() + 5.0, (conditions, load))
    return conditions, load


def node_states(conn: Any, nodes: dict[str, inventory.Node]) -> dict[str, NodeState]:
    """Each node's delay, eligibility and capacity left today under the active conditions."""
    conditions, load = _load(conn)
    now = utcnow()
    out = {}
    for node in nodes.values():
        delay, eligible, lost, why = 0, True, 0.0, []
        wait = node.days_until_dispatch(now)
        if wait:
            delay += wait
            why.append(f"+{wait} day(s): closed or past its cut-off")
        for c in conditions:
            if not c.applies(node, now):
                continue
            if c.kind == "delay":
                delay += int(c.value)
                why.append(f"+{int(c.value)} day(s): {c.reason}")
            elif c.kind == "outage":
                eligible = False
                why.append(f"outage: {c.reason}")
            else:
                lost = max(lost, c.value)
                why.append(f"capacity −{c.value:.0f} %: {c.reason}")
        capacity = 1_000_000
        if node.daily_capacity:
            capacity = int(node.daily_capacity * (1 - lost / 100)) - load.get(node.id, 0)
        out[node.id] = NodeState(delay, eligible, capacity, "; ".join(why))
    return out


def unreliable(conn: Any, *, region: str) -> str:
    """Why the optimiser's inputs are flagged unreliable here (a regime change), or ""."""
    conds, _ = _load(conn)
    now = utcnow()
    for c in conds:
        if (
            c.kind == "unreliable"
            and c.expires_at > now
            and (c.scope == "all" or (c.scope == "region" and c.target == region))
        ):
            return c.reason or "inputs flagged unreliable"
    return ""


def _all(engine: Engine) -> list[dict[str, Any]]:
    with unit_of_work(engine, write=False) as conn:
        return _rows(conn)


def _rows(conn: Connection, *, lock: bool = False) -> list[dict[str, Any]]:
    stmt = sa.select(store.settings.c.value).where(store.settings.c.key == "conditions")
    return list(conn.execute(stmt.with_for_update() if lock else stmt).scalar() or [])


def _save(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with unit_of_work(engine) as conn:
        _write(conn, rows)


def _write(conn: Connection, rows: list[dict[str, Any]]) -> None:
    conn.execute(store.settings.delete().where(store.settings.c.key == "conditions"))
    conn.execute(store.settings.insert().values(key="conditions", value=rows))
    engine = conn.engine

    def forget() -> None:
        _cache.pop(engine, None)

    after_commit(conn, forget)


#: How long a flag set by a feed (the forecast guard) lasts unless lifted: it is lifted when the
#: feed says so; the expiry only ends a flag whose feed went silent.
FLAG_DAYS = 30


def flag_unreliable(conn: Connection, *, region: str, reason: str, source: str) -> dict[str, Any]:
    """Flag a region's inputs unreliable on the caller's transaction, for ``source`` (one flag
    per source and region: a second call replaces the first, so a replayed event changes
    nothing but the reason)."""
    now = utcnow()
    rows = [r for r in _rows(conn, lock=True) if datetime.fromisoformat(r["expires_at"]) > now]
    rows = [r for r in rows if not _is_flag(r, region=region, source=source)]
    row = {
        "id": new_id("cnd"),
        "kind": "unreliable",
        "scope": "region",
        "target": region,
        "value": 0.0,
        "reason": reason,
        "expires_at": (now + timedelta(days=FLAG_DAYS)).isoformat(),
        "source": source,
    }
    _write(conn, [*rows, row])
    return row


def lift_unreliable(conn: Connection, *, region: str, source: str) -> bool:
    """Lift ``source``'s flag on a region (on the caller's transaction); False when there was none."""
    rows = _rows(conn, lock=True)
    kept = [r for r in rows if not _is_flag(r, region=region, source=source)]
    if len(kept) == len(rows):
        return False
    _write(conn, kept)
    return True


def _is_flag(row: dict[str, Any], *, region: str, source: str) -> bool:
    return (
        row.get("kind") == "unreliable"
        and row.get("scope") == "region"
        and row.get("target") == region
        and row.get("source", "") == source
    )


def add(
    engine: Engine, *, kind: str, scope: str, target: str, value: float, reason: str, expires_at: datetime
) -> dict[str, Any]:
    """Set a condition until ``expires_at`` (expired ones are dropped as new ones arrive)."""
    errors = []
    if kind not in KINDS:
        errors.append({"pointer": "/kind", "detail": f"one of {', '.join(KINDS)}"})
    if scope not in ("node", "region", "all"):
        errors.append({"pointer": "/scope", "detail": "node, region or all"})
    if kind == "delay" and not 0 < value <= 30:
        errors.append({"pointer": "/value", "detail": "days of delay, 1–30"})
    if kind == "capacity" and not 0 < value <= 100:
        errors.append({"pointer": "/value", "detail": "percent of capacity lost, 1–100"})
    if as_utc(expires_at) <= utcnow():
        errors.append({"pointer": "/expires_at", "detail": "must be in the future"})
    if errors:
        raise InvalidInput(f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors)
    now = utcnow()
    row = {
        "id": new_id("cnd"),
        "kind": kind,
        "scope": scope,
        "target": target,
        "value": value,
        "reason": reason,
        "expires_at": as_utc(expires_at).isoformat(),
    }
    rows = [r for r in _all(engine) if datetime.fromisoformat(r["expires_at"]) > now] + [row]
    _save(engine, rows)
    return row


def active(engine: Engine) -> list[dict[str, Any]]:
    now = utcnow()
    return [r for r in _all(engine) if datetime.fromisoformat(r["expires_at"]) > now]


def remove(engine: Engine, *, condition_id: str) -> None:
    rows = _all(engine)
    if not any(r["id"] == condition_id for r in rows):
        raise NotFound(f"no condition {condition_id}", code="condition_not_found")
    _save(engine, [r for r in rows if r["id"] != condition_id])
