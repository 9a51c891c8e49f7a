"""Timers: "when X has not happened N minutes after Y, do Z".

A bus subscriber reads every order event: an event that matches a live timer's ``after``
starts it for that order (once per order and timer), one that matches ``unless`` stops it.
A timer round fires what is due, each in its own transaction with the order's change (the
effect), so a timer fires once. An event matches ``order.status_changed`` by type, or
``order.status_changed:paid`` by type and new state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.bus.subscribers import Subscriber
from orderhub.core.clock import utcnow
from orderhub.core.events import DomainEvent
from orderhub.platform.db import unit_of_work
from orderhub.rules import effects, store
from orderhub.rules.engine import REGISTRY

T = store.rule_timers


def _keys(event: DomainEvent) -> set[str]:
    state = event.data.get("to") or event.data.get("payment_status") or ""
    return {event.type, f"{event.type}:{state}"} if state else {event.type}


def follow(conn: Connection, event: DomainEvent) -> None:
    """Start and stop timers for the event's order (idempotent: a timer starts once)."""
    if event.aggregate_type != "order":
        return
    keys = _keys(event)
    now = utcnow()
    for chain in REGISTRY.in_force(conn, "timers", now):
        live = chain[0]
        for timer in live.table.timers:
            if keys & set(timer.get("unless") or []):
                conn.execute(
                    T.update()
                    .where(
                        T.c.set_id == live.set_id,
                        T.c.timer == timer["id"],
                        T.c.order_id == event.aggregate_id,
                        T.c.status == "pending",
                    )
                    .values(status="cancelled", closed_at=now)
                )
            elif timer.get("after") in keys:
                _start(conn, live.set_id, live.number, timer, event, now)


def _start(
    conn: Connection, set_id: str, number: int, timer: dict[str, Any], event: DomainEvent, now: datetime
) -> None:
    started = conn.execute(
        sa.select(T.c.id).where(T.c.set_id == set_id, T.c.timer == timer["id"], T.c.order_id == event.aggregate_id)
    ).first()
    if started:
        return
    conn.execute(
        T.insert().values(
            set_id=set_id,
            version=number,
            timer=timer["id"],
            order_id=event.aggregate_id,
            action=timer["action"],
            value=str(timer.get("value") or ""),
            status="pending",
            started_by=event.type[:60],
            due_at=event.occurred_at + timedelta(minutes=float(timer["minutes"])),
            created_at=now,
        )
    )


SUBSCRIBER = Subscriber(
    name="rules.timers",
    handle=follow,
    description="starts and stops the rule sets' timers from the order's events",
)


def fire_due(engine: Engine, *, now: datetime | None = None, limit: int = 200) -> int:
    """Carry out every timer that is due (a timer round). Returns how many fired."""
    now = now or utcnow()
    with unit_of_work(engine, write=False) as conn:
        ids = list(
            conn.execute(
                sa.select(T.c.id).where(T.c.status == "pending", T.c.due_at <= now).order_by(T.c.due_at).limit(limit)
            ).scalars()
        )
    fired = 0
    for timer_id in ids:
        with unit_of_work(engine) as conn:
            row = (
                conn.execute(sa.select(T).where(T.c.id == timer_id, T.c.status == "pending").with_for_update())
                .mappings()
                .first()
            )
            if row is None:
                continue
            actor = f"rules:{row['set_id']}@v{row['version']}/{row['timer']}"
            outcome = effects.apply(
                conn, order_id=row["order_id"], action=row["action"], value=row["value"], actor=actor
            )
            conn.execute(T.update().where(T.c.id == timer_id).values(status="fired", closed_at=now))
            conn.execute(
                store.rule_audit.insert().values(
                    at=now,
                    actor=actor,
                    set_id=row["set_id"],
                    version=row["version"],
                    action="timer_fired",
                    why=outcome[:2000],
                    detail={"order_id": row["order_id"], "timer": row["timer"], "action": row["action"]},
                )
            )
            fired += 1
    return fired


def get_all(
    engine: Engine, *, order_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    q = sa.select(T).order_by(T.c.id.desc()).limit(limit)
    if order_id:
        q = q.where(T.c.order_id == order_id)
    if status:
        q = q.where(T.c.status == status)
    with unit_of_work(engine, write=False) as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
