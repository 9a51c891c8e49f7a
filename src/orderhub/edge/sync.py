"""The gateway's side of the sync protocol (docs/edge.md §2): push the outbox, pull the
snapshot, and the links to the hub.

- ``push`` sends pending events oldest first, in batches, until the hub has them all or the
  link fails; the hub's answer moves ``acked_seq`` (what to send next), never the figures.
- ``pull`` replaces the hub's figures, leases and watermark from one snapshot and recomputes
  the effect of the events the snapshot had not applied, in one local transaction; it then
  gives back leases the hub asked for and escrow above target (new outbox events).
- A link failure is recorded (``last_error``) and changes nothing else: the next sync repeats.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, Protocol

import httpx
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import Clock, as_utc
from orderhub.edge import gateway_store as gs
from orderhub.edge.model import HOLDING, HybridClock, escrow_excess, millis
from orderhub.platform.db import per_dialect, unit_of_work, upsert

log = logging.getLogger("orderhub.edge")
PUSH_BATCH = 200
TIMEOUT_S = 2.0


class HubUnreachable(Exception):
    """The hub did not answer (no route, refused, timed out, or a 5xx): try again later."""


class HubRefused(Exception):
    """The hub answered with a 4xx problem: ``status`` and the problem document."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('code', '')}: {problem.get('detail', '')}")
        self.status, self.problem = status, dict(problem)


class HubLink(Protocol):
    """How a gateway reaches the hub: over HTTP (``HttpHub``), or a function call in tests."""

    def register(self, store_id: str, name: str) -> dict[str, Any]: ...

    def push(self, store_id: str, events: list[dict[str, Any]]) -> dict[str, Any]: ...

    def pull(self, store_id: str, body: dict[str, Any]) -> dict[str, Any]: ...


