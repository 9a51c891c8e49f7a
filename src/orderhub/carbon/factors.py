"""Reading factor tables (CSV or JSON) with validation: every bad field is named, and a table
with any error loads nothing."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from orderhub.carbon.model import ENERGY_UNITS, RANGES, DataQuality, Factor, FactorKind, pick
from orderhub.carbon.network import Origin, ParcelModel, ParcelNetwork
from orderhub.core.errors import InvalidInput

REQUIRED = ("kind", "key", "value", "source", "edition")
DATA = Path(__file__).parent / "data"
#: The current table (GLEC v3 defaults, DESNZ 2026 for GB, hubs, fuels, rounds) and the older
#: editions that stay usable by naming them (DESNZ 2022–2025, Defra 2011/2012).
DEFAULT_TABLES = (DATA / "default_factors.csv", DATA / "older_editions.csv")

PARCEL = "parcel"  # packaging factor per parcel shipped (box, label)
SORT = "hub.transshipment"  # a carrier's sort centre or depot, per visit
#: The linehaul vehicle class by region: GLEC's EU articulated truck ≤ 40 t for continental
#: Europe, DESNZ's all-artics average for Great Britain.
LINEHAUL = {"EU": "road.artic.le40t.diesel", "GB": "road.artic.avg.diesel"}
DEFAULT_REGION = "EU"
#: The hub type a node of each type is by default (GLEC: a warehouse is > 80 % stored —
#: fulfilment centres and store back rooms alike); a node's own figure is ``hub.site:<id>``.
NODE_HUB = {
    "distribution_centre": "hub.warehouse",
    "store": "hub.warehouse",
    "dark_store": "hub.warehouse",
    "drop_ship_supplier": "hub.warehouse",
}
#: Node types a carrier's collection round visits (a DC loads trailers at its own dock).
COLLECTED = frozenset({"store", "dark_store", "drop_ship_supplier"})
ROUND_AREAS = ("urban", "rural")
ROUND_VEHICLES = ("van.diesel", "van.electric", "cargo_bike")


def region_of(country: str) -> str:
    """The factor region of a route ending in ``country``: ``GB`` (DESNZ); ``EU`` (GLEC's
    European defaults) for continental Europe and, for want of other regions' defaults in the
    shipped table, everywhere else."""
    c = (country or "").strip().upper()
    return "GB" if c in ("GB", "UK") else DEFAULT_REGION


def round_key(kind: str, area: str = "urban", vehicle: str = "van.diesel", service: str = "") -> str:
    """``round.delivery.urban.van.diesel``; a carrier's service: ``round.delivery.service:NAME``."""
    return f"round.{kind}.service:{service}" if service else f"round.{kind}.{area}.{vehicle}"


class FactorSet:
    """Every usable factor by kind and key, with the choice rule of ``model.pick``."""

    def __init__(self, rows: list[Factor]) -> None:
        self.rows = rows
        self._by: dict[tuple[FactorKind, str], list[Factor]] = {}
        for f in rows:
            self._by.setdefault((f.kind, f.key), []).append(f)
        #: what the set holds, in 16 hex digits: roll-ups built with another set are rebuilt
        self.version = hashlib.sha1(
            repr(sorted(tuple(str(v) for v in f.as_dict().values()) for f in rows)).encode()
        ).hexdigest()[:16]
        self._picked: dict[tuple[FactorKind, str, str, str, str], Factor | None] = {}
        self._origins: dict[tuple[str, str], Origin] = {}
        self._networks: dict[tuple[str, str, str, str, str], ParcelNetwork] = {}
        self._models: dict[tuple[str, str, str], ParcelModel] = {}

    def get(
        self, kind: FactorKind, key: str, *, carrier: str = "", region: str = "", edition: str = ""
    ) -> Factor | None:
        """The factor the choice rule picks (remembered: the set does not change)."""
        memo = (kind, key, carrier, region, edition)
        if memo not in self._picked:
            self._picked[memo] = pick(self._by.get((kind, key), []), carrier=carrier, region=region, edition=edition)
        return self._picked[memo]

    def for_item(self, kind: FactorKind, sku: str, category: str) -> Factor | None:
        """A SKU's own factor, else its category's."""
        return self.get(kind, f"sku:{sku}") or self.get(kind, f"category:{category}")

    def round(
        self, kind: str, *, area: str = "urban", vehicle: str = "van.diesel", carrier: str = "", service: str = ""
    ) -> Factor | None:
        """A round's kg per item: the carrier's own figure for its service, else for the round
        type (urban or rural; diesel van, electric van, cargo bike), else the area's diesel van
        round, else the urban diesel van round (the published default)."""
        if service:
            own = self.get(FactorKind.round, round_key(kind, service=service), carrier=carrier)
            if own is not None:
                return own
        for a, v in ((area, vehicle), (area, "van.diesel"), ("urban", vehicle), ("urban", "van.diesel")):
            hit = self.get(FactorKind.round, round_key(kind, a, v), carrier=carrier)
            if hit is not None:
                return hit
        return None

    def network(
        self,
        region: str = DEFAULT_REGION,
        carrier: str = "",
        *,
        area: str = "urban",
        vehicle: str = "van.diesel",
        service: str = "",
    ) -> ParcelNetwork:
        """The parcel network for routes in ``region`` ending in an ``area`` (urban or rural)
        delivered by ``carrier``'s ``service`` when known (cached: the planner asks per order)."""
        cache_key = (region, carrier, area, vehicle, service)
        hit = self._networks.get(cache_key)
        if hit is not None:
            return hit
        linehaul = self.get(FactorKind.transport, LINEHAUL.get(region, LINEHAUL[DEFAULT_REGION]), carrier=carrier)
        linehaul = linehaul or self.get(FactorKind.transport, LINEHAUL[DEFAULT_REGION], carrier=carrier)
        delivery = self.round("delivery", area=area, vehicle=vehicle, carrier=carrier, service=service)
        assert linehaul is not None and delivery is not None, "the default table defines linehaul and rounds"
        net = ParcelNetwork(
            linehaul=linehaul,
            delivery=delivery,
            sort=self.get(FactorKind.hub, SORT, carrier=carrier),
            # the collection round is where the node stands, not the customer: urban (stores)
            collection=self.round("collection", carrier=carrier),
        )
        self._networks[cache_key] = net
        return net

    def parcel_model(self, region: str = DEFAULT_REGION, carrier: str = "", *, area: str = "urban") -> ParcelModel:
        """The network for ``region`` and delivery ``area`` with node origins resolved on first
        use (cached with the set: a loaded table makes a new set)."""
        hit = self._models.get((region, carrier, area))
        if hit is None:
            hit = self._models[(region, carrier, area)] = ParcelModel(
                self.network(region, carrier, area=area), self.origin
            )
        return hit

    def origin(self, node_id: str, node_type: str) -> Origin:
        """A node as a parcel's origin: its own hub figure or its type's default, and whether
        a collection round picks its parcels up."""
        hit = self._origins.get((node_id, node_type))
        if hit is None:
            hub = self.get(FactorKind.hub, f"hub.site:{node_id}") or self.get(
                FactorKind.hub, NODE_HUB.get(node_type, "hub.warehouse")
            )
            hit = self._origins[(node_id, node_type)] = Origin(hub=hub, collected=node_type in COLLECTED)
        return hit


