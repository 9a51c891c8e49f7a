"""Opaque string ids: a short type prefix and a time-ordered random part."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str, *, millis: int | None = None, rand: int | None = None) -> str:
    """A new id such as ``ord_01hx…``: sortable by creation time, unique without coordination.

    48 bits of milliseconds then 80 random bits, like a ULID, so ids created later sort later
    and index inserts stay at the right edge of a B-tree. ``millis`` and ``rand`` may be given
    to make ids reproducible (demo data, imports that keep their own timeline).
    """
    if millis is None:
        millis = time.time_ns() // 1_000_000
    if rand is None:
        rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(millis, 10)}{_encode(rand & (2**80 - 1), 16)}"
