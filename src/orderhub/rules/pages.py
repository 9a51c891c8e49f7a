"""Console pages of the rules context (see templates/rules/)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/console")
