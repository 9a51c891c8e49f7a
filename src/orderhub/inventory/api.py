"""JSON routes for nodes, stock positions, ATP, incoming supply and stock policies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, ValidationError

from orderhub.core.errors import InvalidInput
from orderhub.core.jsondoc import INT64_MAX
from orderhub.inventory import adjustments
from orderhub.inventory import service as inventory
from orderhub.inventory.admission import AdmissionQueue
from orderhub.platform import problems
from orderhub.platform.problems import validation_errors
from orderhub.platform.web import Editor, EngineDep, Operator, Viewer

router = APIRouter(prefix="/api/v1", tags=["inventory"], responses=problems.READ)


MAX_UNITS = 1_000_000_000  # units at one position, or moved by one report (an INTEGER column)
MAX_DAILY_CAPACITY = 10_000_000  # orders a node ships per day
MAX_TTL_S = inventory.MAX_RESERVATION_TTL_S  # the longest an unpaid order may hold stock


class NodeIn(BaseModel):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    type: inventory.NodeType
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    region: str = Field(min_length=1, max_length=40)
    city: str = Field(default="", max_length=100)
    capabilities: list[inventory.Capability] = Field(default_factory=lambda: [inventory.Capability.ships])
    daily_capacity: int = Field(
        default=0, ge=0, le=MAX_DAILY_CAPACITY, strict=True, description="orders per day; 0 = not limited"
    )
    closed_dates: list[date] = Field(default_factory=list, description="days the node does not ship")
    cutoff_hour_utc: int | None = Field(
        default=None, ge=0, le=23, strict=True, description="orders after this hour ship the next open day"
    )
    channels: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=100, description="channels it may fulfil; empty = every channel"
    )


def node_json(n: inventory.Node) -> dict[str, Any]:
    return {
        "id": n.id,
        "name": n.name,
        "type": n.type.value,
        "lat": n.lat,
        "lon": n.lon,
        "region": n.region,
        "city": n.city,
        "capabilities": [c.value for c in n.capabilities],
        "daily_capacity": n.daily_capacity,
        "closed_dates": n.closed_dates,
        "cutoff_hour_utc": n.cutoff_hour_utc,
        "channels": n.channels,
    }


@router.post("/nodes", responses=problems.WRITE, status_code=201, summary="Create or update a node")
def post_node(body: NodeIn, engine: EngineDep, _: Editor) -> dict[str, Any]:
    node = inventory.Node(**{**body.model_dump(), "closed_dates": [d.isoformat() for d in body.closed_dates]})
    inventory.save_nodes(engine, nodes=[node])
    return node_json(node)


@router.get("/nodes", summary="All nodes")
def get_nodes(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"items": [node_json(n) for n in inventory.get_all_nodes(engine)]}


@router.get("/nodes/{node_id}", responses=problems.FOUND, summary="A node with its stock positions")
def get_node(node_id: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    view = inventory.get_node_view(engine, node_id=node_id)
    return {
        **node_json(view["node"]),
        "reported_at": view["reported_at"].isoformat() if view["reported_at"] else None,
        "positions": [
            {
                "sku": p.sku,
                "on_hand": p.on_hand,
                "reserved": p.reserved,
                "allocated": p.allocated,
                "safety_stock": p.safety_stock,
                "atp": p.atp,
            }
            for p in view["positions"]
        ],
    }


class RowIn(BaseModel):
    node_id: str = Field(min_length=1, max_length=40)
    sku: str = Field(min_length=1, max_length=64)
    on_hand: int | None = Field(default=None, ge=0, le=MAX_UNITS, strict=True)
    delta: int | None = Field(default=None, ge=-MAX_UNITS, le=MAX_UNITS, strict=True)
    safety_stock: int | None = Field(default=None, ge=0, le=MAX_UNITS, strict=True)
    sequence: int | None = Field(default=None, ge=0, le=INT64_MAX, strict=True)


class BatchIn(BaseModel):
    source: str = Field(min_length=1, max_length=80, description="the reporting system, e.g. wms-dc-north")
    sequence: int = Field(
        ge=0,
        le=INT64_MAX,
        strict=True,
        description="the source's batch number; a batch seen before is not applied again",
    )
    mode: Literal["snapshot", "delta"] = "snapshot"
    reported_at: datetime | None = None
    rows: list[RowIn] = Field(min_length=1, max_length=100_000)


_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}},
    }
}


@router.post(
    "/inventory/positions",
    responses=problems.WRITE,
    openapi_extra=_BATCH_BODY,
    summary="Report stock in bulk (snapshot or delta)",
)
async def post_positions(request: Request, engine: EngineDep, _: Operator) -> dict[str, Any]:
    """Idempotent by ``source`` + ``sequence``; stale rows (older sequence from the same source)
    and unchanged rows are skipped; counts below what is promised move promises to backorder.
    The body (``BatchIn``) is parsed and validated straight from its bytes, in the worker
    thread that applies it: batches run to 100,000 rows."""
    raw = await request.body()

    def run() -> dict[str, Any]:
        try:
            body = BatchIn.model_validate_json(raw)
        except ValidationError as exc:
            errors = validation_errors(list(exc.errors()))
            raise InvalidInput(f"{errors[0].get('pointer')}: {errors[0]['detail']}", errors=errors[:50]) from None
        rows = [inventory.StockRow(r.node_id, r.sku, r.on_hand, r.delta, r.safety_stock, r.sequence) for r in body.rows]
        result = inventory.ingest_and_serve(
            engine, source=body.source, sequence=body.sequence, mode=body.mode, rows=rows, reported_at=body.reported_at
        )
        return result.as_dict()

    return await run_in_threadpool(run)


def openapi_models() -> list[type[BaseModel]]:
    """Models of raw-body routes, registered in the OpenAPI components."""
    return [BatchIn]


class CountIn(BaseModel):
    on_hand: int = Field(ge=0, le=MAX_UNITS, strict=True)


@router.put("/inventory/{node_id}/{sku}", responses=problems.WRITE, summary="Set one position's counted quantity")
def put_position(
    node_id: Annotated[str, Path(max_length=40)],
    sku: Annotated[str, Path(min_length=1, max_length=64)],
    body: CountIn,
    engine: EngineDep,
    who: Operator,
) -> dict[str, Any]:
    result = inventory.set_position(engine, node_id=node_id, sku=sku, on_hand=body.on_hand, actor=who.email)
    return result.as_dict()


@router.get("/atp", summary="Available to promise")
def get_atp(
    engine: EngineDep,
    _: Viewer,
    sku: str,
    region: str | None = None,
    channel: str | None = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    on: Annotated[datetime | None, Query(description="future ATP: add open supply expected by then")] = None,
) -> dict[str, Any]:
    """Per node (with when the node last reported), per region and for the whole network."""
    near = (lat, lon) if lat is not None and lon is not None else None
    atp = inventory.get_atp(engine, sku=sku, region=region, channel=channel, near=near, on=on)
    now = datetime.now(atp["as_of"].tzinfo)
    return {
        **atp,
        "as_of": atp["as_of"].isoformat(),
        "nodes": [
            {
                **{k: getattr(n, k) for k in n.__slots__ if k != "reported_at"},
                "reported_at": n.reported_at.isoformat() if n.reported_at else None,
                "age_s": round((now - n.reported_at).total_seconds()) if n.reported_at else None,
            }
            for n in atp["nodes"]
        ],
    }


@router.get("/pickup-points", summary="Stores near a place that can hand over the whole basket now")
def get_pickup_points(
    engine: EngineDep,
    _: Viewer,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    sku: Annotated[list[str], Query(min_length=1)],
    qty: Annotated[list[int] | None, Query(description="one per sku, default 1")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    quantities = qty or [1] * len(sku)
    if len(quantities) != len(sku) or any(q <= 0 for q in quantities):
        raise InvalidInput(
            "give one positive qty per sku", errors=[{"parameter": "qty", "detail": "one positive quantity per sku"}]
        )
    return {
        "items": inventory.pickup_points(
            engine, basket=list(zip(sku, quantities, strict=True)), near=(lat, lon), limit=limit
        )
    }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


@router.get(
    "/inventory/{sku}", responses=problems.FOUND, summary="A SKU's positions, holds, supply, backorders and ledger"
)
def get_stock(sku: str, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    view = inventory.get_stock_view(engine, sku=sku)
    return {
        "sku": sku,
        "item": view["item"],
        "total_atp": view["atp"]["total"],
        "holds": [_jsonable(h) for h in view["holds"]],
        "supply": [_jsonable(s) for s in view["supply"]],
        "backorders": [_jsonable(b) for b in view["backorders"]],
        "ledger": [_jsonable(x) for x in view["ledger"]],
    }


class SupplyIn(BaseModel):
    node_id: str = Field(min_length=1, max_length=40)
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=MAX_UNITS, strict=True)
    expected_at: datetime
    kind: Literal["purchase_order", "transfer"] = "purchase_order"
    reference: str = Field(default="", max_length=120)


@router.post("/inventory/supply", responses=problems.WRITE, status_code=201, summary="Announce incoming supply")
def post_supply(body: SupplyIn, engine: EngineDep, _: Operator) -> dict[str, Any]:
    return {"id": adjustments.add_supply(engine, **body.model_dump())}


@router.post(
    "/inventory/backorders/serve",
    responses=problems.WRITE,
    summary="Allocate scarce stock to the waiting backlog by policy",
)
def post_serve_backorders(
    engine: EngineDep,
    _: Operator,
    policy: Annotated[Literal["vip_first", "profit", "fifo"], Query(description="who gets stock first")] = "vip_first",
) -> dict[str, Any]:
    return {"policy": policy, "units_served": inventory.serve_backorders(engine, policy=policy)}


@router.post("/inventory/supply/{supply_id}/receive", responses=problems.WRITE, summary="Incoming supply arrived")
def post_receive(supply_id: str, engine: EngineDep, who: Operator) -> dict[str, Any]:
    adjustments.receive_supply(engine, supply_id=supply_id, actor=who.actor)
    return {"id": supply_id, "status": "received"}


class PolicyIn(BaseModel):
    channel: str = Field(min_length=1, max_length=40, description="a channel, or * for all")
    sku: str = Field(default="*", min_length=1, max_length=64, description="a SKU, or * for all")
    reservation_ttl_s: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TTL_S,
        strict=True,
        description="unpaid orders hold stock this long; null = no expiry",
    )
    buffer_pct: float = Field(default=0, ge=0, lt=100, description="share of ATP held back from the channel")


@router.get("/inventory-policies", summary="Stock policies per channel and SKU")
def get_policies(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"items": inventory.get_policies(engine)}


@router.put("/inventory-policies", responses=problems.WRITE, summary="Set a channel's hold time and buffer")
def put_policy(body: PolicyIn, engine: EngineDep, _: Editor) -> dict[str, Any]:
    inventory.set_policy(engine, **body.model_dump())
    return body.model_dump()


@router.get("/inventory-ledger-check", summary="Positions that differ from their ledger (should be none)")
def get_ledger_check(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"differences": inventory.check_ledger(engine)}


# -- cart holds: the flash-sale lane ----------------------------------------------------------
class CartHoldIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(default=1, ge=1, le=10_000, strict=True)
    channel: str = Field(default="web", min_length=1, max_length=40)
    node_id: str | None = Field(default=None, max_length=40, description="hold at this node only")
    lat: float | None = Field(default=None, ge=-90, le=90, description="the shopper's place: nearest node first")
    lon: float | None = Field(default=None, ge=-180, le=180)
    ttl_s: int | None = Field(
        default=None, ge=10, le=7 * 24 * 3600, strict=True, description="else the channel's hold time"
    )


CartId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:@-]+$")]


def _admission(request: Request) -> AdmissionQueue[inventory.CartHoldRequest, inventory.CartHoldOutcome]:
    """This app's queue (one per process): requests that arrive together share a transaction."""
    queue = getattr(request.app.state, "cart_admission", None)
    if queue is None:
        engine = request.app.state.engine
        queue = AdmissionQueue(lambda batch: inventory.hold_for_carts(engine, requests=batch))
        request.app.state.cart_admission = queue
    return queue


