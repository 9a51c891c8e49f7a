"""Opaque string ids: a short type prefix and a time-ordered random part."""

from __future__ import annotations

import base64
import os
import threading
import time

_ALPHABET = b"0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)
_RAND_BYTES = 10  # 80 bits

# Random bytes are drawn 4 KiB at a time: os.urandom is a system call that releases the GIL,
# and a request thread that lets go of the GIL a dozen times per order waits to get it back
# each time while other threads run (bench/inventory S1 saw ~12 % of busy samples there).
_pool = bytearray()
_pool_lock = threading.Lock()


def _reset_pool() -> None:
    _pool.clear()  # a forked child must not hand out its parent's bytes again


os.register_at_fork(after_in_child=_reset_pool)


def _random_bytes() -> bytes:
    with _pool_lock:
        if len(_pool) < _RAND_BYTES:
            _pool[:] = os.urandom(4096)
        chunk = bytes(_pool[-_RAND_BYTES:])
        del _pool[-_RAND_BYTES:]
    return chunk


def new_id(prefix: str, *, millis: int | None = None, rand: int | None = None) -> str:
    """A new id such as ``ord_01hx…``: sortable by creation time, unique without coordination.

    48 bits of milliseconds then 80 random bits, like a ULID, so ids created later sort later
    and index inserts stay at the right edge of a B-tree. ``millis`` and ``rand`` may be given
    to make ids reproducible (demo data, imports that keep their own timeline).
    """
    if millis is None:
        millis = time.time_ns() // 1_000_000
    random_part = _random_bytes() if rand is None else (rand & (2**80 - 1)).to_bytes(_RAND_BYTES, "big")
    # 20 bytes are 32 base32 characters; the first 6 encode the 30 zero bits above the
    # 50-bit time field, leaving 10 characters of time and 16 of randomness
    encoded = base64.b32encode((millis & (2**50 - 1)).to_bytes(10, "big") + random_part)
    return f"{prefix}_{encoded[6:].translate(_TO_CROCKFORD).decode()}"
