"""Reading factor tables (CSV or JSON) with validation: every bad field is named, and a table
with any error loads nothing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from orderhub.carbon.model import RANGES, DataQuality, Factor, FactorKind, ParcelNetwork, pick
from orderhub.core.errors import InvalidInput

REQUIRED = ("kind", "key", "value", "source", "edition")
DEFAULT_TABLE = Path(__file__).parent / "data" / "default_factors.csv"

TRUNK = "road.artic.gt33t.diesel"
LAST_MILE = "road.van.le3_5t.diesel"
DEPOT = "hub.parcel"
PARCEL = "parcel"  # packaging factor per parcel shipped (box, label, handling)


class FactorSet:
    """Every usable factor by kind and key, with the choice rule of ``model.pick``."""

    def __init__(self, rows: list[Factor]) -> None:
        self.rows = rows
        self._by: dict[tuple[FactorKind, str], list[Factor]] = {}
        for f in rows:
            self._by.setdefault((f.kind, f.key), []).append(f)

    def get(self, kind: FactorKind, key: str, *, carrier: str = "", region: str = "") -> Factor | None:
        return pick(self._by.get((kind, key), []), carrier=carrier, region=region)

    def for_item(self, kind: FactorKind, sku: str, category: str) -> Factor | None:
        """A SKU's own factor, else its category's."""
        return self.get(kind, f"sku:{sku}") or self.get(kind, f"category:{category}")

    def network(self, carrier: str = "") -> ParcelNetwork:
        trunk = self.get(FactorKind.transport, TRUNK, carrier=carrier)
        last = self.get(FactorKind.transport, LAST_MILE, carrier=carrier)
        assert trunk is not None and last is not None, "the default table defines trunk and last-mile factors"
        return ParcelNetwork(trunk=trunk, last_mile=last, depot=self.get(FactorKind.hub, DEPOT, carrier=carrier))


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
        if unit and unit != Factor(kind, "x", 1, "", "").unit:
            errors.append(
                {
                    "pointer": f"{base}/unit",
                    "detail": f"{kind.value} factors are in {Factor(kind, 'x', 1, '', '').unit}, not {unit}",
                }
            )
        value = _number(row.get("value"), f"{base}/value", errors, required=True)
        ttw = _number(row.get("ttw"), f"{base}/ttw", errors, required=False)
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
    """The table shipped with OrderHub (public sources, one cited per row)."""
    return parse_csv(DEFAULT_TABLE.read_text())
