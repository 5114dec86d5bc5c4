"""The public point of a confidential location: the centre of its city, never its own point.

Everything an outsider gets about a confidential location (whether a search at any radius finds
it, its rank, the distance shown, whether a radius drawn around it covers a point, the map, the
API, the HSDS export) is computed from this point, so that no number of questions can locate
the location itself. The centre is the gazetteer's point for the city (the median of its ZIP
centroids): the same for every location in that city, wherever in it the location stands.
"""

from __future__ import annotations

from directory.geo.gazetteer import gazetteer


def public_point(city: str, state: str, lat: float, lon: float) -> tuple[float, float]:
    """The point to publish for a confidential location in ``city``, ``state`` at ``lat``,
    ``lon``: its city's centre, else the centre of the city of its nearest ZIP code, else its
    point rounded to a tenth of a degree (outside the gazetteer's reach)."""
    place = gazetteer().place(city, state)
    if place is None:
        area = gazetteer().nearest_zip(lat, lon)
        place = gazetteer().place(area.city, area.state) if area else None
    if place is None:
        return round(lat, 1), round(lon, 1)
    return place.lat, place.lon
