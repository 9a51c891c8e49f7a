"""The composition root: builds the FastAPI app from settings and every context's routes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine

from orderhub import __version__
from orderhub.bus import api as bus_api
from orderhub.bus import service as bus_service
from orderhub.bus import worker as bus_worker
from orderhub.bus.live import LiveTail
from orderhub.carbon import api as carbon_api
from orderhub.carbon import chains_api as carbon_chains_api
from orderhub.carbon import pages as carbon_pages
from orderhub.edge import api as edge_api
from orderhub.edge import pages as edge_pages
from orderhub.forecast import api as forecast_api
from orderhub.forecast import pages as forecast_pages
from orderhub.inventory import api as inventory_api
from orderhub.inventory import items_api, work_api, work_pages
from orderhub.inventory import pages as inventory_pages
from orderhub.inventory import service as inventory_service
from orderhub.orders import aftersales_api as orders_aftersales_api
from orderhub.orders import aftersales_pages as orders_aftersales_pages
from orderhub.orders import api as orders_api
from orderhub.orders import list_api as orders_list_api
from orderhub.orders import list_pages as orders_list_pages
from orderhub.orders import ops_api, ops_pages
from orderhub.orders import pages as orders_pages
from orderhub.orders import service as orders_service
from orderhub.platform import jobs, jobs_api, leases, problems
from orderhub.platform.auth import api as auth_api
from orderhub.platform.auth import service as auth
from orderhub.platform.auth import sessions
from orderhub.platform.auth.model import Role
from orderhub.platform.db import create_db_engine, unit_of_work
from orderhub.platform.limits import LimitsMiddleware
from orderhub.platform.security import ConsoleSessions, SecurityHeaders
from orderhub.platform.settings import Settings
from orderhub.rules import api as rules_api
from orderhub.rules import approvals as rule_approvals
from orderhub.rules import pages as rules_pages
from orderhub.rules import pages_approvals as rule_approval_pages
from orderhub.rules import pages_editor as rule_editor_pages
from orderhub.rules import simulation as rule_simulation
from orderhub.rules import timers as rule_timers
from orderhub.sourcing import api as sourcing_api
from orderhub.sourcing import pages as sourcing_pages
from orderhub.tracking import api as tracking_api
from orderhub.tracking import notify_api, notify_pages
from orderhub.tracking import pages as tracking_pages
from orderhub.tracking import service as tracking_service
from orderhub.web import events as web_events
from orderhub.web import pages as web_pages
from orderhub.webhooks import api as webhooks_api
from orderhub.webhooks import pages as webhooks_pages
from orderhub.wiring import wire

log = logging.getLogger("orderhub.jobs")


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """An OrderHub app. Builds its engine from ``settings.database_url`` unless given one, and
    wires the contexts' hooks (``orderhub.wiring``)."""
    settings = settings or Settings()
    wire(settings)
    engine = engine or create_db_engine(settings.database_url, pool_size=settings.db_pool_size)
    _register_job_kinds()

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        if settings.bootstrap_admin_key:
            auth.ensure_bootstrap_admin(engine, settings.bootstrap_admin_key)
        # Fewer request threads than the default 40: the handlers are CPU-bound under load and
        # a crowd of threads fighting for the GIL costs more than it waits (bench/inventory S1).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        stopping, halt = asyncio.Event(), threading.Event()
        loops = (
            [
                asyncio.create_task(_run_timers(engine, settings, stopping)),
                asyncio.create_task(_run_queue(engine, settings, stopping, halt)),
            ]
            if settings.run_jobs
            else []
        )
        worker = bus_worker.start_worker(engine, settings) if settings.run_bus else None
        app_.state.live = LiveTail(engine, tracking_service.LIVE_TYPES, poll_s=settings.live_poll_s).start()
        yield
        app_.state.live.stop()
        if worker:
            await run_in_threadpool(worker.stop)
        # let a timer round finish (it holds a connection in a worker thread); a running job
        # goes back to the queue at its next progress call, for this or another process
        stopping.set()
        halt.set()
        await asyncio.gather(*loops)

    app = FastAPI(
        title="OrderHub",
        version=__version__,
        summary="The order management hub every sales channel hands its orders to.",
        openapi_url="/openapi.json",
        docs_url=None,  # served by orderhub.web.pages from vendored Swagger UI (works offline)
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    bus_worker.load_plugins(settings)
    problems.install(app)
    app.add_middleware(LimitsMiddleware, settings=settings)  # body size, strict JSON (docs/limits.md)
    app.add_middleware(
        ConsoleSessions,
        secret=lambda: settings.secret_key or sessions.shared_secret(engine, "session"),
        session_cookie="orderhub_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.env == "production",
    )
    app.add_middleware(SecurityHeaders, always_secure=settings.env == "production")  # outermost

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(auth_api.router)
    app.include_router(orders_api.router)
    app.include_router(ops_api.router)
    app.include_router(orders_list_api.router)
    app.include_router(orders_aftersales_api.router)
    app.include_router(inventory_api.router)
    app.include_router(items_api.router)
    app.include_router(work_api.router)
    app.include_router(carbon_api.router)
    app.include_router(carbon_chains_api.router)
    app.include_router(carbon_api.orders_router)
    app.include_router(carbon_api.points_router)
    app.include_router(sourcing_api.router)
    app.include_router(bus_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(rules_api.router)
    app.include_router(tracking_api.router)
    app.include_router(notify_api.router)
    app.include_router(jobs_api.router)
    app.include_router(forecast_api.router)
    app.include_router(edge_api.router)
    web_pages.mount(app)
    app.include_router(web_pages.router)
    app.include_router(orders_list_pages.router)  # before the order page's /console/orders/{order_id}
    app.include_router(orders_pages.router)
    app.include_router(ops_pages.router)
    app.include_router(orders_aftersales_pages.router)
    app.include_router(inventory_pages.router)
    app.include_router(work_pages.router)
    app.include_router(sourcing_pages.router)
    app.include_router(web_events.router)
    app.include_router(webhooks_pages.router)
    app.include_router(carbon_pages.router)
    app.include_router(tracking_pages.router)
    app.include_router(notify_pages.router)
    app.include_router(rules_pages.router)  # before the editor's /console/rules/{set_id}
    app.include_router(rule_editor_pages.router)
    app.include_router(rule_approval_pages.router)
    rule_approval_pages.register_order_refs(orders_service.get_refs)
    app.include_router(forecast_pages.router)
    app.include_router(edge_pages.router)
    _extend_openapi(app)
    return app


TIMERS = "timers"
SIMULATE_RULES_JOB = "rules.simulate"


def _register_job_kinds() -> None:
    """The job kinds this app runs (platform knows no context: the composition root wires them)."""

    def reoptimise(engine: Engine, params: dict[str, Any], progress: jobs.Progress) -> dict[str, Any]:
        actor = str(params.get("actor") or "system:re-optimisation")
        return orders_service.reoptimise(engine, limit=int(params["limit"]), actor=actor, progress=progress)

    jobs.register_kind(orders_service.REOPTIMISE_JOB, reoptimise, role=Role.operator)

    def simulate_rules(engine: Engine, params: dict[str, Any], progress: jobs.Progress) -> dict[str, Any]:
        return rule_simulation.simulate(
            engine,
            set_id=str(params["set_id"]),
            number=int(params["number"]),
            limit=int(params.get("limit") or 1000),
            exception=str(params.get("exception") or ""),
            progress=progress,
        )

    jobs.register_kind(SIMULATE_RULES_JOB, simulate_rules, role=Role.editor)


def _schedule(settings: Settings) -> dict[str, tuple[float, jobs.Timer]]:
    """The timers, each with its interval; their state is recorded in ``schedules``."""
    every, stale = settings.job_interval_s, settings.job_stale_after_s
    return {
        "orders.expire-unpaid": (every, lambda e: {"cancelled": orders_service.expire_unpaid(e)}),
        "inventory.cart-holds": (every, lambda e: {"released": inventory_service.release_due_cart_holds(e)}),
        "orders.consolidated-runs": (60.0, lambda e: {"released": orders_service.release_due_wait_runs(e)}),
        "jobs.requeue-stale": (min(10.0, stale / 4), lambda e: jobs.requeue_stale(e, stale)),
        "rules.approval-timeouts": (every, lambda e: {"handled": rule_approvals.time_out_due(e)}),
        "rules.timers": (every, lambda e: {"fired": rule_timers.fire_due(e)}),
        "bus.prune": (3600.0, bus_service.prune),
        "auth.prune": (3600.0, lambda e: sessions.prune(e)),
    }


def _holder(token: object) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{id(token):x}"


async def _run_timers(engine: Engine, settings: Settings, stopping: asyncio.Event) -> None:
    """Timers of the embedded deployment: presale locks and cart holds that ran out are
    released within ``job_interval_s`` of their deadline; consolidated runs are checked every
    minute; jobs whose runner died are requeued. Every process runs this loop, but only the
    holder of the ``timers`` lease does a round (see ``platform.leases``); each timer's runs,
    failures and next due time are recorded (``platform.jobs.run_due``), so they survive a
    restart and any process can show them. A failing timer is recorded and runs again."""
    interval_s = settings.job_interval_s
    holder = _holder(stopping)
    # The holder renews every round, so the lease can be short: when its process dies another
    # takes over within about a second (a 5 s lease released holds ~4 s late after a SIGKILL).
    # A round longer than the lease only lets two processes run a round at once, which the
    # timers tolerate (row locks and conditional updates).
    ttl_s = max(0.75, interval_s * 3)
    schedule = _schedule(settings)
    while not stopping.is_set():
        try:
            if await run_in_threadpool(_take_lease, engine, holder, ttl_s):
                await run_in_threadpool(jobs.run_due, engine, holder, schedule)
        except Exception:
            log.exception("a timer round failed; the next one runs")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)
    with contextlib.suppress(Exception):
        await run_in_threadpool(_give_up_lease, engine, holder)


async def _run_queue(engine: Engine, settings: Settings, stopping: asyncio.Event, halt: threading.Event) -> None:
    """The job runner: every process runs queued jobs one at a time (claiming is atomic, so
    no lease is needed). A job runs on a thread of its own limiter, so it never takes one of
    the request threads; ``halt`` makes a running job hand itself back to the queue."""
    holder = _holder(halt)
    limiter = anyio.CapacityLimiter(1)
    while not stopping.is_set():
        ran = None
        try:
            ran = await anyio.to_thread.run_sync(
                functools.partial(jobs.run_next, engine, holder, stopping=halt), limiter=limiter
            )
        except Exception:
            log.exception("the job runner failed; it polls again")
        if ran is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), settings.job_interval_s)


def _take_lease(engine: Engine, holder: str, ttl_s: float) -> bool:
    with unit_of_work(engine) as conn:
        return leases.acquire(conn, name=TIMERS, holder=holder, ttl_s=ttl_s)


def _give_up_lease(engine: Engine, holder: str) -> None:
    with unit_of_work(engine) as conn:
        leases.release(conn, name=TIMERS, holder=holder)


def _extend_openapi(app: FastAPI) -> None:
    """Routes that read a raw body (for signatures and dead-lettering) reference their
    schema by name; add those schemas to the components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in orders_api.openapi_models() + inventory_api.openapi_models() + problems.openapi_models():
            doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(doc.pop("$defs", {}))
            components[model.__name__] = doc
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
