"""What each sales channel sends for a simulated order, in its own native format.

Shopify (REST Admin order, as its ``orders/create`` webhook sends it), WooCommerce (REST v3
order), the store POS sale and the social-commerce order (OrderHub's own formats, see
docs/channels.md) and the web store's canonical order. The shapes follow the samples in
``demo/samples/``; only the fields the adapters read are filled.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderhub.demo import Customer
from orderhub.inventory.service import Item

#: Addresses outside the EU customs union: their parcels clear customs on the way.
ABROAD = [
    ("Zürich", "ZH", "CH", 47.3769, 8.5417, "8001"),
    ("Basel", "BS", "CH", 47.5596, 7.5886, "4051"),
    ("London", "LND", "GB", 51.5072, -0.1276, "EC1A 1BB"),
    ("Oslo", "OS", "NO", 59.9139, 10.7522, "0150"),
]


@dataclass(slots=True)
class Sale:
    """One simulated order before it is sent: who, where, what, how it is handed over."""

    number: int
    channel: str
    customer: Customer
    items: list[tuple[Item, int]]
    paid: bool
    placed_at: datetime
    handover: str = "ship"  # ship, pickup (collect at a store) or in_store (taken at the till)
    store: str = ""  # the store of a POS sale
    city: str = ""
    region: str = ""
    country: str = "DE"
    postal_code: str = ""
    lat: float = 0.0
    lon: float = 0.0
    tags: list[str] = field(default_factory=list)

    @property
    def is_cross_border(self) -> bool:
        return self.country != "DE"

    @property
    def subtotal_minor(self) -> int:
        return sum(item.price_minor * qty for item, qty in self.items)

    @property
    def shipping_minor(self) -> int:
        return 0 if self.handover != "ship" or self.subtotal_minor >= 5000 else 495

    @property
    def street(self) -> str:
        return f"Hauptstraße {self.number % 180 + 1}"


def address_sale(sale: Sale, rng: random.Random, *, abroad_share: float) -> None:
    """Where the sale goes: the customer's home, now and then an address abroad."""
    c = sale.customer
    sale.city, sale.region, sale.country, sale.lat, sale.lon = c.city, c.region, "DE", c.lat, c.lon
    sale.postal_code = f"{10000 + (sale.number * 7919) % 89999}"
    if sale.handover == "ship" and sale.channel != "pos" and rng.random() < abroad_share:
        city, region, country, lat, lon, postcode = rng.choice(ABROAD)
        sale.city, sale.region, sale.country, sale.postal_code = city, region, country, postcode
        sale.lat, sale.lon = round(lat + rng.gauss(0, 0.02), 5), round(lon + rng.gauss(0, 0.03), 5)


def _money(minor: int) -> str:
    return f"{minor / 100:.2f}"


def _names(c: Customer) -> tuple[str, str]:
    first, _, last = c.name.partition(" ")
    return first, last


def shopify(sale: Sale) -> dict[str, Any]:
    c = sale.customer
    first, last = _names(c)
    address = {
        "first_name": first,
        "last_name": last,
        "name": c.name,
        "address1": sale.street,
        "city": sale.city,
        "zip": sale.postal_code,
        "province_code": sale.region,
        "country_code": sale.country,
        "latitude": sale.lat,
        "longitude": sale.lon,
    }
    total = sale.subtotal_minor + sale.shipping_minor
    return {
        "id": 7_000_000_000_000 + sale.number,
        "name": f"#{sale.number}",
        "email": c.email,
        "created_at": sale.placed_at.isoformat(),
        "currency": "EUR",
        "financial_status": "paid" if sale.paid else "pending",
        "total_price": _money(total),
        "total_discounts": "0.00",
        "total_tax": "0.00",
        "taxes_included": True,
        "tags": ", ".join(sale.tags),
        "line_items": [
            {
                "id": 90_000_000_000_000 + sale.number * 10 + i,
                "sku": item.sku,
                "title": item.name,
                "quantity": qty,
                "price": _money(item.price_minor),
            }
            for i, (item, qty) in enumerate(sale.items)
        ],
        "shipping_lines": [{"title": "Standard", "price": _money(sale.shipping_minor)}],
        "shipping_address": address,
        "billing_address": address,
        "customer": {
            "id": 6_000_000_000_000 + zlib.crc32(c.email.encode()) % 1_000_000,
            "email": c.email,
            "first_name": first,
            "last_name": last,
            "tags": "VIP" if c.tier == "vip" else "",
        },
    }