@router.post(
    "/carts/{cart_id}/holds",
    responses=problems.WRITE,
    status_code=201,
    summary="Hold stock for a cart (flash-sale lane)",
)
async def post_cart_hold(cart_id: CartId, body: CartHoldIn, request: Request, _: Operator) -> JSONResponse:
    """Hold ``quantity`` of a SKU for a shopper's cart until the order arrives (``cart_id`` on
    the order claims it) or the hold runs out. One hold per cart and SKU: asking again returns
    the cart's hold (200). 409 ``out_of_stock`` when no node can hold it whole. Requests that
    arrive together are written in one transaction (group commit)."""
    inventory.refuse_escrow_cart(cart_id)  # a store gateway's escrow is not a shopper's cart
    if (body.lat is None) != (body.lon is None):
        pointer = "/lon" if body.lon is None else "/lat"
        raise InvalidInput("give both lat and lon, or neither", errors=[{"pointer": pointer, "detail": "missing"}])
    outcome = await _admission(request).submit(
        inventory.CartHoldRequest(
            cart_id=cart_id,
            sku=body.sku,
            quantity=body.quantity,
            channel=body.channel,
            node_id=body.node_id,
            destination=(body.lat, body.lon) if body.lat is not None and body.lon is not None else None,
            ttl_s=body.ttl_s,
        )
    )
    if outcome.hold is None:
        raise inventory.OutOfStock(
            f"no node can hold {body.quantity} × {body.sku} now",
            sku=body.sku,
            requested=body.quantity,
            available=outcome.available,
        )
    return JSONResponse(inventory.hold_json(outcome.hold), status_code=201 if outcome.created else 200)