class HttpHub:
    """The hub's ``/api/v1/edge`` routes with an operator's API key; every call times out."""

    def __init__(self, url: str, api_key: str, *, timeout_s: float = TIMEOUT_S) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            r = self.http.post(f"/api/v1/edge{path}", json=body)
        except httpx.HTTPError as exc:
            raise HubUnreachable(str(exc) or type(exc).__name__) from exc
        if r.status_code >= 500:
            raise HubUnreachable(f"{r.status_code} from the hub")
        if r.status_code >= 400:
            try:
                problem = r.json()
            except ValueError:
                problem = {"detail": r.text[:200]}
            raise HubRefused(r.status_code, problem)
        answer: dict[str, Any] = r.json()
        return answer

    def register(self, store_id: str, name: str) -> dict[str, Any]:
        return self._post("/gateways", {"store_id": store_id, "name": name})

    def push(self, store_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        return self._post(f"/gateways/{store_id}/events", {"events": events})

    def pull(self, store_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(f"/gateways/{store_id}/pull", body)

    def close(self) -> None:
        self.http.close()


def _failed(engine: Engine, exc: Exception) -> None:
    with unit_of_work(engine) as conn:
        gs.set_state(conn, last_error=str(exc)[:500] or type(exc).__name__)


def _ensure_registered(engine: Engine, hub: HubLink, store_id: str, *, registered: bool) -> None:
    if registered:
        return
    hub.register(store_id, "")
    with unit_of_work(engine) as conn:
        gs.set_state(conn, registered=True)


def push(engine: Engine, hub: HubLink, *, store_id: str, clock: Clock) -> int:
    """Send every pending event (oldest first, ``PUSH_BATCH`` a request), registering the
    gateway first if it never was. Returns how many the hub acknowledged; raises
    ``HubUnreachable`` / ``HubRefused`` as they come."""
    sent = 0
    while True:
        with unit_of_work(engine, write=False) as conn:
            st = gs.get_state(conn)
            acked = int(st.acked_seq)
            batch = gs.pending(conn, acked, limit=PUSH_BATCH)
        _ensure_registered(engine, hub, store_id, registered=bool(st.registered))
        if not batch:
            return sent
        answer = hub.push(
            store_id,
            [
                {"event_id": r.event_id, "seq": int(r.seq), "hlc": int(r.hlc), "type": r.type, "data": r.data}
                for r in batch
            ],
        )
        through = int(answer["applied_through"])
        with unit_of_work(engine) as conn:
            st = gs.get_state(conn)
            hlc = HybridClock(int(st.hlc)).observe(int(answer.get("hub_hlc") or 0), millis(clock.now()))
            gs.set_state(
                conn, acked_seq=max(int(st.acked_seq), through), hlc=hlc, contacted_at=clock.now(), last_error=""
            )
        sent += max(0, through - acked)
        if through <= acked:  # no progress (a gap the hub waits for): the next sync starts again
            return sent


def pull(
    engine: Engine,
    hub: HubLink,
    *,
    store_id: str,
    clock: Clock,
    want: Mapping[str, int] | None = None,
    guard: AbstractContextManager[Any] | None = None,
) -> None:
    """Take the hub's snapshot (and, with ``want``, an escrow top-up, which is not given back
    as excess: the till is about to sell it) and apply it under ``guard`` (the gateway's lock:
    a sale's top-up and its record are not split by another snapshot)."""
    with unit_of_work(engine, write=False) as conn:
        st = gs.get_state(conn)
        body = {
            "cursor": int(st.cursor),
            "want": {k: int(v) for k, v in (want or {}).items() if v > 0},
            "backlog": gs.count_pending(conn, int(st.acked_seq)),
            "hlc": int(st.hlc),
        }
    snapshot = hub.pull(store_id, body)
    with guard or nullcontext(), unit_of_work(engine) as conn:
        apply_snapshot(conn, snapshot, now=clock.now(), give_back=not body["want"])


def sync(
    engine: Engine, hub: HubLink, *, store_id: str, clock: Clock, guard: AbstractContextManager[Any] | None = None
) -> bool:
    """One round: register if needed, push everything, pull. True when the hub answered all
    of it; otherwise the failure is recorded and False returned (nothing is lost)."""
    try:
        push(engine, hub, store_id=store_id, clock=clock)
        pull(engine, hub, store_id=store_id, clock=clock, guard=guard)
        return True
    except (HubUnreachable, HubRefused) as exc:
        _failed(engine, exc)
        if isinstance(exc, HubRefused):
            log.warning("the hub refused %s's sync: %s", store_id, exc)
        return False


def apply_snapshot(conn: Connection, snap: Mapping[str, Any], *, now: datetime, give_back: bool = True) -> None:
    """Replace the hub's figures, leases, policy and watermark with the snapshot's, keep its
    messages, recompute the pending figures; then give back leases the hub asked for and
    escrow above target. One transaction: a crash leaves the old snapshot whole."""
    st = gs.get_state(conn)
    applied = int(snap["applied_seq"])
    if applied >= int(st.next_seq):
        raise HubRefused(
            409, {"code": "gateway_diverged", "detail": f"the hub applied {applied} events; we wrote fewer"}
        )
    hlc = HybridClock(int(st.hlc)).observe(int(snap.get("hub_hlc") or 0), millis(now))
    gs.set_state(
        conn,
        applied_seq=applied,
        acked_seq=max(int(st.acked_seq), applied),
        cursor=max(int(st.cursor), int(snap["cursor"])),
        policy=dict(snap["policy"]),
        pulled_at=as_utc(datetime.fromisoformat(snap["at"])),
        contacted_at=now,
        last_error="",
        hlc=hlc,
    )
    _replace_stock(conn, snap["stock"])
    _replace_pickups(conn, snap["pickups"], store_id=str(snap["store_id"]))
    _keep_messages(conn, snap["messages"], now)
    gs.recompute(conn)
    _give_back(conn, snap["stock"] if give_back else [], now)


_RESET_STOCK = gs.stock.update().values(hub_on_hand=0, hub_escrow=0, target=0)
_GONE = (
    gs.pickups.update()
    .where(gs.pickups.c.hub_state.in_(HOLDING), gs.pickups.c.order_id.not_in(sa.bindparam("listed", expanding=True)))
    .values(hub_state="gone")
)
_REVOKING = sa.select(gs.pickups).where(
    gs.pickups.c.hub_state == "revoking", gs.pickups.c.handed_over_at.is_(None), gs.pickups.c.released.is_(False)
)


def _stock_upsert(insert: Any) -> Any:
    stmt = insert(gs.stock)
    cols = ("name", "price_minor", "currency", "hub_on_hand", "hub_escrow", "target")
    return stmt.on_conflict_do_update(index_elements=[gs.stock.c.sku], set_={c: stmt.excluded[c] for c in cols})


_UPSERT_STOCK = per_dialect(_stock_upsert)


def _replace_stock(conn: Connection, rows: list[Mapping[str, Any]]) -> None:
    conn.execute(_RESET_STOCK)
    if not rows:
        return
    values = [
        {
            "sku": r["sku"],
            "name": r["name"],
            "price_minor": r["price_minor"],
            "currency": r["currency"],
            "hub_on_hand": r["on_hand"],
            "hub_escrow": r["escrow"],
            "target": r["target"],
        }
        for r in rows
    ]
    conn.execute(_UPSERT_STOCK(conn), values)


def _replace_pickups(conn: Connection, leases: list[Mapping[str, Any]], *, store_id: str) -> None:
    """The snapshot lists every lease the store holds: one held here that it no longer lists
    has left the store (``gone``)."""
    conn.execute(_GONE, {"listed": sorted({x["order_id"] for x in leases})})
    known = gs.pickup_rows(conn)
    for x in leases:
        values = {
            "external_ref": x["external_ref"],
            "customer": x["customer"],
            "lines": x["lines"],
            "token": x["token"],
            "expires_at": as_utc(datetime.fromisoformat(x["expires_at"])),
            "hub_state": x["state"] if x["store_id"] == store_id else "gone",
            "target_node": x.get("target_node") or "",
        }
        if x["order_id"] in known:
            mine = known[x["order_id"]]
            if mine.token != x["token"]:  # a new lease on it: local marks of the old one no longer apply
                values.update(handed_over_at=None, released=False)
            conn.execute(gs.pickups.update().where(gs.pickups.c.order_id == x["order_id"]).values(**values))
        else:
            conn.execute(gs.pickups.insert().values(order_id=x["order_id"], **values))


def _keep_messages(conn: Connection, messages: list[Mapping[str, Any]], now: datetime) -> None:
    for m in messages:
        stmt = upsert(conn)(gs.messages).values(
            id=m["id"],
            kind=m["kind"],
            order_id=m["order_id"],
            event_id=m["event_id"],
            text=m["text"],
            hlc=m["hlc"],
            received_at=now,
        )
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[gs.messages.c.id]))


def _give_back(conn: Connection, rows: list[Mapping[str, Any]], now: datetime) -> None:
    """Leases the hub asked back (``revoking``) and not handed over here are released; escrow
    above its target goes back (as far as the till has not used it)."""
    revoking = conn.execute(_REVOKING).all()
    for p in revoking:
        gs.append(conn, "pickup.released", {"order_id": p.order_id, "token": int(p.token)}, now=now)
        conn.execute(gs.pickups.update().where(gs.pickups.c.order_id == p.order_id).values(released=True))
    figures = gs.figures(conn)
    for r in rows:
        excess = escrow_excess(figures[r["sku"]], int(r["target"])) if r["sku"] in figures else 0
        if excess:
            gs.append(conn, "escrow.released", {"sku": r["sku"], "quantity": excess}, now=now)
