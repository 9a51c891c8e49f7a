"""HTTP hardening: security headers on every response, ``Secure`` cookies over HTTPS, and the
signed session cookie whose key may come from the database (a dev deployment's shared secret)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import itsdangerous
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Scripts and styles from this origin only. Style *attributes* are allowed inline: the
#: console's bar charts set their widths with them, and a style attribute cannot run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response, and over HTTPS marks every cookie
    ``Secure`` and sends HSTS. The scheme is the request's: behind a proxy, uvicorn sets it from
    ``X-Forwarded-Proto`` only for the proxies in ``--forwarded-allow-ips``, so a client cannot
    fake it. ``always_secure`` (production) marks cookies ``Secure`` whatever the scheme."""

    def __init__(self, app: ASGIApp, *, always_secure: bool = False) -> None:
        self.app = app
        self.always_secure = always_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if https:
                    headers["strict-transport-security"] = "max-age=31536000"
                if https or self.always_secure:
                    _secure_cookies(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secure_cookies(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        secure = any(part.strip().lower() == "secure" for part in cookie.split(";"))
        headers.append("set-cookie", cookie if secure else f"{cookie}; secure")


class ConsoleSessions(SessionMiddleware):
    """Starlette's signed-cookie session, whose key ``secret()`` gives at the first request (it
    may read the database, which start-up has migrated by then)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: Callable[[], str],
        session_cookie: str,
        max_age: int,
        same_site: Literal["lax", "strict", "none"],
        https_only: bool,
    ) -> None:
        super().__init__(
            app,
            secret_key="not-yet-known",
            session_cookie=session_cookie,
            max_age=max_age,
            same_site=same_site,
            https_only=https_only,
        )
        self._secret = secret
        self._has_key = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._has_key and scope["type"] in ("http", "websocket"):
            self.signer = itsdangerous.TimestampSigner(await run_in_threadpool(self._secret))
            self._has_key = True
        await super().__call__(scope, receive, send)
