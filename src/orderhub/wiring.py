"""Composition of the contexts: every cross-context hook and bus subscriber is registered
here, nowhere else.

A context never registers itself on another's hook points (``orders`` must not know who
listens; ``carbon`` must not import ``orders``). ``wire()`` is called by everything that
changes orders: the app factory, the CLI commands, the demo loader, the tests and the
benchmarks. It is idempotent: the hook registries ignore a second registration of the same
function.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from orderhub.bus import subscribers, worker
from orderhub.bus.subscribers import Subscriber
from orderhub.carbon import service as carbon
from orderhub.core.errors import DomainError
from orderhub.core.events import DomainEvent
from orderhub.edge import service as edge
from orderhub.forecast import service as forecast
from orderhub.inventory import service as inventory
from orderhub.orders import hooks
from orderhub.orders import service as orders
from orderhub.orders.model import Order, OrderStatus
from orderhub.platform.settings import Settings
from orderhub.rules import effects as rule_effects
from orderhub.rules import service as rules
from orderhub.rules import simulation as rule_simulation
from orderhub.rules import timers as rule_timers
from orderhub.sourcing import service as sourcing
from orderhub.tracking import notify_service
from orderhub.tracking import service as tracking
from orderhub.webhooks import service as webhooks

alerts = logging.getLogger("orderhub.alerts")


def project_order_for_carbon(ctx: hooks.HookContext) -> None:
    """Carbon's copy of the order (``carbon_orders``), written in the order change's own
    transaction, so the footprint never reads the order tables and never lags them."""
    carbon.record_order(ctx.conn, ctx.order)


# -- rules on the order's hook points -----------------------------------------------------------
def _verdict(ctx: hooks.HookContext, hook: str, exception: str = "") -> hooks.Verdict | None:
    outcome = rules.evaluate(ctx.conn, hook, ctx.order, exception=exception)
    if not outcome.values:
        return None
    values = outcome.values
    hold = rules.request_approval(ctx.conn, order_id=ctx.order["id"], outcome=outcome) if values.get("approval") else ""
    return hooks.Verdict(
        hold=hold or values.get("hold"),
        tags=list(values.get("tags") or []),
        priority=values.get("priority"),
        by=",".join(d.actor for d in outcome.decided)[:200],
    )


def _exceptions(events: list[DomainEvent]) -> list[str]:
    """What went wrong in this change, as the ``exception`` fact of the order.exception hook."""
    found = []
    for e in events:
        if e.type == "order.backordered":
            found.append("backordered")
        elif e.type == "order.status_changed" and e.data.get("to") == "on_hold" and not e.actor.startswith("rules:"):
            found.append("on_hold")
        elif e.type == "order.line_cancelled":
            found.append("line_cancelled")
        elif e.type == "order.payment_changed" and e.data.get("payment_status") == "voided":
            found.append("payment_failed")
        elif e.type in ("order.rerouted", "order.stock_count_due"):
            found.append(e.type.removeprefix("order."))
        elif e.type == "order.allocated" and len(e.data.get("fulfilment_orders") or []) > 1:
            found.append("split_shipment")
    return list(dict.fromkeys(found))


def _merge(verdicts: list[hooks.Verdict | None]) -> hooks.Verdict | None:
    """Several hooks' verdicts as one: the first hold, every tag, the last priority."""
    found = [v for v in verdicts if v is not None]
    if not found:
        return None
    return hooks.Verdict(
        hold=next((v.hold for v in found if v.hold), None),
        tags=sorted({t for v in found for t in v.tags}),
        priority=next((v.priority for v in reversed(found) if v.priority is not None), None),
        by=",".join(dict.fromkeys(v.by for v in found))[:200],
    )


def decide_on_capture(ctx: hooks.HookContext) -> hooks.Verdict | None:
    """Rule sets at ``order.captured`` (approvals, holds, tags, priority), then at
    ``order.exception`` for what went wrong already at capture (a backorder)."""
    verdicts = [_verdict(ctx, "order.captured")]
    verdicts += [_verdict(ctx, "order.exception", exception=kind) for kind in _exceptions(ctx.events)]
    return _merge(verdicts)


def decide_on_change(ctx: hooks.HookContext) -> hooks.Verdict | None:
    """Rule sets at ``order.before_release`` (the order was just released to the warehouse)
    and ``order.exception`` (once per kind of trouble in this change); verdicts merge."""
    verdicts = []
    if any(e.type == "order.status_changed" and e.data.get("to") == "released" for e in ctx.events):
        verdicts.append(_verdict(ctx, "order.before_release"))
    verdicts += [_verdict(ctx, "order.exception", exception=kind) for kind in _exceptions(ctx.events)]
    return _merge(verdicts)


def advise_strategy(conn: Connection, facts: dict[str, Any]) -> dict[str, Any] | None:
    outcome = rules.evaluate(conn, "order.before_sourcing", facts)
    decided = outcome.by("strategy")
    return {"strategy": outcome.values["strategy"], "by": decided.actor} if decided else None


def advise_lock(conn: Connection, facts: dict[str, Any]) -> dict[str, Any] | None:
    outcome = rules.evaluate(conn, "reservation.created", facts)
    decided = outcome.by("lock_minutes")
    return {"lock_minutes": outcome.values["lock_minutes"], "by": decided.actor} if decided else None


