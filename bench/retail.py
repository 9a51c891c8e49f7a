"""Orders from the UCI Online Retail data set (/work/shared/data/online-retail; Daqing Chen et
al., 2012; CC BY 4.0): its invoices' SKUs, quantities, prices, customers and countries, moved
to the last year, as canonical order JSON. The first ``LINES`` lines make the basket (the
wholesale invoices run to hundreds). What the data does not say is drawn from ``rng``:
channel, e-mail domain, 15 % unpaid, a delivery promise, campaign tags, 10 % without a street,
5 % billed abroad; the customer's tier is their spend rank in the data.
"""

from __future__ import annotations

import csv
import gzip
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orderhub.core.clock import utcnow

DATA = Path("/work/shared/data/online-retail/online_retail.csv.gz")
LINES = 6
COUNTRIES = {  # the data set's country → ISO code, coordinates (its city: the country's name)
    "United Kingdom": ("GB", 52.5, -1.5), "Germany": ("DE", 51.2, 10.4), "France": ("FR", 46.6, 2.4),
    "EIRE": ("IE", 53.3, -7.7), "Spain": ("ES", 40.2, -3.6), "Netherlands": ("NL", 52.2, 5.5), "Belgium": ("BE", 50.6, 4.6),
    "Switzerland": ("CH", 46.8, 8.2), "Portugal": ("PT", 39.6, -8.0), "Australia": ("AU", -33.9, 151.2),
    "Norway": ("NO", 59.9, 10.7), "Italy": ("IT", 41.9, 12.5), "Channel Islands": ("JE", 49.2, -2.1),
    "Finland": ("FI", 60.2, 24.9), "Cyprus": ("CY", 35.2, 33.4), "Sweden": ("SE", 59.3, 18.1), "Austria": ("AT", 48.2, 16.4),
    "Denmark": ("DK", 55.7, 12.6), "Japan": ("JP", 35.7, 139.7), "Poland": ("PL", 52.2, 21.0), "Israel": ("IL", 32.8, 35.0),
    "USA": ("US", 42.4, -71.1), "Singapore": ("SG", 1.35, 103.8), "Iceland": ("IS", 64.1, -21.9),
    "Canada": ("CA", 43.7, -79.4), "Greece": ("GR", 38.0, 23.7), "Malta": ("MT", 35.9, 14.5),
}  # fmt: skip
GB_REGIONS = {"ENG": 84, "SCT": 8, "WLS": 5, "NIR": 3}
CHANNELS = {"web": 55, "shopify": 20, "amazon": 12, "ebay": 8, "social": 5}
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "btinternet.com", "icloud.com", "web.de", "giftco.uk"]
CAMPAIGNS = ["xmas", "summer-sale", "clearance", "newsletter", "black-friday"]


def read_invoices() -> list[dict[str, Any]]:
    """Sales (not cancellations) with their product lines, oldest first."""
    invoices: dict[str, dict[str, Any]] = {}
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        for ref, sku, _, qty, at, price, customer, country in csv.reader(f):
            if ref.startswith("C") or not sku[:1].isdigit() or int(qty) <= 0 or float(price) <= 0:
                continue  # cancellations, postage, fees (and the header)
            if (inv := invoices.get(ref)) is None:
                when = datetime.strptime(at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                inv = invoices[ref] = {"ref": ref, "at": when, "customer": customer.split(".")[0], "country": country,
                                       "lines": {}}  # fmt: skip
            inv["lines"].setdefault(sku, [0, float(price)])[0] += int(qty)
    return sorted(invoices.values(), key=lambda i: i["at"])


def order_docs(invoices: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Canonical order JSON, one per invoice, dated so that the newest is a week old."""
    spend = Counter[str]()
    for inv in invoices:
        spend[inv["customer"]] += sum(q * p for q, p in inv["lines"].values()) if inv["customer"] else 0
    ranked = [c for c, _ in spend.most_common()]
    tiers = {c: "vip" if i < 0.01 * len(ranked) else "gold" if i < 0.06 * len(ranked) else "silver"
             if i < 0.2 * len(ranked) else "standard" for i, c in enumerate(ranked)}  # fmt: skip
    shift, docs = timedelta(weeks=(utcnow() - invoices[-1]["at"]).days // 7), []
    pick = lambda weights: rng.choices(list(weights), list(weights.values()))[0]  # noqa: E731
    for k, inv in enumerate(invoices):
        iso, lat, lon = COUNTRIES.get(inv["country"], ("", None, None))
        lines, cust = list(inv["lines"].items())[:LINES], inv["customer"]
        tags = [f"campaign:{rng.choice(CAMPAIGNS)}"] if rng.random() < 0.12 else []
        tags += ["high_value"] if sum(q * p for _, (q, p) in lines) > 400 else []
        docs.append({
            "channel": pick(CHANNELS), "external_ref": f"OR-{inv['ref']}", "currency": "GBP",
            "placed_at": (inv["at"] + shift).isoformat(),
            "customer": {"email": f"c{cust}@{DOMAINS[int(cust) % len(DOMAINS)]}" if cust else "",
                         "name": f"Customer {cust}", "tier": tiers.get(cust, "standard")},
            "shipping_address": {
                "line1": "" if rng.random() < 0.1 else f"{k % 200 + 1} High Street", "city": inv["country"] if iso else "",
                "postal_code": f"P{k % 9000 + 1000}", "country": iso, "region": pick(GB_REGIONS) if iso == "GB" else "",
                "lat": lat + rng.uniform(-1, 1) if lat else None, "lon": lon + rng.uniform(-1, 1) if lon else None,
            },
            "billing_address": {"country": rng.choice(["DE", "FR", "US"])} if rng.random() < 0.05 else None,
            "lines": [{"sku": s, "quantity": min(q, 100_000), "unit_price": f"{p:.2f}"} for s, (q, p) in lines],
            "payment_status": "paid" if rng.random() < 0.85 else "pending",
            "promise_days": rng.choice([None, None, 1, 2, 3, 5]), "tags": tags,
        })  # fmt: skip
    return docs
