"""The edge domain (docs/edge.md): hybrid logical clocks, the escrow policy, what each gateway
event does to the store's figures, the till's decisions and the lease rules. Pure."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from orderhub.core.errors import Conflict, InvalidInput

# -- hybrid logical clocks (Kulkarni et al. 2014) -------------------------------------------------
LOGICAL_BITS = 16
LOGICAL_MAX = (1 << LOGICAL_BITS) - 1


def pack(wall_ms: int, logical: int) -> int:
    """An HLC as one 64-bit integer: 48 bits of wall-clock milliseconds, 16 of counter."""
    return (wall_ms << LOGICAL_BITS) | logical


def unpack(hlc: int) -> tuple[int, int]:
    """``(wall_ms, logical)`` of a packed HLC."""
    return hlc >> LOGICAL_BITS, hlc & LOGICAL_MAX


def hlc_time(hlc: int) -> datetime | None:
    """The wall-clock part of an HLC as a UTC instant (None for 0: never)."""
    if not hlc:
        return None
    return datetime.fromtimestamp(unpack(hlc)[0] / 1000, UTC)


def millis(at: datetime) -> int:
    """An instant in milliseconds since the epoch."""
    return int(at.timestamp() * 1000)


class HybridClock:
    """A hybrid logical clock: never goes backwards, stays within the clock skew of wall time,
    and orders every event after everything its node has seen (``observe``)."""

    def __init__(self, last: int = 0) -> None:
        self.last = last

    def tick(self, now_ms: int) -> int:
        """The HLC of a local event (or a message about to be sent)."""
        wall, logical = unpack(self.last)
        if now_ms > wall:
            self.last = pack(now_ms, 0)
        else:
            self.last = self._next(wall, logical)
        return self.last

    def observe(self, remote: int, now_ms: int) -> int:
        """Merge the HLC of a received event or message; returns the clock after it."""
        wall, logical = unpack(self.last)
        r_wall, r_logical = unpack(remote)
        top = max(wall, r_wall, now_ms)
        if top == wall == r_wall:
            self.last = self._next(top, max(logical, r_logical))
        elif top == wall:
            self.last = self._next(top, logical)
        elif top == r_wall:
            self.last = self._next(top, r_logical)
        else:
            self.last = pack(top, 0)
        return self.last

    @staticmethod
    def _next(wall: int, logical: int) -> int:
        # the counter overflows only after 65,535 events in one millisecond: borrow a millisecond
        return pack(wall, logical + 1) if logical < LOGICAL_MAX else pack(wall + 1, 0)


# -- the policy of a gateway --------------------------------------------------------------------
Beyond = Literal["refuse", "backorder"]


@dataclass(frozen=True, slots=True)
class EdgePolicy:
    """How much a store may sell without asking, and how long it holds a click & collect order.

    ``cover_hours``: the escrow should cover this long of the store's own sales; ``min_units``:
    at least this much of every SKU it stocks; ``hot_per_hour``: central demand (units/h) from
    which a SKU is hot — the store then keeps only its cover; ``slow_share``: the share of a
    slow mover's unpromised stock the store may keep; ``beyond``: what the till does with a sale
    beyond the escrow while offline; ``lease_s``: how long a lease on an order lasts without
    renewal; ``skew_s``: the clock margin both sides keep around a lease's end."""

    cover_hours: float = 8.0
    min_units: int = 2
    hot_per_hour: float = 2.0
    slow_share: float = 1.0
    beyond: Beyond = "refuse"
    lease_s: int = 4 * 3600
    skew_s: int = 60

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EdgePolicy:
        """A policy from stored or sent fields (unknown fields ignored; bad values refused)."""
        known = {f.name for f in fields(cls)}
        policy = cls(**{k: v for k, v in (data or {}).items() if k in known})
        errors = []
        if not 0 <= policy.cover_hours <= 24 * 31:
            errors.append({"pointer": "/cover_hours", "detail": "0 ≤ x ≤ 744"})
        if not 0 <= policy.slow_share <= 1:
            errors.append({"pointer": "/slow_share", "detail": "0 ≤ x ≤ 1"})
        if policy.beyond not in ("refuse", "backorder"):
            errors.append({"pointer": "/beyond", "detail": "refuse or backorder"})
        if policy.min_units < 0 or policy.hot_per_hour < 0 or policy.lease_s < 60 or policy.skew_s < 0:
            errors.append({"pointer": "", "detail": "min_units, hot_per_hour ≥ 0; lease_s ≥ 60; skew_s ≥ 0"})
        if errors:
            raise InvalidInput(f"bad edge policy: {errors[0]['detail']}", errors=errors)
        return policy


def escrow_target(*, available: int, store_rate: float, central_rate: float, policy: EdgePolicy) -> int:
    """How many units of a SKU the store should hold in escrow. ``available``: the units at the
    store nobody central has promised (free stock plus the current escrow); rates in units per
    hour. Hot SKUs: the store's cover only; slow movers: up to ``slow_share`` of the shelf.
    Never more than ``available``."""
    cover = math.ceil(store_rate * policy.cover_hours - 1e-9)
    want = max(policy.min_units, cover)
    if central_rate < policy.hot_per_hour:
        want = max(want, math.floor(available * policy.slow_share + 1e-9))
    return max(0, min(available, want))


