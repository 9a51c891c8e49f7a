"""Notification texts and settings: every offered language renders every default milestone;
a channel that is named but not configured is refused at start."""

from __future__ import annotations

import re
from datetime import date

import pytest
from pydantic import ValidationError

from orderhub.platform.settings import Settings
from orderhub.tracking.model import LANGUAGES, Milestone, words
from orderhub.tracking.notify import Message, Smtp
from orderhub.tracking.notify_messages import long_date, render
from orderhub.tracking.notify_service import Policy

DEFAULTS = Settings(env="test").notify_milestone_list


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("milestone", DEFAULTS)
def test_every_language_renders_every_default_milestone(language: str, milestone: str) -> None:
    texts = render(
        language=language,
        milestone=Milestone(milestone),
        order_number="#1001",
        estimated_delivery=date(2026, 12, 2),
        link="https://shop.example/track/tok",
    )
    said = words(Milestone(milestone), language)
    assert "\n" not in texts.subject and said in texts.subject and "#1001" in texts.subject
    assert said in texts.body and "https://shop.example/track/tok" in texts.body
    assert said in texts.sms and "https://shop.example/track/tok" in texts.sms
    shown = long_date(date(2026, 12, 2), language) in texts.body
    assert shown is (milestone != "delivered")  # no estimate once it has arrived


def test_dates_read_the_language_s_way() -> None:
    day = date(2026, 3, 4)
    assert [long_date(day, lang) for lang in ("en", "de", "zh")] == ["4 March 2026", "4. März 2026", "2026年3月4日"]


def test_an_unknown_language_reads_english() -> None:
    texts = render(language="fr", milestone=Milestone.delivered, order_number="7", estimated_delivery=None, link="l")
    assert texts.subject == "Delivered – your order 7"


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"notify_channels": "outbox,smtp"}, "ORDERHUB_NOTIFY_SMTP_HOST"),
        ({"notify_channels": "sms", "notify_sms_url": "https://sms.example"}, "ORDERHUB_NOTIFY_SMS_TOKEN"),
        ({"notify_channels": "callback", "notify_channel_callbacks": {"web": "https://x"}}, "CALLBACK_SECRET"),
        ({"notify_channels": "fax"}, "unknown channel 'fax'"),
        ({"public_url": "shop.example"}, "not an http(s) URL"),
    ],
)
def test_a_channel_named_but_not_usable_is_refused_at_start(values: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(says)):
        Settings(env="test", **values)  # type: ignore[arg-type]


def test_an_unknown_milestone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown milestones \\['shipped'\\]"):
        Policy.from_settings(Settings(env="test", notify_milestones="delivered,shipped"))


def test_the_smtp_mail_carries_language_and_a_stable_message_id() -> None:
    smtp = Smtp(host="h", port=25, sender="Shop <s@shop.example>")
    mail = smtp.mail(
        Message(
            id="ntf_1", order_id="o", channel="smtp", recipient="a@b.c", subject="Zugestellt", body="x\n", language="de"
        )
    )
    assert (mail["From"], mail["To"], mail["Subject"], mail["Content-Language"]) == (
        "Shop <s@shop.example>",
        "a@b.c",
        "Zugestellt",
        "de",
    )
    assert mail["Message-ID"].startswith("<") and "ntf_1" in mail["Message-ID"]
