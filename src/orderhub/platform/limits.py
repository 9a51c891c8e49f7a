"""Request limits at the door: body size per route, and strict JSON for the routes that let
FastAPI parse their body.

- A body over its route's limit is answered 413 problem+json before it is read whole: a
  ``Content-Length`` over the limit at once, a streamed body as soon as the count passes it.
- A query string or path holding a control character is a 422 naming the parameter.
- A JSON body (every route except the raw capture routes, which keep what they refuse as a dead
  letter and so check it themselves with ``core.jsondoc``) is checked by ``core.jsondoc``:
  duplicate keys, control characters, non-finite or out-of-range numbers, nesting.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.responses import JSONResponse

from orderhub.core import jsondoc
from orderhub.core.errors import DomainError, InvalidInput, PayloadTooLarge
from orderhub.platform.problems import problem_response
from orderhub.platform.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The routes that read their raw body (capture): they dead-letter what they refuse.
RAW_BODY = re.compile(r"^/api/v1/(orders|channels/[^/]+/orders)$")
# Tracking feeds read their raw body too: they keep every message (and what they refuse) in
# the tracking inbox; their bodies are batches.
TRACKING_FEED = re.compile(r"^/api/v1/tracking/(events|wms|positions|carriers/[^/]+)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def body_limit(settings: Settings, path: str) -> int:
    """The most bytes a request body to ``path`` may have (see docs/limits.md)."""
    if RAW_BODY.match(path):
        return settings.max_order_body_bytes
    if path.startswith("/api/v1/inventory/positions") or TRACKING_FEED.match(path):
        return settings.max_batch_body_bytes
    if path.startswith("/api/v1/carbon/factors"):
        return settings.max_factor_table_body_bytes
    return settings.max_body_bytes


def _problem(error: DomainError) -> JSONResponse:
    return problem_response(error)


def check_query(scope: Scope) -> None:
    """A control character in the path or a query parameter is refused with its name."""
    path = scope.get("path", "")
    if _CONTROL.search(path):
        raise InvalidInput(
            "the path holds a control character", errors=[{"parameter": "path", "detail": "control character"}]
        )
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return
    if not _CONTROL.search(unquote(query)):
        return
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _CONTROL.search(name) or _CONTROL.search(value):
            clean = _CONTROL.sub("?", name)
            raise InvalidInput(
                f"{clean}: control characters are not allowed",
                errors=[{"parameter": clean, "detail": "control characters are not allowed"}],
            )


class LimitsMiddleware:
    """The ASGI middleware applying the module's rules (register it outermost but one)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_query(scope)
        except InvalidInput as exc:
            await _problem(exc)(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["path"])
        too_large = PayloadTooLarge(
            f"the body is larger than {limit} bytes",
            errors=[{"pointer": "", "detail": f"at most {limit} bytes"}],
            limit_bytes=limit,
        )
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _problem(too_large)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _problem(too_large)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        # FastAPI parses a body without a content type as JSON too
        is_json = content_type.endswith(b"json") or not content_type
        if body and is_json and not (RAW_BODY.match(scope["path"]) or TRACKING_FEED.match(scope["path"])):
            try:
                jsondoc.parse(body)
            except InvalidInput as exc:
                await _problem(exc)(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
