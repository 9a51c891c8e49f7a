"""JSON routes of tracking: ship with tracking, the inbound feeds (OrderHub's own events, the
WMS, driver positions, carrier webhooks), the two views of an order's timeline, and the inbox
of what was received.

Every feed reads its raw body and keeps it in the tracking inbox before parsing, so a message
that is refused (a bad field, an unknown tracking number) is answered 422 problem+json naming
the field and can be replayed once its cause is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool

from orderhub.core import jsondoc
from orderhub.core.errors import InvalidInput, NotFound, Unauthorized
from orderhub.platform import problems
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.problems import validation_errors
from orderhub.platform.settings import Settings
from orderhub.platform.web import EngineDep, Operator, SettingsDep, Viewer, optional_principal
from orderhub.tracking import service
from orderhub.tracking.carriers import aftership, dhl, easypost
from orderhub.tracking.model import Milestone, Position, Update

router = APIRouter(prefix="/api/v1", tags=["tracking"], responses=problems.READ)

OrderId = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PositionIn(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class EventIn(Strict):
    """One milestone in OrderHub's own format (docs/tracking.md)."""

    id: str = Field(min_length=1, max_length=200, description="unique at the sender: a second delivery is ignored")
    milestone: Milestone
    occurred_at: AwareDatetime = Field(description="when it happened, with a UTC offset")
    tracking_number: str | None = Field(default=None, min_length=1, max_length=60)
    order_id: str | None = Field(default=None, min_length=1, max_length=40)
    description: Text = ""
    location: str = Field(default="", max_length=200)
    country: str = Field(default="", pattern=r"^([A-Za-z]{2})?$")
    position: PositionIn | None = None
    estimated_delivery: date | None = None

    @model_validator(mode="after")
    def _one_target(self) -> EventIn:
        if (self.tracking_number is None) == (self.order_id is None):
            raise ValueError("give exactly one of tracking_number and order_id")
        return self


class EventsIn(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


class WmsEventIn(Strict):
    """What a warehouse (or a store) reports of a fulfilment order."""

    id: str = Field(min_length=1, max_length=200)
    fulfilment_order_id: str = Field(min_length=1, max_length=40)
    event: Literal["picked", "packed", "qc_passed", "qc_failed", "handed_over"]
    occurred_at: AwareDatetime
    site: str = Field(default="", max_length=40, description="the node that reports")
    note: Text = ""


class WmsEventsIn(Strict):
    events: list[WmsEventIn] = Field(min_length=1, max_length=1000)


class PositionReportIn(Strict):
    tracking_number: str = Field(min_length=1, max_length=60)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    at: AwareDatetime
    id: str | None = Field(default=None, max_length=200, description="unique at the sender (default: number@at)")


class PositionsIn(Strict):
    positions: list[PositionReportIn] = Field(min_length=1, max_length=5000)


class ParcelIn(Strict):
    carrier: str = Field(min_length=1, max_length=40, description="dhl, dpd, hermes, gls, ups, … (any name)")
    tracking_number: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9-]+$")
    lines: dict[Annotated[str, Field(max_length=40)], Annotated[int, Field(ge=1, le=100_000)]] = Field(
        min_length=1, max_length=500
    )
    service: str = Field(default="", max_length=60)
    fulfilment_order_id: str = Field(default="", max_length=40)
    tracking_url: str = Field(default="", max_length=500, pattern=r"^(https?://\S+)?$")


class ShipIn(Strict):
    parcels: list[ParcelIn] = Field(min_length=1, max_length=100)


def _validated(model: type[Strict], body: bytes) -> Any:
    document = jsondoc.parse(body)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        raise InvalidInput(f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors) from None


def parse_events(body: bytes) -> list[Update]:
    doc: EventsIn = _validated(EventsIn, body)
    return [
        Update(
            source="api",
            key=e.id,
            occurred_at=e.occurred_at,
            milestone=e.milestone,
            tracking_number=e.tracking_number or "",
            order_id=e.order_id or "",
            description=e.description,
            location=e.location,
            country=e.country.upper(),
            position=Position(e.position.lat, e.position.lon) if e.position else None,
            estimated_delivery=e.estimated_delivery,
        )
        for e in doc.events
    ]


_WMS = {"handed_over": Milestone.handed_to_carrier}


def parse_wms(body: bytes) -> list[Update]:
    doc: WmsEventsIn = _validated(WmsEventsIn, body)
    return [
        Update(
            source="wms",
            key=e.id,
            occurred_at=e.occurred_at,
            milestone=_WMS.get(e.event) or Milestone(e.event),
            fulfilment_order_id=e.fulfilment_order_id,
            description=e.note,
            detail={"event": e.event, "site": e.site},
        )
        for e in doc.events
    ]


def parse_positions(body: bytes) -> list[Update]:
    doc: PositionsIn = _validated(PositionsIn, body)
    return [
        Update(
            source="driver",
            key=p.id or f"{p.tracking_number}@{p.at.isoformat()}",
            occurred_at=p.at,
            tracking_number=p.tracking_number,
            position=Position(p.lat, p.lon),
        )
        for p in doc.positions
    ]


