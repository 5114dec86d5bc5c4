"""Coverage areas: where an organization serves clients, and whether a point lies inside.

Five kinds: a radius around a point (often one of the organization's locations), a state, a
county, a ZIP code, or a GeoJSON polygon. Each stores a bounding box for the spatial index;
``contains`` is the exact test applied to the index's candidates.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from flask_babel import gettext as _
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from directory import inputs
from directory.db import db_session
from directory.geo.boundaries import boundaries
from directory.geo.distance import EARTH_RADIUS_MI, haversine_mi
from directory.geo.gazetteer import gazetteer
from directory.geo.geocoder import GeocodeError, GeocodeResult, geocode
from directory.geo.states import STATES
from directory.orgs.models import CoverageArea, CoverageKind, Location, Organization
from directory.orgs.operations import ListingError, categories_by_code

MAX_RADIUS_MI = 500.0
MAX_POLYGON_BYTES = 200_000
MAX_POLYGON_VERTICES = 5_000
MAX_POLYGON_SPAN_DEGREES = 30.0
TIE_MILES = 1.0  # a radius centred this near a confidential location is drawn around it


@dataclass(frozen=True, slots=True)
class PointContext:
    """A searched point and the areas it falls in (from the offline boundaries/gazetteer)."""

    lat: float
    lon: float
    state: str | None
    county_fips: str | None
    postal_code: str | None


def locate(lat: float, lon: float, postal_code: str | None = None) -> PointContext:
    """The state, county and ZIP of a point. The ZIP is the one searched for, or else the
    nearest ZIP centroid within 15 miles (the gazetteer has centroids, not ZIP shapes)."""
    areas = boundaries().at(lat, lon)
    if postal_code is None:
        nearest = gazetteer().nearest_zip(lat, lon, max_miles=15)
        postal_code = nearest.code if nearest else None
    state = areas.state
    if state is None and postal_code:
        area = gazetteer().zip_area(postal_code)
        state = area.state if area else None
    return PointContext(lat, lon, state, areas.county.fips if areas.county else None,
                        postal_code)


def circle_bounds(lat: float, lon: float, miles: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of the box around a circle on the sphere, widened
    slightly. A circle that reaches a pole or crosses the 180th meridian gets every longitude
    (a wider box only costs candidates; the exact test follows)."""
    angle = miles / EARTH_RADIUS_MI * 1.001  # radians
    dlat = math.degrees(angle)
    min_lat, max_lat = lat - dlat, lat + dlat
    cos_lat = math.cos(math.radians(lat))
    if min_lat <= -90 or max_lat >= 90 or math.sin(angle) >= cos_lat:
        return max(-90.0, min_lat), min(90.0, max_lat), -180.0, 180.0
    # The widest point of a spherical cap is east and west of its center, not on its parallel.
    dlon = math.degrees(math.asin(math.sin(angle) / cos_lat))
    if lon - dlon < -180 or lon + dlon > 180:
        return min_lat, max_lat, -180.0, 180.0
    return min_lat, max_lat, lon - dlon, lon + dlon


@functools.lru_cache(maxsize=4096)
def _polygon(area_id: int, geojson: str) -> BaseGeometry:
    geometry = shape(json.loads(geojson))
    shapely.prepare(geometry)
    return geometry


def contains(area: CoverageArea, point: PointContext) -> bool:
    match area.kind:
        case CoverageKind.RADIUS:
            return haversine_mi(area.center_lat, area.center_lon,  # type: ignore[arg-type]
                                point.lat, point.lon) <= (area.radius_mi or 0)
        case CoverageKind.STATE:
            return area.state == point.state
        case CoverageKind.COUNTY:
            return area.county_fips == point.county_fips
        case CoverageKind.ZIP:
            return area.postal_code == point.postal_code
        case CoverageKind.POLYGON:
            return polygon_contains(area.id, area.geojson or "", point.lat, point.lon)
    return False


def polygon_contains(area_id: int, geojson: str, lat: float, lon: float) -> bool:
    return _polygon(area_id, geojson).intersects(Point(lon, lat))


def covers_service(area: CoverageArea, category_ids: set[int] | None) -> bool:
    """An area limited to some services counts only for a search for one of them."""
    if not category_ids or not area.services:
        return True
    return any(category.id in category_ids for category in area.services)


# --- validation and writing ---------------------------------------------------------------------

def _field_error(field: str, message: str) -> ListingError:
    return ListingError(message, {field: [message]})


