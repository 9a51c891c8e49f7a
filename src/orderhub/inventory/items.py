"""The item master's use cases: create, update, read, bulk CSV import, Shopify products, and
placeholder items for SKUs first seen on an order (flagged for review, weight unknown)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import Connection, Engine

from orderhub.core.errors import Conflict, InvalidInput, NotFound
from orderhub.core.money import Money
from orderhub.inventory import reservations, store
from orderhub.inventory.model import Item
from orderhub.platform.db import unit_of_work

#: The CSV import's columns, in the order of the template; only ``sku`` and ``name`` are required.
CSV_COLUMNS = (
    "sku", "name", "category", "weight_g", "length_mm", "width_mm", "height_mm",
    "cost", "price", "currency", "barcode", "co2e_kg_per_unit",
)  # fmt: skip
MAX_IMPORT_ROWS = 50_000
_INTS = ("weight_g", "length_mm", "width_mm", "height_mm")


def get_item(engine: Engine, *, sku: str) -> Item:
    """One item by SKU, or NotFound ``item_not_found``."""
    with unit_of_work(engine, write=False) as conn:
        found = store.list_items(conn, skus=[sku])
    if not found:
        raise NotFound(f"no item {sku}", code="item_not_found", sku=sku)
    return found[0]


def get_item_list(engine: Engine, *, needs_review: bool | None = None, search: str = "") -> list[Item]:
    """Items by SKU, optionally only those awaiting review or matching ``search`` (SKU or name)."""
    with unit_of_work(engine, write=False) as conn:
        return store.list_items(conn, needs_review=needs_review, search=search.strip())


def put_items(engine: Engine, *, items: list[Item]) -> None:
    """Create or replace items by SKU in one transaction (idempotent). A saved item is complete
    by definition, so its review flag is cleared unless the caller set it."""
    with unit_of_work(engine) as conn:
        store.upsert_items(conn, items)
    reservations.forget_cached()


def item_from_fields(fields: dict[str, str], *, prefix: str = "") -> Item:
    """An item from text fields (a CSV row, a form); InvalidInput lists every bad field, with
    ``prefix`` before each pointer (``/line/7``)."""
    errors: list[dict[str, str]] = []

    def bad(name: str, detail: str) -> None:
        errors.append({"pointer": f"{prefix}/{name}", "detail": detail})

    values: dict[str, Any] = {}
    for name in ("sku", "name"):
        values[name] = (fields.get(name) or "").strip()
        if not values[name]:
            bad(name, "required")
    if len(values["sku"]) > 64:
        bad("sku", "at most 64 characters")
    currency = (fields.get("currency") or "EUR").strip().upper()
    for name in _INTS:
        raw = (fields.get(name) or "").strip()
        values[name] = None
        if raw:
            if not raw.isdigit() or not 0 < int(raw) <= 10_000_000:
                bad(name, "a whole number from 1 to 10000000")
            else:
                values[name] = int(raw)
    for name in ("cost", "price"):
        raw = (fields.get(name) or "0").strip()
        try:
            values[f"{name}_minor"] = Money.parse(raw, currency).minor
        except ValueError as exc:
            bad(name, str(exc))
    raw = (fields.get("co2e_kg_per_unit") or "").strip()
    values["co2e_kg_per_unit"] = None
    if raw:
        try:
            values["co2e_kg_per_unit"] = float(raw)
            if not 0 <= values["co2e_kg_per_unit"] <= 100_000:
                raise ValueError
        except ValueError:
            bad("co2e_kg_per_unit", "a number of kg from 0 to 100000")
    if errors:
        raise InvalidInput(f"{len(errors)} bad field(s)", errors=errors)
    return Item(
        sku=values["sku"],
        name=values["name"][:300],
        category=(fields.get("category") or "").strip()[:60],
        weight_g=values["weight_g"],
        price_minor=values["price_minor"],
        cost_minor=values["cost_minor"],
        currency=currency,
        length_mm=values["length_mm"],
        width_mm=values["width_mm"],
        height_mm=values["height_mm"],
        barcode=(fields.get("barcode") or "").strip()[:64],
        co2e_kg_per_unit=values["co2e_kg_per_unit"],
    )


def import_csv(engine: Engine, *, text: str) -> list[Item]:
    """Create or update every item of a CSV (header row first) — all or nothing: one bad row
    and nothing is written; the error lists each bad field as ``/line/<n>/<column>``."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("sku", "name") if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            f"the header must name {', '.join(missing)}",
            errors=[{"pointer": f"/line/1/{c}", "detail": "column missing"} for c in missing],
        )
    items: list[Item] = []
    errors: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if line > MAX_IMPORT_ROWS + 1:
            raise InvalidInput(f"at most {MAX_IMPORT_ROWS} rows", code="too_many_rows")
        try:
            item = item_from_fields({k: v for k, v in row.items() if k is not None}, prefix=f"/line/{line}")
        except InvalidInput as exc:
            errors.extend(exc.errors)
            continue
        if item.sku in seen:
            errors.append({"pointer": f"/line/{line}/sku", "detail": f"repeats line {seen[item.sku]}"})
        seen[item.sku] = line
        items.append(item)
    if errors:
        raise InvalidInput(f"{len(errors)} bad field(s); nothing imported", errors=errors)
    put_items(engine, items=items)
    return items


