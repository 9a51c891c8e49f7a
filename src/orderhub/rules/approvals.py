"""Approval flows: an order a rule sent for approval waits in ``on_hold`` until every step is
approved (then it is released), one step is rejected (then it is cancelled), or a step times
out (its ``on_timeout``: approve, reject, or escalate to a higher role once, which then waits
for a person). The flow's steps are copied from the rule version that asked, so changing the
rule set later never changes a running approval.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import utcnow
from orderhub.core.errors import Conflict, Forbidden, NotFound
from orderhub.core.ids import new_id
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.db import unit_of_work
from orderhub.rules import effects, store

P = store.rule_approvals
SYSTEM = "system:rules-timeout"


def _due(step: dict[str, Any], now: datetime) -> datetime | None:
    minutes = step.get("timeout_minutes")
    return now + timedelta(minutes=float(minutes)) if minutes else None


def start(
    conn: Connection, *, order_id: str, set_id: str, version: int, flow_key: str, flow: dict[str, Any], now: datetime
) -> str:
    """Open an approval for ``order_id`` (in the order change's transaction). An order has at
    most one pending approval per rule set: asking again while one is pending does nothing."""
    pending = conn.execute(
        sa.select(P.c.id).where(P.c.order_id == order_id, P.c.set_id == set_id, P.c.status == "pending")
    ).scalar()
    if pending:
        return str(pending)
    steps = list(flow.get("steps") or [])
    approval_id = new_id("apr")
    conn.execute(
        P.insert().values(
            id=approval_id,
            order_id=order_id,
            set_id=set_id,
            version=version,
            flow=flow_key,
            steps=steps,
            step=0,
            status="pending",
            role=steps[0].get("role"),
            assignee=steps[0].get("user"),
            due_at=_due(steps[0], now),
            created_at=now,
            history=[
                {
                    "at": now.isoformat(),
                    "actor": f"rules:{set_id}@v{version}",
                    "action": "requested",
                    "step": 0,
                    "note": flow.get("name", flow_key),
                }
            ],
        )
    )
    return approval_id


def may_decide(row: dict[str, Any], who: Principal) -> bool:
    """A named user decides their step; a role's step is decided by anyone with that role or
    a higher one."""
    if row["assignee"]:
        return row["assignee"] in (who.email, who.user_id) or who.role >= Role.admin
    return who.role >= Role.parse(row["role"] or "admin")


def get_inbox(engine: Engine, *, who: Principal, status: str = "pending", limit: int = 100) -> list[dict[str, Any]]:
    """Approvals in ``status`` (pending: those ``who`` may decide now), oldest first."""
    with unit_of_work(engine, write=False) as conn:
        q = (
            sa.select(P)
            .where(P.c.status == status)
            .order_by(P.c.created_at, P.c.id)
            .limit(limit if status != "pending" else 5000)
        )
        rows = [dict(r) for r in conn.execute(q).mappings()]
    if status == "pending":
        rows = [r for r in rows if may_decide(r, who)][:limit]
    return rows


def get_for_order(engine: Engine, *, order_id: str) -> list[dict[str, Any]]:
    with unit_of_work(engine, write=False) as conn:
        return [
            dict(r)
            for r in conn.execute(sa.select(P).where(P.c.order_id == order_id).order_by(P.c.created_at)).mappings()
        ]


def decide(engine: Engine, *, approval_id: str, who: Principal, approve: bool, note: str = "") -> dict[str, Any]:
    """Approve or reject the current step. The last approval releases the order's hold; a
    rejection cancels the order. 403 when ``who`` may not decide this step; 409 when it was
    decided already."""
    with unit_of_work(engine) as conn:
        found = conn.execute(sa.select(P).where(P.c.id == approval_id).with_for_update()).mappings().first()
        if found is None:
            raise NotFound(f"no approval {approval_id}", code="approval_not_found", approval_id=approval_id)
        row = dict(found)
        if row["status"] != "pending":
            raise Conflict(
                f"approval {approval_id} is {row['status']}", code="approval_closed", approval_status=row["status"]
            )
        if not may_decide(row, who):
            raise Forbidden(
                f"this step is approved by {row['assignee'] or 'the ' + str(row['role']) + ' role'}",
                code="not_your_approval",
            )
        _advance(conn, row, actor=who.actor, approve=approve, note=note, now=utcnow())
    return get(engine, approval_id)


def _advance(conn: Connection, row: dict[str, Any], *, actor: str, approve: bool, note: str, now: datetime) -> None:
    history = [
        *row["history"],
        {
            "at": now.isoformat(),
            "actor": actor,
            "action": "approved" if approve else "rejected",
            "step": row["step"],
            "note": note[:500],
        },
    ]
    steps, step = row["steps"], row["step"] + 1
    values: dict[str, Any] = {"history": history}
    if approve and step < len(steps):
        values.update(
            step=step,
            role=steps[step].get("role"),
            assignee=steps[step].get("user"),
            due_at=_due(steps[step], now),
            escalated=False,
        )
    else:
        outcome = effects.apply(
            conn,
            order_id=row["order_id"],
            action="release" if approve else "cancel",
            value=f"approval {row['flow']}",
            actor=actor,
        )
        history.append({"at": now.isoformat(), "actor": actor, "action": "order", "step": row["step"], "note": outcome})
        values.update(status="approved" if approve else "rejected", decided_at=now, due_at=None)
    conn.execute(P.update().where(P.c.id == row["id"]).values(**values))


def get(engine: Engine, approval_id: str) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        row = conn.execute(sa.select(P).where(P.c.id == approval_id)).mappings().first()
    if row is None:
        raise NotFound(f"no approval {approval_id}", code="approval_not_found", approval_id=approval_id)
    return dict(row)


def time_out_due(engine: Engine, *, now: datetime | None = None, limit: int = 200) -> int:
    """Apply the timeout action of every step past its time (a timer); each in its own
    transaction. Returns how many were handled."""
    now = now or utcnow()
    with unit_of_work(engine, write=False) as conn:
        ids = list(
            conn.execute(
                sa.select(P.c.id).where(P.c.status == "pending", P.c.due_at <= now).order_by(P.c.due_at).limit(limit)
            ).scalars()
        )
    for approval_id in ids:
        with unit_of_work(engine) as conn:
            found = (
                conn.execute(
                    sa.select(P)
                    .where(P.c.id == approval_id, P.c.status == "pending", P.c.due_at <= now)
                    .with_for_update()
                )
                .mappings()
                .first()
            )
            if found is None:
                continue
            row = dict(found)
            step = row["steps"][row["step"]]
            action = step.get("on_timeout", "escalate")
            if action == "escalate" and not row["escalated"]:
                to = step.get("escalate_to", "admin")
                history = [
                    *row["history"],
                    {
                        "at": now.isoformat(),
                        "actor": SYSTEM,
                        "action": "escalated",
                        "step": row["step"],
                        "note": f"to {to}",
                    },
                ]
                conn.execute(
                    P.update()
                    .where(P.c.id == approval_id)
                    .values(role=to, assignee=None, escalated=True, due_at=None, history=history)
                )
                effects.apply(
                    conn, order_id=row["order_id"], action="escalate", value=f"approval-{row['flow']}", actor=SYSTEM
                )
            else:
                _advance(
                    conn,
                    row,
                    actor=SYSTEM,
                    approve=action == "approve",
                    note=f"no decision within {step.get('timeout_minutes')} minutes",
                    now=now,
                )
    return len(ids)
