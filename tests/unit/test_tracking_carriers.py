"""Carrier adapters: EasyPost, AfterShip and DHL documents read into milestones, with each trap of
the published samples (order, offsets, contradicting text, zero-padded codes, nulls, unknown
codes, bad input) tested on variations built here, signatures, and the simulator's builders."""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from orderhub.core.errors import InvalidInput
from orderhub.tracking.carriers import aftership, dhl, easypost, samples
from orderhub.tracking.model import Milestone

M = Milestone
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "tracking"
#: the carriers' published samples, as published (EasyPost's Tracker object, AfterShip's webhook
#: example, DHL's Unified Tracking response), copied here so the tests never skip
PUBLISHED = FIXTURES / "published"


def shared(name: str) -> Any:
    return json.loads((PUBLISHED / name).read_text())


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def milestones(feed: Any) -> list[Milestone | None]:
    return [u.milestone for u in feed.updates]


def pointer_of(error: pytest.ExceptionInfo[InvalidInput]) -> str:
    return error.value.errors[0]["pointer"]


def ep_detail(**over: Any) -> dict[str, Any]:
    detail = {
        "object": "TrackingDetail",
        "message": "Arrived at USPS Regional Facility",
        "status": "in_transit",
        "status_detail": "arrived_at_facility",
        "datetime": "2025-04-11T10:00:00Z",
        "tracking_location": {"city": "HOUSTON", "state": "TX", "country": "US", "zip": "77063"},
    }
    return {**detail, **over}


def ep_tracker(*details: dict[str, Any], **over: Any) -> dict[str, Any]:
    tracker = {
        "id": "trk_1",
        "object": "Tracker",
        "tracking_code": "EZ4000000004",
        "carrier": "USPS",
        "status": details[-1]["status"] if details else "unknown",
        "tracking_details": list(details),
    }
    return {**tracker, **over}


def as_checkpoint(**over: Any) -> dict[str, Any]:
    checkpoint = {
        "slug": "dhl",
        "checkpoint_time": "2025-04-02T09:10:00",
        "tag": "InTransit",
        "subtag": "InTransit_001",
        "message": "Shipment is in transit",
        "city": "Leipzig",
        "country_region": "DEU",
    }
    return {**checkpoint, **over}


def as_webhook(*checkpoints: dict[str, Any], **over: Any) -> dict[str, Any]:
    msg = {"tracking_number": "1234567890", "slug": "dhl", "checkpoints": list(checkpoints), **over}
    return {"event": "tracking_update", "event_id": "e-1", "msg": msg}


def dhl_event(**over: Any) -> dict[str, Any]:
    event = {
        "timestamp": "2025-04-02T09:10:00",
        "location": {"address": {"countryCode": "DE", "postalCode": "04435", "addressLocality": "Leipzig"}},
        "statusCode": "transit",
        "status": "Processed at LEIPZIG - GERMANY",
        "description": "Processed at LEIPZIG - GERMANY",
    }
    return {**event, **over}


def dhl_body(*events: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"shipments": [{"id": "7777777770", "service": "express", "events": list(events), **over}]}


# --- the published samples ---------------------------------------------------------------------


def test_the_published_easypost_tracker_gives_two_label_created_updates_in_time_order() -> None:
    feed = easypost.parse(shared("easypost-tracker-object.json"))

    assert (feed.tracking_number, feed.carrier, feed.service) == ("EZ1000000001", "usps", "First-Class Package Service")
    assert feed.public_url.startswith("https://track.easypost.com/")
    assert feed.estimated_delivery == date(2025, 5, 9)
    assert milestones(feed) == [M.label_created, M.label_created]
    assert [u.occurred_at for u in feed.updates] == [
        datetime(2025, 4, 9, 20, 40, 17, tzinfo=UTC),
        datetime(2025, 4, 10, 9, 17, 17, tzinfo=UTC),
    ]
    last = feed.updates[-1]
    assert (last.source, last.description, last.location) == (
        "easypost",
        "Shipping Label Created",
        "HOUSTON, TX, 77063",
    )
    assert last.detail["status"] == "pre_transit" and last.detail["status_detail"] == "status_update"
    assert last.estimated_delivery == date(2025, 5, 9)
    assert len({u.key for u in feed.updates}) == 2


def test_the_published_aftership_webhook_is_in_transit_read_as_utc_for_want_of_a_place() -> None:
    feed = aftership.parse(shared("aftership-webhook-trimmed.json"))

    [update] = feed.updates
    assert (feed.tracking_number, feed.carrier) == ("0000000000000000", "usps")
    assert update.milestone == M.in_transit
    assert update.occurred_at == datetime(2021, 1, 14, 0, 52, tzinfo=UTC)
    assert update.time_note == "no UTC offset given; place unknown, read as UTC"
    assert update.detail["subtag"] == "InTransit_001"
    assert update.detail["event_id"] == "94dadd60-ed26-46d0-aa52-3ced925a50ff"


