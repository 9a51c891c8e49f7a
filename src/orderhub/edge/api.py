"""JSON routes of the hub's side of the edge: gateways register, push events, pull snapshots;
staff read gateways and conflicts, set policies and move leases (docs/edge.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from orderhub.core.jsondoc import INT64_MAX
from orderhub.edge import service as edge
from orderhub.platform import problems
from orderhub.platform.web import EngineDep, Operator, Viewer

router = APIRouter(prefix="/api/v1/edge", tags=["edge"], responses=problems.READ)

MAX_UNITS = 1_000_000
Id = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]
StoreId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
Units = Annotated[int, Field(ge=1, le=MAX_UNITS, strict=True)]
Sku = Annotated[str, Field(min_length=1, max_length=64)]
Amount = Annotated[str, Field(pattern=r"^\d{1,12}(\.\d{1,4})?$", description="a decimal string, e.g. 19.99")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SaleLine(_Strict):
    sku: Sku
    qty: Units
    unit_price: Amount
    name: str = Field(default="", max_length=300)


class SaleData(_Strict):
    """``till.sale`` (taken away now) and ``till.backorder`` (collect later)."""

    sale_id: Id
    sold_at: datetime | None = None
    till: str = Field(default="", max_length=40)
    cashier: str = Field(default="", max_length=80)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    payment_method: str = Field(default="card", max_length=40)
    customer: dict[str, str] | None = None
    lines: list[SaleLine] = Field(min_length=1, max_length=200)


class ReturnLine(_Strict):
    sku: Sku
    qty: Units


class ReturnData(_Strict):
    return_id: Id
    sale_id: Id
    reason: str = Field(default="", max_length=200)
    lines: list[ReturnLine] = Field(min_length=1, max_length=200)


class PickupLine(_Strict):
    line_id: Id
    sku: Sku
    quantity: Units
    name: str = Field(default="", max_length=300)


class HandoverData(_Strict):
    order_id: Id
    token: int = Field(ge=1, le=INT64_MAX, strict=True)
    at: datetime | None = None
    lines: list[PickupLine] = Field(min_length=1, max_length=200)


class ReleaseData(_Strict):
    order_id: Id
    token: int = Field(ge=1, le=INT64_MAX, strict=True)


class AdjustData(_Strict):
    adjustment_id: Id
    sku: Sku
    delta: int = Field(ge=-MAX_UNITS, le=MAX_UNITS, strict=True)
    from_escrow: int = Field(ge=0, le=MAX_UNITS, strict=True)
    escrow_seen: int | None = Field(
        default=None, ge=-MAX_UNITS, le=MAX_UNITS, strict=True, description="the escrow the gateway saw"
    )
    reason: str = Field(default="", max_length=80)


class EscrowReleaseData(_Strict):
    sku: Sku
    quantity: Units


DATA: dict[str, type[BaseModel]] = {
    "till.sale": SaleData,
    "till.backorder": SaleData,
    "till.return": ReturnData,
    "pickup.handed_over": HandoverData,
    "pickup.released": ReleaseData,
    "stock.adjusted": AdjustData,
    "escrow.released": EscrowReleaseData,
}


class EventIn(_Strict):
    """One event of a gateway's outbox; ``data`` is checked against its ``type``'s fields."""

    event_id: Id
    seq: int = Field(ge=1, le=INT64_MAX, strict=True, description="1, 2, 3 … per gateway, no gaps")
    hlc: int = Field(ge=0, le=INT64_MAX, strict=True, description="hybrid logical clock: ms << 16 | counter")
    type: Literal[
        "till.sale",
        "till.backorder",
        "till.return",
        "pickup.handed_over",
        "pickup.released",
        "stock.adjusted",
        "escrow.released",
    ]
    data: dict[str, Any]

    @model_validator(mode="after")
    def _data(self) -> EventIn:
        self.data = DATA[self.type].model_validate(self.data).model_dump(mode="json")
        return self


class PushIn(_Strict):
    events: list[EventIn] = Field(max_length=500)


class PullIn(_Strict):
    cursor: int = Field(default=0, ge=0, le=INT64_MAX, strict=True, description="the last hub message taken")
    want: dict[Sku, Units] = Field(default_factory=dict, max_length=200, description="escrow top-up asked for")
    backlog: int = Field(default=0, ge=0, le=INT64_MAX, strict=True, description="events still to push")
    hlc: int = Field(default=0, ge=0, le=INT64_MAX, strict=True)


class HeartbeatIn(_Strict):
    backlog: int = Field(default=0, ge=0, le=INT64_MAX, strict=True)
    hlc: int = Field(default=0, ge=0, le=INT64_MAX, strict=True)


class RegisterIn(_Strict):
    store_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
    name: str = Field(default="", max_length=200)


class PolicyIn(_Strict):
    cover_hours: float = Field(default=8.0, ge=0, le=744)
    min_units: int = Field(default=2, ge=0, le=MAX_UNITS, strict=True)
    hot_per_hour: float = Field(default=2.0, ge=0, le=1e6)
    slow_share: float = Field(default=1.0, ge=0, le=1)
    beyond: Literal["refuse", "backorder"] = "refuse"
    lease_s: int = Field(default=4 * 3600, ge=60, le=30 * 24 * 3600, strict=True)
    skew_s: int = Field(default=60, ge=0, le=3600, strict=True)


class ReassignIn(_Strict):
    to_node: Annotated[str, Field(min_length=1, max_length=40)]
    force: bool = Field(
        default=False, description="move it now even if the store may hand it over offline (then refused, flagged)"
    )


@router.post("/gateways", responses=problems.WRITE, status_code=201, summary="Register a store's gateway")
def post_gateway(body: RegisterIn, engine: EngineDep, _: Operator) -> dict[str, Any]:
    """Idempotent: registering again keeps the gateway's watermark, policy and leases."""
    return edge.register(engine, store_id=body.store_id, name=body.name)


