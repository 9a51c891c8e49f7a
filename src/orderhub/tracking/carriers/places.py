"""Where a carrier event happened, and the IANA time zone of that place.

Carriers write local times without a UTC offset (AfterShip's ``checkpoint_time``, DHL's event
``timestamp``). The zone is taken, in this order, from the state or province (United States,
Canada, Australia: the zone most of the state keeps), the city (a few hubs and large cities of
countries that span zones), the country (``countries.py``: one zone, or the capital's where the
others keep the same offset). Zones are IANA names (the tz database, public domain); states that
straddle a zone line have the zone of most of their people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orderhub.tracking.carriers.countries import alpha2, country_zone

_E, _C, _M, _P = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

#: United States: state or territory (USPS code) → zone.
US_STATES: dict[str, str] = {
    **dict.fromkeys(
        [
            "CT",
            "DE",
            "DC",
            "FL",
            "GA",
            "KY",
            "ME",
            "MD",
            "MA",
            "NH",
            "NJ",
            "NY",
            "NC",
            "OH",
            "PA",
            "RI",
            "SC",
            "VT",
            "VA",
            "WV",
        ],
        _E,
    ),
    **dict.fromkeys(
        ["AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE", "ND", "OK", "SD", "TN", "TX", "WI"], _C
    ),
    **dict.fromkeys(["CO", "MT", "NM", "UT", "WY"], _M),
    **dict.fromkeys(["CA", "NV", "OR", "WA"], _P),
    "MI": "America/Detroit",
    "IN": "America/Indiana/Indianapolis",
    "ID": "America/Boise",
    "AZ": "America/Phoenix",
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
    "PR": "America/Puerto_Rico",
    "VI": "America/St_Thomas",
    "GU": "Pacific/Guam",
    "MP": "Pacific/Saipan",
    "AS": "Pacific/Pago_Pago",
}

_US_STATE_NAMES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
    "puerto rico": "PR",
}  # fmt: skip

#: Canada: province or territory → zone.
CA_PROVINCES: dict[str, str] = {
    "AB": "America/Edmonton", "BC": "America/Vancouver", "MB": "America/Winnipeg",
    "NB": "America/Moncton", "NL": "America/St_Johns", "NS": "America/Halifax",
    "NT": "America/Edmonton", "NU": "America/Iqaluit", "ON": "America/Toronto",
    "PE": "America/Halifax", "QC": "America/Toronto", "SK": "America/Regina",
    "YT": "America/Whitehorse",
}  # fmt: skip

#: Australia: state or territory → zone.
AU_STATES: dict[str, str] = {
    "ACT": "Australia/Sydney", "NSW": "Australia/Sydney", "NT": "Australia/Darwin",
    "QLD": "Australia/Brisbane", "SA": "Australia/Adelaide", "TAS": "Australia/Hobart",
    "VIC": "Australia/Melbourne", "WA": "Australia/Perth",
}  # fmt: skip

_STATES = {"US": US_STATES, "CA": CA_PROVINCES, "AU": AU_STATES}

#: Hubs and large cities of countries that span zones, for events that name no state.
CITIES: dict[tuple[str, str], str] = {
    ("US", "new york"): _E, ("US", "atlanta"): _E, ("US", "miami"): _E,
    ("US", "louisville"): _E, ("US", "hebron"): _E, ("US", "jamaica"): _E,
    ("US", "chicago"): _C, ("US", "memphis"): _C, ("US", "dallas"): _C, ("US", "houston"): _C,
    ("US", "indianapolis"): "America/Indiana/Indianapolis",
    ("US", "denver"): _M, ("US", "salt lake city"): _M, ("US", "phoenix"): "America/Phoenix",
    ("US", "los angeles"): _P, ("US", "san francisco"): _P, ("US", "seattle"): _P,
    ("US", "oakland"): _P, ("US", "ontario"): _P, ("US", "anchorage"): "America/Anchorage",
    ("CA", "toronto"): "America/Toronto", ("CA", "mississauga"): "America/Toronto",
    ("CA", "montreal"): "America/Toronto", ("CA", "vancouver"): "America/Vancouver",
    ("CA", "calgary"): "America/Edmonton",
    ("AU", "sydney"): "Australia/Sydney", ("AU", "melbourne"): "Australia/Melbourne",
    ("AU", "brisbane"): "Australia/Brisbane", ("AU", "perth"): "Australia/Perth",
    ("BR", "sao paulo"): "America/Sao_Paulo", ("BR", "são paulo"): "America/Sao_Paulo",
    ("BR", "rio de janeiro"): "America/Sao_Paulo", ("BR", "curitiba"): "America/Sao_Paulo",
    ("MX", "mexico city"): "America/Mexico_City", ("MX", "ciudad de mexico"): "America/Mexico_City",
    ("MX", "guadalajara"): "America/Mexico_City", ("MX", "monterrey"): "America/Monterrey",
    ("MX", "tijuana"): "America/Tijuana", ("MX", "cancun"): "America/Cancun",
    ("RU", "moscow"): "Europe/Moscow", ("RU", "saint petersburg"): "Europe/Moscow",
    ("ID", "jakarta"): "Asia/Jakarta",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Place:
    """Where an event happened, as far as the carrier said: country (alpha-2), state, city."""

    country: str = ""
    state: str = ""
    city: str = ""

    @classmethod
    def of(cls, country: str = "", state: str = "", city: str = "") -> Place:
        """A place from a carrier's fields: the country in any spelling ``countries.alpha2`` reads."""
        return cls(alpha2(country) if country else "", state.strip(), city.strip())


def state_code(country: str, state: str) -> str:
    """The state's code (``Texas`` → ``TX``) where the country's states are known, else as given."""
    if country == "US" and state.casefold() in _US_STATE_NAMES:
        return _US_STATE_NAMES[state.casefold()]
    return state.upper()


def zone_of(place: Place) -> tuple[str, str]:
    """The IANA zone of a place and how it was found (``"state TX"``), or ``("", "")``."""
    country = place.country
    states = _STATES.get(country, {})
    state = state_code(country, place.state)
    if state in states:
        return states[state], f"state {state}, {country}"
    city = " ".join(place.city.casefold().split())
    if (country, city) in CITIES:
        return CITIES[(country, city)], f"city {place.city}, {country}"
    zone = country_zone(country)
    if zone:
        return zone, f"country {country}"
    return "", ""


def zone_info(name: str) -> ZoneInfo | None:
    """The zone, or None when this machine has no data for it (then the caller reads UTC)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_date(moment: datetime, country: str) -> date:
    """The calendar date of ``moment`` where the destination is: a country that keeps one
    zone reads its own; a wide or unknown one reads UTC."""
    name = country_zone(country.upper()) if country else ""
    zone = zone_info(name) if name else None
    return (moment.astimezone(zone) if zone else moment).date()
