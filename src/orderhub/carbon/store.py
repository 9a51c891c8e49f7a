"""Tables for loaded emission factors, the reward points ledger and carbon's own projection of
orders (``carbon_orders``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from orderhub.carbon.model import DataQuality, Factor, FactorKind, OrderFacts, OrderLineFacts
from orderhub.core.clock import as_utc
from orderhub.platform.db import UtcDateTime, metadata, per_dialect

factors = sa.Table(
    "emission_factors",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("key", sa.String(120), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("ttw", sa.Float, nullable=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("edition", sa.String(40), nullable=False),
    sa.Column("region", sa.String(40), nullable=False),
    sa.Column("scope", sa.String(40), nullable=False),
    sa.Column("quality", sa.String(20), nullable=False),
    sa.Column("carrier", sa.String(80), nullable=False, server_default=""),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("loaded_at", UtcDateTime(), nullable=False),
    sa.Column("loaded_by", sa.String(254), nullable=False),
    sa.UniqueConstraint("kind", "key", "carrier", "region", "edition", name="uq_emission_factors_identity"),
)

points = sa.Table(
    "reward_points",
    metadata,
    sa.Column("seq", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("customer_email", sa.String(254), nullable=False, index=True),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(80), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=True),
    sa.Column("at", UtcDateTime(), nullable=False),
)

_IDENTITY = ("kind", "key", "carrier", "region", "edition")


def replace_factors(conn: Connection, rows: list[Factor], *, at: Any, by: str) -> None:
    """Insert factors; one with the same identity (kind, key, carrier, region, edition) is replaced."""
    values = [{**f.as_dict(), "loaded_at": at, "loaded_by": by} for f in rows]
    identities = sorted({tuple(v[c] for c in _IDENTITY) for v in values})
    conn.execute(factors.delete().where(sa.tuple_(*(factors.c[c] for c in _IDENTITY)).in_(identities)))
    conn.execute(factors.insert(), values)


def loaded_factors(conn: Connection) -> list[Factor]:
    return [
        Factor(
            kind=FactorKind(r.kind),
            key=r.key,
            value=r.value,
            ttw=r.ttw,
            source=r.source,
            edition=r.edition,
            region=r.region,
            scope=r.scope,
            quality=DataQuality(r.quality),
            carrier=r.carrier,
            note=r.note,
        )
        for r in conn.execute(sa.select(factors).order_by(factors.c.kind, factors.c.key))
    ]


green_choices = sa.Table(
    "green_choices",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    sa.Column("customer_email", sa.String(254), nullable=False),
    sa.Column("option", sa.String(20), nullable=False),
    sa.Column("kg_standard", sa.Float, nullable=False),
    sa.Column("kg_chosen", sa.Float, nullable=False),
    sa.Column("parcels_standard", sa.Integer, nullable=False),
    sa.Column("parcels_chosen", sa.Integer, nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
)


def add_choice(conn: Connection, **values: Any) -> None:
    conn.execute(green_choices.insert().values(**values))
    if values["points"] and values["customer_email"]:
        conn.execute(
            points.insert().values(
                customer_email=values["customer_email"],
                points=values["points"],
                reason=f"greener delivery: {values['option']}",
                order_id=values["order_id"],
                at=values["at"],
            )
        )


def points_of(conn: Connection, email: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(points).where(points.c.customer_email == email).order_by(points.c.seq)).mappings()
    return [dict(r) for r in rows]


def add_points(conn: Connection, **values: Any) -> None:
    conn.execute(points.insert().values(**values))


def choices_between(conn: Connection, start: Any, end: Any) -> list[dict[str, Any]]:
    stmt = sa.select(green_choices).where(green_choices.c.at >= start, green_choices.c.at < end)
    return [dict(r) for r in conn.execute(stmt).mappings()]


# -- carbon's projection of orders ------------------------------------------------------------
#: One row per order, written in the order's own transaction by the hook ``wiring`` registers
#: (and in bulk for imported history). Carbon reads this, never the order tables.
orders = sa.Table(
    "carbon_orders",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("customer_email", sa.String(254), nullable=False, server_default="", index=True),
    sa.Column("delivery_method", sa.String(20), nullable=False),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("country", sa.String(40), nullable=False, server_default=""),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
)

_CHANGING = ("channel", "customer_email", "delivery_method", "lat", "lon", "country", "lines", "status")


def _build_upsert(insert: Any) -> Any:
    stmt = insert(orders)
    return stmt.on_conflict_do_update(index_elements=["order_id"], set_={c: stmt.excluded[c] for c in _CHANGING})


_upsert_orders = per_dialect(_build_upsert)


def _row(o: OrderFacts) -> dict[str, Any]:
    lat, lon = o.destination if o.destination else (None, None)
    return {
        "order_id": o.order_id,
        "created_at": o.created_at,
        "channel": o.channel,
        "customer_email": o.customer_email,
        "delivery_method": o.delivery_method,
        "lat": lat,
        "lon": lon,
        "country": o.country,
        "lines": [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity} for x in o.lines],
        "status": o.status,
    }


def _facts(r: Any) -> OrderFacts:
    return OrderFacts(
        order_id=r.order_id,
        created_at=r.created_at,
        channel=r.channel,
        customer_email=r.customer_email,
        delivery_method=r.delivery_method,
        destination=(r.lat, r.lon) if r.lat is not None and r.lon is not None else None,
        country=r.country,
        lines=tuple(OrderLineFacts(x["line_id"], x["sku"], x["quantity"]) for x in r.lines),
        status=r.status,
    )


def upsert_orders(conn: Connection, rows: list[OrderFacts]) -> None:
    """Insert or replace the orders' rows: one statement (one ``executemany`` for many)."""
    if rows:
        conn.execute(_upsert_orders(conn), [_row(o) for o in rows])


