"""Where an export may say a confidential location is: the centre of its city, never its point.

The centre is the gazetteer's point for the city (the median of its ZIP centroids), which is the
same for every location in that city. On import a point that is exactly such a centre is read
back as that city, so an exported confidential location keeps its city through a round trip.
"""

from __future__ import annotations

import functools

from directory.geo.gazetteer import Place, gazetteer


def city_centre(city: str, state: str, lat: float, lon: float) -> tuple[float, float]:
    """The point to publish for a confidential location: its city's centre, else the centre of
    the city of its nearest ZIP code, else its point rounded to a tenth of a degree."""
    place = gazetteer().place(city, state)
    if place is None:
        area = gazetteer().nearest_zip(lat, lon)
        place = gazetteer().place(area.city, area.state) if area else None
    if place is None:
        return round(lat, 1), round(lon, 1)
    return place.lat, place.lon


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
