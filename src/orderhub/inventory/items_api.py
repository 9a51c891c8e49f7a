"""The item master over HTTP: ``/api/v1/items`` (JSON, CSV import, Shopify products)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from orderhub.core.errors import InvalidInput
from orderhub.core.money import Money
from orderhub.inventory import service as inventory
from orderhub.platform import problems
from orderhub.platform.web import EngineDep, Operator, Viewer

router = APIRouter(prefix="/api/v1", tags=["items"], responses=problems.READ)

Sku = Annotated[str, Path(min_length=1, max_length=64)]
MAX_CSV_BYTES = 20_000_000


class ItemIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=300)
    category: str = Field(default="", max_length=60)
    weight_g: int | None = Field(default=None, gt=0, le=10_000_000, strict=True, description="empty: not known")
    length_mm: int | None = Field(default=None, gt=0, le=10_000_000, strict=True)
    width_mm: int | None = Field(default=None, gt=0, le=10_000_000, strict=True)
    height_mm: int | None = Field(default=None, gt=0, le=10_000_000, strict=True)
    cost: str = Field(default="0", max_length=40, description='decimal string, e.g. "4.20"')
    price: str = Field(default="0", max_length=40, description='decimal string, e.g. "9.99"')
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    barcode: str = Field(default="", max_length=64)
    co2e_kg_per_unit: float | None = Field(default=None, ge=0, le=100_000, description="the product's own footprint")


class ItemPut(ItemIn):
    sku: str = Field(default="", max_length=64, description="ignored: the path names the SKU")


def _item(body: ItemIn, sku: str | None = None) -> inventory.Item:
    fields = {k: "" if v is None else str(v) for k, v in body.model_dump().items()}
    if sku is not None:
        fields["sku"] = sku
    return inventory.item_from_fields(fields)


def item_json(i: inventory.Item) -> dict[str, Any]:
    """An item as JSON: money as decimal strings; an unknown weight is ``null``, not a guess."""
    return {
        "sku": i.sku,
        "name": i.name,
        "category": i.category,
        "weight_g": i.weight_g,
        "length_mm": i.length_mm,
        "width_mm": i.width_mm,
        "height_mm": i.height_mm,
        "cost": Money(i.cost_minor, i.currency).to_decimal_string(),
        "price": Money(i.price_minor, i.currency).to_decimal_string(),
        "currency": i.currency,
        "barcode": i.barcode,
        "co2e_kg_per_unit": i.co2e_kg_per_unit,
        "needs_review": i.needs_review,
    }


@router.get("/items", summary="The item master (optionally only items awaiting review, or a search)")
def get_items(
    engine: EngineDep,
    _: Viewer,
    needs_review: bool | None = None,
    q: Annotated[str, Query(max_length=100, description="part of a SKU or name")] = "",
) -> dict[str, Any]:
    return {"items": [item_json(i) for i in inventory.get_item_list(engine, needs_review=needs_review, search=q)]}


@router.get("/items/{sku}", responses=problems.FOUND, summary="One item")
def get_item(sku: Sku, engine: EngineDep, _: Viewer) -> dict[str, Any]:
    return item_json(inventory.get_item(engine, sku=sku))


@router.post("/items", responses=problems.WRITE, status_code=201, summary="Create an item (409 if the SKU exists)")
def post_item(body: ItemIn, engine: EngineDep, _: Operator) -> dict[str, Any]:
    return item_json(inventory.create_item(engine, item=_item(body)))


@router.put("/items/{sku}", responses=problems.WRITE, summary="Create or replace an item (clears needs_review)")
def put_item(sku: Sku, body: ItemPut, engine: EngineDep, _: Operator) -> dict[str, Any]:
    item = _item(body, sku)
    inventory.put_items(engine, items=[item])
    return item_json(item)


@router.post(
    "/items/import",
    responses=problems.WRITE,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
    summary="Create or update items from CSV, all or nothing",
)
async def post_items_csv(request: Request, engine: EngineDep, _: Operator) -> dict[str, Any]:
    """Columns: ``sku,name,category,weight_g,length_mm,width_mm,height_mm,cost,price,currency,
    barcode,co2e_kg_per_unit`` (header first; only sku and name required). One bad row and
    nothing is written: 422 lists each bad field as ``/line/<n>/<column>``."""
    raw = await request.body()
    if len(raw) > MAX_CSV_BYTES:
        raise InvalidInput(f"at most {MAX_CSV_BYTES} bytes", code="too_large")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV must be UTF-8", code="not_utf8") from None
    items = await run_in_threadpool(lambda: inventory.import_csv(engine, text=text))
    return {"imported": len(items), "skus": [i.sku for i in items]}


@router.post(
    "/items/shopify",
    responses=problems.WRITE,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
    summary="Create or update one item per variant of a Shopify product",
)
async def post_shopify_product(
    request: Request,
    engine: EngineDep,
    _: Operator,
    currency: Annotated[str, Query(min_length=3, max_length=3)] = "EUR",
) -> dict[str, Any]:
    try:
        doc = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body must be a Shopify product in JSON", code="not_json") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("product", doc), dict):
        raise InvalidInput("the body must be a Shopify product object", errors=[{"pointer": "", "detail": "object"}])
    items = inventory.items_from_shopify_product(doc, currency=currency.upper())
    inventory.put_items(engine, items=items)
    return {"items": [item_json(i) for i in items]}
