"""The UK government's conversion factors (DESNZ) read by label, not by column position.

The workbook is published each June with a "flat file" for automatic processing: one factor
per row, labelled by ``Level 1`` … ``Level 4``, ``Column Text``, ``UOM`` and ``GHG/Unit``, its
value under ``GHG Conversion Factor YYYY``. Editions rename rows (2026: "non-refrigerated …
average" HGVs) and reorder columns, so this reader finds the header row by its labels, finds
the factor column by its name (the edition is the year in it), and recognises each freight row
by the words of its labels. Direct (tank-to-wheel) rows under "Freighting goods" pair with the
well-to-tank rows under "WTT- delivery vehs & freight" of the same category into one
well-to-wheel factor per t·km.

Export the flat file (or the "Freighting goods" and "WTT- delivery vehs & freight" rows of
it) as CSV: OrderHub reads CSV only, so that no spreadsheet library is needed (D32).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from orderhub.core.errors import InvalidInput

SOURCE = (
    "UK Government GHG Conversion Factors for Company Reporting (DESNZ), Freighting goods; Open Government Licence v3.0"
)

#: (key, words every one of which the row's labels must hold; ``+refrigerated`` and
#: ``-refrigerated`` ask whether it is a refrigerated row — "non-refrigerated" is not).
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("road.hgv.refrigerated.avg.diesel", ("hgv", "+refrigerated", "all hgvs", "average")),
    ("road.rigid.avg.diesel", ("hgv", "-refrigerated", "all rigids", "average")),
    ("road.artic.avg.diesel", ("hgv", "-refrigerated", "all artics", "average")),
    ("road.hgv.avg.diesel", ("hgv", "-refrigerated", "all hgvs", "average")),
    ("road.van.le3_5t.diesel", ("van", "average (up to 3.5 tonnes)", "diesel")),
    ("road.van.le3_5t.electric", ("van", "average (up to 3.5 tonnes)", "battery electric")),
    ("rail.freight.avg", ("rail", "freight train")),
    ("sea.container.avg", ("container ship", "average")),
    ("air.freight.domestic.rf", ("flight", "domestic", "with rf")),
    ("air.freight.shorthaul.rf", ("flight", "short-haul", "with rf")),
    ("air.freight.longhaul.rf", ("flight", "long-haul", "with rf")),
    ("air.freight.longhaul", ("flight", "long-haul", "without rf")),
)
LABELS = ("level 1", "level 2", "level 3", "level 4", "column text")
_REFRIGERATED = re.compile(r"(?<!non-)(?<!non )refrigerated")


def _norm(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().lower()


def _matches(text: str, words: tuple[str, ...]) -> bool:
    refrigerated = bool(_REFRIGERATED.search(text))
    for word in words:
        if word in ("+refrigerated", "-refrigerated"):
            if refrigerated != (word[0] == "+"):
                return False
        elif word not in text:
            return False
    return True


def key_for(labels: str) -> str | None:
    """The factor key a row's labels name, or None."""
    return next((key for key, words in RULES if _matches(labels, words)), None)


def _header(rows: list[list[str]]) -> tuple[int, dict[str, int], int, str]:
    """The header row's index, the label columns, the factor column and the edition."""
    for i, row in enumerate(rows[:50]):
        names = [_norm(c) for c in row]
        factor = next((j for j, n in enumerate(names) if n.startswith("ghg conversion factor")), None)
        if "level 1" in names and "uom" in names and factor is not None:
            cols = {n: j for j, n in enumerate(names) if n in (*LABELS, "uom", "ghg/unit")}
            year = re.search(r"(19|20)\d\d", names[factor])
            return i, cols, factor, year.group(0) if year else ""
    raise InvalidInput(
        "no DESNZ header row: expected the columns Level 1, UOM and GHG Conversion Factor YYYY",
        code="factor_table_invalid",
        errors=[{"pointer": "", "detail": "a header row with Level 1 … Level 4, Column Text, UOM, GHG/Unit"}],
    )


def parse(text: str, *, edition: str = "") -> tuple[list[dict[str, Any]], list[str]]:
    """Factor rows (the columns ``factors.parse_rows`` takes) for the freight categories found,
    and the labels of the freight rows that matched none (for the caller to report)."""
    rows = list(csv.reader(io.StringIO(text)))
    at, cols, factor_col, year = _header(rows)
    edition = edition or year
    if not edition:
        raise InvalidInput(
            "the edition is not in the factor column's name: give it",
            errors=[{"parameter": "edition", "detail": "YYYY"}],
        )
    direct: dict[str, tuple[float, str]] = {}
    wtt: dict[str, float] = {}
    skipped: list[str] = []
    for row in rows[at + 1 :]:
        named = {name: _norm(row[j]) if j < len(row) else "" for name, j in cols.items()}
        cell = named.get
        level1 = cell("level 1", "")
        is_wtt = level1.startswith("wtt") and ("freight" in level1 or "delivery" in level1)
        if level1 != "freighting goods" and not is_wtt:
            continue
        if cell("uom", "").replace(" ", ".") != "tonne.km" or cell("ghg/unit", "") not in ("kg co2e", ""):
            continue
        labels = " | ".join(cell(n, "") for n in LABELS[1:] if cell(n, ""))
        try:
            value = float(str(row[factor_col]).replace(",", "").strip())
        except (ValueError, IndexError):
            continue
        key = key_for(labels.replace("wtt- ", "").replace("wtt-", ""))
        if key is None:
            skipped.append(labels)
        elif is_wtt:
            wtt[key] = value
        else:
            direct[key] = (value, labels)
    out = []
    for key, (value, labels) in sorted(direct.items()):
        w = wtt.get(key)
        electric = key.endswith(".electric")
        if w is not None:
            wtw, scope, note = value + w, "WTW", f"{labels}: direct {value:.5f} + WTT {w:.5f} kg CO2e/t.km"
        elif electric:
            wtw, scope, note = value, "WTW", f"{labels}: {value:.5f} kg CO2e/t.km for the electricity generated"
        else:
            wtw, scope, note = value, "TTW", f"{labels}: direct {value:.5f} kg CO2e/t.km; no WTT row found"
        out.append(
            {
                "kind": "transport",
                "key": key,
                "value": round(wtw * 1000, 3),
                "ttw": 0.0 if electric else round(value * 1000, 3),
                "source": f"{SOURCE} (read by label)",
                "edition": edition,
                "region": "GB",
                "scope": scope,
                "quality": "default",
                "note": note,
            }
        )
    if not out:
        raise InvalidInput(
            "no freighting-goods row per tonne.km found",
            code="factor_table_invalid",
            errors=[{"pointer": "", "detail": "rows with Level 1 'Freighting goods' and UOM 'tonne.km'"}],
        )
    return out, sorted(set(skipped))
