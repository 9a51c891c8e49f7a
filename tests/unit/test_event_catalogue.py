"""The event catalogue is generated from the typed events and the docs page is current."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orderhub.app  # noqa: F401  (defines every context's events)
from orderhub.bus import catalogue
from orderhub.core.events import EVENT_TYPES, DomainEvent
from orderhub.orders import events as ev

DOCS = Path(__file__).parents[2] / "docs" / "events.md"


def test_docs_events_md_is_the_generated_catalogue() -> None:
    assert DOCS.read_text() == catalogue.markdown(), "run: orderhub events --markdown > docs/events.md"


def test_every_order_event_is_in_the_catalogue_with_wire_names() -> None:
    types = {entry["type"]: entry for entry in catalogue.catalogue()}
    assert {"order.captured", "order.status_changed", "order.return_received"} <= set(types)
    status = types["order.status_changed"]["schema"]
    assert set(status["properties"]) == {"from", "to", "reason"}
    assert status["$id"] == "/orderhub/events/order.status_changed/v1"
    assert set(types) == set(EVENT_TYPES)


def test_an_event_travels_as_a_cloudevent_and_comes_back_equal() -> None:
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    event = DomainEvent.of(
        ev.OrderStatusChanged(from_="paid", to="allocated"), aggregate_id="ord_1", actor="ops", occurred_at=at
    )
    doc = event.as_cloudevent()
    assert doc["specversion"] == "1.0"
    assert doc["subject"] == "ord_1"
    assert doc["type"] == "order.status_changed"
    assert doc["data"] == {"from": "paid", "to": "allocated", "reason": ""}
    assert DomainEvent.from_cloudevent(doc) == event
