"""Issue 16's two order bugs: an address edit keeps what it was not told to change, and a bare
status move cannot fake an allocation."""

import json

import pytest

from orderhub.core.errors import Conflict, InvalidInput
from orderhub.orders import capture, service


def located_order(engine, *, paid=True):
    doc = {
        "channel": "web",
        "currency": "EUR",
        "external_ref": "W-ADDR",
        "customer": {"email": "ann@example.com"},
        "shipping_address": {
            "name": "Ann Lee",
            "line1": "Augustusplatz 1",
            "city": "Leipzig",
            "postal_code": "04109",
            "region": "SN",
            "country": "DE",
            "lat": 51.34,
            "lon": 12.38,
        },
        "lines": [{"sku": "A-1", "quantity": 2, "unit_price": "10.00"}],
        "payment_status": "paid" if paid else "pending",
    }
    return capture.receive(engine, adapter="canonical", body=json.dumps(doc).encode(), actor="test").order_id


def test_changing_the_street_keeps_region_and_coordinates(engine):
    oid = located_order(engine)
    service.change_address(engine, order_id=oid, actor="user:ops@x", address={"line1": "Markt 2"})
    a = service.get(engine, order_id=oid).order.shipping_address
    assert (a.line1, a.city, a.postal_code, a.region, a.country) == ("Markt 2", "Leipzig", "04109", "SN", "DE")
    assert (a.lat, a.lon) == (51.34, 12.38)


def test_moving_to_another_city_clears_coordinates_that_no_longer_apply(engine):
    oid = located_order(engine)
    service.change_address(
        engine, order_id=oid, actor="user:ops@x", address={"city": "Dresden", "postal_code": "01067"}
    )
    a = service.get(engine, order_id=oid).order.shipping_address
    assert (a.city, a.region, a.lat, a.lon) == ("Dresden", "SN", None, None)


def test_an_empty_city_is_refused_and_nothing_changes(engine):
    oid = located_order(engine)
    before = service.get(engine, order_id=oid)
    with pytest.raises(InvalidInput) as err:
        service.change_address(engine, order_id=oid, actor="user:ops@x", address={"city": "  "})
    assert err.value.errors == [{"pointer": "/shipping_address/city", "detail": "a city is required"}]
    after = service.get(engine, order_id=oid)
    assert after.order.version == before.order.version
    assert after.order.shipping_address.city == "Leipzig"


def test_a_bare_move_to_allocated_is_refused_and_names_the_allocation_route(engine):
    oid = located_order(engine)
    before = service.get(engine, order_id=oid)
    assert before.order.status.value == "paid"
    with pytest.raises(Conflict) as err:
        service.transition(engine, order_id=oid, to="allocated", actor="user:ops@x")
    assert err.value.code == "allocation_required"
    assert err.value.fields["allocation_route"] == f"/api/v1/orders/{oid}/allocation"
    after = service.get(engine, order_id=oid)
    assert after.order.status.value == "paid" and after.order.fulfilment_orders == []
    assert after.order.version == before.order.version and len(after.events) == len(before.events)


def test_moves_offered_to_people_leave_out_allocated(engine):
    order = service.get(engine, order_id=located_order(engine)).order
    assert [s.value for s in order.allowed_next()] == ["allocated", "on_hold", "cancelled"]
    assert [s.value for s in order.allowed_moves()] == ["on_hold", "cancelled"]