_GRAMS = {"g": 1.0, "kg": 1000.0, "lb": 453.59237, "oz": 28.349523125}


def items_from_shopify_product(product: dict[str, Any], *, currency: str = "EUR") -> list[Item]:
    """One item per variant of a Shopify product (``{"product": {...}}`` or the product itself);
    a variant without a SKU is refused by pointer, since an item is known by its SKU."""
    product = product.get("product", product)
    variants = product.get("variants") or []
    errors = [
        {"pointer": f"/product/variants/{i}/sku", "detail": "a variant needs a SKU"}
        for i, v in enumerate(variants)
        if not str(v.get("sku") or "").strip()
    ]
    if not variants:
        errors.append({"pointer": "/product/variants", "detail": "a product needs at least one variant"})
    if errors:
        raise InvalidInput("the product cannot become items", errors=errors)
    out = []
    for i, v in enumerate(variants):
        title = product.get("title") or ""
        variant = v.get("title") or ""
        grams = v.get("grams")
        if grams is None and v.get("weight") is not None:
            grams = float(v["weight"]) * _GRAMS.get(str(v.get("weight_unit") or "g"), 1.0)
        fields = {
            "sku": str(v["sku"]).strip(),
            "name": title if variant in ("", "Default Title") else f"{title} {variant}",
            "category": product.get("product_type") or "",
            "weight_g": str(round(grams)) if grams else "",
            "price": str(v.get("price") or "0"),
            "cost": str(v.get("cost") or "0"),
            "currency": currency,
            "barcode": str(v.get("barcode") or ""),
        }
        out.append(item_from_fields(fields, prefix=f"/product/variants/{i}"))
    return out


def add_placeholders(conn: Connection, lines: list[tuple[str, str]]) -> list[str]:
    """For each ``(sku, name)`` of an order whose SKU the item master lacks, a placeholder item:
    weight unknown, flagged ``needs_review`` for a person to complete. The SKUs added."""
    rows = [
        Item(sku=sku, name=name[:300], category="", weight_g=None, price_minor=0, cost_minor=0, needs_review=True)
        for sku, name in dict(lines).items()
    ]
    added = store.insert_missing_items(conn, rows) if rows else []
    if added:
        reservations.forget_cached()
    return added


def create_item(engine: Engine, *, item: Item) -> Item:
    """Create a new item; Conflict ``item_exists`` if the SKU is taken (nothing changes)."""
    with unit_of_work(engine) as conn:
        if not store.insert_missing_items(conn, [item]):
            raise Conflict(f"item {item.sku} exists: PUT /api/v1/items/{item.sku} replaces it", code="item_exists")
    reservations.forget_cached()
    return item