def test_the_published_dhl_response_trusts_its_pre_transit_code_over_the_word_delivered() -> None:
    [feed] = dhl.parse(shared("dhl.json"))

    [update] = feed.updates
    assert (feed.tracking_number, feed.carrier, feed.service) == ("7777777770", "dhl", "express")
    assert feed.estimated_delivery == date(2018, 8, 3)
    assert update.milestone == M.label_created
    assert update.detail["contradiction"] == {"text_says": "delivered", "code_says": "label_created"}
    assert update.detail["status"] == "DELIVERED"
    # "2018-03-02T07:53:47" at Amsterdam (CET, UTC+1)
    assert update.occurred_at == datetime(2018, 3, 2, 6, 53, 47, tzinfo=UTC)
    assert "Europe/Amsterdam" in update.time_note
    assert update.country == "NL"


# --- the composed fixtures (used by the API tests and the simulator) ---------------------------


def test_the_easypost_crossborder_fixture_reaches_every_customs_stage_and_the_attempt() -> None:
    feed = easypost.parse(fixture("easypost-event-crossborder.json"))

    assert milestones(feed) == [
        M.label_created,
        M.in_transit,
        M.export_declared,
        M.in_transit,
        M.in_transit,
        M.import_held,
        M.customs_cleared,
        M.out_for_delivery,
        M.delivery_attempted,
    ]
    assert feed.estimated_delivery == date(2025, 3, 7)
    assert feed.updates[-1].detail["event_id"] == "evt_5a9f0c2e7b3d4e1f8a6b9c0d1e2f3a4b"


def test_the_aftership_crossborder_fixture_has_positions_customs_and_local_times() -> None:
    feed = aftership.parse(fixture("aftership-webhook-crossborder.json"))

    assert milestones(feed) == [
        M.label_created,
        M.handed_to_carrier,
        M.export_declared,
        M.in_transit,
        M.in_transit,
        M.import_held,
        M.customs_cleared,
        M.out_for_delivery,
        M.delivered,
    ]
    delivered = feed.updates[-1]
    assert delivered.position is not None and (delivered.position.lat, delivered.position.lon) == (41.8847, -87.6472)
    assert delivered.occurred_at == datetime(2025, 4, 3, 19, 32, tzinfo=UTC)  # 14:32 CDT
    assert (delivered.country, delivered.location) == ("US", "CHICAGO, IL - USA")
    assert feed.updates[4].country == "US"  # from country_iso3 "USA"
    assert feed.estimated_delivery == date(2025, 4, 3)


def test_the_aftership_domestic_fixture_attempts_then_waits_for_pickup() -> None:
    feed = aftership.parse(fixture("aftership-webhook-domestic-attempt.json"))

    assert milestones(feed)[-3:] == [M.out_for_delivery, M.delivery_attempted, M.available_for_pickup]
    attempt = feed.updates[-2]
    assert "America/Denver (from state CO, US)" in attempt.time_note  # state written "Colorado"
    assert attempt.occurred_at == datetime(2025, 5, 16, 19, 6, tzinfo=UTC)


# --- trap: events out of time order ------------------------------------------------------------


def test_easypost_details_out_of_order_give_the_same_timeline_sorted_by_time() -> None:
    event = fixture("easypost-event-crossborder.json")
    shuffled = copy.deepcopy(event)
    details = shuffled["result"]["tracking_details"]
    shuffled["result"]["tracking_details"] = details[4:] + details[::-1][5:]

    assert easypost.parse(shuffled).updates == easypost.parse(event).updates


def test_aftership_checkpoints_out_of_order_are_sorted_by_when_they_happened() -> None:
    body = fixture("aftership-webhook-crossborder.json")
    body["msg"]["checkpoints"].reverse()

    feed = aftership.parse(body)

    assert [u.occurred_at for u in feed.updates] == sorted(u.occurred_at for u in feed.updates)
    assert milestones(feed)[0] == M.label_created and milestones(feed)[-1] == M.delivered


def test_dhl_events_newest_first_are_sorted_oldest_first() -> None:
    body = dhl_body(
        dhl_event(timestamp="2025-04-03T10:00:00", statusCode="delivered", status="Delivered"),
        dhl_event(timestamp="2025-04-02T09:10:00"),
        dhl_event(timestamp="2025-04-01T08:00:00", statusCode="pre-transit", status="Label created"),
    )

    [feed] = dhl.parse(body)

    assert milestones(feed) == [M.label_created, M.in_transit, M.delivered]


# --- trap: timestamps without an offset, in carrier-local time --------------------------------


def test_aftership_local_time_is_read_in_the_checkpoints_country_zone() -> None:
    summer = aftership.parse(as_webhook(as_checkpoint(checkpoint_time="2025-07-02T09:10:00")))
    winter = aftership.parse(as_webhook(as_checkpoint(checkpoint_time="2025-01-02T09:10:00")))

    assert summer.updates[0].occurred_at == datetime(2025, 7, 2, 7, 10, tzinfo=UTC)  # CEST
    assert winter.updates[0].occurred_at == datetime(2025, 1, 2, 8, 10, tzinfo=UTC)  # CET
    assert summer.updates[0].time_note == "no UTC offset given; read as local time in Europe/Berlin (from country DE)"


