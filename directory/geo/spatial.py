"""Spatial index look-ups, one implementation per backend.

- ``sqlite``: R*Tree virtual tables (``location_index``, ``coverage_index``, ``polygon_index``)
  maintained by triggers.
- ``postgis``: PostgreSQL with PostGIS: GiST on the geography of each location
  (``ST_DWithin``) and on the geometry envelope of each coverage area (``&&``).
- ``postgresql``: PostgreSQL without PostGIS: built-in GiST on ``point(longitude, latitude)``
  and on the coverage bounding ``box``.
Both return candidate ids by bounding box only; callers apply the exact distance or shape test.
Statements take the point and box as bound parameters, so that they can be built once and
reused for every search.
"""

from __future__ import annotations

import math
import weakref

from sqlalchemy import ColumnElement, Select, TextClause, bindparam, column, select, table, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from directory.geo.distance import EARTH_RADIUS_MI

Box = tuple[float, float, float, float]  # min_lat, max_lat, min_lon, max_lon


def _rtree(name: str):  # type: ignore[no-untyped-def]
    return table(name, column("id"), column("min_lat"), column("max_lat"), column("min_lon"),
                 column("max_lon"))


location_index = _rtree("location_index")
# Coverage areas by kind: radius areas and polygons have an R*Tree each.
coverage_indexes = {"radius": _rtree("coverage_index"), "polygon": _rtree("polygon_index")}


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    phi, lam = math.radians(lat), math.radians(lon)
    return math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)


def closeness_sql(x: ColumnElement[float], y: ColumnElement[float],
                  z: ColumnElement[float]) -> ColumnElement[float]:
    """The cosine of the angular distance between stored unit vectors and the point given as
    the parameters ``px``, ``py``, ``pz`` (see ``point_params``): larger is nearer, and
    "within r miles" is ``closeness >= cos_of_miles(r)``, exactly, with no trigonometry."""
    return x * bindparam("px") + y * bindparam("py") + z * bindparam("pz")


def point_params(lat: float, lon: float) -> dict[str, float]:
    px, py, pz = unit_vector(lat, lon)
    return {"px": px, "py": py, "pz": pz, "plat": lat, "plon": lon}


def box_params(box: Box) -> dict[str, float]:
    return {"min_lat": box[0], "max_lat": box[1], "min_lon": box[2], "max_lon": box[3]}


def cos_of_miles(miles: float) -> float:
    return math.cos(miles / EARTH_RADIUS_MI)


def miles_from_closeness(closeness: float) -> float:
    return EARTH_RADIUS_MI * math.acos(max(-1.0, min(1.0, closeness)))


def backend(session: Session) -> str:
    """Which implementation the session's database gets (decided once per engine)."""
    engine = session.get_bind().engine
    name = _backends.get(engine)
    if name is None:
        if engine.dialect.name == "sqlite":
            name = "sqlite"
        else:
            indexed = session.execute(text(
                "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_locations_geography'")).scalar()
            name = "postgis" if indexed else "postgresql"
        _backends[engine] = name
    return name


# By engine, not by URL: a URL's hash renders it as text, some 30 µs on every search.
_backends: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def ring_params(miles: float, box: Box) -> dict[str, float]:
    """The parameters of a search ring: its bounding box, radius and exact threshold."""
    return {**box_params(box), "cos_radius": cos_of_miles(miles),
            # PostGIS measures on the spheroid; a little slack keeps every spherical match.
            "ring_meters": miles * 1609.344 * 1.01}


_LOCATION_GEOGRAPHY = ("geography(ST_SetSRID(ST_MakePoint(locations.longitude, "
                       "locations.latitude), 4326))")  # as the GiST index ix_locations_geography
_POINT_GEOGRAPHY = "geography(ST_SetSRID(ST_MakePoint(:plon, :plat), 4326))"


def within_ring() -> TextClause:
    """PostGIS: the location is within ``ring_meters`` of the point (the GiST index)."""
    return text(f"ST_DWithin({_LOCATION_GEOGRAPHY}, {_POINT_GEOGRAPHY}, :ring_meters)")


def nearest_first() -> TextClause:
    """PostGIS: locations in order of their distance on the sphere from the point, as the GiST
    index walks them outwards (KNN): the same order as closeness, descending."""
    return text(f"{_LOCATION_GEOGRAPHY} <-> {_POINT_GEOGRAPHY}")


def location_candidates(backend_name: str) -> Select[tuple[int]]:
    """Ids of the locations in the ring given as parameters (see ``ring_params``)."""
    if backend_name == "sqlite":
        index = location_index
        return select(index.c.id).where(
            index.c.min_lat >= bindparam("min_lat"), index.c.max_lat <= bindparam("max_lat"),
            index.c.min_lon >= bindparam("min_lon"), index.c.max_lon <= bindparam("max_lon"))
    if backend_name == "postgis":
        return select(column("id")).select_from(table("locations")).where(within_ring())
    condition = text("point(locations.longitude, locations.latitude) <@ "
                     "box(point(:min_lon, :min_lat), point(:max_lon, :max_lat))")
    return select(column("id")).select_from(table("locations")).where(condition)


def coverage_candidates(backend_name: str, kind: str) -> Select[tuple[int]]:
    """Ids of the coverage areas of ``kind`` ("radius" or "polygon") whose bounding box
    contains the point given as parameters (see ``point_params``)."""
    if backend_name == "sqlite":
        index = coverage_indexes[kind]
        lat, lon = bindparam("plat"), bindparam("plon")
        return select(index.c.id).where(index.c.min_lat <= lat, index.c.max_lat >= lat,
                                        index.c.min_lon <= lon, index.c.max_lon >= lon)
    if kind not in coverage_indexes:
        raise ValueError(f"no spatial index for {kind!r} coverage areas")
    # A literal kind, so that the planner can prove the partial GiST index's predicate.
    if backend_name == "postgis":
        contains = ("ST_MakeEnvelope(coverage_areas.min_lon, coverage_areas.min_lat, "
                    "coverage_areas.max_lon, coverage_areas.max_lat, 4326) "
                    "&& ST_SetSRID(ST_MakePoint(:plon, :plat), 4326)")
    else:
        contains = ("box(point(coverage_areas.min_lon, coverage_areas.min_lat), "
                    "point(coverage_areas.max_lon, coverage_areas.max_lat)) "
                    "@> box(point(:plon, :plat), point(:plon, :plat))")
    condition = text(f"coverage_areas.kind = '{kind}' AND {contains}")
    return select(column("id")).select_from(table("coverage_areas")).where(condition)


def polygons_containing() -> Select[tuple[int]]:
    """PostGIS only: ids of the polygon coverage areas that contain the point given as
    parameters (see ``point_params``), by the index of their boxes and then their shapes, in
    the database (the same planar test as shapely's, both GEOS): no round trip to test them
    in Python first."""
    point = "ST_SetSRID(ST_MakePoint(:plon, :plat), 4326)"
    condition = text(
        "coverage_areas.kind = 'polygon' AND ST_MakeEnvelope(coverage_areas.min_lon, "
        "coverage_areas.min_lat, coverage_areas.max_lon, coverage_areas.max_lat, 4326) "
        f"&& {point} AND ST_Intersects(ST_SetSRID(ST_GeomFromGeoJSON(coverage_areas.geojson), "
        f"4326), {point})")
    return select(column("id")).select_from(table("coverage_areas")).where(condition)
