"""US state and county boundaries for arbitrary points, offline.

Source: the npm package `us-atlas` 3.0.1 (ISC license; Census cartographic boundary files at
1:10,000,000), vendored as `data/counties-10m.json` (TopoJSON). Decoded once per process into
shapely geometries with an STRtree, so a point's county is found in microseconds.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
import shapely.geometry
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.strtree import STRtree

from directory.geo.gazetteer import gazetteer
from directory.geo.states import STATE_FIPS

DATA_FILE = Path(__file__).resolve().parent / "data" / "counties-10m.json"


# States whose county-level list includes independent cities, numbered 500 and up.
INDEPENDENT_CITY_STATES = {"VA", "MD", "MO", "NV"}
# Alaska's county-level units are not counties; the atlas gives only their bare names.
ALASKA_SUFFIXES = {
    **dict.fromkeys(["02016", "02050", "02070", "02105", "02158", "02180", "02198", "02240",
                     "02261", "02290"], "Census Area"),
    **dict.fromkeys(["02110", "02220", "02275", "02282"], "City and Borough"),
    **dict.fromkeys(["02020", "02230"], "Municipality"),
}


@dataclass(frozen=True, slots=True)
class County:
    fips: str  # 5 digits: state (2) + county (3)
    name: str  # as the Census writes it: "Harris", "Richmond city"
    state: str  # postal code

    @property
    def is_independent_city(self) -> bool:
        return self.state in INDEPENDENT_CITY_STATES and int(self.fips[2:]) >= 500

    @property
    def full_name(self) -> str:
        """The unit's own name: 'Harris County', 'Orleans Parish', 'Richmond city',
        'North Slope Borough', 'Nome Census Area', 'District of Columbia'."""
        if self.is_independent_city or self.state == "DC":
            return self.name
        if self.state == "AK":
            return f"{self.name} {ALASKA_SUFFIXES.get(self.fips, 'Borough')}"
        return f"{self.name} {'Parish' if self.state == 'LA' else 'County'}"

    @property
    def label(self) -> str:
        return f"{self.full_name}, {self.state}"


@dataclass(frozen=True, slots=True)
class AreasAtPoint:
    state: str | None
    county: County | None


def _decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    scale_x, scale_y = topology["transform"]["scale"]
    shift_x, shift_y = topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:  # delta-encoded, quantized positions
            x, y = x + dx, y + dy
            points.append((x * scale_x + shift_x, y * scale_y + shift_y))
        arcs.append(points)
    return arcs


def _ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)  # consecutive arcs share their end points
    return points


def _geometry(arcs: list[list[tuple[float, float]]], shape: dict[str, Any]) -> MultiPolygon:
    """A county as a MultiPolygon; islands that quantization shrank below a triangle drop out."""
    polygons = []
    for rings in [shape["arcs"]] if shape["type"] == "Polygon" else shape["arcs"]:
        outer, *holes = (_ring(arcs, ring) for ring in rings)
        if len(outer) >= 4:
            polygons.append(Polygon(outer, [hole for hole in holes if len(hole) >= 4]))
    return MultiPolygon(polygons)


class Boundaries:
    def __init__(self, topology: dict[str, Any]) -> None:
        arcs = _decode_arcs(topology)
        self.counties: dict[str, County] = {}
        geometries = []
        keys = []
        for shape in topology["objects"]["counties"]["geometries"]:
            fips = str(shape["id"]).zfill(5)
            state = STATE_FIPS.get(fips[:2])
            if state is None or not shape.get("arcs"):
                continue
            name = shape["properties"]["name"]
            if (state in INDEPENDENT_CITY_STATES and int(fips[2:]) >= 500
                    and not name.lower().endswith("city")):
                name = f"{name} city"  # the Census's own name for an independent city
            self.counties[fips] = County(fips, name, state)
            geometries.append(_geometry(arcs, shape))
            keys.append(fips)
        shapely.prepare(geometries)
        self._county_keys = keys
        self._county_geometries = geometries
        self._county_index = {fips: index for index, fips in enumerate(keys)}
        self._tree = STRtree(geometries)
        self._by_state_name = {(c.state, _normalize(c.name)): c for c in self.counties.values()}
        self.state_outlines = {
            STATE_FIPS[str(shape["id"]).zfill(2)]: _geometry(arcs, shape)
            for shape in topology["objects"]["states"]["geometries"]
            if str(shape["id"]).zfill(2) in STATE_FIPS and shape.get("arcs")
        }
        self.state_bounds: dict[str, tuple[float, float, float, float]] = {}
        for fips, geometry in zip(keys, geometries, strict=True):
            state = self.counties[fips].state
            min_lon, min_lat, max_lon, max_lat = geometry.bounds
            known = self.state_bounds.get(state)
            if known:
                min_lat, max_lat = min(min_lat, known[0]), max(max_lat, known[1])
                min_lon, max_lon = min(min_lon, known[2]), max(max_lon, known[3])
            self.state_bounds[state] = (min_lat, max_lat, min_lon, max_lon)

    def at(self, lat: float, lon: float) -> AreasAtPoint:
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return AreasAtPoint(state=None, county=None)
        county = self.counties[self._county_keys[int(min(hits))]]
        return AreasAtPoint(state=county.state, county=county)

    def states_at(self, lats: Any, lons: Any) -> set[str]:
        """The states the points (arrays of latitudes and longitudes) fall in."""
        _, hits = self._tree.query(shapely.points(lons, lats), predicate="intersects")
        return {self.counties[self._county_keys[int(index)]].state for index in set(hits)}

    def counties_in(self, window: Polygon) -> list[tuple[County, MultiPolygon]]:
        """The counties that touch a window, with their outlines, in a stable order."""
        hits = sorted(int(index) for index in self._tree.query(window, predicate="intersects"))
        return [(self.counties[self._county_keys[index]], self._county_geometries[index])
                for index in hits]

    def county_named(self, name: str, state: str) -> County | None:
        """'Harris County', 'harris', 'St. Louis city' in a state -> the county."""
        return self._by_state_name.get((state.upper(), _normalize(name)))

    def county_bounds(self, fips: str) -> tuple[float, float, float, float]:
        """(min_lat, max_lat, min_lon, max_lon) of a county."""
        min_lon, min_lat, max_lon, max_lat = self.county_outline(fips).bounds
        return min_lat, max_lat, min_lon, max_lon

    def county_outline(self, fips: str) -> MultiPolygon:
        """A county's outline (longitude, latitude)."""
        return self._county_geometries[self._county_index[fips]]