def apply_rule_effect(conn: Connection, order_id: str, action: str, value: str, actor: str) -> str:
    """An approval decided or a timer fired: change the order in the rules transaction (inside
    a savepoint: an order that cannot take the change is left as it was, and the reason is
    what this returns)."""

    def act(_: Connection, order: Order) -> str:
        if action == "release":
            if order.status != OrderStatus.on_hold:
                return f"order is {order.status.value}: nothing to release"
            order.release_hold(reason=value)
        elif action == "cancel":
            order.cancel(reason=value or "rejected")
        elif action == "release_reservation":
            if order.status not in (OrderStatus.created, OrderStatus.awaiting_payment):
                return f"order is {order.status.value}: its reservation stays"
            order.cancel(reason="unpaid: reservation released by a timer")
        elif action == "hold":
            order.hold(reason=value or "timer")
        elif action in ("tag", "escalate"):
            tag = value if action == "tag" else f"escalated:{value}"[:40]
            if tag not in order.tags:
                order.set_tags([*order.tags, tag])
        if action in ("escalate", "notify"):
            alerts.warning("rules: %s on order %s (%s)", action, order.id, value)
        return f"{action} done"

    try:
        with conn.begin_nested():
            _, said = orders.change_in(conn, order_id, actor=actor, action=act)
    except DomainError as exc:
        return f"{action} not applied: {exc}"
    return said


# -- the forecast guard hands regions to the plain rule ------------------------------------------
GUARD_SOURCE = "forecast:guard"


def apply_guard_switch(conn: Connection, event: DomainEvent) -> None:
    """``forecast.guard_switched``: flag the region's inputs unreliable in sourcing (the plain
    rule decides there) or lift the flag, in the subscriber's transaction, with an alert.
    Idempotent: the flag is one per region and source."""
    region, reason = event.aggregate_id, str(event.data.get("reason") or "")
    if event.data.get("state") == "unreliable":
        sourcing.flag_unreliable(conn, region=region, reason=f"forecast guard: {reason}", source=GUARD_SOURCE)
        alerts.warning("forecast guard: region %s handed to the plain rule (%s)", region, reason)
    else:
        sourcing.lift_unreliable(conn, region=region, source=GUARD_SOURCE)
        alerts.warning("forecast guard: region %s back to the optimiser (%s)", region, reason)


FORECAST_GUARD = Subscriber(
    name="sourcing.forecast_guard",
    handle=apply_guard_switch,
    types=frozenset({"forecast.guard_switched"}),
    description="the forecast guard's switches raise and lift sourcing's unreliable flag on a region",
    start="beginning",
)


def guard_store_leases(ctx: hooks.HookContext) -> None:
    """A click & collect order leased to a store gateway is shipped or re-routed only by that
    gateway; a cancellation while it holds the lease leaves the units with the store (edge)."""
    edge.on_order_changed(ctx.conn, order=ctx.order, events=ctx.events, actor=ctx.actor)


def wire(settings: Settings | None = None) -> None:
    """Register every cross-context hook (idempotent). ``settings`` configure what is wired
    (customer notifications); without them they are read from the environment.

    Hooks run in registration order and each sees the order as the verdicts of the hooks
    before it left it; the rules decide first and projections come last, so they record the
    order as it is saved.
    """
    settings = settings or Settings()
    hooks.on(hooks.CAPTURED, decide_on_capture)
    hooks.on(hooks.CHANGED, decide_on_change)
    hooks.advise(hooks.BEFORE_SOURCING, advise_strategy)
    hooks.advise(hooks.RESERVATION, advise_lock)
    rule_effects.register(apply_rule_effect)
    rule_simulation.register_source(
        lambda e, limit, since, until: orders.get_recent_facts(e, limit=limit, since=since, until=until)
    )
    rules.set_budget(settings.rules_budget_ms)
    subscribers.register(rule_timers.SUBSCRIBER)
    hooks.on(hooks.CHANGED, guard_store_leases)  # may refuse the change: before the projections
    inventory.claim_nodes(edge.reported_by_gateway)  # a gateway store's stock: its gateway reports it
    inventory.name_orders_with(orders.get_refs)  # stock pages name orders by their numbers
    for point in (hooks.CAPTURED, hooks.CHANGED):
        hooks.on(point, project_order_for_carbon)
    # an order's parcels take the round figure their carrier recorded for the service used
    carbon.read_shipped_parcels_with(tracking.carriers_of)
    carbon.set_delivery_fees(settings.delivery_fees)
    subscribers.register(webhooks.SUBSCRIBER)
    subscribers.register(tracking.TIMELINE)
    subscribers.register(tracking.FOLLOW)
    subscribers.register(forecast.DEMAND)
    subscribers.register(FORECAST_GUARD)
    sourcing.set_store_protection(
        sourcing.StoreProtection(
            enabled=settings.store_protection,
            days=settings.store_protection_days,
            weight=settings.store_protection_weight,
        )
    )
    worker.register_poller("webhooks", webhooks.send_due)
    notifications = notify_service.from_settings(settings)
    subscribers.register(notifications.subscriber)
    worker.register_poller("tracking.notify", notifications.send_due)
