"""What the inventory console pages show: the product list, a node's positions, the nodes map,
and the stock-work forms, read from the query string the way a person may have typed it
(unknown sort keys and page numbers fall back to the defaults instead of failing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from sqlalchemy import Engine

from orderhub.bus import service as bus
from orderhub.core.clock import utcnow
from orderhub.inventory import catalogue
from orderhub.inventory import service as inventory
from orderhub.inventory.model import LOW_STOCK_UNITS
from orderhub.platform.auth.model import Principal, Role
from orderhub.platform.db import unit_of_work
from orderhub.web import maps

PER_PAGE = 50


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(value or default)))
    except ValueError:
        return default


def _params(request: Request, sorts: tuple[str, ...], keys: tuple[str, ...]) -> dict[str, Any]:
    """The list's parameters from the query string, cleaned."""
    q = request.query_params
    per_page = _int(q.get("per_page"), PER_PAGE, 1, 200)
    per_page = per_page if per_page in catalogue.PAGE_SIZES else PER_PAGE
    params: dict[str, Any] = {k: q.get(k, "").strip()[:100] for k in keys}
    params["state"] = q.get("state", "") if q.get("state", "") in catalogue.STATES else ""
    params["sort"] = q.get("sort", "sku") if q.get("sort", "sku") in sorts else "sku"
    params["desc"] = q.get("desc", "") in ("1", "true")
    params["page"] = _int(q.get("page"), 1, 1, 100_000)
    params["per_page"] = per_page
    return params


def _linker(path: str, params: dict[str, Any]) -> Callable[..., str]:
    """``link(page=3)`` or ``link(sort="atp")``: this list's URL with some parameters changed.
    A new sort or filter starts at page 1; asking for the current sort again reverses it."""

    def link(**change: Any) -> str:
        merged = dict(params)
        if "sort" in change:
            merged["desc"] = not params["desc"] if change["sort"] == params["sort"] else False
        if "page" not in change:
            merged["page"] = 1
        merged.update(change)
        query = {k: ("1" if v is True else v) for k, v in merged.items() if v not in ("", False, None)}
        if query.get("page") == 1:
            del query["page"]
        if query.get("per_page") == PER_PAGE:
            del query["per_page"]
        if query.get("sort") == "sku" and "desc" not in query:
            del query["sort"]
        return f"{path}?{urlencode(query)}" if query else path

    return link


def products_context(request: Request, engine: Engine) -> dict[str, Any]:
    """The product list with its filters, the per-node alert counts, and links for sorting and
    paging."""
    p = _params(request, catalogue.PRODUCT_SORTS, ("q", "category", "node_id"))
    products = catalogue.product_list(
        engine, search=p["q"], category=p["category"], node_id=p["node_id"], state=p["state"], sort=p["sort"],
        desc=p["desc"], page=p["page"], per_page=p["per_page"],
    )  # fmt: skip
    alerts = catalogue.stock_alerts(engine)
    nodes = inventory.get_all_nodes(engine)
    return {
        "products": products,
        "filters": p,
        "categories": catalogue.categories(engine),
        "all_nodes": nodes,
        "alerts": [(n, alerts[n.id]) for n in nodes if n.id in alerts and (alerts[n.id]["low"] or alerts[n.id]["out"])],
        "link": _linker("/console/inventory", p),
        "low_stock_units": LOW_STOCK_UNITS,
    }


def positions_context(request: Request, engine: Engine, *, node_id: str) -> dict[str, Any]:
    p = _params(request, catalogue.POSITION_SORTS, ("q",))
    positions = catalogue.node_positions(
        engine, node_id=node_id, search=p["q"], state=p["state"], sort=p["sort"], desc=p["desc"], page=p["page"],
        per_page=p["per_page"],
    )  # fmt: skip
    path = f"/console/nodes/{quote(node_id, safe='')}"
    return {"positions": positions, "filters": p, "link": _linker(path, p), "list_path": path}


def work_context(
    request: Request, user: Principal, engine: Engine, *, sku: str = "", node_id: str = ""
) -> dict[str, Any]:
    """The adjust / transfer / receive forms: only for editors and up; they come back here."""
    if user.role < Role.editor:
        return {"work": None}
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {"work": {"sku": sku, "node_id": node_id, "nodes": inventory.get_all_nodes(engine), "back": back}}


def destinations_today(engine: Engine, *, since: datetime) -> list[tuple[float, float]]:
    """Delivery coordinates of the orders routed since ``since`` (their ``order.sourced``
    events, the sourcing context's published record)."""
    with unit_of_work(engine, write=False) as conn:
        rows = bus.get_events_of_type(conn, type="order.sourced", start=since, end=utcnow())
    return [(float(d["destination"][0]), float(d["destination"][1])) for d in rows if d.get("destination")]


def nodes_context(engine: Engine, nodes: list[inventory.Node]) -> dict[str, Any]:
    """The nodes map's markers (size: open orders; colour: today's load against capacity;
    today's delivery addresses) and the table's open work and alert counts."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    open_load = catalogue.open_load(engine)
    load_today = inventory.node_load(engine, since=today)
    alerts = catalogue.stock_alerts(engine)
    largest = max((v["orders"] for v in open_load.values()), default=0)
    markers = [
        maps.node_marker(
            node_id=n.id, name=n.name, label=n.city or n.name, lat=n.lat, lon=n.lon,
            size=open_load.get(n.id, {}).get("orders", 0), largest=largest, today=load_today.get(n.id, 0),
            capacity=n.daily_capacity, is_hub=n.type == inventory.NodeType.distribution_centre,
        )
        for n in nodes
    ]  # fmt: skip
    coords = destinations_today(engine, since=today)
    return {
        "points": maps.destination_markers(coords) + markers,
        "open_load": open_load,
        "load_today": load_today,
        "alerts": alerts,
        "destinations": len(coords),
    }
