"""The forecast console pages (per SKU × location: history, forecast with its interval,
backtest scores, chosen model; SKUs at risk by node) — to come (issue 15, item 6). The router
exists so the context has the same files as the others; ``app.py`` mounts it once it has pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/console/forecast", include_in_schema=False)
