"""Console pages for stock: a SKU's positions, holds and ledger; nodes and their stock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.core.errors import DomainError
from orderhub.inventory import catalogue, listing
from orderhub.inventory import service as inventory
from orderhub.inventory.items_api import item_json
from orderhub.platform.auth.model import Principal, Role
from orderhub.web.templating import act, check_csrf, console_user, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]
Csrf = Depends(check_csrf)
ITEM_FIELDS = ("name", "category", "weight_g", "length_mm", "width_mm", "height_mm", "cost", "price", "barcode")


@router.get("/inventory", response_class=HTMLResponse)
def stock_page(request: Request, user: User, sku: str = "") -> Response:
    """A SKU's positions and ATP, holds with countdowns, supply and ledger; without a SKU, the
    product list (search, filters, sorting, paging) and the low / out-of-stock counts per node."""
    engine = request.app.state.engine
    view = inventory.get_stock_view(engine, sku=sku.strip()) if sku.strip() else None
    peak = max((n.on_hand for n in view["atp"]["nodes"]), default=0) if view else 0
    context = {"user": user, "nav": "inventory", "sku": sku.strip(), "view": view, "peak": peak or 1}
    if view is not None:  # the orders holding or waiting for it, by their numbers
        named = [h["order_id"] for h in view["holds"]] + [b["order_id"] for b in view["backorders"]]
        context["refs"] = inventory.order_refs(engine, named)
    if view is None and not sku.strip():
        context |= listing.products_context(request, engine)
    context |= listing.work_context(request, user, engine, sku=sku.strip())
    return render(request, "inventory/stock.html", context, fragment="inventory/_stock.html")


@router.get("/nodes", response_class=HTMLResponse)
def nodes_page(request: Request, user: User) -> Response:
    """The nodes on a map (size: open orders; colour: today's load against capacity) with
    today's delivery addresses, and a table with their open work and stock alerts."""
    engine = request.app.state.engine
    nodes = inventory.get_all_nodes(engine)
    context = {"user": user, "nav": "nodes", "nodes": nodes} | listing.nodes_context(engine, nodes)
    return render(request, "inventory/nodes.html", context)


@router.get("/nodes/{node_id}", response_class=HTMLResponse)
def node_page(request: Request, node_id: str, user: User) -> Response:
    """A node's positions with product names: sortable, paged, filtered to low or out of stock."""
    engine = request.app.state.engine
    try:
        node = inventory.get_node(engine, node_id=node_id)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    context = {"user": user, "nav": "nodes", "node": node, "totals": catalogue.node_totals(engine, node_id=node_id)}
    context |= listing.positions_context(request, engine, node_id=node_id)
    context |= listing.work_context(request, user, engine, node_id=node_id)
    return render(request, "inventory/node.html", context, fragment="inventory/_positions.html")


@router.get("/items", response_class=HTMLResponse)
def items_page(request: Request, user: User, q: str = "", review: str = "") -> Response:
    """The item master: search by SKU or name, or only the placeholders awaiting review."""
    items = inventory.get_item_list(
        request.app.state.engine, needs_review=True if review else None, search=q.strip()[:100]
    )
    return render(
        request,
        "inventory/items.html",
        {"user": user, "nav": "items", "items": [item_json(i) for i in items[:500]], "total": len(items),
         "q": q.strip(), "review": bool(review)},
        fragment="inventory/_items.html",
    )  # fmt: skip


@router.get("/items/{sku}", response_class=HTMLResponse)
def item_page(request: Request, sku: str, user: User) -> Response:
    try:
        item = inventory.get_item(request.app.state.engine, sku=sku)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=404)
    can_edit = user.role >= Role.operator
    return render(
        request, "inventory/item.html", {"user": user, "nav": "items", "i": item_json(item), "can_edit": can_edit}
    )


@router.post("/items/{sku}", dependencies=[Csrf])
async def item_save(request: Request, sku: str, user: User) -> Response:
    """Save the edit form: the item is complete now, so it leaves the review list."""
    form = await request.form()
    fields = {k: str(form.get(k) or "") for k in ITEM_FIELDS}
    engine = request.app.state.engine

    def save() -> str:
        current = inventory.get_item(engine, sku=sku)
        item = inventory.item_from_fields({**fields, "sku": sku, "currency": current.currency})
        inventory.put_items(engine, items=[item])
        return f"Item {sku} saved"

    return act(request, user, Role.operator, f"/console/items/{sku}", save)


Filter = Annotated[str, Query(max_length=64)]
Lead = Annotated[int, Query(ge=0, le=90)]


@router.get("/replenishment", response_class=HTMLResponse)
def replenishment_page(
    request: Request, user: User, node_id: Filter = "", sku: Filter = "", at_risk: bool = False, lead_days: Lead = 7
) -> Response:
    """What to order where, from the demand forecast; what runs out, node by node; the promise
    dates of the lines waiting for stock."""
    engine = request.app.state.engine
    rows = inventory.replenishment(
        engine, node_id=node_id or None, sku=sku or None, lead_days=lead_days, at_risk=at_risk, limit=500
    )
    promises = inventory.promise_dates(engine, sku=sku or None)[:100]
    return render(
        request,
        "inventory/replenishment.html",
        {
            "user": user,
            "nav": "inventory",
            "rows": rows,
            "node_id": node_id,
            "sku": sku,
            "at_risk": at_risk,
            "lead_days": lead_days,
            "risky": sum(1 for r in rows if r["at_risk"]),
            "promises": promises,
            "refs": inventory.order_refs(engine, [p["order_id"] for p in promises]),
            "query": str(request.url.query),
        },
    )


@router.get("/replenishment.csv")
def replenishment_csv(
    request: Request, user: User, node_id: Filter = "", sku: Filter = "", at_risk: bool = False, lead_days: Lead = 7
) -> Response:
    """The page's rows as CSV, for a spreadsheet or an ERP."""
    rows = inventory.replenishment(
        request.app.state.engine, node_id=node_id or None, sku=sku or None, lead_days=lead_days, at_risk=at_risk,
        limit=100_000,
    )  # fmt: skip
    return Response(
        inventory.replenishment_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="replenishment.csv"'},
    )
