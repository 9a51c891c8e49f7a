"""Console page for sourcing: pilot scope, shadow report, strategies, dispatch board, map."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.core.clock import utcnow
from orderhub.inventory import service as inventory
from orderhub.platform.auth.model import Principal, Role
from orderhub.sourcing import conditions
from orderhub.sourcing import service as sourcing
from orderhub.web import maps
from orderhub.web.templating import act, check_csrf, console_user, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]


@router.get("/sourcing", response_class=HTMLResponse)
def sourcing_page(
    request: Request, user: User, days: Annotated[int, Query(ge=1, le=730)] = 7, job: str = ""
) -> Response:
    engine = request.app.state.engine
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    chosen = sourcing.get_strategies(engine)
    nodes = inventory.get_all_nodes(engine)
    load = inventory.node_load(engine, since=today)
    board = [
        {
            "node": n,
            "orders": load.get(n.id, 0),
            "pct": round(100 * load.get(n.id, 0) / n.daily_capacity, 1) if n.daily_capacity else 0,
        }
        for n in sorted(nodes, key=lambda n: -load.get(n.id, 0))
    ]
    return render(
        request,
        "sourcing/sourcing.html",
        {
            "user": user,
            "nav": "sourcing",
            "days": days,
            "pilot": sourcing.get_pilot(engine),
            "report": sourcing.shadow_report(engine, start=now - timedelta(days=days), end=now),
            "strategies": sourcing.all_strategies(chosen),
            "board": board,
            "nodes": nodes,
            "points": _map_points(nodes, load, sourcing.destinations_since(engine, since=today)),
            "chosen": {k: v for k, v in chosen.items() if not k.startswith("custom:")},
            "conditions": conditions.active(engine),
            "job_id": job,
        },
    )


def _map_points(
    nodes: list[inventory.Node], load: dict[str, int], destinations: list[tuple[float, float]]
) -> list[dict[str, Any]]:
    """The map's markers: today's delivery addresses under the nodes, sized by today's orders."""
    largest = max(load.values(), default=0)
    markers = [
        maps.node_marker(
            node_id=n.id, name=n.name, label=n.city or n.name, lat=n.lat, lon=n.lon, size=load.get(n.id, 0),
            largest=largest, today=load.get(n.id, 0), capacity=n.daily_capacity,
            is_hub=n.type == inventory.NodeType.distribution_centre, what="orders today",
        )
        for n in nodes
    ]  # fmt: skip
    return maps.destination_markers(destinations) + markers


@router.post("/sourcing/strategies", dependencies=[Depends(check_csrf)])
def sourcing_strategy(
    request: Request,
    user: User,
    scope: Annotated[str, Form()],
    name: Annotated[str, Form()],
    strategy: Annotated[str, Form()] = "",
) -> Response:
    def choose() -> str:
        sourcing.set_strategy(request.app.state.engine, scope=scope, name=name.strip(), strategy=strategy or None)
        return f"{scope} {name}: {strategy or 'default'}"

    return act(request, user, Role.editor, "/console/sourcing", choose)


@router.post("/sourcing/conditions", dependencies=[Depends(check_csrf)])
def sourcing_condition(
    request: Request,
    user: User,
    kind: Annotated[str, Form()],
    scope: Annotated[str, Form()],
    target: Annotated[str, Form()],
    value: Annotated[float, Form()] = 0,
    reason: Annotated[str, Form()] = "",
    hours: Annotated[float, Form()] = 4,
) -> Response:
    def add() -> str:
        conditions.add(
            request.app.state.engine,
            kind=kind,
            scope=scope,
            target=target.strip(),
            value=value,
            reason=reason,
            expires_at=utcnow() + timedelta(hours=hours),
        )
        return f"{kind} on {target} for {hours:g} h"

    return act(request, user, Role.editor, "/console/sourcing", add)


@router.post("/sourcing/pilot", dependencies=[Depends(check_csrf)])
def sourcing_pilot(
    request: Request,
    user: User,
    mode: Annotated[str, Form()],
    channels: Annotated[str, Form()] = "",
    regions: Annotated[str, Form()] = "",
) -> Response:
    def save() -> str:
        sourcing.set_pilot(
            request.app.state.engine,
            mode=mode,
            channels=[c.strip() for c in channels.split(",") if c.strip()],
            regions=[r.strip() for r in regions.split(",") if r.strip()],
            skus=[],
        )
        return f"Optimiser mode: {mode}"

    return act(request, user, Role.editor, "/console/sourcing", save)