# -- gateway events -------------------------------------------------------------------------------
EVENT_TYPES: tuple[str, ...] = (
    "till.sale",
    "till.backorder",
    "till.return",
    "pickup.handed_over",
    "pickup.released",
    "stock.adjusted",
    "escrow.released",
)
#: Lease states in which the owner may still hand the order over (``revoking``: the hub asked
#: for it back and waits for the gateway's ``pickup.released``).
HOLDING = ("held", "revoking")

#: ``lease_valid(order_id, token)``: whether the gateway's last snapshot still shows it holding
#: that order's lease with that token (the hub then ships from the order's allocation, not from
#: the escrow). See ``effect``.
LeaseCheck = Callable[[str, int], bool]


def effect(kind: str, data: Mapping[str, Any], lease_valid: LeaseCheck) -> dict[str, tuple[int, int]]:
    """What one gateway event does to the store's ``(on_hand, escrow)`` per SKU once the hub
    has applied it — the same rules as ``edge.apply``, so a gateway's figures (snapshot + the
    effects of its pending events) are what the hub's will be."""
    out: dict[str, tuple[int, int]] = {}

    def add(sku: str, on_hand: int, escrow: int) -> None:
        o, e = out.get(sku, (0, 0))
        out[sku] = (o + on_hand, e + escrow)

    if kind == "till.sale":
        for line in data["lines"]:
            add(line["sku"], -line["qty"], -line["qty"])
    elif kind == "till.return":
        for line in data["lines"]:
            add(line["sku"], line["qty"], 0)
    elif kind == "pickup.handed_over":
        from_escrow = not lease_valid(str(data["order_id"]), int(data["token"]))
        for line in data["lines"]:
            add(line["sku"], -line["quantity"], -line["quantity"] if from_escrow else 0)
    elif kind == "stock.adjusted":
        add(data["sku"], data["delta"], -data["from_escrow"])
    elif kind == "escrow.released":
        add(data["sku"], 0, -data["quantity"])
    return out  # till.backorder, pickup.released: nothing moves at the store


@dataclass(slots=True)
class Figures:
    """One SKU at the store as the gateway sees it: on hand and the escrow it may still sell."""

    on_hand: int = 0
    escrow: int = 0

    @property
    def sellable(self) -> int:
        """What the till may sell without asking: the escrow, and never more than is there."""
        return max(0, min(self.escrow, self.on_hand))


def pending_effects(events: Iterable[tuple[str, Mapping[str, Any]]], lease_valid: LeaseCheck) -> dict[str, Figures]:
    """The summed effect per SKU of events the hub has not applied yet."""
    total: dict[str, Figures] = {}
    for kind, data in events:
        for sku, (o, e) in effect(kind, data, lease_valid).items():
            f = total.setdefault(sku, Figures())
            f.on_hand += o
            f.escrow += e
    return total


# -- the till's decisions -----------------------------------------------------------------------
class BeyondEscrow(Conflict):
    """A sale asks for more units than the till may sell without the hub."""

    code = "beyond_escrow"
    title = "Beyond the store's allotment"


@dataclass(frozen=True, slots=True)
class SalePlan:
    """A sale as the till will record it: ``taken`` now (from the escrow), ``backordered``
    (collect later, routed by the hub)."""

    taken: dict[str, int]
    backordered: dict[str, int] = field(default_factory=dict)


def plan_sale(wanted: Mapping[str, int], sellable: Mapping[str, int], *, beyond: Beyond, online: bool) -> SalePlan:
    """Split a sale into what the escrow covers and the rest. The rest is refused
    (``BeyondEscrow``, naming every short SKU) unless the policy takes it as a backorder."""
    taken = {sku: min(q, max(0, sellable.get(sku, 0))) for sku, q in wanted.items()}
    short = {sku: q - taken[sku] for sku, q in wanted.items() if q > taken[sku]}
    if not short:
        return SalePlan(taken=dict(wanted))
    if beyond == "backorder":
        return SalePlan(taken={s: q for s, q in taken.items() if q}, backordered=short)
    why = "while the hub is unreachable (the store's allotment)" if not online else "at this store now"
    parts = "; ".join(f"only {taken[s]} of {s} may be sold {why}, {wanted[s]} asked" for s in short)
    raise BeyondEscrow(parts[0].upper() + parts[1:] + ".", short=short)


def loss_from_escrow(loss: int, figures: Figures) -> int:
    """How many units of a loss the gateway books out of its escrow: the loss takes the
    escrow first (so the hub never has to take promised units for it when it need not)."""
    return max(0, min(loss, figures.escrow))


def escrow_excess(figures: Figures, target: int) -> int:
    """Units of escrow the gateway gives back: what it holds above the hub's target."""
    return max(0, figures.escrow - max(0, target))


# -- leases ---------------------------------------------------------------------------------------
def may_hand_over(expires_at: datetime | None, now: datetime, policy: EdgePolicy) -> bool:
    """The gateway may hand an order over while its lease runs, less the clock margin."""
    return expires_at is not None and now < expires_at - timedelta(seconds=policy.skew_s)
