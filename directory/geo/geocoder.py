"""Turn what a person types ("77002", "Houston, TX", "29.76,-95.37") into a point.

Offline first: the gazetteer answers ZIP codes, places and coordinates with no network. Where a
network exists, ``DIRECTORY_GEOCODER`` may name a geopy geocoder (e.g. ``nominatim``) that is
asked for anything the gazetteer does not know, such as street addresses.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from flask_babel import gettext as _
from geopy.exc import GeopyError
from geopy.geocoders import get_geocoder_for_service

from directory.geo.gazetteer import gazetteer
from directory.geo.states import STATES, state_code

log = logging.getLogger(__name__)

_COORDINATES = re.compile(r"^\s*([-+]?\d{1,2}(?:\.\d+)?)\s*[,;\s]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")
_ZIP = re.compile(r"^\s*(\d{5})(?:-\d{4})?\s*$")
MAX_QUERY_LENGTH = 200


class GeocodeError(ValueError):
    """The query could not be turned into a point; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    lat: float
    lon: float
    label: str
    state: str | None
    county: str | None = None
    postal_code: str | None = None
    timezone: str | None = None
    precision: str = "place"  # point | zip | place | address

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def geocode(query: str, service: str = "offline", user_agent: str = "directory") -> GeocodeResult:
    """Resolve ``query``; raise GeocodeError with a message a user can act on."""
    text = (query or "").strip()
    if not text:
        raise GeocodeError(_("Enter a ZIP code, a city and state (\"Houston, TX\") or "
                               "coordinates."))
    if len(text) > MAX_QUERY_LENGTH:
        raise GeocodeError(_("The location is too long (at most %(limit)s characters).",
                             limit=MAX_QUERY_LENGTH))
    result = _offline(text)
    if result is None and service != "offline":
        result = _online(text, service, user_agent)
    if result is None:
        raise GeocodeError(_("Could not find %(place)s. Try a 5-digit ZIP code, \"City, ST\" or "
                             "\"lat,lon\".", place=repr(text)))
    return result


def point_result(lat: float, lon: float) -> GeocodeResult:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise GeocodeError(_("Coordinates out of range: latitude -90..90, longitude "
                             "-180..180."))
    nearest = gazetteer().nearest_zip(lat, lon)
    return GeocodeResult(
        lat=lat,
        lon=lon,
        # No words in the label: a radius area stores it, and its readers speak many languages.
        label=f"{lat:.5f}, {lon:.5f}" + (f" ({nearest.city}, {nearest.state})" if nearest else ""),
        state=nearest.state if nearest else None,
        county=nearest.county if nearest else None,
        postal_code=nearest.code if nearest else None,
        timezone=nearest.timezone if nearest else None,
        precision="point",
    )


def _offline(text: str) -> GeocodeResult | None:
    if match := _COORDINATES.match(text):
        return point_result(float(match.group(1)), float(match.group(2)))
    if match := _ZIP.match(text):
        area = gazetteer().zip_area(match.group(1))
        if area is None:
            raise GeocodeError(_("%(zip)s is not a known US ZIP code.", zip=match.group(1)))
        return GeocodeResult(
            lat=area.lat, lon=area.lon, label=f"{area.code} {area.city}, {area.state}",
            state=area.state, county=area.county, postal_code=area.code,
            timezone=area.timezone, precision="zip",
        )
    city, state = _split_city_state(text)
    if city and state:
        place = gazetteer().place(city, state)
        if place is not None:
            return GeocodeResult(
                lat=place.lat, lon=place.lon, label=f"{place.city}, {place.state}",
                state=place.state, county=place.county, timezone=place.timezone,
                precision="place",
            )
    return None


def _split_city_state(text: str) -> tuple[str | None, str | None]:
    """'Houston, TX' / 'Houston TX' / 'Columbus, Ohio' / 'New York, New York' -> (city, ST)."""
    if "," in text:
        city, _comma, rest = text.rpartition(",")
        code = state_code(rest)
        return (city.strip() or None, code)
    words = text.split()
    for size in (3, 2, 1):  # longest state name first: "West Virginia", "District of Columbia"
        if len(words) > size:
            code = state_code(" ".join(words[-size:]))
            if code in STATES:
                return " ".join(words[:-size]), code
    return None, None


def _online(text: str, service: str, user_agent: str) -> GeocodeResult | None:
    try:
        geocoder = get_geocoder_for_service(service)(user_agent=user_agent, timeout=5)
        location = geocoder.geocode(text, country_codes="us", addressdetails=True)
    except GeopyError as exc:
        log.warning("online geocoder %s failed for %r: %s", service, text, exc)
        raise GeocodeError(_("The online geocoder (%(service)s) is not reachable right now.",
                             service=service)) from exc
    if location is None:
        return None
    address = (location.raw or {}).get("address", {})
    state = state_code(address.get("state", "") or "") if address else None
    return GeocodeResult(
        lat=location.latitude, lon=location.longitude, label=location.address, state=state,
        county=address.get("county"), postal_code=address.get("postcode"), precision="address",
    )
