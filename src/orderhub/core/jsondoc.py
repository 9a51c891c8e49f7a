"""Strict JSON: the one parser for bodies we did not write ourselves.

``json.loads`` alone takes documents that later break the database or the interpreter: keys
given twice (the last silently wins), ``\\u0000`` and other control characters in strings
(PostgreSQL refuses NUL in text), numbers beyond any column (``1e400`` becomes ``inf``) and
nesting deep enough to exhaust the stack. ``parse`` refuses each with ``MalformedPayload``
(not JSON at all) or ``InvalidInput`` naming the place as a JSON pointer.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from orderhub.core.errors import InvalidInput, MalformedPayload, json_pointer

MAX_DEPTH = 64
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
# C0 controls except tab, newline and carriage return; NUL is among them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    obj.duplicates = [] if len(obj) == len(pairs) else _repeated([k for k, _ in pairs])
    return obj


def _repeated(keys: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for key in keys:
        if key in seen and key not in out:
            out.append(key)
        seen.add(key)
    return out


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


def control_character(text: str) -> str | None:
    """A description of the first forbidden control character in ``text``, or None."""
    found = _CONTROL.search(text)
    return None if found is None else f"control character U+{ord(found.group()):04X} is not allowed"


def loads(body: bytes | str) -> Any:
    """Parse a JSON document; ``MalformedPayload`` when it is not JSON or nests too deep."""
    try:
        return json.loads(body, object_pairs_hook=_pairs, parse_float=_finite, parse_constant=_constant)
    except RecursionError:
        raise _too_deep() from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedPayload(
            f"the body is not valid JSON: {exc}", errors=[{"pointer": "", "detail": str(exc)}]
        ) from None


def _too_deep() -> MalformedPayload:
    detail = f"the document nests deeper than {MAX_DEPTH} levels"
    return MalformedPayload(detail, code="too_deep", errors=[{"pointer": "", "detail": detail}])


def check(document: Any, *, max_int: int = INT64_MAX) -> None:
    """Refuse what a parsed document may not hold (see the module doc), naming the first place."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    errors: list[dict[str, str]] = []
    while stack and len(errors) < 20:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key in getattr(value, "duplicates", ()):
                errors.append({"pointer": json_pointer((*path, key)), "detail": f"the key {key!r} is given twice"})
            for key, item in value.items():
                problem = control_character(key)
                if problem:
                    errors.append({"pointer": json_pointer(path), "detail": f"a key: {problem}"})
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, str):
            problem = control_character(value)
            if problem:
                errors.append({"pointer": json_pointer(path), "detail": problem})
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > max_int:
            errors.append({"pointer": json_pointer(path), "detail": f"must be at most {max_int} in magnitude"})
    if errors:
        errors.sort(key=lambda e: e["pointer"])
        raise InvalidInput(f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors)


def parse(body: bytes | str, *, max_int: int = INT64_MAX) -> Any:
    """``loads`` then ``check``: the document, or the problem with it."""
    document = loads(body)
    check(document, max_int=max_int)
    return document
