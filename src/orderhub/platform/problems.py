"""RFC 9457 problem details: the one table that maps domain errors to HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderhub.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    MalformedPayload,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    json_pointer,
)
from orderhub.core.ids import new_id

log = logging.getLogger("orderhub.problems")
PROBLEM_JSON = "application/problem+json"

STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (PayloadTooLarge, 413),
    (MalformedPayload, 400),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthorized, 401),
    (Forbidden, 403),
    (DomainError, 422),
]


class ProblemError(BaseModel):
    """One bad field: a JSON ``pointer`` into the body, or the name of a query/path ``parameter``."""

    model_config = ConfigDict(extra="allow")

    pointer: str | None = None
    parameter: str | None = None
    detail: str


class Problem(BaseModel):
    """An RFC 9457 problem (``application/problem+json``). Besides the standard members it has
    ``code`` (stable, for clients to switch on), ``errors`` (one per bad field) and, where the
    outcome has them, structured fields of its own (``current_status``, ``dead_letter_id`` …)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:orderhub:problem:<code>, or about:blank")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str | None = None
    instance: str | None = None
    errors: list[ProblemError] | None = None
    request_id: str | None = Field(default=None, description="on a 500: quote it when reporting")


PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/Problem"}
_WHY = {
    400: "The body is not valid JSON",
    401: "No valid credentials (Authorization: Bearer <API key>)",
    403: "The caller's role does not allow this (or a console session sent no CSRF token)",
    404: "Something the request names does not exist",
    409: "The request conflicts with the current state",
    413: "The body is larger than the route accepts (docs/limits.md)",
    422: "The input breaks a rule; `errors` points at each bad field or parameter",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of these error statuses, each a problem+json ``Problem``
    (the ``Problem`` schema is registered in the document's components by the app)."""
    return {
        status: {"description": _WHY[status], "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA_REF}}}
        for status in statuses
    }


# The answers routes share; a router takes READ for all its routes, a route adds the others.
READ = problem_responses(401, 422)  # no or bad key; a path or query parameter breaks a rule
FOUND = problem_responses(404)  # a route that names something by id
WRITE = problem_responses(400, 403, 404, 409, 413)  # a change (with a JSON body where it takes one)


def status_for(error: DomainError) -> int:
    """The HTTP status of a domain error (first matching class in the table)."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 422


RESERVED = frozenset({"type", "title", "status", "detail", "instance", "code", "errors"})


def problem_body(error: DomainError, *, instance: str | None = None) -> dict[str, Any]:
    """The problem+json document of a domain error: ``type`` is a stable URN of its code."""
    body: dict[str, Any] = {
        "type": f"urn:orderhub:problem:{error.code}",
        "title": error.title,
        "status": status_for(error),
        "detail": error.detail,
        "code": error.code,
    }
    if instance:
        body["instance"] = instance
    if isinstance(error, InvalidInput) and error.errors:
        body["errors"] = error.errors
    # an error's own fields add detail; they never replace a member RFC 9457 defines
    body.update({k: v for k, v in error.fields.items() if k not in RESERVED})
    return body


def problem_response(error: DomainError, request: Request | None = None) -> JSONResponse:
    body = problem_body(error, instance=str(request.url.path) if request else None)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def clean_message(msg: str) -> str:
    """pydantic prefixes custom messages with "Value error, "; the field pointer says enough."""
    return msg.removeprefix("Value error, ")


def validation_errors(raw: list[Any], *, strip: int = 0) -> list[dict[str, str]]:
    """pydantic errors → ``[{"pointer": "/lines/0/quantity", "detail": "..."}]``.

    ``strip`` drops leading location parts (FastAPI prefixes ``body``/``query``).
    """
    out: list[dict[str, str]] = []
    for err in raw:
        loc = list(err.get("loc", ()))
        where = loc[0] if loc else "body"
        entry = {"detail": clean_message(str(err.get("msg", "invalid")))}
        if strip and where in ("query", "path", "header", "cookie"):
            entry["parameter"] = str(loc[1]) if len(loc) > 1 else where  # a repeated one: its name, no index
        else:
            entry["pointer"] = json_pointer(loc[strip:])
        out.append(entry)
    return out


def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A request FastAPI could not validate, as a 422 (or 400 for malformed JSON) problem."""
    errors = validation_errors(list(exc.errors()), strip=1)
    if any(e["detail"].startswith("JSON decode error") for e in errors):
        err: InvalidInput = MalformedPayload("The body is not valid JSON", errors=errors)
    else:
        first = errors[0] if errors else {}
        where = first.get("pointer") or first.get("parameter") or ""
        err = InvalidInput(f"{where}: {first.get('detail', 'invalid')}", errors=errors)
    return problem_response(err, request)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into problem+json."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = {
            "type": "about:blank",
            "title": str(exc.detail),
            "status": exc.status_code,
            "detail": str(exc.detail),
        }
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON)

    # An unknown failure: answered here, inside the middleware stack, so nothing re-raises it
    # to the server (Starlette's outermost error middleware re-raises after answering, and the
    # server then drops the client's keep-alive connection).
    app.add_middleware(UnknownErrors)


def internal_error_response() -> JSONResponse:
    """The 500 problem: a request id to quote, never a stack trace (that goes to the log)."""
    request_id = new_id("req")
    log.exception("unhandled error, request id %s", request_id)
    body = {
        "type": "urn:orderhub:problem:internal_error",
        "title": "Internal error",
        "status": 500,
        "detail": f"Something went wrong on our side; quote request id {request_id}.",
        "request_id": request_id,
    }
    return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)


class UnknownErrors:
    """ASGI middleware: an exception no handler took becomes the 500 problem, the connection
    stays usable. If the response had already started, there is nothing to answer: re-raise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            await internal_error_response()(scope, receive, send)


def openapi_models() -> list[type[BaseModel]]:
    """The models the ``responses`` above reference, for the document's components."""
    return [Problem]
