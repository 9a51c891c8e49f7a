"""Stock work over HTTP: adjust, transfer and receive (editor and up), and the product, node
and alert lists behind the console's inventory pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from orderhub.inventory import adjustments, catalogue
from orderhub.inventory import service as inventory
from orderhub.inventory.model import LOW_STOCK_UNITS
from orderhub.platform import problems
from orderhub.platform.web import Editor, EngineDep, Viewer

router = APIRouter(prefix="/api/v1", tags=["inventory"], responses=problems.READ)

MAX_UNITS = adjustments.MAX_UNITS
NodeId = Annotated[str, Field(min_length=1, max_length=40)]
Sku = Annotated[str, Field(min_length=1, max_length=64)]
Reason = Annotated[str, Field(min_length=1, max_length=100, description="why, kept on the ledger row")]


class AdjustIn(BaseModel):
    node_id: NodeId
    sku: Sku
    quantity: int | None = Field(default=None, ge=0, le=MAX_UNITS, strict=True, description="set on hand to this")
    delta: int | None = Field(default=None, ge=-MAX_UNITS, le=MAX_UNITS, strict=True, description="or change it")
    reason: Reason


class TransferIn(BaseModel):
    from_node_id: NodeId
    to_node_id: NodeId
    sku: Sku
    quantity: int = Field(gt=0, le=MAX_UNITS, strict=True)
    reason: Reason


class ReceiveIn(BaseModel):
    node_id: NodeId
    sku: Sku
    quantity: int = Field(gt=0, le=MAX_UNITS, strict=True)
    reference: str = Field(min_length=1, max_length=60, description="delivery note, purchase order …")
    reason: str = Field(default="", max_length=58)


@router.post("/inventory/adjustments", responses=problems.WRITE, status_code=201, summary="Adjust a position")
def post_adjustment(body: AdjustIn, engine: EngineDep, who: Editor) -> dict[str, Any]:
    """Set on hand (``quantity``) or change it (``delta``), with a reason: one ledger row
    ``adjusted``. 422 ``below_held`` (naming the field) when fewer units would remain than are
    held for orders there."""
    moved = adjustments.adjust(
        engine, node_id=body.node_id, sku=body.sku, quantity=body.quantity, delta=body.delta, reason=body.reason,
        actor=who.actor,
    )  # fmt: skip
    return moved.as_dict()


@router.post("/inventory/transfers", responses=problems.WRITE, status_code=201, summary="Move units between nodes")
def post_transfer(body: TransferIn, engine: EngineDep, who: Editor) -> dict[str, Any]:
    """One transaction, two ledger rows (``transfer_out``, ``transfer_in``) with one reference.
    Only units not held for orders can leave: 422 ``below_held`` names ``/quantity``."""
    out, into = adjustments.transfer(
        engine, from_node_id=body.from_node_id, to_node_id=body.to_node_id, sku=body.sku, quantity=body.quantity,
        reason=body.reason, actor=who.actor,
    )  # fmt: skip
    return {"from": out.as_dict(), "to": into.as_dict()}


@router.post("/inventory/receipts", responses=problems.WRITE, status_code=201, summary="Receive units at a node")
def post_receipt(body: ReceiveIn, engine: EngineDep, who: Editor) -> dict[str, Any]:
    """On hand goes up (ledger ``received``); waiting backorders of the SKU are served."""
    moved = adjustments.receive(
        engine, node_id=body.node_id, sku=body.sku, quantity=body.quantity, reference=body.reference,
        reason=body.reason, actor=who.actor,
    )  # fmt: skip
    return moved.as_dict()


State = Annotated[Literal["", "out", "low", "ok"], Query(description="out, low or ok; empty: all")]
Page = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=500)]
Desc = Annotated[bool, Query(description="largest first")]


def _listing(page: catalogue.Listing) -> dict[str, Any]:
    rows = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in page.rows]
    return {"items": rows, "total": page.total, "page": page.page, "per_page": page.per_page, "counts": page.counts}


@router.get("/inventory-products", summary="Products with their stock: search, filters, sorting, paging")
def get_products(
    engine: EngineDep,
    _: Viewer,
    q: Annotated[str, Query(max_length=100, description="part of a SKU or name")] = "",
    category: Annotated[str, Query(max_length=60)] = "",
    node_id: Annotated[str, Query(max_length=40, description="stock at this node only")] = "",
    state: State = "",
    sort: Annotated[catalogue.ProductSort, Query()] = "sku",
    desc: Desc = False,
    page: Page = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """``counts`` gives the products in each state under the other filters."""
    listing = catalogue.product_list(
        engine, search=q.strip(), category=category, node_id=node_id, state=state, sort=sort, desc=desc, page=page,
        per_page=per_page,
    )  # fmt: skip
    return _listing(listing)


@router.get("/nodes/{node_id}/positions", responses=problems.FOUND, summary="A node's positions, paged")
def get_node_positions(
    node_id: Annotated[str, Path(max_length=40)],
    engine: EngineDep,
    _: Viewer,
    q: Annotated[str, Query(max_length=100)] = "",
    state: State = "",
    sort: Annotated[catalogue.PositionSort, Query()] = "sku",
    desc: Desc = False,
    page: Page = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """With product names, ATP, the low-stock threshold and the state of each position."""
    inventory.get_node(engine, node_id=node_id)
    listing = catalogue.node_positions(
        engine, node_id=node_id, search=q.strip(), state=state, sort=sort, desc=desc, page=page, per_page=per_page
    )
    return _listing(listing)


@router.get("/inventory-alerts", summary="Low and out-of-stock positions per node")
def get_alerts(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    alerts = catalogue.stock_alerts(engine)
    return {
        "items": [
            {"node_id": n.id, "name": n.name, **alerts.get(n.id, {"low": 0, "out": 0, "positions": 0})}
            for n in inventory.get_all_nodes(engine)
        ],
        "low_stock_units": LOW_STOCK_UNITS,
    }
