"""The gateway's own app (``orderhub edge``): the clerk's till page, its JSON twin under
``/api/v1/till``, and the sync loop with the hub (docs/edge.md §6).

Everything here works with the hub unreachable: the page and its assets are served by the
gateway itself, every action is a local transaction, and the sync loop retries every
``interval_s`` (at once after a local action). Forms carry the session's CSRF token; the JSON
routes take JSON only (a cross-site form cannot send it). Bind it to the store's own network.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from orderhub.core.errors import DomainError, Forbidden
from orderhub.edge import sync
from orderhub.edge.gateway import Gateway
from orderhub.platform import problems
from orderhub.platform.auth import sessions
from orderhub.platform.security import ConsoleSessions, SecurityHeaders
from orderhub.web import pages as web_pages
from orderhub.web.templating import check_csrf, flash, redirect, render

MAX_UNITS = 1_000_000


class SyncLoop:
    """Sync with the hub every ``interval_s`` seconds, and at once when ``kick``ed."""

    def __init__(self, gateway: Gateway, interval_s: float) -> None:
        self.gateway, self.interval_s = gateway, interval_s
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"edge-sync-{gateway.store_id}", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(Exception):  # recorded as last_error by sync; never let the loop die
                self.gateway.sync()
            self.wake.wait(self.interval_s)
            self.wake.clear()

    def kick(self) -> None:
        self.wake.set()

    def start(self) -> SyncLoop:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(10)


def create_till_app(
    *, engine: Engine, store_id: str, hub: sync.HubLink, hub_url: str = "", interval_s: float = 1.0
) -> FastAPI:
    """The gateway of ``store_id`` on its own ``engine``, syncing with ``hub``."""
    gateway = Gateway(engine, store_id, hub)
    gateway.setup(hub_url=hub_url)

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        app_.state.sync = SyncLoop(gateway, interval_s).start()
        yield
        await run_in_threadpool(app_.state.sync.stop)

    app = FastAPI(
        title=f"OrderHub gateway {store_id}",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine, app.state.gateway = engine, gateway
    problems.install(app)
    app.add_middleware(
        ConsoleSessions,
        secret=lambda: sessions.shared_secret(engine, "till-session"),
        session_cookie="orderhub_till",
        same_site="strict",
        max_age=12 * 3600,
        https_only=False,
    )
    app.add_middleware(SecurityHeaders)
    web_pages.mount(app)
    app.include_router(pages)
    app.include_router(api)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "store_id": store_id, "online": gateway.is_online()}

    return app


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _kick(request: Request) -> None:
    loop = getattr(request.app.state, "sync", None)
    if loop is not None:
        loop.kick()


GatewayDep = Annotated[Gateway, Depends(_gateway)]

# -- the till page ----------------------------------------------------------------------------------
pages = APIRouter(include_in_schema=False)


@pages.get("/", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/till", status_code=303)


@pages.get("/till", response_class=HTMLResponse)
def till_page(request: Request, gateway: GatewayDep) -> Response:
    """The clerk's page (the live part alone when htmx refreshes it)."""
    return render(request, "edge/till.html", {"v": gateway.view()}, fragment="edge/_till.html")


def _act(request: Request, action: Any) -> Response:
    """Run a till action, flash what it did (or why not), wake the sync, back to the page."""
    try:
        flash(request, action())
        _kick(request)
    except DomainError as exc:
        flash(request, exc.detail, "error")
    return redirect("/till", request)


@pages.post("/till/sales", dependencies=[Depends(check_csrf)])
def sell(
    request: Request,
    gateway: GatewayDep,
    sku: Annotated[str, Form()],
    qty: Annotated[int, Form(ge=1, le=MAX_UNITS)] = 1,
) -> Response:
    def act() -> str:
        done = gateway.sell({sku: qty})
        taken = ", ".join(f"{q} × {s}" for s, q in done.taken.items())
        later = ", ".join(f"{q} × {s}" for s, q in done.backordered.items())
        return (
            f"Sold {taken or 'nothing now'}"
            + (f"; to collect later: {later}" if later else "")
            + f" (receipt {done.sale_id})"
        )

    return _act(request, act)


