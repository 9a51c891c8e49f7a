"""Console pages for carbon; they call the same services as the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.carbon import service as carbon
from orderhub.core.clock import utcnow
from orderhub.platform.auth.model import Principal
from orderhub.web.templating import bars, console_user, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]


@router.get("/carbon", response_class=HTMLResponse)
def carbon_page(request: Request, user: User, days: int = 30) -> Response:
    """Footprint by day, channel, node, transport chain element and product category (from the
    daily roll-ups: any period up to two years); the greener choices and points; the factor
    table with provenance."""
    engine = request.app.state.engine
    days = max(1, min(days, carbon.MAX_DASHBOARD_DAYS))
    dash = carbon.get_dashboard(engine, days=days)
    peak = max((sum(v) for _, v in dash["per_day"]), default=0.0) or 1.0
    end = utcnow()
    report = carbon.green_report(engine, start=end - timedelta(days=days), end=end)
    rows = carbon.factor_rows(engine)
    transport = sorted((r for r in rows if r["kind"] == "transport" and r["current"]), key=lambda r: r["value"])
    return render(
        request,
        "carbon/factors.html",
        {
            "user": user,
            "nav": "carbon",
            "rows": [r for r in rows if r["current"]],
            "older": [r for r in rows if not r["current"]],
            "transport": transport,
            "peak_factor": max((r["value"] for r in transport), default=1.0),
            "dash": dash,
            "peak_day": peak,
            "bars": {k: bars({kk: round(vv, 3) for kk, vv in v.items()}) for k, v in dash["by"].items()},
            "report": report,
            "days": days,
        },
    )
