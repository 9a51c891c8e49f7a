"""The domain error tree, documented in one place.

Every error carries a stable ``code`` (a short snake_case string clients can switch on) and
structured ``fields``. The web boundary maps the classes below to RFC 9457 problem responses;
nothing below knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every business outcome that is not a success."""

    code: str = "domain_error"
    title: str = "The request could not be carried out"

    def __init__(self, detail: str, *, code: str | None = None, **fields: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.fields: dict[str, Any] = fields


class InvalidInput(DomainError):
    """The input is malformed or breaks a rule; ``errors`` lists each bad field.

    Each error is ``{"pointer": "/lines/0/quantity", "detail": "..."}`` where pointer is an
    RFC 6901 JSON pointer into the document the caller sent.
    """

    code = "invalid_input"
    title = "The input is not valid"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        code: str | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(detail, code=code, **fields)
        self.errors = errors or []


class MalformedPayload(InvalidInput):
    """The body is not even parseable (not JSON, not an object)."""

    code = "malformed_payload"
    title = "The body is not valid JSON"


class PayloadTooLarge(InvalidInput):
    """The body is larger than the route accepts (see docs/limits.md)."""

    code = "payload_too_large"
    title = "The request body is too large"


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    """The request conflicts with the current state (illegal transition, stale version …)."""

    code = "conflict"
    title = "Conflict with the current state"


class Unauthorized(DomainError):
    """The caller did not prove who it is (no key, bad key, bad webhook signature)."""

    code = "unauthorized"
    title = "Authentication required"


class Forbidden(DomainError):
    """The caller is known but its role does not allow this."""

    code = "forbidden"
    title = "Not allowed"


def json_pointer(path: tuple[str | int, ...] | list[str | int]) -> str:
    """RFC 6901 pointer for a location such as ``("lines", 0, "sku")`` → ``/lines/0/sku``."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""
