"""The UCI "Online Retail" file (a UK online retailer's order lines, Dec 2010 - Dec 2011:
``InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country``) as a
history file: one row per StockCode × Country × day with the units sold and their average
unit price.

Cancellations (``InvoiceNo`` starting with ``C``, negative quantities) are taken off the
demand of their own day for the same StockCode × Country, a day never going below 0: the file
does not say which order a cancellation undoes, and its best-known ones (80,995 and 74,215
units ordered by mistake) were cancelled the same day. Left out, and counted: other lines with
a quantity ≤ 0 (stock corrections), lines with a unit price ≤ 0 (adjustments, not sales), and
codes that are not products (postage ``POST``/``DOT``, manual ``M``, fees, gift vouchers: any
``StockCode`` not starting with a digit).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any


def convert(lines: Iterable[str], counts: Counter[str] | None = None) -> Iterator[dict[str, Any]]:
    """History rows (``date, sku, location, quantity, price``) in (date, sku, location) order;
    ``counts`` gets how many lines were read, kept, netted and left out, and why."""
    counts = counts if counts is not None else Counter()
    days: dict[tuple[str, str, str], list[Decimal]] = {}

    for row in csv.DictReader(lines):
        counts["lines"] += 1
        try:
            quantity = int(row["Quantity"])
            price = Decimal(row["UnitPrice"])
        except (ValueError, InvalidOperation, TypeError):
            counts["unreadable"] += 1
            continue
        code = (row.get("StockCode") or "").strip()
        key = ((row.get("InvoiceDate") or "")[:10], code, (row.get("Country") or "").strip() or "unknown")
        if (row.get("InvoiceNo") or "").startswith("C") and quantity < 0 and code[:1].isdigit():
            days.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])[2] -= quantity
            counts["cancellations (taken off their day)"] += 1
        elif quantity <= 0:
            counts["other quantity ≤ 0 (corrections)"] += 1
        elif price <= 0:
            counts["price 0 (adjustments)"] += 1
        elif not code[:1].isdigit():
            counts["not a product (postage, fees, vouchers)"] += 1
        else:
            acc = days.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
            acc[0] += quantity
            acc[1] += quantity * price
            counts["kept"] += 1
    for (day, sku, location), (units, revenue, cancelled) in sorted(days.items()):
        net = units - cancelled
        if net <= 0:
            if units:
                counts["days cancelled to 0"] += 1
            continue
        yield {
            "date": day,
            "sku": sku,
            "location": location,
            "quantity": int(net),
            "price": str((revenue / units).quantize(Decimal("0.0001"))),
        }


def write(rows: Iterable[dict[str, Any]], out: Any) -> int:
    """Rows as the history file (header and one line per row); the number of rows."""
    writer = csv.DictWriter(out, fieldnames=["date", "sku", "location", "quantity", "price"], lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    return n
