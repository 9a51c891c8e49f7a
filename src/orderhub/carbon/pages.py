"""Console page for carbon: the factor table with provenance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.carbon import service as carbon
from orderhub.platform.auth.model import Principal
from orderhub.web.templating import console_user, render

router = APIRouter(prefix="/console", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]


@router.get("/carbon", response_class=HTMLResponse)
def carbon_page(request: Request, user: User) -> Response:
    rows = carbon.factor_rows(request.app.state.engine)
    transport = sorted((r for r in rows if r["kind"] == "transport"), key=lambda r: r["value"])
    peak = max((r["value"] for r in transport), default=1.0)
    return render(
        request,
        "carbon/factors.html",
        {"user": user, "nav": "carbon", "rows": rows, "transport": transport, "peak": peak},
    )
