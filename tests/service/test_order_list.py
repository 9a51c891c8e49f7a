"""The orders list through its services on SQLite and PostgreSQL: order numbers, sorts with
their pages, counts, the built-in views, saved views, bulk actions and the CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from orderhub.core.errors import InvalidInput, NotFound
from orderhub.orders import browsing, capture, listing, service
from tests.conftest import put_stock

BASE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def order(engine, ref, *, channel="web", price="10.00", paid=False, hours=0, tags=(), name="Ann Lee", **extra):
    doc = {
        "channel": channel,
        "currency": "EUR",
        "external_ref": ref,
        "customer": {"email": f"{ref.lower()}@example.com", "name": name},
        "shipping_address": {"city": "Leipzig", "postal_code": "04109", "country": "DE"},
        "lines": [{"sku": extra.pop("sku", "A-1"), "quantity": 1, "unit_price": price}],
        "payment_status": "paid" if paid else "pending",
        "tags": list(tags),
        "placed_at": (BASE + timedelta(hours=hours)).isoformat(),
        **extra,
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def ids_of(rows):
    return [r["id"] for r in rows]


def everything(engine, **kw):
    return browsing.get_page(engine, where=listing.make_filter(**kw), sort=listing.parse_sort(None), per_page=500)


@pytest.fixture
def six(engine):
    """Six orders: totals with a tie, two channels, statuses awaiting_payment and paid."""
    specs = [
        ("1001", "web", "30.00", False),
        ("1002", "shopify", "10.00", True),
        ("1010", "web", "30.00", True),
        ("2001", "shopify", "5.00", False),
        ("2002", "web", "99.00", True),
        ("A-7", "web", "10.00", False),
    ]
    return [order(engine, ref, channel=ch, price=p, paid=paid, hours=i) for i, (ref, ch, p, paid) in enumerate(specs)]


@pytest.mark.parametrize("sort", ["placed", "-placed", "total", "-total", "status", "-status", "number", "-channel"])
def test_every_sort_is_total_and_its_cursor_pages_walk_it_without_gaps_or_repeats(engine, six, sort):
    with engine.connect() as conn:
        key = {"placed": "created_at", "total": "total_minor", "status": "status", "channel": "channel"}
        rows = conn.execute(sa.text("SELECT * FROM orders")).mappings().all()
    name = sort.lstrip("-")
    column = key.get(name, "external_ref")
    expected = sorted(rows, key=lambda r: (r[column], r["id"]), reverse=sort.startswith("-"))
    walked, cursor = [], None
    while True:
        page = service.get_all(engine, sort=sort, cursor=cursor, limit=2)
        walked += ids_of(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert walked == [r["id"] for r in expected]
    numbered = browsing.get_page(engine, where=listing.make_filter(), sort=listing.parse_sort(sort), page=2, per_page=4)
    assert ids_of(numbered.items) == walked[4:]
    assert (numbered.total, numbered.page, numbered.pages) == (6, 2, 2)


def test_totals_sort_by_amount_not_text_and_ties_break_on_the_id(engine, six):
    page = service.get_all(engine, sort="-total", limit=10)
    assert [r["external_ref"] for r in page.items][:1] == ["2002"]
    assert [r["total_minor"] for r in page.items] == [9900, 3000, 3000, 1000, 1000, 500]
    tie = [r["id"] for r in page.items if r["total_minor"] == 3000]
    assert tie == sorted(tie, reverse=True)


def test_a_page_past_the_end_answers_the_last_page_and_the_count_follows_the_filter(engine, six):
    where = listing.make_filter(channel=["web"])
    last = browsing.get_page(engine, where=where, sort=listing.parse_sort("placed"), page=99, per_page=3)
    assert (last.total, last.page, last.pages) == (4, 2, 2)
    assert [r["external_ref"] for r in last.items] == ["A-7"]
    assert browsing.count(engine, where=listing.make_filter(status=["paid"])) == 3
    assert browsing.count(engine, where=listing.make_filter()) == 6


def test_order_numbers_match_exactly_by_prefix_and_by_id(engine, six):
    def numbers(value):
        return sorted(r["external_ref"] for r in service.get_all(engine, number=value).items)

    assert numbers("1001") == ["1001"]
    assert numbers("#1001") == ["1001"]
    assert numbers("100*") == ["1001", "1002"]
    assert numbers("10*") == ["1001", "1002", "1010"]
    assert numbers("1") == []  # exact unless it ends with *
    assert numbers(six[3]) == ["2001"]  # the internal id
    assert numbers("A-*") == ["A-7"]
    assert numbers("a-*") == []  # order numbers are case-sensitive, like the channels'
    assert numbers("%*") == [] and numbers("_00*") == []  # wildcards of LIKE are plain characters


def test_find_by_number_tells_one_from_several_across_channels(engine, six):
    order(engine, "1001", channel="shopify", hours=9)
    assert [r["channel"] for r in browsing.find_by_number(engine, number="1010")] == ["web"]
    assert sorted(r["channel"] for r in browsing.find_by_number(engine, number="1001")) == ["shopify", "web"]
    assert browsing.find_by_number(engine, number="nope") == []
    assert browsing.find_in_channel(engine, channel="shopify", number="1001") != six[0]
    assert browsing.find_in_channel(engine, channel="web", number="1001") == six[0]
    with pytest.raises(NotFound) as err:
        browsing.find_in_channel(engine, channel="pos", number="1001")
    assert err.value.code == "order_not_found"


def test_unknown_status_view_sort_and_foreign_cursors_are_refused_by_parameter(engine, six):
    cases = [({"status": ["lost"]}, "status"), ({"view": "urgent"}, "view"), ({"sort": "price"}, "sort")]
    for kw, parameter in cases:
        with pytest.raises(InvalidInput) as err:
            service.get_all(engine, **kw)
        assert err.value.errors[0]["parameter"] == parameter
    cursor = service.get_all(engine, sort="total", limit=1).next_cursor
    with pytest.raises(InvalidInput) as err:
        service.get_all(engine, sort="-placed", cursor=cursor)
    assert err.value.errors[0]["parameter"] == "cursor"
    with pytest.raises(InvalidInput):
        service.get_all(engine, cursor="bm90IGpzb24=")


def test_built_in_views(engine):
    put_stock(engine, {("DC-1", "A-1"): 50, ("DC-1", "GONE"): 0})
    unpaid = order(engine, "U1")
    paid = order(engine, "P1", paid=True)
    held = order(engine, "H1", paid=True)
    service.hold(engine, order_id=held, actor="t", reason="fraud check")
    cancelled = order(engine, "C1")
    service.cancel(engine, order_id=cancelled, actor="t", reason="x")
    back = order(engine, "B1", paid=True, sku="GONE")
    now = datetime.now(UTC)
    late = order(engine, "L1", paid=True, promise_days=2, hours=0, placed_at=(now - timedelta(days=3)).isoformat())
    on_time = order(engine, "L2", paid=True, promise_days=5, placed_at=(now - timedelta(days=3)).isoformat())
    tagged = order(engine, "T1", tags=["payment-failed"])
    other_tag = order(engine, "T2", tags=["gift"])

    def view(name):
        return set(ids_of(everything(engine, view=name).items))

    assert view("awaiting_payment") == {unpaid, tagged, other_tag}
    assert view("unfulfilled") == {paid, held, back, late, on_time}
    assert view("on_hold") == {held}
    assert view("late") == {late}
    assert view("backordered") == {back}
    assert view("exceptions") == {held, back, late, tagged}
    assert on_time not in view("exceptions") and cancelled not in view("exceptions")
    assert everything(engine, view="late").total == 1


def test_saved_views_are_per_user_replaced_by_name_and_deleted_only_by_their_owner(engine):
    first = browsing.save_view(engine, user_id="u1", name="  Late  web ", query="?view=late&channel=web")
    browsing.save_view(engine, user_id="u2", name="Late web", query="view=late")
    again = browsing.save_view(engine, user_id="u1", name="Late web", query="view=late&sort=-total")
    assert again == first
    [mine] = browsing.get_views(engine, user_id="u1")
    assert (mine["name"], mine["query"]) == ("Late web", "view=late&sort=-total")
    with pytest.raises(NotFound):
        browsing.delete_view(engine, user_id="u2", view_id=first)
    assert len(browsing.get_views(engine, user_id="u1")) == 1
    browsing.delete_view(engine, user_id="u1", view_id=first)
    assert browsing.get_views(engine, user_id="u1") == []
    assert [v["name"] for v in browsing.get_views(engine, user_id="u2")] == ["Late web"]
    with pytest.raises(InvalidInput) as err:
        browsing.save_view(engine, user_id="u1", name="   ", query="view=late")
    assert err.value.errors[0]["pointer"] == "/name"


def test_bulk_hold_release_cancel_run_the_order_operations_and_report_each_order(engine):
    a, b, c = order(engine, "1"), order(engine, "2", paid=True), order(engine, "3")
    service.cancel(engine, order_id=c, actor="t", reason="x")
    held = browsing.act_on_many(engine, action="hold", order_ids=[a, b, c, a, "ord_nope"], actor="user:ops")
    assert [(o.order_number, o.done, o.status) for o in held] == [
        ("1", True, "on_hold"),
        ("2", True, "on_hold"),
        ("3", False, "cancelled"),
        ("", False, ""),
    ]
    assert "allowed next: refunded" in held[2].detail
    assert held[3].detail == "no order ord_nope"
    events = [e for e in service.get(engine, order_id=a).events if e["type"] == "order.status_changed"]
    assert events[-1]["actor"] == "user:ops" and events[-1]["data"]["to"] == "on_hold"
    released = browsing.act_on_many(engine, action="release", order_ids=[a], actor="user:ops")
    assert released[0].done and service.get(engine, order_id=a).order.status.value == "awaiting_payment"
    cancelled = browsing.act_on_many(engine, action="cancel", order_ids=[a, b], actor="user:ops", reason="fraud")
    assert [o.done for o in cancelled] == [True, True]
    assert service.get(engine, order_id=b).order.status.value == "cancelled"
    with pytest.raises(InvalidInput):
        browsing.act_on_many(engine, action="ship", order_ids=[a], actor="user:ops")
    with pytest.raises(InvalidInput):
        browsing.act_on_many(engine, action="hold", order_ids=[], actor="user:ops")


def test_export_writes_every_matching_row_in_the_sort_order_in_batches(engine, six, monkeypatch):
    monkeypatch.setattr(browsing, "EXPORT_BATCH", 2)
    order(engine, "=HYPERLINK(1)", name="+cmd", hours=20)
    chunks = list(
        browsing.export_csv(engine, where=listing.make_filter(channel=["web"]), sort=listing.parse_sort("-total"))
    )
    assert len(chunks) == 1 + 3  # header, then 5 rows in batches of 2
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    # ties on the total: the later id first (descending), as the list pages them
    assert [r["order_number"] for r in rows] == ["2002", "1010", "1001", "'=HYPERLINK(1)", "A-7"]
    assert [r["total"] for r in rows] == ["99.00", "30.00", "30.00", "10.00", "10.00"]
    assert {r["channel"] for r in rows} == {"web"}
    formula = next(r for r in rows if r["order_number"].startswith("'"))
    assert formula["customer_name"] == "'+cmd"
    assert rows[0]["placed_at"] == (BASE + timedelta(hours=4)).isoformat()
    assert rows[0]["ship_to_city"] == "Leipzig" and rows[0]["currency"] == "EUR"
    assert list(rows[0]) == browsing.CSV_COLUMNS
