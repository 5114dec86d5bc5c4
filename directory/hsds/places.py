"""Places at points, for the HSDS import.

An export publishes a confidential location at its city's centre (see
directory.geo.public); on import a point that is exactly such a centre is read back as that
city, so an exported confidential location keeps its city through a round trip.
"""

from __future__ import annotations

import functools

from directory.geo.gazetteer import Place, gazetteer


@functools.cache
def _centres() -> dict[tuple[float, float], Place]:
    return {(place.lat, place.lon): place for place in gazetteer().places.values()}


def place_at(lat: float, lon: float) -> tuple[str, str, str] | None:
    """City, state and ZIP code at a point: the city whose centre it is, else the nearest
    ZIP code's (within 60 miles); None outside the gazetteer's reach."""
    place = _centres().get((lat, lon))
    if place is not None:
        return place.city, place.state, ""
    area = gazetteer().nearest_zip(lat, lon)
    if area is None:
        return None
    return area.city, area.state, area.code
