"""The offline US gazetteer: ZIP code centroids and places, from the `zipcodes` package (MIT).

Loaded once per process on first use (about 0.3 s, 15 MB).
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

import zipcodes

from directory.geo.distance import EARTH_RADIUS_MI, haversine_mi


@dataclass(frozen=True, slots=True)
class ZipArea:
    code: str
    city: str
    state: str
    county: str
    lat: float
    lon: float
    timezone: str
    standard: bool


@dataclass(frozen=True, slots=True)
class Place:
    city: str
    state: str
    county: str
    lat: float
    lon: float
    timezone: str
    zip_codes: tuple[str, ...]


_NEAREST_KEPT = 100_000


def _normalize_city(name: str) -> str:
    cleaned = name.lower().replace(".", " ").replace("-", " ").replace("'", "")
    words = cleaned.split()
    aliases = {"saint": "st", "ste": "st", "fort": "ft", "mount": "mt"}
    return " ".join(aliases.get(word, word) for word in words)


class Gazetteer:
    def __init__(self, records: list[dict[str, object]]) -> None:
        self.zips: dict[str, ZipArea] = {}
        grouped: dict[tuple[str, str], list[ZipArea]] = defaultdict(list)
        aliases: dict[tuple[str, str], list[ZipArea]] = defaultdict(list)
        self._grid: dict[tuple[int, int], list[ZipArea]] = defaultdict(list)
        for record in records:
            if not record.get("lat") or not record.get("long"):
                continue
            if float(record["lat"]) == 0 and float(record["long"]) == 0:  # type: ignore[arg-type]
                continue  # a few retired ZIPs carry (0, 0) instead of a centroid
            area = ZipArea(
                code=str(record["zip_code"]),
                city=str(record["city"]),
                state=str(record["state"]),
                county=str(record.get("county") or ""),
                lat=float(record["lat"]),  # type: ignore[arg-type]
                lon=float(record["long"]),  # type: ignore[arg-type]
                timezone=str(record.get("timezone") or ""),
                standard=record.get("zip_code_type") == "STANDARD",
            )
            self.zips[area.code] = area
            grouped[(_normalize_city(area.city), area.state)].append(area)
            for alias in record.get("acceptable_cities") or []:  # type: ignore[attr-defined]
                aliases[(_normalize_city(str(alias)), area.state)].append(area)
            self._grid[(math.floor(area.lat / _CELL), math.floor(area.lon / _CELL))].append(area)
        # nearest_zip's answers: an import places thousands of locations at a few city centres.
        self._nearest: dict[tuple[float, float, float], ZipArea | None] = {}
        self.places = {key: self._place(areas) for key, areas in grouped.items()}
        self._aliases = {
            key: self._place(areas) for key, areas in aliases.items() if key not in self.places
        }

    @staticmethod
    def _place(areas: list[ZipArea]) -> Place:
        # A place's point is the median of its street-delivery ZIP centroids (PO boxes cluster
        # at the post office, so they only count when a place has nothing else).
        chosen = [area for area in areas if area.standard] or areas
        county = Counter(area.county for area in chosen).most_common(1)[0][0]
        return Place(
            city=chosen[0].city,
            state=chosen[0].state,
            county=county,
            lat=statistics.median(area.lat for area in chosen),
            lon=statistics.median(area.lon for area in chosen),
            timezone=chosen[0].timezone,
            zip_codes=tuple(sorted(area.code for area in areas)),
        )

    def zip_area(self, code: str) -> ZipArea | None:
        return self.zips.get(code[:5])

    def place(self, city: str, state: str) -> Place | None:
        key = (_normalize_city(city), state.upper())
        return self.places.get(key) or self._aliases.get(key)

    def nearest_zip(self, lat: float, lon: float, max_miles: float = 60.0) -> ZipArea | None:
        """The ZIP whose centroid is nearest to the point, within ``max_miles``."""
        key = (lat, lon, max_miles)
        if key in self._nearest:
            return self._nearest[key]
        if len(self._nearest) >= _NEAREST_KEPT:
            self._nearest.clear()
        found = self._nearest[key] = self._nearest_zip(lat, lon, max_miles)
        return found

    def _nearest_zip(self, lat: float, lon: float, max_miles: float) -> ZipArea | None:
        """Ring by ring of grid cells around the point's, exact distances, until no cell of the
        next ring can hold a nearer centroid (a ring is at least ``_ring_miles`` away)."""
        best: tuple[float, ZipArea] | None = None
        row, column = math.floor(lat / _CELL), math.floor(lon / _CELL)
        for ring in itertools.count():
            reach = _ring_miles(ring, lat)
            if reach > max_miles or (best is not None and best[0] <= reach):
                break
            for d_row in range(-ring, ring + 1):
                step = 1 if abs(d_row) == ring else 2 * ring  # the ring's edge only
                for d_column in range(-ring, ring + 1, step):
                    for area in self._grid.get((row + d_row, column + d_column), ()):
                        if best is not None and abs(area.lat - lat) * _MILES_PER_DEGREE >= best[0]:
                            continue  # farther in latitude alone than the best so far
                        miles = haversine_mi(lat, lon, area.lat, area.lon)
                        if miles <= max_miles and (best is None or miles < best[0]):
                            best = (miles, area)
        return best[1] if best else None


_CELL = 0.25  # degrees of latitude and longitude per cell of the nearest-ZIP grid
_MILES_PER_DEGREE = EARTH_RADIUS_MI * math.pi / 180


def _ring_miles(ring: int, lat: float) -> float:
    """A lower bound of the distance from a point to any point of the cells ``ring`` cells
    away from its own: at least ``ring - 1`` whole cells of latitude or of longitude lie
    between them; across longitude, the distance to the nearest meridian that far away."""
    if ring <= 1:
        return 0.0
    degrees = (ring - 1) * _CELL
    if degrees >= 90:
        return degrees * _MILES_PER_DEGREE
    across = math.asin(min(1.0, math.sin(math.radians(degrees)) * math.cos(math.radians(lat))))
    return min(degrees * _MILES_PER_DEGREE, EARTH_RADIUS_MI * across)


@functools.cache
def gazetteer() -> Gazetteer:
    return Gazetteer(zipcodes.list_all())
