"""What a notification says: the subject, the mail body and the SMS text of a milestone, from
the Jinja2 text templates in ``templates/tracking/notifications/<language>/`` (``subject.txt``,
``body.txt``, ``sms.txt``), in the order's language (English when it is not offered).

The templates receive the order number (the channel's reference, else the hub's id), the
milestone and its words (``model.WORDS``), the estimated delivery as a date written the
language's way, and the absolute link to the public tracking page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from orderhub.tracking.model import LANGUAGES, Milestone, words

TEMPLATES = Path(__file__).parent / "templates" / "tracking" / "notifications"
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=False,  # plain text: a mail body, never HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
}


def long_date(value: date, language: str) -> str:
    """2 December 2026 · 2. Dezember 2026 · 2026年12月2日"""
    if language == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    if language == "de":
        return f"{value.day}. {_MONTHS['de'][value.month - 1]} {value.year}"
    return f"{value.day} {_MONTHS['en'][value.month - 1]} {value.year}"


def tracking_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/track/{token}"


@dataclass(frozen=True, slots=True)
class Texts:
    subject: str
    body: str
    sms: str


def render(
    *,
    language: str,
    milestone: Milestone,
    order_number: str,
    estimated_delivery: date | None,
    link: str,
) -> Texts:
    """The three texts of one milestone for one order; the subject is one line."""
    language = language if language in LANGUAGES else "en"
    context = {
        "order_number": order_number,
        "milestone": milestone.value,
        "milestone_text": words(milestone, language),
        "estimated_delivery": long_date(estimated_delivery, language) if estimated_delivery else "",
        "tracking_link": link,
    }

    def text(name: str) -> str:
        return _env.get_template(f"{language}/{name}.txt").render(context).strip()

    return Texts(subject=" ".join(text("subject").split()), body=text("body") + "\n", sms=text("sms"))