def woocommerce(sale: Sale) -> dict[str, Any]:
    c = sale.customer
    first, last = _names(c)
    address = {
        "first_name": first,
        "last_name": last,
        "address_1": sale.street,
        "city": sale.city,
        "state": sale.region,
        "postcode": sale.postal_code,
        "country": sale.country,
    }
    return {
        "id": 800_000 + sale.number,
        "number": str(800_000 + sale.number),
        "status": "processing" if sale.paid else "pending",
        "currency": "EUR",
        "date_created_gmt": sale.placed_at.replace(tzinfo=None).isoformat(timespec="seconds"),
        "prices_include_tax": True,
        "discount_total": "0.00",
        "shipping_total": _money(sale.shipping_minor),
        "total_tax": "0.00",
        "total": _money(sale.subtotal_minor + sale.shipping_minor),
        "billing": {**address, "email": c.email},
        "shipping": address,
        "line_items": [
            {
                "id": sale.number * 10 + i,
                "name": item.name,
                "sku": item.sku,
                "quantity": qty,
                "subtotal": _money(item.price_minor * qty),
                "total": _money(item.price_minor * qty),
            }
            for i, (item, qty) in enumerate(sale.items)
        ],
    }


def pos(sale: Sale) -> dict[str, Any]:
    c = sale.customer
    handover = {"in_store": "taken", "pickup": "collect_later", "ship": "deliver"}[sale.handover]
    body: dict[str, Any] = {
        "store_id": sale.store,
        "till": str(1 + sale.number % 4),
        "cashier": "sim",
        "sale_id": f"R-{sale.number:08d}",
        "sold_at": sale.placed_at.isoformat(),
        "currency": "EUR",
        "customer": {"loyalty_id": f"L-{sale.number % 99991}", "email": c.email, "name": c.name, "tier": c.tier},
        "lines": [
            {"sku": item.sku, "qty": qty, "unit_price": _money(item.price_minor), "description": item.name}
            for item, qty in sale.items
        ],
        "payment": {"method": "card", "amount": _money(sale.subtotal_minor), "status": "captured"},
        "handover": handover,
    }
    if handover == "deliver":
        body["delivery_address"] = {
            "name": c.name,
            "line1": sale.street,
            "city": sale.city,
            "postal_code": sale.postal_code,
            "country": sale.country,
            "lat": sale.lat,
            "lon": sale.lon,
        }
    return body


def social(sale: Sale) -> dict[str, Any]:
    c = sale.customer
    platform = "livestream" if sale.number % 5 < 3 else "mini_program"
    return {
        "platform": platform,
        "order_sn": f"SIM{sale.number:012d}",
        "room_id": f"room-{7700 + sale.number % 12}" if platform == "livestream" else "",
        "created_ts": int(sale.placed_at.timestamp()),
        "currency": "EUR",
        "buyer": {"open_id": f"u_{zlib.crc32(c.email.encode()) % 16**6:06x}", "nickname": c.name, "email": c.email},
        "receiver": {
            "name": c.name,
            "country": sale.country,
            "province": sale.region,
            "city": sale.city,
            "detail": sale.street,
            "postcode": sale.postal_code,
            "lat": sale.lat,
            "lng": sale.lon,
        },
        "items": [
            {"item_code": item.sku, "title": item.name, "count": qty, "price_minor": item.price_minor}
            for item, qty in sale.items
        ],
        "freight_minor": sale.shipping_minor,
        "discount_minor": 0,
        "pay": {"status": "PAID" if sale.paid else "UNPAID"},
    }


def web(sale: Sale) -> dict[str, Any]:
    """The brand's own web store: the canonical order (``POST /api/v1/orders``)."""
    c = sale.customer
    return {
        "channel": "web",
        "external_ref": f"WEB-{sale.number}",
        "currency": "EUR",
        "placed_at": sale.placed_at.isoformat(),
        "customer": {"email": c.email, "name": c.name, "tier": c.tier},
        "shipping_address": {
            "name": c.name,
            "line1": sale.street,
            "city": sale.city,
            "region": sale.region,
            "country": sale.country,
            "postal_code": sale.postal_code,
            "lat": sale.lat,
            "lon": sale.lon,
        },
        "lines": [
            {"sku": item.sku, "name": item.name, "quantity": qty, "unit_price": _money(item.price_minor)}
            for item, qty in sale.items
        ],
        "shipping_total": _money(sale.shipping_minor),
        "payment_status": "paid" if sale.paid else "pending",
        "tags": sale.tags,
    }


BUILDERS = {"shopify": shopify, "woocommerce": woocommerce, "pos": pos, "social": social, "web": web}


def request_for(sale: Sale) -> tuple[str, dict[str, Any]]:
    """The path to post the sale to, and its body."""
    body = BUILDERS[sale.channel](sale)
    path = "/api/v1/orders" if sale.channel == "web" else f"/api/v1/channels/{sale.channel}/orders"
    return path, body