def test_aftership_time_with_an_offset_is_taken_as_given_and_needs_no_note() -> None:
    feed = aftership.parse(as_webhook(as_checkpoint(checkpoint_time="2025-04-02T09:10:00+08:00", country_region="CHN")))

    assert feed.updates[0].occurred_at == datetime(2025, 4, 2, 1, 10, tzinfo=UTC)
    assert feed.updates[0].time_note == ""


@pytest.mark.parametrize(
    ("fields", "expected_utc_hour", "note_has"),
    [
        ({"country_region": "USA", "state": "CA", "city": "Oakland"}, 16, "America/Los_Angeles (from state CA, US)"),
        ({"country_region": "USA", "state": "Texas"}, 14, "America/Chicago (from state TX, US)"),
        ({"country_region": "USA", "state": None, "city": "Memphis"}, 14, "America/Chicago (from city Memphis, US)"),
        ({"country_iso3": "AUS", "state": "WA", "country_region": None}, 1, "Australia/Perth (from state WA, AU)"),
        ({"country_region": None, "country_name": "Japan"}, 0, "Asia/Tokyo (from country JP)"),
        ({"country_region": "USA", "city": "Smallville", "state": None}, 9, "place unknown, read as UTC"),
        ({"country_region": None, "city": None}, 9, "place unknown, read as UTC"),
    ],
)
def test_aftership_local_time_zone_comes_from_state_city_or_country_else_utc(
    fields: dict[str, Any], expected_utc_hour: int, note_has: str
) -> None:
    feed = aftership.parse(as_webhook(as_checkpoint(checkpoint_time="2025-04-02T09:10:00", **fields)))

    assert feed.updates[0].occurred_at.hour == expected_utc_hour
    assert note_has in feed.updates[0].time_note


def test_a_domestic_shipments_checkpoint_without_a_country_is_read_in_that_country() -> None:
    body = as_webhook(
        as_checkpoint(country_region=None, state="IL", city="Chicago"),
        origin_country_region="USA",
        destination_country_region="USA",
    )

    assert aftership.parse(body).updates[0].occurred_at == datetime(2025, 4, 2, 14, 10, tzinfo=UTC)


def test_a_date_without_a_time_is_midnight_local_and_says_so() -> None:
    feed = aftership.parse(as_webhook(as_checkpoint(checkpoint_time="2025-04-02")))

    assert feed.updates[0].occurred_at == datetime(2025, 4, 1, 22, 0, tzinfo=UTC)
    assert feed.updates[0].time_note.startswith("a date without a time, read as midnight")


def test_easypost_datetime_without_an_offset_is_read_as_utc_as_easypost_documents() -> None:
    feed = easypost.parse(ep_tracker(ep_detail(datetime="2025-04-11T10:00:00")))

    assert feed.updates[0].occurred_at == datetime(2025, 4, 11, 10, 0, tzinfo=UTC)
    assert feed.updates[0].time_note == "no UTC offset given; read as UTC, as the sender documents"


def test_easypost_datetime_with_a_local_offset_is_converted_to_utc() -> None:
    feed = easypost.parse(ep_tracker(ep_detail(datetime="2025-04-11T05:00:00-05:00")))

    assert feed.updates[0].occurred_at == datetime(2025, 4, 11, 10, 0, tzinfo=UTC)
    assert feed.updates[0].occurred_at.utcoffset() == timedelta(0)


def test_dhl_event_timestamp_without_offset_is_local_at_the_event_and_with_z_is_utc() -> None:
    [feed] = dhl.parse(dhl_body(dhl_event(), dhl_event(timestamp="2025-04-02T12:00:00Z", status="Arrived")))

    assert [u.occurred_at for u in feed.updates] == [
        datetime(2025, 4, 2, 7, 10, tzinfo=UTC),
        datetime(2025, 4, 2, 12, 0, tzinfo=UTC),
    ]
    assert [bool(u.time_note) for u in feed.updates] == [True, False]


# --- trap: a status text that contradicts its code ---------------------------------------------


def test_easypost_message_saying_delivered_on_an_in_transit_status_stays_in_transit() -> None:
    feed = easypost.parse(ep_tracker(ep_detail(message="Delivered, In/At Mailbox")))

    [update] = feed.updates
    assert update.milestone == M.in_transit
    assert update.description == "Delivered, In/At Mailbox"
    assert update.detail["contradiction"] == {"text_says": "delivered", "code_says": "in_transit"}


