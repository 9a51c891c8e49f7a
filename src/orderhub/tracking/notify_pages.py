"""The console's Notifications page: the mail outbox and what each order was told, on which
channel, with its delivery status (queued, sent, failed) and the last error."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from orderhub.core.errors import DomainError
from orderhub.orders import service as orders
from orderhub.platform.auth.model import Principal
from orderhub.tracking import notify_service
from orderhub.web.templating import console_user, render

router = APIRouter(prefix="/console/tracking", include_in_schema=False)
User = Annotated[Principal, Depends(console_user)]


@router.get("/notifications", response_class=HTMLResponse)
def notifications(
    request: Request,
    user: User,
    order_id: str = "",
    cursor: str | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    engine = request.app.state.engine
    order_id = order_id.strip()[:40]
    try:
        page = notify_service.get_notifications(engine, order_id=order_id or None, cursor=cursor)
    except DomainError as exc:
        return render(request, "web/error.html", {"user": user, "message": exc.detail}, status_code=422)
    mails, next_before = notify_service.get_mail_outbox(engine, order_id=order_id or None, before=before, limit=20)
    return render(
        request,
        "tracking/notifications.html",
        {
            "user": user,
            "nav": "tracking",
            "order_id": order_id,
            "page": page,
            "mails": mails,
            "next_before": next_before,
            # the order numbers the lists lead with
            "refs": orders.get_refs(engine, [n["order_id"] for n in page.items] + [m["order_id"] for m in mails]),
        },
    )