@router.get("/gateways", summary="Every store gateway with its status")
def get_gateways(engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {"items": edge.get_all(engine)}


@router.get("/gateways/{store_id}", responses=problems.FOUND, summary="A gateway: status, escrow, leases, conflicts")
def get_gateway(store_id: StoreId, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return edge.get(engine, store_id=store_id)


@router.put("/gateways/{store_id}/policy", responses=problems.WRITE, summary="Set a gateway's escrow and lease policy")
def put_policy(store_id: StoreId, body: PolicyIn, engine: EngineDep, _: Operator) -> dict[str, Any]:
    return edge.set_policy(engine, store_id=store_id, policy=body.model_dump())


@router.post("/gateways/{store_id}/heartbeat", responses=problems.WRITE, summary="A gateway is alive")
def post_heartbeat(store_id: StoreId, body: HeartbeatIn, engine: EngineDep, _: Operator) -> dict[str, Any]:
    return edge.heartbeat(engine, store_id=store_id, backlog=body.backlog, hlc=body.hlc)


@router.post("/gateways/{store_id}/events", responses=problems.WRITE, summary="Push a gateway's events")
def post_events(store_id: StoreId, body: PushIn, engine: EngineDep, _: Operator) -> dict[str, Any]:
    """Applied once and in order (``seq``): repeats are skipped, a gap stops the batch; the
    answer says how far the hub got (``applied_through``) and what became of each new event."""
    events = [edge.GatewayEvent(e.event_id, e.seq, e.hlc, e.type, e.data) for e in body.events]
    result = edge.push(engine, store_id=store_id, events=events)
    return {"applied_through": result.applied_through, "hub_hlc": result.hub_hlc, "results": result.results}


@router.post("/gateways/{store_id}/pull", responses=problems.WRITE, summary="Pull the store's snapshot and messages")
def post_pull(store_id: StoreId, body: PullIn, engine: EngineDep, _: Operator) -> dict[str, Any]:
    """Leases newly allocated click & collect orders, renews the store's leases, grants escrow up
    to target (and ``want``), then answers stock, escrow, leases, messages and the watermark."""
    return edge.pull(engine, store_id=store_id, cursor=body.cursor, want=body.want, backlog=body.backlog, hlc=body.hlc)


@router.get("/gateways/{store_id}/conflicts", responses=problems.FOUND, summary="A gateway's conflicts, newest first")
def get_conflicts(
    store_id: StoreId, engine: EngineDep, _: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> dict[str, Any]:
    edge.get(engine, store_id=store_id)  # 404 for an unknown gateway
    return {"items": edge.get_conflicts(engine, store_id=store_id, limit=limit)}


@router.post("/leases/{order_id}/reassign", responses=problems.WRITE, summary="Move a leased order to another node")
def post_reassign(
    order_id: Annotated[str, Path(min_length=1, max_length=40)], body: ReassignIn, engine: EngineDep, who: Operator
) -> dict[str, Any]:
    """Held by a gateway: asked back (``revoking``) and moved when the gateway gives it back;
    ``force`` moves it now with a new fencing token."""
    return edge.reassign(engine, order_id=order_id, to_node=body.to_node, force=body.force, actor=who.email)