def test_aftership_subtag_against_its_tag_trusts_the_subtag_and_notes_the_tag() -> None:
    feed = aftership.parse(as_webhook(as_checkpoint(tag="InTransit", subtag="Delivered_001", message="Delivered")))

    assert feed.updates[0].milestone == M.delivered
    assert feed.updates[0].detail["contradiction"] == {"tag_says": "in_transit", "subtag_says": "delivered"}


def test_aftership_message_out_for_delivery_on_an_exception_code_stays_an_exception() -> None:
    feed = aftership.parse(
        as_webhook(as_checkpoint(tag="Exception", subtag="Exception_007", message="Out for delivery"))
    )

    assert feed.updates[0].milestone == M.exception
    assert feed.updates[0].detail["contradiction"]["text_says"] == "out_for_delivery"


def test_an_easypost_delivered_status_is_not_undone_by_an_exception_detail() -> None:
    feed = easypost.parse(
        ep_tracker(ep_detail(status="delivered", status_detail="delivery_exception", message="Delivered"))
    )

    assert feed.updates[0].milestone == M.delivered
    assert feed.updates[0].detail["contradiction"] == {"status_detail_says": "exception", "status_says": "delivered"}


def test_a_text_matching_its_code_notes_nothing() -> None:
    feed = aftership.parse(as_webhook(as_checkpoint(tag="Delivered", subtag="Delivered_001", message="Delivered")))

    assert "contradiction" not in feed.updates[0].detail


# --- trap: codes with leading zeros -----------------------------------------------------------


@pytest.mark.parametrize("subtag", ["InTransit_001", "InTransit_1", "intransit_0001", "IN_TRANSIT_001", "1", 1])
def test_aftership_subtags_with_any_padding_are_one_code_with_one_key(subtag: Any) -> None:
    canonical = aftership.parse(as_webhook(as_checkpoint(subtag="InTransit_001"))).updates[0]

    update = aftership.parse(as_webhook(as_checkpoint(subtag=subtag))).updates[0]

    assert update.milestone == M.in_transit
    assert update.key == canonical.key
    assert update.detail["subtag"] == subtag


@pytest.mark.parametrize(
    ("subtag", "milestone"), [("007", M.exception), ("11", M.returned), ("Exception_4", M.import_held)]
)
def test_aftership_numeric_subtags_take_their_tag(subtag: str, milestone: Milestone) -> None:
    update = aftership.parse(as_webhook(as_checkpoint(tag="Exception", subtag=subtag, country_region=None))).updates[0]

    assert update.milestone == milestone


def test_a_numeric_tracking_number_reads_as_its_digits() -> None:
    [feed] = dhl.parse({"shipments": [{"id": 7777777770, "events": [dhl_event()]}]})

    assert feed.tracking_number == "7777777770"


# --- trap: missing and null fields everywhere -------------------------------------------------


def test_easypost_tracker_full_of_nulls_still_reads() -> None:
    tracker = ep_tracker(
        ep_detail(tracking_location=None, message=None, status_detail=None, est_delivery_date=None),
        carrier=None,
        carrier_detail=None,
        public_url=None,
        est_delivery_date=None,
    )

    [update] = easypost.parse(tracker).updates
    assert (update.milestone, update.location, update.country, update.description) == (M.in_transit, "", "", "")


def test_easypost_tracker_without_history_gives_its_own_status_as_one_update() -> None:
    tracker = ep_tracker(status="out_for_delivery", tracking_details=None, updated_at="2025-04-12T07:00:00Z")

    [update] = easypost.parse(tracker).updates
    assert (update.milestone, update.occurred_at) == (M.out_for_delivery, datetime(2025, 4, 12, 7, tzinfo=UTC))


def test_aftership_checkpoint_with_only_a_time_is_in_transit_by_default() -> None:
    body = as_webhook({"checkpoint_time": "2025-04-02T09:10:00Z", "tag": None, "subtag": None, "message": None})

    [update] = aftership.parse(body).updates
    assert update.milestone == M.in_transit
    assert update.detail["unmapped"] is True
    assert update.carrier == "dhl"


def test_aftership_without_checkpoints_is_an_empty_feed_with_the_parcels_facts() -> None:
    feed = aftership.parse(as_webhook(checkpoints=None, expected_delivery="2025-04-05"))

    assert (feed.updates, feed.tracking_number, feed.estimated_delivery) == ([], "1234567890", date(2025, 4, 5))


def test_dhl_shipment_without_events_uses_its_status_and_skips_an_unreadable_estimate() -> None:
    body = {
        "shipments": [
            {"id": "JJD1", "status": dhl_event(statusCode="delivered"), "estimatedTimeOfDelivery": "2017-20-10"}
        ]
    }

    [feed] = dhl.parse(body)

    assert milestones(feed) == [M.delivered]
    assert feed.estimated_delivery is None


# --- trap: unknown codes ------------------------------------------------------------------------