def _carrier_parser(carrier: Any) -> Callable[[bytes], list[Update]]:
    """A carrier adapter's ``parse`` as a feed parser: strict JSON in, the updates of every
    parcel out; the carrier's estimate for the parcel rides on its latest update."""

    def parse(body: bytes) -> list[Update]:
        feeds = carrier.parse(jsondoc.parse(body))
        out: list[Update] = []
        for feed in feeds if isinstance(feeds, list) else [feeds]:
            updates = sorted(feed.updates, key=lambda u: u.occurred_at)
            if updates and feed.estimated_delivery and not any(u.estimated_delivery for u in updates):
                updates[-1] = replace(updates[-1], estimated_delivery=feed.estimated_delivery)
            out += updates
        return out

    return parse


#: Carrier adapters: the module (``parse``, ``verify``, ``SIGNATURE_HEADER``) and the setting
#: holding its webhook secret (DHL's tracking API is polled, not pushed: no signature).
CARRIERS: dict[str, tuple[Any, str | None, str]] = {
    "easypost": (easypost, "easypost_webhook_secret", "/result/tracking_code"),
    "aftership": (aftership, "aftership_webhook_secret", "/msg/tracking_number"),
    "dhl": (dhl, None, "/shipments"),
}

FEEDS: dict[str, tuple[Callable[[bytes], list[Update]], str]] = {
    "api": (parse_events, "/events/{i}/{field}"),
    "wms": (parse_wms, "/events/{i}/{field}"),
    "driver": (parse_positions, "/positions/{i}/{field}"),
    **{name: (_carrier_parser(module), where) for name, (module, _, where) in CARRIERS.items()},
}
for _source, (_parse, _where) in FEEDS.items():
    service.register_parser(_source, _parse, _where)


async def _receive(
    request: Request, engine: Any, source: str, *, body: bytes | None = None, signature: str = "none"
) -> JSONResponse:
    body = await request.body() if body is None else body
    parse, pointer = FEEDS[source]

    def run() -> JSONResponse:
        receipt = service.receive(engine, source=source, body=body, parse=parse, signature=signature, pointer=pointer)
        return JSONResponse(
            {"inbox_id": receipt.inbox_id, "recorded": receipt.recorded, "duplicates": receipt.duplicates},
            status_code=202,
        )

    return await run_in_threadpool(run)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


@router.post(
    "/tracking/events",
    responses=problems.WRITE,
    status_code=202,
    openapi_extra=_body_schema(EventsIn),
    summary="Milestones in OrderHub's own format (all or none)",
)
async def post_events(request: Request, engine: EngineDep, _: Operator) -> JSONResponse:
    """Record milestones by tracking number or order id. A second delivery of an event id is
    counted as a duplicate and changes nothing. Unknown tracking numbers: 422, kept for replay."""
    return await _receive(request, engine, "api")


@router.post(
    "/tracking/wms",
    responses=problems.WRITE,
    status_code=202,
    openapi_extra=_body_schema(WmsEventsIn),
    summary="A WMS feed: picked, packed, quality checked, handed over",
)
async def post_wms(request: Request, engine: EngineDep, _: Operator) -> JSONResponse:
    """Warehouse milestones of fulfilment orders. The order becomes picked / packed once every
    one of its fulfilment orders is."""
    return await _receive(request, engine, "wms")


@router.post(
    "/tracking/positions",
    responses=problems.WRITE,
    status_code=202,
    openapi_extra=_body_schema(PositionsIn),
    summary="Positions from a driver app or telematics",
)
async def post_positions(request: Request, engine: EngineDep, _: Operator) -> JSONResponse:
    """Where parcels are: the last position shows on the order's tracking page."""
    return await _receive(request, engine, "driver")


@router.post(
    "/tracking/carriers/{carrier}",
    responses=problems.WRITE,
    status_code=202,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
    summary="A carrier's own format: EasyPost tracker.updated, AfterShip webhook, DHL tracking response",
)
async def post_carrier(
    carrier: Annotated[str, Path(max_length=40)], request: Request, engine: EngineDep, settings: SettingsDep
) -> JSONResponse:
    """``easypost`` (signed ``X-Hmac-Signature``), ``aftership`` (signed
    ``aftership-hmac-sha256``) or ``dhl``. A signed message is verified against the secret in the
    settings; an unsigned one needs an operator's API key. Milestones are mapped as
    docs/tracking-carriers.md says; an unknown tracking number is a 422, kept for replay."""
    body = await request.body()
    signature = check_carrier_auth(
        settings, carrier=carrier, body=body, headers=request.headers, principal=optional_principal(request)
    )
    return await _receive(request, engine, carrier, body=body, signature=signature)


