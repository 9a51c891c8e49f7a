"""Reading a carrier's JSON document: fields that may be missing or null, times with or without a
UTC offset, coordinates, and the stable key of an event. Every refusal is an ``InvalidInput``
whose error points (RFC 6901) at the field in the sender's document.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime
from typing import Any

from orderhub.core.errors import InvalidInput, json_pointer
from orderhub.tracking.carriers.places import Place, zone_info, zone_of
from orderhub.tracking.model import Position

Path = tuple[str | int, ...]

#: Times outside these years are placeholders or typos, not events ("0001-01-01T00:00:00Z").
_YEARS = range(1990, 2200)


def refuse(path: Path, detail: str) -> InvalidInput:
    """The error for one bad field at ``path`` in the sender's document."""
    pointer = json_pointer(path)
    return InvalidInput(f"{pointer or 'the document'}: {detail}", errors=[{"pointer": pointer, "detail": detail}])


def as_object(value: Any, path: Path) -> dict[str, Any]:
    """The value as a JSON object, refused when it is anything else."""
    if not isinstance(value, dict):
        raise refuse(path, "must be a JSON object")
    return value


def maybe_object(value: Any) -> dict[str, Any]:
    """The value when it is an object; an empty one when it is missing, null or of another kind."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any, path: Path) -> list[Any]:
    """The value as a JSON array; missing or null is empty; anything else is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise refuse(path, "must be a JSON array")
    return value


def text(value: Any) -> str:
    """A field as text: strings stripped, numbers written out (``7777777770``), else ``""``."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else str(value)
    return ""


def required_text(container: dict[str, Any], key: str, path: Path) -> str:
    """A text field that must be there and not empty."""
    value = text(container.get(key))
    if not value:
        raise refuse((*path, key), f"{key} is required")
    return value


def joined(*parts: str, sep: str = ", ") -> str:
    """The non-empty parts joined: ``"HOUSTON, TX, 77063"``."""
    return sep.join(p for p in parts if p)


def read_time(value: Any, path: Path, *, place: Place | None) -> tuple[datetime, str]:
    """A point in time as aware UTC, and a note saying how it was read when no offset was given.

    With an offset (or ``Z``) the time is exact. Without one, it is the local time at ``place``
    when its zone is known (``place=None``: the sender documents UTC), else read as UTC; the note
    says which. A date alone is midnight. Epoch seconds are UTC.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return _plausible(datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC), path), ""
        except (OverflowError, OSError, ValueError):
            raise refuse(path, f"{value!r} is not a time") from None
    raw = text(value)
    if not raw:
        raise refuse(path, "a time is required")
    try:
        read = datetime.fromisoformat(raw)
    except ValueError:
        raise refuse(path, f"{raw!r} is not an ISO 8601 time") from None
    if read.tzinfo is not None:
        return _plausible(read, path), ""
    what = "a date without a time, read as midnight" if len(raw) <= 10 else "no UTC offset given"
    if place is None:
        return _plausible(read.replace(tzinfo=UTC), path), f"{what}; read as UTC, as the sender documents"
    name, how = zone_of(place)
    zone = zone_info(name) if name else None
    if zone is None:
        return _plausible(read.replace(tzinfo=UTC), path), f"{what}; place unknown, read as UTC"
    return _plausible(read.replace(tzinfo=zone), path), f"{what}; read as local time in {name} (from {how})"


def _plausible(moment: datetime, path: Path) -> datetime:
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise refuse(path, "the time is out of range") from None
    if moment.year not in _YEARS:
        raise refuse(path, f"{moment.isoformat()} is not a plausible event time")
    return moment


def read_date(value: Any) -> date | None:
    """An estimated delivery date as the sender wrote it (``2025-05-09``, or the date part of a
    time: the local date). Estimates are advice: one that cannot be read is None, not a refusal."""
    raw = text(value)
    try:
        return date.fromisoformat(raw[:10]) if len(raw) >= 10 else None
    except ValueError:
        return None


def read_position(value: Any, path: Path) -> Position | None:
    """Coordinates as ``{"lat"|"latitude", "lon"|"lng"|"longitude"}`` or ``[lat, lon]``; None when
    absent, empty or 0,0 (a placeholder, not the Gulf of Guinea); refused when out of range."""
    if isinstance(value, dict):
        lat = _number(value.get("lat", value.get("latitude")))
        lon = _number(value.get("lon", value.get("lng", value.get("longitude"))))
    elif isinstance(value, list) and len(value) == 2:
        lat, lon = _number(value[0]), _number(value[1])
    else:
        return None
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise refuse(path, f"{lat},{lon} is not a WGS84 point")
    return Position(lat, lon)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    try:
        number = float(text(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def event_key(*parts: str) -> str:
    """A stable key for an event that has no id of its own: a hash of what identifies it
    (tracking number, time as sent, code, message), blind to case and runs of spaces."""
    canonical = "\x1f".join(" ".join(p.split()).casefold() for p in parts)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
