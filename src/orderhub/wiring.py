"""Composition of the contexts: every cross-context hook and bus subscriber is registered
here, nowhere else.

A context never registers itself on another's hook points (``orders`` must not know who
listens; ``carbon`` must not import ``orders``). ``wire()`` is called by everything that
changes orders: the app factory, the CLI commands, the demo loader, the tests and the
benchmarks. It is idempotent: the hook registries ignore a second registration of the same
function.
"""

from __future__ import annotations

from orderhub.bus import subscribers, worker
from orderhub.carbon import service as carbon
from orderhub.orders import hooks
from orderhub.platform.settings import Settings
from orderhub.tracking import notify_service
from orderhub.tracking import service as tracking
from orderhub.webhooks import service as webhooks


def project_order_for_carbon(ctx: hooks.HookContext) -> None:
    """Carbon's copy of the order (``carbon_orders``), written in the order change's own
    transaction, so the footprint never reads the order tables and never lags them."""
    carbon.record_order(ctx.conn, ctx.order)


def wire(settings: Settings | None = None) -> None:
    """Register every cross-context hook (idempotent). ``settings`` configure what is wired
    (customer notifications); without them they are read from the environment.

    Hooks run in registration order and each sees the order as the verdicts of the hooks
    before it left it; projections therefore come last here, after any deciding hook (rules,
    when it arrives), so they record the order as it is saved.
    """
    for point in (hooks.CAPTURED, hooks.CHANGED):
        hooks.on(point, project_order_for_carbon)
    subscribers.register(webhooks.SUBSCRIBER)
    subscribers.register(tracking.TIMELINE)
    subscribers.register(tracking.FOLLOW)
    worker.register_poller("webhooks", webhooks.send_due)
    notifications = notify_service.from_settings(settings or Settings())
    subscribers.register(notifications.subscriber)
    worker.register_poller("tracking.notify", notifications.send_due)
