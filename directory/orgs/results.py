"""Search results as one viewer may see them.

A confidential location (a shelter, a safe house) outside the viewer's own organization shows
its city, a rounded distance, and no point; a radius drawn around it is not drawn either.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from directory.accounts.permissions import Permission, Viewer, can
from directory.db import db_session
from directory.geo.distance import rounded_distance_mi
from directory.orgs.models import (
    CoverageArea,
    CoverageKind,
    Location,
    Organization,
    OrganizationLanguage,
    Service,
    ServiceCategory,
)
from directory.orgs.operations import days_since
from directory.orgs.search import SearchResults

METERS_PER_MILE = 1609.344


@dataclass(frozen=True)
class ResultView:
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


def _shape(area: Any, hidden_locations: set[int]) -> dict[str, Any] | None:
    """How the map draws an area, or None where it would reveal a hidden location."""
    if area.kind == CoverageKind.RADIUS:
        if area.location_id in hidden_locations:
            return None
        return {"type": "circle", "lat": area.center_lat, "lon": area.center_lon,
                "radius_m": round((area.radius_mi or 0) * METERS_PER_MILE)}
    if area.kind == CoverageKind.POLYGON and area.geojson:
        return {"type": "polygon", "geojson": json.loads(area.geojson)}
    return None


def coverage_shapes(organization: Organization, reveal_confidential: bool) -> list[dict[str, Any]]:
    """The map shapes of an organization's coverage areas that this viewer may see."""
    hidden = {location.id for location in organization.locations
              if location.confidential and not reveal_confidential}
    return [shape for area in organization.coverage_areas
            if (shape := _shape(area, hidden)) is not None]


def _grouped(rows: Any) -> dict[int, list[Any]]:
    groups: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row.organization_id].append(row)
    return groups


def present(results: SearchResults, viewer: Viewer | None) -> list[ResultView]:
    """The page's results, read with a few narrow queries (a page of search results is the
    hottest path of the application: no full objects, no relationships)."""
    ids = [hit.organization_id for hit in results.hits]
    if not ids:
        return []
    organizations = {org.id: org for org in db_session.scalars(
        select(Organization).where(Organization.id.in_(ids)))}
    locations = _grouped(db_session.execute(
        select(Location.organization_id, Location.id, Location.city, Location.state,
               Location.latitude, Location.longitude, Location.confidential)
        .where(Location.organization_id.in_(ids))))
    services = _grouped(db_session.execute(
        select(Service.organization_id, ServiceCategory.name).join(Service.category)
        .where(Service.organization_id.in_(ids)).order_by(Service.id)))
    languages = _grouped(db_session.execute(
        select(OrganizationLanguage.organization_id, OrganizationLanguage.code)
        .where(OrganizationLanguage.organization_id.in_(ids))
        .order_by(OrganizationLanguage.code)))
    areas = _grouped(db_session.execute(
        select(CoverageArea.organization_id, CoverageArea.kind, CoverageArea.label,
               CoverageArea.location_id, CoverageArea.center_lat, CoverageArea.center_lon,
               CoverageArea.radius_mi, CoverageArea.geojson)
        .where(CoverageArea.organization_id.in_(ids)).order_by(CoverageArea.id)))
    views = []
    for hit in results.hits:
        organization = organizations[hit.organization_id]
        reveal = can(viewer, Permission.VIEW_CONFIDENTIAL_LOCATIONS, organization)
        own_locations = locations[organization.id]
        hidden = {loc.id for loc in own_locations if loc.confidential and not reveal}
        location = next((loc for loc in own_locations if loc.id == hit.location_id), None)
        exact = location is not None and location.id not in hidden
        distance = hit.distance_mi
        if distance is not None:
            distance = round(distance, 1) if exact else rounded_distance_mi(distance)
        own_areas = areas[organization.id]
        views.append(ResultView(
            id=organization.id, slug=organization.slug, name=organization.name,
            kind=organization.kind.value, kind_label=organization.kind.label,
            distance_mi=distance, distance_rounded=distance is not None and not exact,
            covers=organization.id in results.covering_ids,
            lat=location.latitude if exact and location else None,
            lon=location.longitude if exact and location else None,
            city=location.city if location else None, state=location.state if location else None,
            accepting_referrals=organization.accepting_referrals,
            verified_days=days_since(organization.verified_at),
            services=[row.name for row in services[organization.id]],
            languages=[row.code for row in languages[organization.id]],
            coverage=[area.label for area in own_areas],
            shapes=[shape for area in own_areas if (shape := _shape(area, hidden)) is not None],
        ))
    return views