def check_carrier_auth(
    settings: Settings, *, carrier: str, body: bytes, headers: Any, principal: Principal | None
) -> str:
    """``verified`` for a message whose signature matches; ``none`` for an operator's unsigned
    one. Strangers are refused before they learn which carriers exist."""
    known = CARRIERS.get(carrier)
    header = getattr(known[0], "SIGNATURE_HEADER", None) if known else None
    if known and header and headers.get(header) is not None:
        secret = getattr(settings, known[1] or "", None)
        if not secret:
            raise Unauthorized(f"no webhook secret is configured for {carrier}", code="no_webhook_secret")
        if not known[0].verify(body, headers, secret):
            raise Unauthorized(f"the {header} signature does not match", code="bad_signature")
        return "verified"
    if principal is None:
        raise Unauthorized("send a signed carrier webhook or an API key", code="authentication_required")
    principal.require(Role.operator)
    if known is None:
        raise NotFound(f"no carrier adapter {carrier!r}; one of {', '.join(sorted(CARRIERS))}", code="unknown_carrier")
    return "none"


@router.post(
    "/orders/{order_id}/parcels",
    responses=problems.WRITE,
    status_code=201,
    summary="Ship with tracking: parcels with carrier and tracking number",
)
def ship(order_id: OrderId, body: ShipIn, engine: EngineDep, who: Operator) -> dict[str, Any]:
    """Ship one or more parcels of a released (picked, packed, partially shipped) order. The
    order records the units shipped; each parcel gets its carrier's tracking link."""
    rows = service.ship(
        engine,
        order_id=order_id,
        parcels=[service.ParcelIn(**p.model_dump()) for p in body.parcels],
        actor=who.actor,
    )
    return {
        "parcels": [
            {k: rows_value(v) for k, v in r.items() if k not in {"delivery_recorded", "state_at", "estimated_delivery"}}
            for r in rows
        ]
    }


def rows_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@router.get(
    "/orders/{order_id}/tracking",
    responses=problems.FOUND,
    summary="An order's timeline: the customer's view or staff's",
)
def get_tracking(
    order_id: OrderId,
    engine: EngineDep,
    _: Viewer,
    view: Literal["customer", "internal"] = "customer",
    lang: Annotated[Literal["en", "de", "zh"] | None, Query(description="the customer view's language")] = None,
) -> dict[str, Any]:
    """``customer``: the milestones reached in words, the estimated delivery (the carrier's
    latest estimate, else the promise), the last known position, the parcels with tracking
    links. ``internal``: every entry with its source system, raw detail, occurred-at versus
    received-at and the processing lag."""
    return service.get_view(engine, order_id=order_id, view=view, language=lang)


@router.get("/tracking/inbox", summary="Inbound tracking messages, newest first")
def get_inbox(
    engine: EngineDep,
    _: Viewer,
    status: Literal["accepted", "rejected"] | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    items = service.get_inbox(engine, status=status, before=before, limit=limit)
    return {
        "items": [{k: rows_value(v) for k, v in i.items()} for i in items],
        "next_before": items[-1]["id"] if len(items) == limit else None,
    }


InboxId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get(
    "/tracking/inbox/{inbox_id}", responses=problems.FOUND, summary="One inbound message as received, with its outcome"
)
def get_inbox_message(inbox_id: InboxId, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return {k: rows_value(v) for k, v in service.get_inbox_message(engine, inbox_id=inbox_id).items()}


@router.post("/tracking/inbox/{inbox_id}/replay", responses=problems.WRITE, summary="Process a kept message again")
def replay(inbox_id: InboxId, engine: EngineDep, _: Operator) -> dict[str, Any]:
    """Idempotent: what was recorded before counts as duplicate."""
    receipt = service.replay(engine, inbox_id=inbox_id)
    return {"inbox_id": receipt.inbox_id, "recorded": receipt.recorded, "duplicates": receipt.duplicates}


def _order_row(o: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "order_id",
        "external_ref",
        "channel",
        "status",
        "status_since",
        "placed_at",
        "promised_by",
        "estimated_delivery",
        "problem_at",
    )
    out = {k: rows_value(o[k]) for k in keep}
    for extra in ("stuck_h", "limit_h"):
        if extra in o:
            out[extra] = o[extra]
    return out


@router.get("/tracking/kpis", summary="Visibility KPIs: dwell per step, late and stuck orders, the channel table")
def get_kpis(
    engine: EngineDep,
    _: Viewer,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Computed from live data (docs/tracking.md has the definitions): dwell per step over
    orders placed in the last ``days``; per channel volume, hours to ship, error rate and
    on-time %; every open order that is late against its promise or stuck in its status."""
    k = service.get_kpis(engine, days=days, limit=limit)
    return {
        "days": k.days,
        "since": k.since.isoformat(),
        "dwell": [asdict(d) for d in k.dwell],
        "channels": [asdict(c) for c in k.channels],
        "late": [_order_row(o) for o in k.late],
        "stuck": [_order_row(o) for o in k.stuck],
    }