def _number(raw: Any, where: str, errors: list[dict[str, str]], *, required: bool) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        if required:
            errors.append({"pointer": where, "detail": "missing"})
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors.append({"pointer": where, "detail": f"{raw!r} is not a number"})
        return None
    if value != value or value in (float("inf"), float("-inf")):
        errors.append({"pointer": where, "detail": "not a finite number"})
        return None
    return value


def parse_rows(rows: list[dict[str, Any]], *, carrier: str = "") -> list[Factor]:
    """Validate rows (dicts with the CSV columns) into factors, or raise ``InvalidInput``
    listing every problem with a JSON pointer ``/rows/N/field``."""
    errors: list[dict[str, str]] = []
    out: list[Factor] = []
    for i, row in enumerate(rows):
        base = f"/rows/{i}"
        for name in REQUIRED:
            if str(row.get(name) or "").strip() == "":
                errors.append({"pointer": f"{base}/{name}", "detail": "missing"})
        try:
            kind = FactorKind(str(row.get("kind", "")).strip())
        except ValueError:
            errors.append({"pointer": f"{base}/kind", "detail": f"one of {', '.join(FactorKind)}"})
            continue
        unit = str(row.get("unit") or "").strip()
        want = Factor(kind, str(row.get("key") or "x"), 1, "", "").unit
        if unit and unit != want:
            errors.append({"pointer": f"{base}/unit", "detail": f"{kind.value} factors are in {want}, not {unit}"})
        value = _number(row.get("value"), f"{base}/value", errors, required=True)
        ttw = _number(row.get("ttw"), f"{base}/ttw", errors, required=False)
        if kind == FactorKind.energy and str(row.get("key") or "").rsplit("/", 1)[-1] not in ENERGY_UNITS:
            errors.append({"pointer": f"{base}/key", "detail": "an energy key ends with its unit: /l, /kWh or /kg"})
        low, high = RANGES[kind]
        if value is not None and not low <= value <= high:
            errors.append(
                {
                    "pointer": f"{base}/value",
                    "detail": f"{value} is outside the plausible range {low}–{high} for {kind.value}",
                }
            )
        if value is not None and ttw is not None and not 0 <= ttw <= value:
            errors.append(
                {"pointer": f"{base}/ttw", "detail": "tank-to-wheel must be between 0 and the well-to-wheel value"}
            )
        try:
            quality = DataQuality(str(row.get("quality") or "default").strip())
        except ValueError:
            errors.append({"pointer": f"{base}/quality", "detail": f"one of {', '.join(DataQuality)}"})
            continue
        if value is None or any(e["pointer"].startswith(base + "/") for e in errors):
            continue
        out.append(
            Factor(
                kind=kind,
                key=str(row["key"]).strip(),
                value=value,
                ttw=ttw,
                source=str(row["source"]).strip(),
                edition=str(row["edition"]).strip(),
                region=str(row.get("region") or "global").strip(),
                scope=str(row.get("scope") or "WTW").strip(),
                quality=quality,
                carrier=str(row.get("carrier") or carrier).strip(),
                note=str(row.get("note") or "").strip(),
            )
        )
    if errors:
        raise InvalidInput(
            f"factor table rejected, nothing loaded: {len(errors)} problem(s), first {errors[0]['pointer']}: {errors[0]['detail']}",
            code="factor_table_invalid",
            errors=errors[:100],
        )
    return out


def parse_csv(text: str, *, carrier: str = "") -> list[Factor]:
    return parse_rows(list(csv.DictReader(io.StringIO(text))), carrier=carrier)


def parse_json(text: str, *, carrier: str = "") -> list[Factor]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON: {exc}", errors=[{"pointer": "", "detail": str(exc)}]) from None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput(
            'expected a list of factor objects (or {"rows": [...]})',
            errors=[{"pointer": "/rows", "detail": "a list of objects"}],
        )
    return parse_rows(rows, carrier=carrier)


def default_factors() -> list[Factor]:
    """The tables shipped with OrderHub (public sources, one cited per row): the current
    defaults and the older editions (newer editions win unless one is named)."""
    return [f for path in DEFAULT_TABLES for f in parse_csv(path.read_text())]