@router.get("/carts/{cart_id}/holds", responses=problems.FOUND, summary="A cart's holds")
def get_cart_holds(cart_id: CartId, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"cart_id": cart_id, "holds": [inventory.hold_json(h) for h in inventory.get_cart(engine, cart_id=cart_id)]}


@router.delete("/carts/{cart_id}/holds", responses=problems.WRITE, summary="Give back everything a cart holds")
def delete_cart_holds(cart_id: CartId, engine: EngineDep, _: Operator) -> dict[str, Any]:
    return {"released": inventory.release_cart_holds(engine, cart_id=cart_id)}


@router.delete("/carts/{cart_id}/holds/{sku}", responses=problems.WRITE, summary="Give back a cart's hold of one SKU")
def delete_cart_hold(cart_id: CartId, sku: str, engine: EngineDep, _: Operator) -> dict[str, Any]:
    return {"released": inventory.release_cart_holds(engine, cart_id=cart_id, sku=sku)}


# -- planning with the forecast ----------------------------------------------------------------
NodeQuery = Annotated[str | None, Query(max_length=40, description="one node only")]
SkuQuery = Annotated[str | None, Query(max_length=64, description="one SKU only")]
LeadDays = Annotated[int, Query(ge=0, le=90, description="days from order to arrival")]
ReviewDays = Annotated[int, Query(ge=1, le=90, description="days until the order after it arrives")]
HorizonDays = Annotated[int, Query(ge=1, le=90, description="days of forecast projected")]