def test_unknown_codes_default_to_in_transit_and_say_they_were_unmapped() -> None:
    ep = easypost.parse(ep_tracker(ep_detail(status="teleported", status_detail="beamed_up"))).updates[0]
    af = aftership.parse(as_webhook(as_checkpoint(tag="Teleported", subtag="Teleported_001"))).updates[0]
    dh = dhl.parse(dhl_body(dhl_event(statusCode="beamed")))[0].updates[0]

    assert [ep.milestone, af.milestone, dh.milestone] == [M.in_transit] * 3
    assert [ep.detail["unmapped"], af.detail["unmapped"], dh.detail["unmapped"]] == [True] * 3


def test_an_unknown_subtag_number_falls_back_to_its_tag() -> None:
    update = aftership.parse(as_webhook(as_checkpoint(tag="AttemptFail", subtag="AttemptFail_042"))).updates[0]

    assert update.milestone == M.delivery_attempted
    assert update.detail["mapped_by"] == "tag"


def test_an_easypost_event_about_something_else_is_an_empty_feed() -> None:
    feed = easypost.parse({"object": "Event", "description": "batch.created", "result": {"object": "Batch", "id": "b"}})

    assert (feed.updates, feed.tracking_number) == ([], "")


# --- bad input: a clear error pointing at the field ---------------------------------------------