@pages.post("/till/returns", dependencies=[Depends(check_csrf)])
def return_items(
    request: Request,
    gateway: GatewayDep,
    sale_id: Annotated[str, Form(min_length=1, max_length=40)],
    sku: Annotated[str, Form(min_length=1, max_length=64)],
    qty: Annotated[int, Form(ge=1, le=MAX_UNITS)] = 1,
) -> Response:
    return _act(
        request, lambda: f"Returned {qty} × {sku} of receipt {sale_id} ({gateway.return_sale(sale_id, {sku: qty})})"
    )


@pages.post("/till/pickups/{order_id}/handover", dependencies=[Depends(check_csrf)])
def hand_over(request: Request, gateway: GatewayDep, order_id: str) -> Response:
    def act() -> str:
        gateway.hand_over(order_id)
        return f"Order {order_id} handed over"

    return _act(request, act)


@pages.post("/till/adjustments", dependencies=[Depends(check_csrf)])
def adjust(
    request: Request,
    gateway: GatewayDep,
    sku: Annotated[str, Form(min_length=1, max_length=64)],
    delta: Annotated[int, Form(ge=-MAX_UNITS, le=MAX_UNITS)],
    reason: Annotated[str, Form(max_length=80)] = "count",
) -> Response:
    return _act(
        request,
        lambda: f"{sku}: {delta:+d} ({reason}); {gateway.adjust(sku, delta, reason=reason)} out of the allotment",
    )


@pages.post("/till/sync", dependencies=[Depends(check_csrf)])
def sync_now(request: Request, gateway: GatewayDep) -> Response:
    ok = gateway.sync()
    flash(
        request,
        "Synced with the hub" if ok else "The hub is unreachable; the till keeps selling",
        "ok" if ok else "error",
    )
    return redirect("/till", request)


# -- the same, as JSON --------------------------------------------------------------------------------
def _json_only(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Forbidden("the till's JSON routes take application/json", code="json_only")


api = APIRouter(prefix="/api/v1/till", tags=["till"])
JsonOnly = [Depends(_json_only)]


class SaleIn(BaseModel):
    lines: dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[int, Field(ge=1, le=MAX_UNITS)]] = Field(
        min_length=1, max_length=200
    )
    till: str = Field(default="1", max_length=40)
    cashier: str = Field(default="", max_length=80)


class ReturnIn(BaseModel):
    sale_id: str = Field(min_length=1, max_length=40)
    lines: dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[int, Field(ge=1, le=MAX_UNITS)]] = Field(
        min_length=1, max_length=200
    )


class AdjustIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    delta: int = Field(ge=-MAX_UNITS, le=MAX_UNITS)
    reason: str = Field(default="count", max_length=80)


@api.get("")
def state(gateway: GatewayDep) -> dict[str, Any]:
    """The till's figures, click & collect, recent sales and the hub's messages."""
    v = gateway.view()
    v["policy"] = v["policy"].as_dict()
    return v


@api.post("/sales", status_code=201, dependencies=JsonOnly)
def post_sale(body: SaleIn, request: Request, gateway: GatewayDep) -> dict[str, Any]:
    """409 ``beyond_escrow`` when the store may not sell it and the policy refuses."""
    done = gateway.sell(body.lines, till=body.till, cashier=body.cashier)
    _kick(request)
    return {
        "sale_id": done.sale_id,
        "taken": done.taken,
        "backordered": done.backordered,
        "round_trip": done.round_trip,
    }


@api.post("/returns", status_code=201, dependencies=JsonOnly)
def post_return(body: ReturnIn, request: Request, gateway: GatewayDep) -> dict[str, Any]:
    return_id = gateway.return_sale(body.sale_id, body.lines)
    _kick(request)
    return {"return_id": return_id}


@api.post("/pickups/{order_id}/handover", dependencies=JsonOnly)
def post_handover(order_id: str, request: Request, gateway: GatewayDep) -> dict[str, Any]:
    gateway.hand_over(order_id)
    _kick(request)
    return {"order_id": order_id, "handed_over": True}


@api.post("/adjustments", status_code=201, dependencies=JsonOnly)
def post_adjustment(body: AdjustIn, request: Request, gateway: GatewayDep) -> dict[str, Any]:
    from_escrow = gateway.adjust(body.sku, body.delta, reason=body.reason)
    _kick(request)
    return {"sku": body.sku, "delta": body.delta, "from_escrow": from_escrow}


@api.post("/sync", dependencies=JsonOnly)
def post_sync(gateway: GatewayDep) -> JSONResponse:
    """Sync now; 200 with ``synced`` true when the hub answered, false when it did not."""
    return JSONResponse({"synced": gateway.sync()})
