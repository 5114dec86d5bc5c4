"""Search results as one viewer may see them.

A confidential location (a shelter, a safe house) outside the viewer's own organization shows
its city, a rounded distance from its public point (its city's centre), and no point; a radius
drawn around it is not drawn either. Its own members see its true point and distance.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import bindparam, select

from directory.accounts.permissions import Viewer, organizations_revealing_confidential
from directory.db import db_session
from directory.geo.distance import haversine_mi, rounded_distance_mi
from directory.orgs.coverage import coverage_label
from directory.orgs.models import (
    CoverageArea,
    CoverageKind,
    Location,
    Organization,
    OrganizationLanguage,
    Service,
    ServiceCategory,
    category_label,
    true_point_of,
)
from directory.orgs.operations import days_since
from directory.orgs.search import SearchResults

METERS_PER_MILE = 1609.344


@dataclass(frozen=True)
class ResultView:
    """One result; its labels (kind, services, coverage) in the reader's language."""

    id: int
    slug: str
    name: str
    kind: str
    kind_label: str
    distance_mi: float | None
    distance_rounded: bool
    covers: bool
    lat: float | None
    lon: float | None
    city: str | None
    state: str | None
    accepting_referrals: bool
    verified_days: int | None
    services: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    coverage: list[str] = field(default_factory=list)
    shapes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Point = tuple[float, float]


def _shape(area: Any, hidden_locations: set[int],
           true_points: dict[int, Point]) -> dict[str, Any] | None:
    """How the map draws an area, or None where it would reveal a hidden location. A radius
    around a confidential location its viewer may see is drawn around the true point."""
    if area.kind == CoverageKind.RADIUS:
        if area.location_id in hidden_locations:
            return None
        lat, lon = true_points.get(area.location_id, (area.center_lat, area.center_lon))
        return {"type": "circle", "lat": lat, "lon": lon,
                "radius_m": round((area.radius_mi or 0) * METERS_PER_MILE)}
    if area.kind == CoverageKind.POLYGON and area.geojson:
        return {"type": "polygon", "geojson": json.loads(area.geojson)}
    return None


def coverage_shapes(organization: Organization, reveal_confidential: bool) -> list[dict[str, Any]]:
    """The map shapes of an organization's coverage areas that this viewer may see."""
    confidential = [location for location in organization.locations if location.confidential]
    hidden = {location.id for location in confidential if not reveal_confidential}
    true_points = ({location.id: location.true_point for location in confidential}
                   if reveal_confidential else {})
    return [shape for area in organization.coverage_areas
            if (shape := _shape(area, hidden, true_points)) is not None]


def _grouped(rows: Any) -> dict[int, list[Any]]:
    """Rows by their first column, the organization id (by position: the hot loop)."""
    groups: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row[0]].append(row)
    return groups


# The statements of a results page, built once: plain table columns (no ORM entities) and an
# expanding list of organization ids, so each page pays for five small queries and no more.
_IDS = bindparam("ids", expanding=True)
_organizations = Organization.__table__.c
_locations = Location.__table__.c
_services = Service.__table__.c
_languages = OrganizationLanguage.__table__.c
_areas = CoverageArea.__table__.c
ORGANIZATIONS = select(
    _organizations.id, _organizations.slug, _organizations.name, _organizations.kind,
    _organizations.accepting_referrals, _organizations.verified_at,
).where(_organizations.id.in_(_IDS))
LOCATIONS = select(
    _locations.organization_id, _locations.id, _locations.city, _locations.state,
    _locations.latitude, _locations.longitude, _locations.true_latitude,
    _locations.true_longitude, _locations.confidential,
).where(_locations.organization_id.in_(_IDS))
SERVICES = (
    select(_services.organization_id, ServiceCategory.__table__.c.code,
           ServiceCategory.__table__.c.name)
    .join(ServiceCategory.__table__, ServiceCategory.__table__.c.id == _services.category_id)
    .where(_services.organization_id.in_(_IDS)).order_by(_services.id)
)
LANGUAGES = (
    select(_languages.organization_id, _languages.code)
    .where(_languages.organization_id.in_(_IDS)).order_by(_languages.code)
)
AREAS = (
    select(_areas.organization_id, _areas.kind, _areas.label, _areas.location_id,
           _areas.center_lat, _areas.center_lon, _areas.radius_mi, _areas.geojson)
    .where(_areas.organization_id.in_(_IDS)).order_by(_areas.id)
)


def present(results: SearchResults, viewer: Viewer | None) -> list[ResultView]:
    """The page's results, read with a few narrow queries (a page of search results is the
    hottest path of the application: no full objects, no relationships)."""
    ids = [hit.organization_id for hit in results.hits]
    if not ids:
        return []
    connection = db_session.connection()
    parameters = {"ids": ids}
    # .all(): one fetchall, not a fetch per row.
    organizations = {row.id: row for row in connection.execute(ORGANIZATIONS, parameters).all()}
    locations = _grouped(connection.execute(LOCATIONS, parameters).all())
    services = _grouped(connection.execute(SERVICES, parameters).all())
    languages = _grouped(connection.execute(LANGUAGES, parameters).all())
    areas = _grouped(connection.execute(AREAS, parameters).all())
    revealing = organizations_revealing_confidential(viewer)
    views = []
    for hit in results.hits:
        organization = organizations[hit.organization_id]
        reveal = organization.id in revealing
        own_locations = locations[organization.id]
        hidden = {loc.id for loc in own_locations if loc.confidential and not reveal}
        true_points = ({loc.id: true_point_of(loc) for loc in own_locations if loc.confidential}
                       if reveal else {})
        location = next((loc for loc in own_locations if loc.id == hit.location_id), None)
        exact = location is not None and location.id not in hidden
        distance = hit.distance_mi
        point: Point | None = None
        if exact and location is not None:
            point = true_point_of(location)
            if location.id in true_points and distance is not None:
                # Found through its public point; its members get the true distance.
                distance = haversine_mi(results.point.lat, results.point.lon, *point)
        if distance is not None:
            distance = round(distance, 1) if exact else rounded_distance_mi(distance)
        own_areas = areas[organization.id]
        views.append(ResultView(
            id=organization.id, slug=organization.slug, name=organization.name,
            kind=organization.kind.value, kind_label=organization.kind.label,
            distance_mi=distance, distance_rounded=distance is not None and not exact,
            covers=organization.id in results.covering_ids,
            lat=point[0] if point else None, lon=point[1] if point else None,
            city=location.city if location else None, state=location.state if location else None,
            accepting_referrals=organization.accepting_referrals,
            verified_days=days_since(organization.verified_at),
            services=[category_label(row.code, row.name) for row in services[organization.id]],
            languages=[row.code for row in languages[organization.id]],
            coverage=[coverage_label(area.kind, area.label) for area in own_areas],
            shapes=[shape for area in own_areas
                    if (shape := _shape(area, hidden, true_points)) is not None],
        ))
    return views
