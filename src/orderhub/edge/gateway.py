"""A store gateway (docs/edge.md §6): what the till does, on the store's own SQLite file.

Every action is one local transaction that checks the store's figures (the hub's last snapshot
plus the gateway's pending events) and writes its outbox event; none needs the hub. Promises:

- a sale never takes more than the escrow (and never more than is on hand) of any SKU; beyond
  it, the till asks the hub for a top-up if it is reachable (a round trip), else refuses with a
  clear message or, by policy, takes the rest as a collect-later order;
- a click & collect order is handed over only under the lease the hub gave the store, before
  the lease ends (less the clock margin), once, and only while the books have its units on hand;
- a return names a receipt of this store and no more units than it sold;
- every action is in the outbox in the order it happened, with a hybrid logical clock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from orderhub.core.clock import Clock, SystemClock
from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.core.ids import new_id
from orderhub.edge import gateway_store as gs
from orderhub.edge import sync
from orderhub.edge.model import HOLDING, EdgePolicy, Figures, loss_from_escrow, may_hand_over, plan_sale
from orderhub.platform.db import unit_of_work

#: The hub answered within this long: the gateway counts as online.
ONLINE_WITHIN = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class SaleResult:
    """A recorded sale: its receipt, what was taken now, what was backordered, whether it
    needed a round trip to the hub (a top-up of the escrow)."""

    sale_id: str
    taken: dict[str, int]
    backordered: dict[str, int] = field(default_factory=dict)
    round_trip: bool = False


@dataclass(slots=True)
class Gateway:
    """The gateway of ``store_id`` on ``engine`` (its own SQLite), talking to ``hub``."""

    engine: Engine
    store_id: str
    hub: sync.HubLink
    clock: Clock = field(default_factory=SystemClock)
    # a sale's escrow top-up and its record, against another snapshot arriving in between
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def setup(self, *, hub_url: str = "") -> None:
        """Create the gateway's state on first start (idempotent; a database made for another
        store is refused)."""
        with unit_of_work(self.engine) as conn:
            st = gs.get_state(conn)
            if st is None:
                conn.execute(
                    gs.state.insert().values(
                        id=1, store_id=self.store_id, hub_url=hub_url, policy=EdgePolicy().as_dict()
                    )
                )
            elif st.store_id != self.store_id:
                raise InvalidInput(f"this database belongs to the gateway of {st.store_id}, not {self.store_id}")

    # -- sync ---------------------------------------------------------------------------------
    def sync(self) -> bool:
        """Push everything pending, then pull (``sync.sync``): True when the hub answered."""
        return sync.sync(self.engine, self.hub, store_id=self.store_id, clock=self.clock, guard=self.lock)

    def is_online(self) -> bool:
        """The hub answered within ``ONLINE_WITHIN`` and its last call did not fail."""
        with unit_of_work(self.engine, write=False) as conn:
            st = gs.get_state(conn)
        return _online(st, self.clock.now())

    # -- the till -----------------------------------------------------------------------------
    def sell(
        self,
        lines: Mapping[str, int],
        *,
        till: str = "1",
        cashier: str = "",
        payment_method: str = "card",
        customer: dict[str, str] | None = None,
    ) -> SaleResult:
        """Sell ``lines`` ({sku: units}) at the till (see the module doc). ``BeyondEscrow``
        when the store may not sell them and the policy refuses; nothing is written then."""
        wanted = {sku: int(q) for sku, q in lines.items() if int(q) > 0}
        if not wanted:
            raise InvalidInput("a sale needs at least one unit", errors=[{"pointer": "/lines", "detail": "empty"}])
        doc = {"till": till, "cashier": cashier, "payment_method": payment_method, "customer": customer}
        with unit_of_work(self.engine) as conn:
            done = self._record_sale(conn, wanted, doc, beyond=None, online=True, round_trip=False)
        if done is not None:
            return done
        with self.lock:
            short = self._short(wanted)
            asked = False
            if self.is_online():  # the one round trip a sale may need: an escrow top-up
                try:
                    sync.pull(self.engine, self.hub, store_id=self.store_id, clock=self.clock, want=short)
                    asked = True
                except (sync.HubUnreachable, sync.HubRefused) as exc:
                    with unit_of_work(self.engine) as conn:
                        gs.set_state(conn, last_error=str(exc)[:500])
            with unit_of_work(self.engine) as conn:
                policy = EdgePolicy.from_dict(gs.get_state(conn).policy)
                done = self._record_sale(conn, wanted, doc, beyond=policy.beyond, online=asked, round_trip=asked)
        assert done is not None
        return done

    def _short(self, wanted: Mapping[str, int]) -> dict[str, int]:
        with unit_of_work(self.engine, write=False) as conn:
            figures = gs.figures(conn)
        return {s: q - figures[s].sellable if s in figures else q for s, q in wanted.items()}

    def _record_sale(
        self,
        conn: Connection,
        wanted: dict[str, int],
        doc: dict[str, Any],
        *,
        beyond: str | None,
        online: bool,
        round_trip: bool,
    ) -> SaleResult | None:
        """Record the sale if the figures allow it (``beyond`` None: only if it fits whole)."""
        figures = gs.figures(conn)
        stock = gs.stock_rows(conn)
        unknown = sorted(s for s in wanted if s not in stock)
        if unknown:
            raise NotFound(f"this store does not sell {', '.join(unknown)}", code="unknown_sku")
        sellable = {s: figures[s].sellable for s in wanted}
        if beyond is None:
            if any(q > sellable[s] for s, q in wanted.items()):
                return None
            beyond = "refuse"
        plan = plan_sale(wanted, sellable, beyond="backorder" if beyond == "backorder" else "refuse", online=online)
        now = self.clock.now()
        sale_id = new_id("r")
        currency = next(iter(stock.values())).currency

        def data(units: dict[str, int], suffix: str = "") -> dict[str, Any]:
            rows = [
                {"sku": s, "qty": q, "unit_price": f"{stock[s].price_minor / 100:.2f}", "name": stock[s].name[:300]}
                for s, q in sorted(units.items())
            ]
            return {"sale_id": sale_id + suffix, "sold_at": now.isoformat(), "currency": currency, **doc, "lines": rows}

        if plan.taken:
            gs.append(conn, "till.sale", data(plan.taken), now=now, round_trip=round_trip)
        if plan.backordered:
            gs.append(conn, "till.backorder", data(plan.backordered, "-b"), now=now, round_trip=round_trip)
        return SaleResult(sale_id, dict(plan.taken), dict(plan.backordered), round_trip)

    def return_sale(self, sale_id: str, lines: Mapping[str, int], *, reason: str = "") -> str:
        """Units of a till receipt of this store brought back (no more than it sold, less what
        came back before). The units go on hand; the hub records the return. Returns its id."""
        with unit_of_work(self.engine) as conn:
            left = self._returnable(conn, sale_id)
            over = {s: q for s, q in lines.items() if q > left.get(s, 0)}
            if over:
                raise InvalidInput(
                    f"receipt {sale_id} has only {', '.join(f'{left.get(s, 0)} × {s}' for s in over)} left to return",
                    code="over_return",
                )
            return_id = new_id("ret")
            rows = [{"sku": s, "qty": int(q)} for s, q in sorted(lines.items()) if q > 0]
            data = {"return_id": return_id, "sale_id": sale_id, "reason": reason, "lines": rows}
            gs.append(conn, "till.return", data, now=self.clock.now())
            return return_id

    @staticmethod
    def _returnable(conn: Connection, sale_id: str) -> dict[str, int]:
        left: dict[str, int] = {}
        found = False
        for r in conn.execute(sa.select(gs.outbox).where(gs.outbox.c.type.in_(["till.sale", "till.return"]))):
            if r.data.get("sale_id") != sale_id:
                continue
            sign = 1 if r.type == "till.sale" else -1
            found = found or r.type == "till.sale"
            for line in r.data["lines"]:
                left[line["sku"]] = left.get(line["sku"], 0) + sign * int(line["qty"])
        if not found:
            raise NotFound(f"no receipt {sale_id} at this store", code="receipt_not_found")
        return left

    def hand_over(self, order_id: str) -> None:
        """Hand a click & collect order to its customer, under the store's lease (see the
        module doc); ``Conflict`` with the reason when it may not be handed over here."""
        with unit_of_work(self.engine) as conn:
            p = gs.pickup_rows(conn).get(order_id)
            if p is None:
                raise NotFound(f"order {order_id} is not waiting at this store", code="pickup_not_found")
            now = self.clock.now()
            policy = EdgePolicy.from_dict(gs.get_state(conn).policy)
            ref = p.external_ref or order_id
            if p.handed_over_at is not None:
                raise Conflict(f"order {ref} was handed over at {p.handed_over_at:%H:%M} already", code="handed_over")
            if p.hub_state == "cancelled":
                raise Conflict(f"order {ref} was cancelled centrally: do not hand it over", code="pickup_cancelled")
            if p.hub_state not in HOLDING or p.released:
                where = f" to {p.target_node}" if p.target_node else ""
                raise Conflict(f"order {ref} was reassigned{where}: do not hand it over", code="pickup_reassigned")
            if p.hub_state == "revoking":
                raise Conflict(f"the hub asked for order {ref} back: do not hand it over", code="pickup_revoking")
            if not may_hand_over(p.expires_at, now, policy):
                raise Conflict(
                    f"the store's lease on order {ref} ended at {p.expires_at:%Y-%m-%d %H:%M} UTC; reconnect to the "
                    "hub before handing it over",
                    code="lease_ended",
                )
            figures = gs.figures(conn)
            short = [li for li in p.lines if figures.get(li["sku"], Figures()).on_hand < li["quantity"]]
            if short:  # the books say the units are not there (a loss was booked): count before handing over
                what = ", ".join(f"{li['quantity']} × {li['sku']}" for li in short)
                raise Conflict(
                    f"order {ref} needs {what}, more than the store's books have on hand; count the stock",
                    code="short_on_shelf",
                )
            data = {"order_id": order_id, "token": int(p.token), "at": now.isoformat(), "lines": list(p.lines)}
            gs.append(conn, "pickup.handed_over", data, now=now)
            conn.execute(gs.pickups.update().where(gs.pickups.c.order_id == order_id).values(handed_over_at=now))

    def adjust(self, sku: str, delta: int, *, reason: str = "count") -> int:
        """Units received (``delta`` > 0) or lost (< 0: damaged, stolen, counted short) at the
        store. A loss is booked out of the escrow first; it cannot exceed what is on hand.
        Returns the units taken out of the escrow."""
        if delta == 0:
            return 0
        with unit_of_work(self.engine) as conn:
            figures = gs.figures(conn)
            if sku not in figures and delta < 0:
                raise NotFound(f"this store has no {sku}", code="unknown_sku")
            if delta < 0 and -delta > figures[sku].on_hand:
                raise InvalidInput(
                    f"only {figures[sku].on_hand} × {sku} are on hand; {-delta} cannot be lost", code="over_loss"
                )
            from_escrow = loss_from_escrow(-delta, figures[sku]) if delta < 0 else 0
            data = {
                "adjustment_id": new_id("adj"),
                "sku": sku,
                "delta": delta,
                "from_escrow": from_escrow,
                "escrow_seen": figures[sku].escrow if sku in figures else 0,
                "reason": reason,
            }
            gs.append(conn, "stock.adjusted", data, now=self.clock.now())
            return from_escrow

    # -- what the till shows ------------------------------------------------------------------
    def view(self) -> dict[str, Any]:
        """The till's page: status, stock with what may be sold, click & collect, messages."""
        now = self.clock.now()
        with unit_of_work(self.engine, write=False) as conn:
            st = gs.get_state(conn)
            figures = gs.figures(conn)
            rows = gs.stock_rows(conn)
            policy = EdgePolicy.from_dict(st.policy)
            pickups = [
                {
                    "order_id": p.order_id,
                    "external_ref": p.external_ref,
                    "customer": p.customer,
                    "lines": list(p.lines),
                    "state": _pickup_state(p, now, policy),
                    "expires_at": p.expires_at,
                }
                for p in gs.pickup_rows(conn).values()
                if p.handed_over_at is None or now - p.handed_over_at < timedelta(hours=12)
            ]
            sales = [
                {"seq": r.seq, "type": r.type, **r.data, "at": r.created_at, "synced": r.seq <= int(st.acked_seq)}
                for r in gs.recent(conn, ["till.sale", "till.backorder", "till.return"], 20)
            ]
            messages = [dict(m._mapping) for m in gs.recent_messages(conn, 20)]
            backlog = gs.count_pending(conn, int(st.acked_seq))
        return {
            "store_id": self.store_id,
            "online": _online(st, now),
            "contacted_at": st.contacted_at,
            "pulled_at": st.pulled_at,
            "last_error": st.last_error,
            "backlog": backlog,
            "policy": policy,
            "stock": [
                {
                    "sku": s,
                    "name": rows[s].name,
                    "price_minor": rows[s].price_minor,
                    "currency": rows[s].currency,
                    "on_hand": f.on_hand,
                    "sellable": f.sellable,
                    "target": rows[s].target,
                }
                for s, f in sorted(figures.items())
            ],
            "pickups": pickups,
            "sales": sales,
            "messages": messages,
        }


def _online(st: Any, now: datetime) -> bool:
    return bool(st is not None and not st.last_error and st.contacted_at and now - st.contacted_at <= ONLINE_WITHIN)


def _pickup_state(p: Any, now: datetime, policy: EdgePolicy) -> str:
    if p.handed_over_at is not None:
        return "handed_over"
    if p.hub_state == "cancelled":
        return "cancelled"
    if p.hub_state not in HOLDING or p.released:
        return "reassigned"
    if p.hub_state == "revoking":
        return "revoking"
    return "ready" if may_hand_over(p.expires_at, now, policy) else "lease_ended"
