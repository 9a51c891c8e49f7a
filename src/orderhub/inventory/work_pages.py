"""Console forms for stock work: adjust, transfer, receive (editors and up, CSRF, redirect back)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from orderhub.core.errors import InvalidInput
from orderhub.inventory import adjustments
from orderhub.platform.auth.model import Principal, Role
from orderhub.web.templating import act, check_csrf, console_user

router = APIRouter(prefix="/console/inventory", include_in_schema=False, dependencies=[Depends(check_csrf)])
User = Annotated[Principal, Depends(console_user)]


def _back(form: FormData) -> str:
    """Where the form came from (a console path only: never another site)."""
    back = str(form.get("back") or "")
    return back if back.startswith("/console/") and "//" not in back else "/console/inventory"


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _units(form: FormData, name: str) -> int:
    try:
        return int(_text(form, name))
    except ValueError:
        raise InvalidInput(
            f"{name}: give a whole number of units", errors=[{"pointer": f"/{name}", "detail": "a whole number"}]
        ) from None


@router.post("/adjust")
async def adjust(request: Request, user: User) -> Response:
    form = await request.form()

    def run() -> str:
        amount = _units(form, "amount")
        is_set = _text(form, "mode") == "set"
        moved = adjustments.adjust(
            request.app.state.engine, node_id=_text(form, "node_id"), sku=_text(form, "sku"),
            quantity=amount if is_set else None, delta=None if is_set else amount, reason=_text(form, "reason"),
            actor=user.actor,
        )  # fmt: skip
        return f"{moved.sku} at {moved.node_id}: {moved.on_hand} on hand, {moved.atp} ATP"

    return act(request, user, Role.editor, _back(form), run)


@router.post("/transfer")
async def transfer(request: Request, user: User) -> Response:
    form = await request.form()

    def run() -> str:
        out, into = adjustments.transfer(
            request.app.state.engine, from_node_id=_text(form, "from_node_id"), to_node_id=_text(form, "to_node_id"),
            sku=_text(form, "sku"), quantity=_units(form, "quantity"), reason=_text(form, "reason"), actor=user.actor,
        )  # fmt: skip
        units = _units(form, "quantity")
        return f"Moved {units} × {out.sku}: {out.node_id} has {out.on_hand} on hand, {into.node_id} {into.on_hand}"

    return act(request, user, Role.editor, _back(form), run)


@router.post("/receive")
async def receive(request: Request, user: User) -> Response:
    form = await request.form()

    def run() -> str:
        moved = adjustments.receive(
            request.app.state.engine, node_id=_text(form, "node_id"), sku=_text(form, "sku"),
            quantity=_units(form, "quantity"), reference=_text(form, "reference"), reason=_text(form, "reason"),
            actor=user.actor,
        )  # fmt: skip
        return f"Received {_units(form, 'quantity')} × {moved.sku} at {moved.node_id}: {moved.on_hand} on hand"

    return act(request, user, Role.editor, _back(form), run)
