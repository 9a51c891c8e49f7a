"""Webhook signing (Standard Webhooks), the retry schedule and the disable policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderhub.webhooks.model import (
    BadSignature,
    DeliveryPolicy,
    DeliveryStatus,
    Outcome,
    Verdict,
    decide,
    judge,
    new_secret,
    secret_key,
    sign,
    signed_headers,
    verify,
    wants,
)

# The example published with the Standard Webhooks reference libraries
# (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts "sign function works").
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = '{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(**over: str) -> dict[str, str]:
    return {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": SIGNATURE, **over}


def test_signature_matches_the_published_standard_webhooks_example() -> None:
    assert sign(SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY) == SIGNATURE
    assert sign(SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY.encode()) == SIGNATURE


def test_verify_accepts_the_example_and_header_names_in_any_case() -> None:
    verify(SECRET, headers=headers(), body=BODY, now=TIMESTAMP + 10)
    verify(SECRET, headers={k.title(): v for k, v in headers().items()}, body=BODY.encode(), now=TIMESTAMP)


def test_verify_accepts_any_one_of_several_signatures() -> None:
    other = sign(new_secret(), msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY)
    verify(SECRET, headers=headers(**{"webhook-signature": f"v1a,xyz {other} {SIGNATURE}"}), body=BODY, now=TIMESTAMP)


@pytest.mark.parametrize(
    ("over", "body", "now"),
    [
        ({}, '{"test": 2432232315}', TIMESTAMP),  # body changed
        ({"webhook-id": "msg_other"}, BODY, TIMESTAMP),  # id changed
        ({"webhook-timestamp": str(TIMESTAMP + 1)}, BODY, TIMESTAMP),  # timestamp changed
        ({"webhook-signature": "v2," + SIGNATURE[3:]}, BODY, TIMESTAMP),  # unknown version
        ({"webhook-signature": ""}, BODY, TIMESTAMP),  # missing
        ({"webhook-timestamp": "soon"}, BODY, TIMESTAMP),  # not a number
        ({}, BODY, TIMESTAMP + 301),  # too old
        ({}, BODY, TIMESTAMP - 301),  # from the future
    ],
)
def test_verify_refuses_tampered_stale_or_incomplete_messages(over: dict[str, str], body: str, now: int) -> None:
    with pytest.raises(BadSignature) as err:
        verify(SECRET, headers=headers(**over), body=body, now=now)
    assert err.value.code == "webhook_signature_invalid"


def test_new_secrets_are_whsec_base64_of_24_random_bytes_and_sign_both_while_rotating() -> None:
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and a != b and len(secret_key(a)) == 24
    sent = signed_headers([a, b], msg_id="evt_1", timestamp=TIMESTAMP, body="{}")
    assert sent["webhook-id"] == "evt_1" and sent["webhook-timestamp"] == str(TIMESTAMP)
    assert len(sent["webhook-signature"].split(" ")) == 2
    verify(a, headers=sent, body="{}", now=TIMESTAMP)
    verify(b, headers=sent, body="{}", now=TIMESTAMP)
    with pytest.raises(ValueError):
        secret_key("whsec_not base64!")


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (200, Verdict.succeeded),
        (204, Verdict.succeeded),
        (None, Verdict.retry),
        (408, Verdict.retry),
        (429, Verdict.retry),
        (500, Verdict.retry),
        (503, Verdict.retry),
        (410, Verdict.gone),
        (400, Verdict.give_up),
        (401, Verdict.give_up),
        (404, Verdict.give_up),
        (301, Verdict.give_up),
    ],
)
def test_which_answers_are_retried(code: int | None, verdict: Verdict) -> None:
    assert judge(code) is verdict


def test_back_off_is_exponential_with_full_jitter_and_capped() -> None:
    policy = DeliveryPolicy(max_attempts=8, base_s=120, cap_s=3 * 3600)
    assert [policy.ceiling_s(n) for n in range(1, 9)] == [120, 240, 480, 960, 1920, 3840, 7680, 10800]
    assert policy.delay_s(3, rand=0.0) == 0.0
    assert policy.delay_s(3, rand=0.5) == 240.0
    assert policy.delay_s(3, rand=0.999) < 480.0
    # the waits between 8 attempts (7 of them) span at most ~4.2 hours
    assert sum(policy.ceiling_s(n) for n in range(1, 8)) == 15240


def test_a_test_policy_backs_off_in_fractions_of_a_second() -> None:
    fast = DeliveryPolicy(max_attempts=3, base_s=0.01, cap_s=0.05)
    assert fast.ceiling_s(1) == 0.01 and fast.ceiling_s(10) == 0.05
    with pytest.raises(ValueError):
        DeliveryPolicy(base_s=10, cap_s=1)
    with pytest.raises(ValueError):
        DeliveryPolicy(max_attempts=0)


NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
POLICY = DeliveryPolicy(max_attempts=3, base_s=60, cap_s=600, disable_after=2)


def test_a_failed_attempt_is_retried_until_the_attempts_run_out_then_dead() -> None:
    failed = Outcome(500, "HTTP 500", 12)
    first = decide(POLICY, failed, attempts=1, now=NOW, rand=0.5)
    assert first.status is DeliveryStatus.retrying and first.next_attempt_at == NOW + timedelta(seconds=30)
    assert not first.counts_as_failure
    last = decide(POLICY, failed, attempts=3, now=NOW, rand=0.5)
    assert last.status is DeliveryStatus.dead and last.next_attempt_at is None
    assert last.counts_as_failure and not last.disable_now
    assert last.reason == "3 attempts failed (last: HTTP 500)"


def test_success_refusal_and_gone() -> None:
    ok = decide(POLICY, Outcome(200, "", 5), attempts=2, now=NOW, rand=0.5)
    assert ok.status is DeliveryStatus.succeeded and not ok.counts_as_failure
    refused = decide(POLICY, Outcome(400, "HTTP 400: bad", 5), attempts=1, now=NOW, rand=0.5)
    assert refused.status is DeliveryStatus.dead and refused.counts_as_failure and not refused.disable_now
    gone = decide(POLICY, Outcome(410, "HTTP 410", 5), attempts=1, now=NOW, rand=0.5)
    assert gone.status is DeliveryStatus.dead and gone.disable_now and gone.reason == "the endpoint answered 410 Gone"


def test_disable_after_n_dead_deliveries_in_a_row() -> None:
    assert not POLICY.should_disable(1)
    assert POLICY.should_disable(2)
    assert DeliveryPolicy().disable_after == 5


def test_empty_or_star_means_every_event_type() -> None:
    assert wants([], "order.captured") and wants(["*"], "order.captured")
    assert wants(["order.captured"], "order.captured")
    assert not wants(["order.allocated"], "order.captured")
