"""Who reports a node's stock (docs/edge.md §10).

A node's stock may have one reporter of its own: a store with a gateway reports its stock
through the gateway (``stock.adjusted`` deltas, applied by ``edge``), and a count or a batch
from any other system naming that node would overwrite or move figures that the offline
store is selling against. Another context claims such nodes by registering a ``Claim``
(through ``wiring``: inventory does not know who claims); a stock batch or a count that names
a claimed node is refused whole, before anything is written, naming each row.

Supply announced and received at a node (``inventory/supply``) only adds units and is not a
report of the node's stock: it is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol

from sqlalchemy import Connection

from orderhub.core.errors import InvalidInput

#: ``claim(conn, node_ids)`` → ``{node_id: why}`` for the nodes whose stock only the claimant
#: reports (the reason is shown to the caller).
Claim = Callable[[Connection, Collection[str]], Mapping[str, str]]

_claims: list[Claim] = []


class _Row(Protocol):
    @property
    def node_id(self) -> str: ...


def claim_nodes(claim: Claim) -> None:
    """Register ``claim`` (idempotent)."""
    if claim not in _claims:
        _claims.append(claim)


def claimed(conn: Connection, node_ids: Collection[str]) -> dict[str, str]:
    """The nodes among ``node_ids`` that some context reports itself, with why."""
    out: dict[str, str] = {}
    for claim in _claims:
        out.update(claim(conn, node_ids))
    return out


def _row_pointer(i: int) -> dict[str, str]:
    return {"pointer": f"/rows/{i}/node_id"}


def refuse_claimed(
    conn: Connection, rows: Sequence[_Row], *, where: Callable[[int], dict[str, str]] = _row_pointer
) -> None:
    """``InvalidInput`` (``node_reported_elsewhere``) naming every row of a claimed node
    (``where``: the error's ``pointer`` or ``parameter`` for row ``i``)."""
    why = claimed(conn, {r.node_id for r in rows})
    if not why:
        return
    errors = [{**where(i), "detail": why[r.node_id]} for i, r in enumerate(rows) if r.node_id in why]
    raise InvalidInput(
        f"{len(errors)} rows report stock at {', '.join(sorted(why))}, whose stock is reported by its own system: "
        f"{why[min(why)]}",
        errors=errors[:50],
        code="node_reported_elsewhere",
    )