def get_order(conn: Connection, order_id: str) -> OrderFacts | None:
    row = conn.execute(sa.select(orders).where(orders.c.order_id == order_id)).first()
    return _facts(row) if row is not None else None


def orders_between(
    conn: Connection, *, start: Any, end: Any, customer: str | None, limit: int | None
) -> list[OrderFacts]:
    """Orders created in [start, end), oldest first (optionally one customer's; at most ``limit``)."""
    stmt = sa.select(orders).where(orders.c.created_at >= start, orders.c.created_at < end)
    if customer:
        stmt = stmt.where(orders.c.customer_email == customer.lower())
    stmt = stmt.order_by(orders.c.created_at, orders.c.order_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_facts(r) for r in conn.execute(stmt)]


# -- recorded rounds --------------------------------------------------------------------------
#: A real delivery or collection round a carrier reported: its total and how it was allocated.
rounds = sa.Table(
    "carbon_rounds",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # delivery | collection
    sa.Column("carrier", sa.String(80), nullable=False, server_default=""),
    sa.Column("service", sa.String(80), nullable=False, server_default=""),
    sa.Column("method", sa.String(10), nullable=False),  # tkm | items
    sa.Column("kg", sa.Float, nullable=False),
    sa.Column("ttw_kg", sa.Float, nullable=True),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("tkm", sa.Float, nullable=True),
    sa.Column("basis", sa.Text, nullable=False),
    sa.Column("quality", sa.String(20), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Column("recorded_by", sa.String(254), nullable=False),
)
#: Each listed item's share of its round; ``order_id`` links it to an order's footprint.
round_items = sa.Table(
    "carbon_round_items",
    metadata,
    sa.Column("round_id", sa.String(80), sa.ForeignKey("carbon_rounds.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("item_id", sa.String(80), primary_key=True),
    sa.Column("order_id", sa.String(40), nullable=True, index=True),
    sa.Column("mass_kg", sa.Float, nullable=True),
    sa.Column("distance_km", sa.Float, nullable=True),
    sa.Column("kg", sa.Float, nullable=False),
    sa.Column("ttw_kg", sa.Float, nullable=True),
)


def replace_round(conn: Connection, row: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Write a round and its items; a round recorded again under its id is replaced."""
    conn.execute(round_items.delete().where(round_items.c.round_id == row["id"]))
    conn.execute(rounds.delete().where(rounds.c.id == row["id"]))
    conn.execute(rounds.insert().values(**row))
    if items:
        conn.execute(round_items.insert(), [{**i, "round_id": row["id"]} for i in items])


def get_round(conn: Connection, round_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    row = conn.execute(sa.select(rounds).where(rounds.c.id == round_id)).mappings().first()
    if row is None:
        return None
    stmt = sa.select(round_items).where(round_items.c.round_id == round_id).order_by(round_items.c.item_id)
    return dict(row), [dict(r) for r in conn.execute(stmt).mappings()]


def round_shares_of(conn: Connection, order_ids: list[str]) -> list[dict[str, Any]]:
    """The recorded round items of these orders, with their round's kind, method and source."""
    if not order_ids:
        return []
    stmt = (
        sa.select(
            round_items.c.order_id,
            round_items.c.round_id,
            round_items.c.item_id,
            round_items.c.kg,
            round_items.c.ttw_kg,
            rounds.c.kind,
            rounds.c.method,
            rounds.c.carrier,
            rounds.c.quality,
            rounds.c.recorded_at,
        )
        .join(rounds, rounds.c.id == round_items.c.round_id)
        .order_by(round_items.c.order_id, round_items.c.round_id, round_items.c.item_id)
    )
    out: list[dict[str, Any]] = []
    for i in range(0, len(order_ids), 500):
        out.extend(
            dict(r) for r in conn.execute(stmt.where(round_items.c.order_id.in_(order_ids[i : i + 500]))).mappings()
        )
    return out


# -- daily roll-ups of the footprints (the console's carbon page) -------------------------------
#: One row per past day: ``generation`` goes up with every change to one of the day's orders
#: (``touch_days``, in the change's own transaction); the day's totals were built from
#: ``built_generation`` with the factor set ``version``. A day whose two generations or whose
#: version differ is rebuilt before it is read. Today is never rolled up: it is counted live.
days = sa.Table(
    "carbon_days",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("built_generation", sa.Integer, nullable=True),
    sa.Column("version", sa.String(40), nullable=False, server_default=""),
    sa.Column("built_at", UtcDateTime(), nullable=True),
)
#: A day's kg CO2e (and orders counted) per dimension and key: part, channel, node, mode …
day_totals = sa.Table(
    "carbon_day_totals",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("dim", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("kg", sa.Float, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
)


#: What the roll-ups were built from besides orders and factors: a fingerprint per item
#: (``item:<sku>``: category, weight, own figure) and per node (``node:<id>``: type, place).
inputs = sa.Table(
    "carbon_inputs",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("fingerprint", sa.String(40), nullable=False),
)


def input_fingerprints(conn: Connection) -> dict[str, str]:
    return {r.key: r.fingerprint for r in conn.execute(sa.select(inputs.c.key, inputs.c.fingerprint))}


def save_input_fingerprints(conn: Connection, changed: dict[str, str], gone: list[str]) -> None:
    """Replace the fingerprints of ``changed`` keys and drop ``gone`` ones (in key order)."""
    wanted = sorted(set(changed) | set(gone))
    for i in range(0, len(wanted), 500):
        conn.execute(inputs.delete().where(inputs.c.key.in_(wanted[i : i + 500])))
    if changed:
        conn.execute(inputs.insert(), [{"key": k, "fingerprint": changed[k]} for k in sorted(changed)])


def days_with_skus(conn: Connection, skus: set[str], before: datetime) -> set[str]:
    """The days (UTC) before ``before`` with an order holding any of ``skus``."""
    out: set[str] = set()
    stmt = sa.select(orders.c.created_at, orders.c.lines).where(orders.c.created_at < before)
    for r in conn.execute(stmt):
        if any(line.get("sku") in skus for line in r.lines or []):
            out.add(as_utc(r.created_at).date().isoformat())
    return out


def rolled_up_days(conn: Connection) -> list[str]:
    return [r.day for r in conn.execute(sa.select(days.c.day))]


def _build_touch(insert: Any) -> Any:
    stmt = insert(days)
    return stmt.on_conflict_do_update(index_elements=["day"], set_={"generation": days.c.generation + 1})


_touch = per_dialect(_build_touch)


def touch_days(conn: Connection, changed: list[str]) -> None:
    """The days' roll-ups are out of date: one upsert per day, in key order."""
    if changed:
        conn.execute(_touch(conn), [{"day": d, "generation": 1} for d in sorted(set(changed))])


def day_states(conn: Connection, first: str, last: str) -> dict[str, tuple[int, int | None, str]]:
    """(generation, built_generation, version) of the days in [first, last] that have a row."""
    stmt = sa.select(days.c.day, days.c.generation, days.c.built_generation, days.c.version).where(
        days.c.day >= first, days.c.day <= last
    )
    return {r.day: (r.generation, r.built_generation, r.version) for r in conn.execute(stmt)}


def _build_built(insert: Any) -> Any:
    stmt = insert(days)
    return stmt.on_conflict_do_update(
        index_elements=["day"],
        set_={
            "built_generation": stmt.excluded.built_generation,
            "version": stmt.excluded.version,
            "built_at": stmt.excluded.built_at,
        },
    )


_built = per_dialect(_build_built)


def save_day_totals(
    conn: Connection,
    totals: dict[str, dict[tuple[str, str], list[float]]],
    built: dict[str, int],
    *,
    version: str,
    at: Any,
) -> None:
    """Replace the days' totals and record the generation and factor version they were built
    from (a change that came in meanwhile keeps its day out of date)."""
    chosen = sorted(built)
    conn.execute(day_totals.delete().where(day_totals.c.day.in_(chosen)))
    rows = [
        {"day": d, "dim": dim, "key": key[:120], "kg": kg, "n": int(n)}
        for d in chosen
        for (dim, key), (kg, n) in sorted(totals.get(d, {}).items())
    ]
    if rows:
        conn.execute(day_totals.insert(), rows)
    conn.execute(
        _built(conn),
        [
            {"day": d, "generation": built[d], "built_generation": built[d], "version": version, "built_at": at}
            for d in chosen
        ],
    )


def totals_between(conn: Connection, first: str, last: str) -> dict[str, dict[tuple[str, str], list[float]]]:
    out: dict[str, dict[tuple[str, str], list[float]]] = {}
    stmt = sa.select(day_totals).where(day_totals.c.day >= first, day_totals.c.day <= last)
    for r in conn.execute(stmt):
        out.setdefault(r.day, {})[(r.dim, r.key)] = [r.kg, r.n]
    return out


def days_of_orders(conn: Connection, order_ids: list[str]) -> list[str]:
    """The creation days of these orders (to mark their roll-ups out of date)."""
    out: set[str] = set()
    for i in range(0, len(order_ids), 500):
        stmt = sa.select(orders.c.created_at).where(orders.c.order_id.in_(order_ids[i : i + 500]))
        out.update(r.created_at.date().isoformat() for r in conn.execute(stmt))
    return sorted(out)