def parse_polygon(text: str) -> tuple[str, tuple[float, float, float, float]]:
    """Validate GeoJSON (Polygon, MultiPolygon, or a Feature of one) and return it normalized,
    with its bounding box. Raises ListingError saying what is wrong."""
    if len(text.encode()) > MAX_POLYGON_BYTES:
        raise _field_error("geojson", _("The area is too large a document (over %(size)s kB).",
                                        size=MAX_POLYGON_BYTES // 1000))
    try:
        document = inputs.loads(text)
    except json.JSONDecodeError as exc:
        raise _field_error("geojson", _("Not valid JSON: %(problem)s (line %(line)s).",
                                        problem=exc.msg, line=exc.lineno)) from exc
    except ValueError as exc:  # too deep, or text no column can store
        raise _field_error("geojson", str(exc)) from exc
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if not isinstance(document, dict) or document.get("type") not in {"Polygon", "MultiPolygon"}:
        raise _field_error("geojson", _("Give a GeoJSON Polygon or MultiPolygon."))
    polygons = document.get("coordinates")
    if document["type"] == "Polygon":
        polygons = [polygons]
    if not isinstance(polygons, list) or not polygons:
        raise _field_error("geojson", _("The polygon has no coordinates."))
    vertices = 0
    for rings in polygons:
        if not isinstance(rings, list) or not rings:
            raise _field_error("geojson", _("Each polygon needs at least one ring."))
        for ring in rings:
            if not isinstance(ring, list) or len(ring) < 4:
                raise _field_error("geojson", _("Each ring needs at least 4 positions."))
            for position in ring:
                if (not isinstance(position, list) or len(position) < 2
                        or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                   for v in position[:2])):
                    raise _field_error("geojson",
                                       _("Positions are [longitude, latitude] numbers."))
                lon, lat = position[0], position[1]
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise _field_error("geojson", _("A position is out of range (longitude "
                                                    "-180..180, latitude -90..90)."))
            if ring[0][:2] != ring[-1][:2]:
                raise _field_error("geojson", _("A ring is not closed: its last position "
                                                "must equal its first."))
            vertices += len(ring)
    if vertices > MAX_POLYGON_VERTICES:
        raise _field_error("geojson", _("The area has too many points (over %(count)s).",
                                        count=MAX_POLYGON_VERTICES))
    # Altitudes, where given, mean nothing here: keep [longitude, latitude] only.
    flat = [[[position[:2] for position in ring] for ring in rings] for rings in polygons]
    coordinates = flat[0] if document["type"] == "Polygon" else flat
    geometry = shape({"type": document["type"], "coordinates": coordinates})
    if not geometry.is_valid:
        raise _field_error("geojson", _("The area is not a valid shape (%(reason)s).",
                                        reason=shapely.is_valid_reason(geometry)))
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if max_lat - min_lat > MAX_POLYGON_SPAN_DEGREES or max_lon - min_lon > MAX_POLYGON_SPAN_DEGREES:
        raise _field_error("geojson", _("The area is implausibly large; use a state coverage "
                                        "area instead."))
    if geometry.area == 0:
        raise _field_error("geojson", _("The area has no surface."))
    normalized = json.dumps({"type": document["type"], "coordinates": coordinates},
                            separators=(",", ":"))
    return normalized, (min_lat, max_lat, min_lon, max_lon)


def build_coverage_area(organization: Organization, data: dict[str, Any],
                        location: Location | None = None,
                        centre: GeocodeResult | None = None) -> CoverageArea:
    """A coverage area of ``organization`` from validated data (see CoverageAreaSchema), not yet
    attached to it. A radius is drawn around ``location`` when given (one of the
    organization's, possibly not written yet), else around ``location_id``, else around
    ``centre`` (a point already placed) or what ``center`` geocodes to."""
    columns, location = coverage_columns(organization, data, location, centre)
    area = CoverageArea(**columns)
    if location is not None:
        area.location = location
    codes = data.get("services") or []
    area.services = list(categories_by_code(codes).values()) if codes else []
    return area


def radius_columns(lat: float, lon: float, miles: float, place: str) -> dict[str, Any]:
    """The columns of a radius of ``miles`` around a point, labelled with ``place``."""
    min_lat, max_lat, min_lon, max_lon = circle_bounds(lat, lon, miles)
    return {"kind": CoverageKind.RADIUS, "center_lat": lat, "center_lon": lon,
            "radius_mi": miles, "label": radius_label(miles, place), "min_lat": min_lat,
            "max_lat": max_lat, "min_lon": min_lon, "max_lon": max_lon}


def coverage_columns(organization: Organization, data: dict[str, Any],
                     location: Location | None = None, centre: GeocodeResult | None = None,
                     ) -> tuple[dict[str, Any], Location | None]:
    """build_coverage_area's rules without the object: the columns the area sets (the others
    stay NULL) and the location a radius is drawn around, if any."""
    kind = CoverageKind(data["kind"])
    columns: dict[str, Any] = {"kind": kind}
    match kind:
        case CoverageKind.RADIUS:
            radius = float(data["radius_mi"])
            if location is None and data.get("location_id") is not None:
                location = next((loc for loc in organization.locations
                                 if loc.id == data["location_id"]), None)
                if location is None:
                    raise _field_error("location_id",
                                       _("Choose one of this organization's locations."))
            if location is None:
                try:
                    found = centre or geocode(data.get("center") or "")
                except GeocodeError as exc:
                    raise _field_error("center", str(exc)) from exc
                location = confidential_location_at(organization, found.lat, found.lon)
            if location is not None:
                # A radius around a confidential location is drawn around its public point.
                return radius_columns(location.latitude, location.longitude, radius,
                                      f"{location.city}, {location.state}"), location
            return radius_columns(found.lat, found.lon, radius, found.label), None
        case CoverageKind.STATE:
            state = (data.get("state") or "").upper()
            if state not in boundaries().state_bounds:
                raise _field_error("state", _("Choose a US state."))
            columns.update(state=state, label=STATES[state])
            bounds = boundaries().state_bounds[state]
        case CoverageKind.COUNTY:
            state = (data.get("state") or "").upper()
            county = boundaries().county_named(data.get("county") or "", state)
            if county is None:
                raise _field_error("county", _("No county named '%(county)s' in %(state)s.",
                                               county=data.get("county") or "",
                                               state=STATES.get(state, state)))
            columns.update(county_fips=county.fips, state=county.state, label=county.label)
            bounds = boundaries().county_bounds(county.fips)
        case CoverageKind.ZIP:
            zip_area = gazetteer().zip_area(data.get("postal_code") or "")
            if zip_area is None:
                raise _field_error("postal_code", _("Not a known US ZIP code."))
            columns.update(postal_code=zip_area.code, state=zip_area.state,
                           label=f"ZIP {zip_area.code} ({zip_area.city}, {zip_area.state})")
            bounds = circle_bounds(zip_area.lat, zip_area.lon, 5)
        case CoverageKind.POLYGON:
            geojson, bounds = parse_polygon(data.get("geojson") or "")
            columns.update(geojson=geojson,
                           label=(data.get("label") or "").strip()[:200] or DRAWN_AREA)
    columns["min_lat"], columns["max_lat"], columns["min_lon"], columns["max_lon"] = bounds
    return columns, None


# The labels written into coverage_areas.label are English (the API, the HSDS export and
# imports read them); pages show them in the reader's language through coverage_label.
DRAWN_AREA = "Drawn service area"
_RADIUS_LABEL = re.compile(r"^Within (?P<miles>\d+(?:\.\d+)?) mi of (?P<place>.+)$")
_ZIP_LABEL = re.compile(r"^ZIP (?P<code>\d{5}) \((?P<place>.+)\)$")


def radius_label(miles: float, place: str) -> str:
    return f"Within {miles:g} mi of {place}"


def coverage_label(kind: CoverageKind | str, label: str) -> str:
    """A coverage area's label in the reader's language: the labels this module writes are
    reworded; a state's or county's name, or a name given to a drawn area, is shown as it is."""
    if kind == CoverageKind.RADIUS and (match := _RADIUS_LABEL.match(label)):
        return _("Within %(miles)s mi of %(place)s", miles=match["miles"], place=match["place"])
    if kind == CoverageKind.ZIP and (match := _ZIP_LABEL.match(label)):
        return _("ZIP code %(code)s (%(place)s)", code=match["code"], place=match["place"])
    if kind == CoverageKind.POLYGON and label == DRAWN_AREA:
        return _("Drawn service area")
    return label


def confidential_location_at(organization: Organization, lat: float,
                             lon: float) -> Location | None:
    """The organization's confidential location within TIE_MILES of a radius centre given as
    a point: such a radius is tied to the location, or it would publish the location's point."""
    for location in organization.locations:
        if location.confidential and haversine_mi(lat, lon, *location.true_point) <= TIE_MILES:
            return location
    return None


def recentre_tied_areas(location: Location, areas: Sequence[CoverageArea]) -> None:
    """Move the radius areas tied to ``location`` to the point it is now searched at."""
    for area in areas:
        if area.kind == CoverageKind.RADIUS and area.location is location:
            area.center_lat, area.center_lon = location.latitude, location.longitude
            area.label = radius_label(area.radius_mi or 0.0, f"{location.city}, {location.state}")
            (area.min_lat, area.max_lat, area.min_lon,
             area.max_lon) = circle_bounds(location.latitude, location.longitude,
                                           area.radius_mi or 0.0)


def add_coverage_area(organization: Organization, data: dict[str, Any]) -> CoverageArea:
    area = build_coverage_area(organization, data)
    organization.coverage_areas.append(area)
    db_session.flush()
    return area


def remove_coverage_area(organization: Organization, area_id: int) -> None:
    area = next((a for a in organization.coverage_areas if a.id == area_id), None)
    if area is None:
        raise _field_error("coverage_area", _("That coverage area is not on this listing."))
    organization.coverage_areas.remove(area)
    db_session.flush()

