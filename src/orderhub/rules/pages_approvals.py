"""The console's approvals inbox: the pending approvals the user may decide (approve or reject
with a note), and the approved and rejected ones with their history.

An approval knows its order by id only; the order's channel number and status come from a
lookup the composition root registers (``register_order_refs``), since rules do not read the
order tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from orderhub.core.errors import InvalidInput
from orderhub.platform.auth.model import Principal, Role
from orderhub.rules import approvals
from orderhub.rules import service as rules
from orderhub.web.templating import act, check_csrf, console_user, render

router = APIRouter(prefix="/console/approvals", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)
STATUSES = ("pending", "approved", "rejected")

#: order ids → {"channel", "external_ref", "status"} for the orders that exist
OrderRefs = Callable[[Engine, list[str]], dict[str, dict[str, str]]]
_order_refs: list[OrderRefs] = []


def register_order_refs(lookup: OrderRefs) -> None:
    """Where the inbox reads its orders' channel numbers from (again replaces it)."""
    _order_refs[:] = [lookup]


def order_refs(engine: Engine, order_ids: list[str]) -> dict[str, dict[str, str]]:
    """Channel, order number and status of these orders (the rules pages name orders by number)."""
    return _order_refs[0](engine, sorted(set(order_ids))) if _order_refs and order_ids else {}


@router.get("", response_class=HTMLResponse)
def inbox(request: Request, user: User, status: str = "pending", order_id: str = "") -> Response:
    """Pending: the approvals ``user`` may decide now, oldest first. Approved / rejected: the
    latest decided, with their history."""
    engine = request.app.state.engine
    status = status if status in STATUSES else "pending"
    rows = approvals.get_inbox(engine, who=user, status=status, limit=200)
    if order_id:
        rows = [r for r in rows if r["order_id"] == order_id]
    names = {s["id"]: s["name"] for s in rules.get_all(engine, include_archived=True)}
    return render(
        request,
        "rules/approvals.html",
        {
            "user": user,
            "nav": "approvals",
            "status": status,
            "rows": rows if status == "pending" else rows[::-1],
            "refs": order_refs(engine, [r["order_id"] for r in rows]),
            "names": names,
            "order_id": order_id,
        },
    )


@router.post("/{approval_id}/decision", dependencies=[Csrf])
def decide(
    request: Request,
    approval_id: str,
    user: User,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    """Approve or reject the current step (403 for a step that is not the user's, shown as a
    message); the last approval releases the order, a rejection cancels it."""

    def run() -> str:
        if decision not in ("approve", "reject"):
            raise InvalidInput("approve or reject", errors=[{"pointer": "/decision", "detail": "approve or reject"}])
        done = approvals.decide(
            request.app.state.engine, approval_id=approval_id, who=user, approve=decision == "approve", note=note[:500]
        )
        if done["status"] == "pending":
            return f"Step approved; the next step waits for {done['assignee'] or done['role']}"
        verb = "approved: its hold is lifted" if done["status"] == "approved" else "rejected: the order is cancelled"
        return f"Order {done['order_id']} {verb}"

    return act(request, user, Role.viewer, "/console/approvals", run)
