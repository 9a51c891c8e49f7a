"""Ids: Crockford base32 of 48 time bits and 80 random bits, sortable, unique across threads."""

from __future__ import annotations

import os
import threading

from hypothesis import given
from hypothesis import strategies as st

from orderhub.core.ids import new_id

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def reference(prefix: str, millis: int, rand: int) -> str:
    """The encoding spelled out digit by digit (5 bits a character, most significant first)."""

    def enc(value: int, length: int) -> str:
        return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(length)))

    return f"{prefix}_{enc(millis, 10)}{enc(rand & (2**80 - 1), 16)}"


@given(st.integers(0, 2**48 - 1), st.integers(0, 2**80 - 1))
def test_encoding_matches_the_reference(millis: int, rand: int) -> None:
    assert new_id("ord", millis=millis, rand=rand) == reference("ord", millis, rand)


def test_later_ids_sort_later_and_random_parts_differ() -> None:
    a, b = new_id("x", millis=1_700_000_000_000), new_id("x", millis=1_700_000_000_001)
    assert a < b and len(a) == len(b) == 2 + 26
    same_ms = {new_id("x", millis=5) for _ in range(5000)}
    assert len(same_ms) == 5000


def test_threads_never_share_random_bytes() -> None:
    out: list[list[str]] = [[] for _ in range(8)]

    def work(i: int) -> None:
        out[i] = [new_id("t", millis=0) for _ in range(3000)]  # ~7 refills of the pool each

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [x for chunk in out for x in chunk]
    assert len(set(ids)) == len(ids) == 24_000


def test_a_forked_child_draws_its_own_bytes() -> None:
    new_id("warm")  # the parent's pool now holds unused bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write its next id and leave at once
        os.write(write, new_id("c", millis=0).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert child != new_id("c", millis=0)