def _normalize(name: str) -> str:
    words = name.lower().replace(".", "").replace("saint ", "st ").split()
    for suffix in ("city and borough", "county", "parish", "borough", "census area", "municipio",
                   "municipality"):
        if " ".join(words[-len(suffix.split()):]) == suffix and len(words) > len(suffix.split()):
            words = words[: -len(suffix.split())]
            break
    return " ".join(words)


@functools.cache
def boundaries() -> Boundaries:
    return Boundaries(json.loads(DATA_FILE.read_text(encoding="utf-8")))


@functools.cache
def basemap_geojson() -> str:
    """State outlines as GeoJSON: the map's background where no tile server is reachable."""
    features = [
        {"type": "Feature", "properties": {"state": state},
         "geometry": _rounded(shapely.geometry.mapping(
             geometry.simplify(0.02, preserve_topology=True)))}
        for state, geometry in sorted(boundaries().state_outlines.items())
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


# The largest window the detailed basemap draws: about a metropolitan area (the map asks for
# it from city zoom on); wider views get the state outlines alone.
MAX_DETAIL_DEGREES = 5.0
DETAIL_PLACES = 40


def basemap_detail_geojson(west: float, south: float, east: float, north: float) -> str:
    """County outlines and the names of the largest places in a window, as GeoJSON: the map's
    context at city zoom when no tile server is reachable. Places are ranked by how many ZIP
    codes they have, the gazetteer's measure of size."""
    window = shapely.geometry.box(west, south, east, north)
    features: list[dict[str, Any]] = [
        {"type": "Feature", "properties": {"kind": "county", "name": county.label},
         "geometry": _rounded(shapely.geometry.mapping(
             outline.simplify(0.002, preserve_topology=True)))}
        for county, outline in boundaries().counties_in(window)
    ]
    places = sorted((place for place in gazetteer().places.values()
                     if south <= place.lat <= north and west <= place.lon <= east),
                    key=lambda place: (-len(place.zip_codes), place.city))[:DETAIL_PLACES]
    features += [{"type": "Feature", "properties": {"kind": "place", "name": place.city},
                  "geometry": {"type": "Point", "coordinates": [place.lon, place.lat]}}
                 for place in places]
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def _rounded(value: Any) -> Any:
    """Coordinates to 3 decimals (about 100 m): plenty for an outline, a third of the bytes."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value
