"""What a carrier's free text says, weighed against its structured code.

The code decides the milestone. The text may only *sharpen* a generic code (in transit, exception)
into a customs stage it names ("Export declaration lodged", "Held by customs", "Cleared
customs"). Where the text names another milestone than the code ("DELIVERED" on a pre-transit
code), the code wins and the disagreement is kept in the update's detail.
"""

from __future__ import annotations

import re
from typing import Any

from orderhub.tracking.model import Milestone

M = Milestone

#: Milestones a text may sharpen, because the code behind them says little.
GENERIC = frozenset({M.in_transit, M.exception})

_CUSTOMS = re.compile(r"customs|clearance|clearing agen|broker|douane|aduana|\bzoll|verzoll|海关|清关")
_EXPORT = re.compile(r"export|ausfuhr|出口")
_IMPORT = re.compile(r"import|einfuhr|进口")
_CLEARED = re.compile(r"\bcleared\b|released|clearance (is )?complete|completed|freigegeben|verzollt|已清关|放行")
_HELD = re.compile(
    r"\bheld\b|\bhold\b|detain|delay|pending|inspection|awaiting|duty|duties|\btax|documents|retained|扣"
)

#: (pattern, milestone), first match wins: attempts and returns before the word "delivered".
_SIGNALS: tuple[tuple[re.Pattern[str], Milestone], ...] = (
    (re.compile(r"attempt|notice left|no one (was )?(home|available)|nobody (was )?home|zustellversuch"), M.delivery_attempted),
    (re.compile(r"return(ed|ing)? to (the )?(sender|shipper)|returned|退回"), M.returned),
    (re.compile(r"(available|ready) for (pick ?up|collection)|awaiting collection|abholbereit|待取"), M.available_for_pickup),
    (re.compile(r"out for delivery|with (the )?delivery courier|on vehicle for delivery|in zustellung|派送中"), M.out_for_delivery),
    (re.compile(r"(?<!un)(?<!not )(?<!be )(?<!been )\bdelivered\b|(?<!nicht )zugestellt|已签收|已妥投"), M.delivered),
    (re.compile(r"cancel"), M.exception),
    (re.compile(r"label created|shipping label|pre-shipment|shipment information received|info(rmation)? received"), M.label_created),
)  # fmt: skip


def customs_stage(words: str, *, side: str = "") -> Milestone | None:
    """The customs stage a text names, or None when it names none (or customs without a stage).

    ``side`` is ``"export"`` when the event happened in the origin country of a cross-border
    shipment, ``"import"`` in the destination country, else ``""``. A hold at export customs is
    an exception (there is no export-held milestone); a hold elsewhere is ``import_held``.
    """
    t = words.casefold()
    if not _CUSTOMS.search(t):
        return None
    export = bool(_EXPORT.search(t)) or (side == "export" and not _IMPORT.search(t))
    if _CLEARED.search(t):
        return M.customs_cleared
    if _HELD.search(t):
        return M.exception if export else M.import_held
    if export:
        return M.export_declared
    return None


def milestone_named(words: str) -> Milestone | None:
    """The milestone a carrier's text plainly names ("Delivered", "Out for delivery"), if any."""
    t = words.casefold()
    for pattern, milestone in _SIGNALS:
        if pattern.search(t):
            return milestone
    return None


def settle(coded: Milestone, words: str, *, side: str = "") -> tuple[Milestone, dict[str, Any]]:
    """The milestone of an event from its code's milestone and its text, with what to note.

    A generic code is sharpened into the customs stage the text names; otherwise the code's
    milestone stands, and a text naming a different milestone is noted as a contradiction.
    """
    if coded in GENERIC:
        stage = customs_stage(words, side=side)
        if stage is not None and stage != coded:
            return stage, {"sharpened_by_text": {"from": coded.value, "to": stage.value}}
    named = milestone_named(words)
    if named is not None and named != coded:
        return coded, {"contradiction": {"text_says": named.value, "code_says": coded.value}}
    return coded, {}


def customs_side(country: str, origin: str, destination: str) -> str:
    """``export`` at the origin of a cross-border shipment, ``import`` at its destination."""
    if not country or not origin or not destination or origin == destination:
        return ""
    if country == origin:
        return "export"
    return "import" if country == destination else ""
