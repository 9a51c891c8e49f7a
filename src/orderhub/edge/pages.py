"""Console pages of the hub's store gateways: every gateway's status, and one gateway's escrow
per SKU, leases, events applied and conflicts with how each was resolved."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.core.errors import DomainError
from orderhub.edge import service as edge
from orderhub.orders import service as orders
from orderhub.platform.auth.model import Principal
from orderhub.web.templating import console_user, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]


@router.get("/edge", response_class=HTMLResponse)
def gateways_page(request: Request, user: User) -> Response:
    """Every store gateway: online or offline, last sync, lag, backlog (refreshed by htmx)."""
    engine = request.app.state.engine
    conflicts = edge.get_conflicts(engine, limit=20)
    context = {
        "user": user,
        "nav": "edge",
        "gateways": edge.get_all(engine),
        "conflicts": conflicts,
        "refs": orders.get_refs(engine, [c["order_id"] for c in conflicts if c["order_id"]]),  # their numbers
    }
    return render(request, "edge/gateways.html", context, fragment="edge/_gateways.html")


@router.get("/edge/{store_id}", response_class=HTMLResponse)
def gateway_page(request: Request, store_id: str, user: User) -> Response:
    """One gateway: status, escrow per SKU, leases, recent events, conflicts and resolutions."""
    engine = request.app.state.engine
    try:
        view = edge.get(engine, store_id=store_id)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    named = [x["order_id"] for x in view["conflicts"] + view["events"] if x.get("order_id")]
    context = {"user": user, "nav": "edge", "g": view, "refs": orders.get_refs(engine, named)}
    return render(request, "edge/gateway.html", context, fragment="edge/_gateway.html")