@router.get("/replenishment", summary="Replenishment suggestions per node from the demand forecast")
def get_replenishment(
    engine: EngineDep,
    _: Viewer,
    node_id: NodeQuery = None,
    sku: SkuQuery = None,
    lead_days: LeadDays = 7,
    review_days: ReviewDays = 7,
    horizon_days: HorizonDays = 28,
    at_risk: Annotated[bool, Query(description="only what runs out within the horizon")] = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Per node and SKU it stocks: forecast demand against ATP and incoming supply, the day the
    stock runs out, what to order and by when (docs/forecast.md, "Replenishment"); most urgent
    first."""
    items = inventory.replenishment(
        engine, node_id=node_id, sku=sku, lead_days=lead_days, review_days=review_days,
        horizon_days=horizon_days, at_risk=at_risk, limit=limit,
    )  # fmt: skip
    return {"items": items, "lead_days": lead_days, "review_days": review_days, "horizon_days": horizon_days}


@router.get(
    "/replenishment.csv",
    summary="Replenishment suggestions as CSV",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_replenishment_csv(
    engine: EngineDep,
    _: Viewer,
    node_id: NodeQuery = None,
    sku: SkuQuery = None,
    lead_days: LeadDays = 7,
    review_days: ReviewDays = 7,
    horizon_days: HorizonDays = 28,
    at_risk: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    """The same rows as ``/replenishment``, one per line, for a spreadsheet or an ERP."""
    items = inventory.replenishment(
        engine, node_id=node_id, sku=sku, lead_days=lead_days, review_days=review_days,
        horizon_days=horizon_days, at_risk=at_risk, limit=limit,
    )  # fmt: skip
    return Response(
        inventory.replenishment_csv(items),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="replenishment.csv"'},
    )


@router.get("/promise-dates", summary="Promise dates of the lines waiting for stock")
def get_promise_dates(
    engine: EngineDep,
    _: Viewer,
    sku: SkuQuery = None,
    order_id: Annotated[str | None, Query(max_length=40, description="one order's lines")] = None,
    policy: Annotated[Literal["vip_first", "profit", "fifo"], Query(description="the backlog policy")] = "vip_first",
    horizon_days: Annotated[int, Query(ge=1, le=365)] = 90,
) -> dict[str, Any]:
    """Each waiting line (a backorder, paid or on a presale lock) with the day its stock is
    expected: the incoming supply that covers it after the lines ahead of it and the forecast
    demand its policy serves first; null with ``short`` units when no supply covers it."""
    return {
        "items": inventory.promise_dates(engine, sku=sku, order_id=order_id, policy=policy, horizon_days=horizon_days)
    }