@pytest.mark.parametrize("parse", [easypost.parse, aftership.parse, dhl.parse])
@pytest.mark.parametrize("body", [[], "tracking", 42, None])
def test_a_body_that_is_not_an_object_is_refused_at_the_root(parse: Any, body: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        parse(body)

    assert pointer_of(error) == ""


@pytest.mark.parametrize(
    ("parse", "body", "pointer"),
    [
        (
            easypost.parse,
            {"object": "Event", "result": {"object": "Tracker", "tracking_code": None}},
            "/result/tracking_code",
        ),
        (easypost.parse, {"object": "Tracker", "tracking_code": "  "}, "/tracking_code"),
        (aftership.parse, {"event": "tracking_update", "msg": {"slug": "dhl"}}, "/msg/tracking_number"),
        (aftership.parse, {"event": "tracking_update", "msg": "nope"}, "/msg"),
        (dhl.parse, {"shipments": [{"service": "express"}]}, "/shipments/0/id"),
        (dhl.parse, {"status": 404, "title": "No result found"}, "/shipments"),
    ],
)
def test_a_document_without_a_tracking_number_is_refused_at_that_field(parse: Any, body: Any, pointer: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse(body)

    assert pointer_of(error) == pointer


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-40T10:00:00", "", None, "0001-01-01T00:00:00Z"])
def test_an_unreadable_time_is_refused_with_a_pointer_to_it(bad: Any) -> None:
    body = as_webhook(as_checkpoint(), as_checkpoint(checkpoint_time=bad))

    with pytest.raises(InvalidInput) as error:
        aftership.parse(body)

    assert pointer_of(error) == "/msg/checkpoints/1/checkpoint_time"
    assert error.value.code == "invalid_input"


def test_unreadable_times_in_easypost_and_dhl_point_at_their_fields() -> None:
    with pytest.raises(InvalidInput) as ep_error:
        easypost.parse({"object": "Event", "result": ep_tracker(ep_detail(), ep_detail(datetime="soon"))})
    with pytest.raises(InvalidInput) as dhl_error:
        dhl.parse(dhl_body(dhl_event(timestamp="2017-20-10T09:00:00")))

    assert pointer_of(ep_error) == "/result/tracking_details/1/datetime"
    assert pointer_of(dhl_error) == "/shipments/0/events/0/timestamp"


def test_coordinates_off_the_globe_are_refused_and_zero_zero_is_ignored() -> None:
    with pytest.raises(InvalidInput) as error:
        aftership.parse(as_webhook(as_checkpoint(coordinates=[191.0, 7.0])))
    nowhere = aftership.parse(as_webhook(as_checkpoint(coordinates=[0, 0])))

    assert pointer_of(error) == "/msg/checkpoints/0/coordinates"
    assert nowhere.updates[0].position is None


def test_checkpoints_that_are_not_an_array_are_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        aftership.parse(as_webhook(checkpoints={"0": as_checkpoint()}))

    assert pointer_of(error) == "/msg/checkpoints"


# --- a second delivery is recognised ----------------------------------------------------------


def test_a_redelivered_webhook_gives_the_same_keys_and_a_longer_one_only_adds_keys() -> None:
    first = aftership.parse(fixture("aftership-webhook-crossborder.json"))
    again = aftership.parse(fixture("aftership-webhook-crossborder.json"))
    shorter = fixture("aftership-webhook-crossborder.json")
    shorter["msg"]["checkpoints"] = shorter["msg"]["checkpoints"][:4]

    assert [u.key for u in again.updates] == [u.key for u in first.updates]
    assert {u.key for u in aftership.parse(shorter).updates} < {u.key for u in first.updates}
    assert len({u.key for u in first.updates}) == len(first.updates)


def test_easypost_keys_are_the_same_whether_the_tracker_comes_bare_or_in_an_event() -> None:
    event = fixture("easypost-event-crossborder.json")

    assert [u.key for u in easypost.parse(event["result"]).updates] == [u.key for u in easypost.parse(event).updates]


# --- signatures ---------------------------------------------------------------------------------


BODY = json.dumps({"object": "Event", "description": "tracker.updated"}).encode()


def test_easypost_signature_is_hmac_sha256_hex_of_the_raw_body() -> None:
    digest = hmac.new(b"whsec_1", BODY, hashlib.sha256).hexdigest()

    assert easypost.verify(BODY, {"X-Hmac-Signature": f"hmac-sha256-hex={digest}"}, "whsec_1")
    assert easypost.verify(BODY, {"x-hmac-signature": f"hmac-sha256-hex={digest.upper()}"}, "whsec_1")


def test_easypost_secret_is_nfkd_normalised_before_keying() -> None:
    headers = samples.sign_easypost(BODY, "ﬁle-secret")  # the "ﬁ" ligature decomposes to "fi"

    assert easypost.verify(BODY, headers, "file-secret")


@pytest.mark.parametrize(("module", "sign"), [(easypost, samples.sign_easypost), (aftership, samples.sign_aftership)])
def test_a_tampered_body_a_wrong_secret_or_no_signature_fails(module: Any, sign: Any) -> None:
    headers = sign(BODY, "s3cret")

    assert module.verify(BODY, headers, "s3cret") is True
    assert module.verify(BODY + b" ", headers, "s3cret") is False
    assert module.verify(BODY.replace(b"updated", b"created"), headers, "s3cret") is False
    assert module.verify(BODY, headers, "s3cret2") is False
    assert module.verify(BODY, headers, "") is False
    assert module.verify(BODY, {"Content-Type": "application/json"}, "s3cret") is False


def test_aftership_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    expected = base64.b64encode(hmac.new(b"as-secret", BODY, hashlib.sha256).digest()).decode()

    assert aftership.verify(BODY, {"aftership-hmac-sha256": expected}, "as-secret")
    assert aftership.verify(BODY, {"Aftership-Hmac-Sha256": expected}, "as-secret")


# --- every mapped code, table-driven ------------------------------------------------------------

EASYPOST_STATUSES = {
    "pre_transit": M.label_created,
    "in_transit": M.in_transit,
    "out_for_delivery": M.out_for_delivery,
    "delivered": M.delivered,
    "available_for_pickup": M.available_for_pickup,
    "return_to_sender": M.returned,
    "failure": M.exception,
    "cancelled": M.exception,
    "canceled": M.exception,
    "error": M.exception,
    "unknown": M.in_transit,
}

EASYPOST_DETAILS_ON_IN_TRANSIT = {
    "label_created": M.label_created,
    "awaiting_despatch": M.label_created,
    "out_for_delivery": M.out_for_delivery,
    "arrived_at_pickup_location": M.available_for_pickup,
    "delivery_attempt": M.delivery_attempted,
    "delivery_attempted": M.delivery_attempted,
    "attempted_delivery": M.delivery_attempted,
    "notice_left": M.delivery_attempted,
    "address_correction": M.exception,
    "delivery_exception": M.exception,
    "delayed": M.exception,
    "weather_delay": M.exception,
    "pickup_delayed": M.exception,
    "package_damaged": M.exception,
    "package_refused": M.exception,
    "package_disposed": M.exception,
    "package_held": M.exception,
    "lost": M.exception,
    "package_lost": M.exception,
    "return_to_sender": M.returned,
    "return": M.returned,
    "returned": M.returned,
    "cancelled": M.exception,
    "customs_cleared": M.customs_cleared,
    "cleared_customs": M.customs_cleared,
    "customs_delayed": M.import_held,
    "held_in_customs": M.import_held,
    "export_customs": M.export_declared,
    "inbound_customs": M.in_transit,
    **dict.fromkeys(sorted(easypost.NEUTRAL_DETAILS), M.in_transit),
}

AFTERSHIP_TAGS = {
    "Pending": M.label_created,
    "InfoReceived": M.label_created,
    "InTransit": M.in_transit,
    "OutForDelivery": M.out_for_delivery,
    "AttemptFail": M.delivery_attempted,
    "Delivered": M.delivered,
    "AvailableForPickup": M.available_for_pickup,
    "Exception": M.exception,
    "Expired": M.exception,
}

AFTERSHIP_SUBTAGS = {
    "Pending_001": M.label_created,
    "InfoReceived_001": M.label_created,
    "InTransit_001": M.in_transit,
    "InTransit_002": M.handed_to_carrier,
    "InTransit_003": M.in_transit,
    "InTransit_004": M.in_transit,
    "InTransit_005": M.customs_cleared,
    "InTransit_006": M.in_transit,
    "InTransit_007": M.in_transit,
    "InTransit_008": M.in_transit,
    "InTransit_009": M.in_transit,
    "OutForDelivery_001": M.out_for_delivery,
    "OutForDelivery_002": M.available_for_pickup,
    "OutForDelivery_003": M.out_for_delivery,
    "OutForDelivery_004": M.out_for_delivery,
    "AttemptFail_001": M.delivery_attempted,
    "AttemptFail_002": M.delivery_attempted,
    "AttemptFail_003": M.delivery_attempted,
    "Delivered_001": M.delivered,
    "Delivered_002": M.delivered,
    "Delivered_003": M.delivered,
    "Delivered_004": M.delivered,
    "Delivered_005": M.delivered,
    "AvailableForPickup_001": M.available_for_pickup,
    "Exception_001": M.exception,
    "Exception_002": M.exception,
    "Exception_003": M.exception,
    "Exception_004": M.import_held,
    "Exception_005": M.exception,
    "Exception_006": M.exception,
    "Exception_007": M.exception,
    "Exception_008": M.exception,
    "Exception_009": M.exception,
    "Exception_010": M.returned,
    "Exception_011": M.returned,
    "Exception_012": M.exception,
    "Exception_013": M.exception,
    "Exception_014": M.exception,  # not in the published list: its tag
    "Exception_016": M.exception,
    "Exception_017": M.exception,
    "Exception_018": M.import_held,
    "Exception_019": M.exception,
    "Exception_020": M.exception,
    "Exception_021": M.exception,
    "Expired_001": M.exception,
}

DHL_STATUS_CODES = {
    "pre-transit": M.label_created,
    "PRE_TRANSIT": M.label_created,
    "transit": M.in_transit,
    "delivered": M.delivered,
    "failure": M.exception,
    "unknown": M.in_transit,
}


@pytest.mark.parametrize(("status", "milestone"), EASYPOST_STATUSES.items())
def test_every_easypost_status_maps_to_its_milestone(status: str, milestone: Milestone) -> None:
    detail = ep_detail(status=status, status_detail="status_update", message="Status update", tracking_location=None)

    assert easypost.parse(ep_tracker(detail)).updates[0].milestone == milestone


@pytest.mark.parametrize(("status_detail", "milestone"), EASYPOST_DETAILS_ON_IN_TRANSIT.items())
def test_every_easypost_status_detail_maps_to_its_milestone(status_detail: str, milestone: Milestone) -> None:
    detail = ep_detail(status_detail=status_detail, message="Status update", tracking_location=None)

    assert easypost.parse(ep_tracker(detail)).updates[0].milestone == milestone


def test_the_easypost_table_in_the_test_covers_the_modules_table() -> None:
    assert set(easypost.STATUSES) == set(EASYPOST_STATUSES)
    assert set(easypost.STATUS_DETAILS) <= set(EASYPOST_DETAILS_ON_IN_TRANSIT)


@pytest.mark.parametrize(("tag", "milestone"), AFTERSHIP_TAGS.items())
def test_every_aftership_tag_maps_to_its_milestone(tag: str, milestone: Milestone) -> None:
    checkpoint = as_checkpoint(tag=tag, subtag=None, message="Update", country_region=None)

    assert aftership.parse(as_webhook(checkpoint)).updates[0].milestone == milestone


@pytest.mark.parametrize(("subtag", "milestone"), AFTERSHIP_SUBTAGS.items())
def test_every_aftership_subtag_maps_to_its_milestone(subtag: str, milestone: Milestone) -> None:
    checkpoint = as_checkpoint(tag=subtag.split("_")[0], subtag=subtag, message="Update", country_region=None)

    assert aftership.parse(as_webhook(checkpoint)).updates[0].milestone == milestone


def test_the_aftership_tables_in_the_test_cover_the_modules_tables() -> None:
    assert set(aftership.TAGS) == set(AFTERSHIP_TAGS)
    assert set(aftership.SUBTAGS) <= set(AFTERSHIP_SUBTAGS)


@pytest.mark.parametrize(("code", "milestone"), DHL_STATUS_CODES.items())
def test_every_dhl_status_code_maps_to_its_milestone(code: str, milestone: Milestone) -> None:
    [feed] = dhl.parse(dhl_body(dhl_event(statusCode=code, status="Update", description="Update")))

    assert feed.updates[0].milestone == milestone


# --- customs: where a subtag or the text says so ------------------------------------------------


def crossborder(*checkpoints: dict[str, Any]) -> dict[str, Any]:
    return as_webhook(*checkpoints, origin_country_region="DEU", destination_country_region="USA")


def test_handed_to_customs_at_the_origin_is_export_declared_and_at_the_destination_in_transit() -> None:
    body = crossborder(
        as_checkpoint(subtag="InTransit_006", message="Customs clearance started"),
        as_checkpoint(
            subtag="InTransit_006", message="Customs clearance started", country_region="USA", state="KY",
            checkpoint_time="2025-04-03T09:10:00",
        ),
    )  # fmt: skip

    assert milestones(aftership.parse(body)) == [M.export_declared, M.in_transit]


def test_a_customs_delay_at_export_is_an_exception_and_at_import_is_import_held() -> None:
    body = crossborder(
        as_checkpoint(tag="Exception", subtag="Exception_004", message="Clearance delay"),
        as_checkpoint(
            tag="Exception", subtag="Exception_004", message="Clearance delay", country_region="USA", state="KY",
            checkpoint_time="2025-04-03T09:10:00",
        ),
    )  # fmt: skip

    assert milestones(aftership.parse(body)) == [M.exception, M.import_held]


@pytest.mark.parametrize(
    ("message", "milestone"),
    [
        ("Held by customs, awaiting payment of import duties", M.import_held),
        ("Customs clearance completed", M.customs_cleared),
        ("Released by customs", M.customs_cleared),
        ("Export declaration submitted to customs", M.export_declared),
        ("Departed facility", M.in_transit),
        ("Customs status updated", M.in_transit),
    ],
)
def test_a_generic_in_transit_code_is_sharpened_by_a_message_naming_a_customs_stage(
    message: str, milestone: Milestone
) -> None:
    update = aftership.parse(as_webhook(as_checkpoint(message=message))).updates[0]

    assert update.milestone == milestone


def test_held_for_payment_is_import_held_only_when_duties_are_named() -> None:
    duties = as_checkpoint(
        tag="Exception", subtag="Exception_006", message="Held for payment of import duties and taxes"
    )
    cod = as_checkpoint(
        tag="Exception", subtag="Exception_006", message="Held for payment", checkpoint_time="2025-04-03T09:10:00"
    )

    assert milestones(aftership.parse(as_webhook(duties, cod))) == [M.import_held, M.exception]


def test_a_delivered_code_is_never_sharpened_by_customs_words() -> None:
    update = aftership.parse(
        as_webhook(as_checkpoint(tag="Delivered", subtag="Delivered_001", message="Delivered after customs hold"))
    ).updates[0]

    assert update.milestone == M.delivered


# --- the simulator's builders --------------------------------------------------------------------


def test_easypost_builder_grows_a_signed_history_that_parses_back() -> None:
    at = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
    first = samples.easypost_event("EZ9", "USPS", "pre_transit", "label_created", at, "Label created", "Houston", "US")
    second = samples.easypost_event(
        "EZ9", "USPS", "out_for_delivery", "out_for_delivery", at + timedelta(days=2), "Out for delivery",
        "Austin", "US", date(2025, 6, 4), state="TX", previous=first["result"]["tracking_details"],
    )  # fmt: skip
    body = json.dumps(second).encode()

    assert easypost.verify(body, samples.sign_easypost(body, "sim-secret"), "sim-secret")
    feed = easypost.parse(json.loads(body))
    assert milestones(feed) == [M.label_created, M.out_for_delivery]
    assert feed.estimated_delivery == date(2025, 6, 4)
    assert (
        samples.easypost_event("EZ9", "USPS", "pre_transit", "label_created", at, "Label created", "Houston", "US")
        == first
    )


def test_aftership_builder_writes_local_time_without_offset_that_reads_back_to_the_same_instant() -> None:
    at = datetime(2025, 6, 2, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    first = samples.aftership_event(
        "JD01", "dhl", "InTransit", "InTransit_007", at, "Departed", "Leipzig", "DE", origin="DE", destination="US"
    )
    second = samples.aftership_event(
        "JD01", "dhl", "OutForDelivery", "OutForDelivery_001", at + timedelta(days=1), "With delivery courier",
        "Chicago", "US", date(2025, 6, 3), state="IL", coordinates=(41.88, -87.63), previous=first["msg"]["checkpoints"],
    )  # fmt: skip
    body = json.dumps(second).encode()

    assert first["msg"]["checkpoints"][0]["checkpoint_time"] == "2025-06-02T08:00:00"
    assert second["msg"]["checkpoints"][1]["checkpoint_time"] == "2025-06-03T01:00:00"  # CDT
    assert aftership.verify(body, samples.sign_aftership(body, "sim"), "sim")
    feed = aftership.parse(json.loads(body))
    assert [u.occurred_at for u in feed.updates] == [at, at + timedelta(days=1)]
    assert milestones(feed) == [M.in_transit, M.out_for_delivery]
    assert feed.updates[-1].position is not None and feed.updates[-1].position.lat == 41.88
    assert feed.estimated_delivery == date(2025, 6, 3)


# --- purity ---------------------------------------------------------------------------------------


def test_the_adapters_import_only_the_standard_library_core_and_the_tracking_model() -> None:
    import sys

    allowed = ("orderhub.core", "orderhub.tracking.model", "orderhub.tracking.carriers")
    package = ROOT / "src" / "orderhub" / "tracking" / "carriers"
    outside = []
    for module in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                inside = name.startswith(allowed) if top == "orderhub" else top in sys.stdlib_module_names
                if not inside and top != "__future__":
                    outside.append(f"{module.name}: {name}")
    assert outside == []
