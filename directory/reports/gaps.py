"""Coverage gaps: the counties of the network's states that no active, accepting member covers
for a service (and, optionally, a population).

"Covers" is the directory search's covering query (``directory.orgs.search``, same
``covering_rule``) asked of a whole county at once: a county is covered when some point in it
would find a member covering it. That is a member with

- a state area of the county's state, or a county area naming it;
- a ZIP area whose ZIP centroid lies in it (the search matches a point with its nearest ZIP
  centroid, so the centroid's own county always holds covered points);
- a radius area whose circle reaches into it (great-circle distance from the centre to the
  county at most the radius);
- a drawn area that overlaps it;

an area limited to some services counting only for those, and only organizations the search
would find (active, accepting referrals, offering the service or one below it, serving the
population). A radius around a confidential location is stored around its public point
(``directory.geo.public``), so the report, like the search, never reflects the true point.

Computed as sets, never by a per-county scan of organizations: the members that count are
found through the services index (and the organization index for their areas); one DISTINCT
query gives the states, counties and ZIP codes their areas name; the counties still open are
then tested, in one pass, against the members' drawn areas and circles whose bounding boxes
reach them, through an STRtree of the open counties' outlines (vectorized point-in-county for
the circles' centres, then an exact distance for the rest).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from flask_babel import gettext as _
from shapely.geometry import MultiPolygon, shape
from shapely.strtree import STRtree
from sqlalchemy import Select, bindparam, select

from directory.db import db_session
from directory.geo.boundaries import County, boundaries
from directory.geo.distance import EARTH_RADIUS_MI
from directory.geo.gazetteer import gazetteer
from directory.geo.states import STATES
from directory.orgs.models import (
    CoverageArea,
    CoverageKind,
    Location,
    MembershipStatus,
    Organization,
    Population,
    Service,
    ServiceCategory,
)
from directory.orgs.search import CoveringRule, SearchFilters, covering_rule
from directory.reports.tables import Column, ColumnKind, Row, Table

# Boundary points of a county are kept this far apart (degrees, about 0.7 mi) for the distance
# from a circle's centre; a distance within half of it of the radius is settled exactly.
BOUNDARY_STEP_DEGREES = 0.01
NAMED_KINDS = (CoverageKind.STATE, CoverageKind.COUNTY, CoverageKind.ZIP)


class GapError(ValueError):
    """The question cannot be asked as given; ``field`` names the input at fault."""

    def __init__(self, message: str, field_name: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class CountyRow:
    county: County
    covered: bool


@dataclass
class GapReport:
    service: ServiceCategory
    population: Population | None
    states: list[str]
    counties: list[CountyRow]  # every county of the network's states, by state and name

    @property
    def gaps(self) -> list[County]:
        return [row.county for row in self.counties if not row.covered]

    @property
    def covered_count(self) -> int:
        return sum(row.covered for row in self.counties)

    @property
    def covered_share(self) -> float | None:
        """The share of the counties covered (no county population is shipped offline)."""
        return self.covered_count / len(self.counties) if self.counties else None

    def tables(self) -> list[Table]:
        return [self.by_state(), self.gap_table()]

    def table(self, slug: str) -> Table | None:
        return next((table for table in self.tables() if table.slug == slug), None)

    def by_state(self) -> Table:
        columns = [Column("counties", _("Counties"), measure=_("counties in the state")),
                   Column("gaps", _("Without coverage"), measure=_("counties no member covers")),
                   Column("covered_share", _("Share covered"), ColumnKind.RATE,
                          _("share of the counties covered (not of the population)"))]
        rows = []
        for state in self.states:
            in_state = [row for row in self.counties if row.county.state == state]
            open_ = sum(not row.covered for row in in_state)
            rows.append(Row(state, STATES.get(state, state),
                            [len(in_state), open_,
                             (len(in_state) - open_) / len(in_state) if in_state else None]))
        totals = Row("total", _("All the network's states"),
                     [len(self.counties), len(self.gaps), self.covered_share])
        return Table("gaps_by_state", _("Counties covered, by state"), _("State"), columns, rows,
                     totals if len(rows) > 1 else None,
                     note=_("Shares are of counties, not of people: no county population source "
                            "ships with the directory."))

    def gap_table(self) -> Table:
        columns = [Column("state", _("State"), ColumnKind.TEXT, _("state postal code")),
                   Column("fips", _("FIPS code"), ColumnKind.TEXT, _("county FIPS code"))]
        return Table("gap_counties", _("Counties no member covers"), _("County"), columns,
                     [Row(county.fips, county.full_name, [county.state, county.fips])
                      for county in self.gaps])


def parse_question(service: str | None, population: str | None) -> tuple[ServiceCategory,
                                                                         Population | None]:
    """The service (a taxonomy code) and population asked about, or GapError."""
    code = (service or "").strip()
    if not code:
        raise GapError(_("Choose a service."), "service")
    category = db_session.scalar(select(ServiceCategory).where(ServiceCategory.code == code))
    if category is None:
        raise GapError(_("Unknown service %(code)s.", code=repr(code[:60])), "service")
    chosen = (population or "").strip()
    if not chosen:
        return category, None
    if chosen not in Population._value2member_map_:
        raise GapError(_("Unknown population %(value)s.", value=repr(chosen[:60])),
                       "population")
    return category, Population(chosen)


def _active() -> list:  # type: ignore[type-arg]
    return [Organization.status == MembershipStatus.ACTIVE]


def network_states() -> list[str]:
    """States where an active member has a location, or a coverage area that names the state
    (or one of its counties or ZIP codes) or is centred in it (a radius not drawn around one
    of the member's locations, or a drawn area)."""
    known = sorted(boundaries().state_bounds)
    # One probe of the locations' state index per state: each stops at its first member.
    located = (select(Location.id)
               .join(Organization, Organization.id == Location.organization_id)
               .where(*_active(), Location.state == bindparam("state")).limit(1))
    states = {state for state in known
              if db_session.execute(located, {"state": state}).first() is not None}
    missing = [state for state in known if state not in states]
    if missing:
        named = (select(CoverageArea.state).distinct()
                 .join(Organization, Organization.id == CoverageArea.organization_id)
                 .where(*_active(), CoverageArea.state.in_(missing)))
        states.update(db_session.scalars(named))
    loose = (select(CoverageArea.center_lat, CoverageArea.center_lon, CoverageArea.min_lat,
                    CoverageArea.max_lat, CoverageArea.min_lon, CoverageArea.max_lon)
             .join(Organization, Organization.id == CoverageArea.organization_id)
             .where(*_active(), CoverageArea.location_id.is_(None),
                    CoverageArea.kind.in_((CoverageKind.RADIUS, CoverageKind.POLYGON))))
    rows = np.array([tuple(row) for row in db_session.execute(loose)],
                    dtype=float).reshape(-1, 6)
    if len(rows):
        centres = np.isnan(rows[:, 0])
        rows[centres, 0] = (rows[centres, 2] + rows[centres, 3]) / 2
        rows[centres, 1] = (rows[centres, 4] + rows[centres, 5]) / 2
        states.update(boundaries().states_at(rows[:, 0], rows[:, 1]))
    return sorted(state for state in states if state in boundaries().state_bounds)


@functools.cache
def _counties_by_state() -> dict[str, list[County]]:
    grouped: dict[str, list[County]] = {}
    for county in boundaries().counties.values():
        grouped.setdefault(county.state, []).append(county)
    return {state: sorted(counties, key=lambda c: c.name) for state, counties in grouped.items()}


@functools.lru_cache(maxsize=65536)
def _zip_county(code: str) -> str | None:
    """The FIPS code of the county a ZIP code's centroid lies in."""
    area = gazetteer().zip_area(code)
    county = boundaries().at(area.lat, area.lon).county if area else None
    return county.fips if county else None


def _outline(fips: str) -> MultiPolygon:
    return boundaries().county_outline(fips)


@functools.lru_cache(maxsize=4096)
def _boundary_vectors(fips: str) -> np.ndarray:
    """Unit vectors of points along a county's boundary, BOUNDARY_STEP_DEGREES apart at most."""
    coordinates = shapely.get_coordinates(
        shapely.segmentize(_outline(fips).boundary, BOUNDARY_STEP_DEGREES))
    lon, lat = np.radians(coordinates[:, 0]), np.radians(coordinates[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _azimuthal(lat: float, lon: float):  # type: ignore[no-untyped-def]
    """The azimuthal equidistant projection centred at (lat, lon), in miles: distances from
    the centre are exact on the sphere."""
    phi0, lam0 = np.radians(lat), np.radians(lon)

    def project(coordinates: np.ndarray) -> np.ndarray:
        lam, phi = np.radians(coordinates[:, 0]), np.radians(coordinates[:, 1])
        cos_c = np.clip(np.sin(phi0) * np.sin(phi)
                        + np.cos(phi0) * np.cos(phi) * np.cos(lam - lam0), -1.0, 1.0)
        c = np.arccos(cos_c)
        bearing = np.arctan2(np.sin(lam - lam0) * np.cos(phi),
                             np.cos(phi0) * np.sin(phi)
                             - np.sin(phi0) * np.cos(phi) * np.cos(lam - lam0))
        distance = c * EARTH_RADIUS_MI
        return np.column_stack([distance * np.sin(bearing), distance * np.cos(bearing)])

    return project


def _circle_reaches(fips: str, lat: float, lon: float, miles: float) -> bool:
    """Whether the circle reaches into the county, exactly (its centre is outside it)."""
    projected = shapely.transform(
        shapely.segmentize(_outline(fips).boundary, BOUNDARY_STEP_DEGREES), _azimuthal(lat, lon))
    return bool(shapely.distance(projected, shapely.points(0.0, 0.0)) <= miles)


def _reached_by_circles(open_counties: list[str], circles: np.ndarray) -> set[str]:
    """The counties among ``open_counties`` that a circle (rows of lat, lon, miles, and the
    circle's bounding box) reaches into."""
    reached: set[str] = set()
    if not len(circles) or not open_counties:
        return reached
    lats, lons, miles = circles[:, 0], circles[:, 1], circles[:, 2]
    tree = STRtree([_outline(fips) for fips in open_counties])
    centres = tree.query(shapely.points(lons, lats), predicate="intersects")
    reached.update(open_counties[int(j)] for j in np.unique(centres[1]))
    remaining = [fips for fips in open_counties if fips not in reached]
    if not remaining:
        return reached
    tree = STRtree([_outline(fips) for fips in remaining])
    boxes = shapely.box(circles[:, 5], circles[:, 3], circles[:, 6], circles[:, 4])
    circle_index, county_index = tree.query(boxes, predicate="intersects")
    if not len(county_index):
        return reached
    order = np.argsort(county_index, kind="stable")
    circle_index, county_index = circle_index[order], county_index[order]
    starts = np.flatnonzero(np.r_[True, county_index[1:] != county_index[:-1]])
    ends = np.r_[starts[1:], len(county_index)]
    half_step = np.radians(BOUNDARY_STEP_DEGREES) / 2
    for start, end in zip(starts, ends, strict=True):
        fips = remaining[int(county_index[start])]
        chosen = circle_index[start:end]
        vectors = _boundary_vectors(fips)
        phi, lam = np.radians(lats[chosen]), np.radians(lons[chosen])
        centres_xyz = np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam),
                                       np.sin(phi)])
        nearest = np.clip((centres_xyz @ vectors.T).max(axis=1), -1.0, 1.0)
        angle = np.arccos(nearest)  # to the nearest boundary point kept
        radius = miles[chosen] / EARTH_RADIUS_MI
        if np.any(angle <= radius):
            reached.add(fips)
            continue
        # The boundary between two kept points is at most half a step nearer than either.
        unsure = angle - half_step <= radius
        if any(_circle_reaches(fips, float(lats[i]), float(lons[i]), float(miles[i]))
               for i in chosen[unsure]):
            reached.add(fips)
    return reached


def _reached_by_polygons(open_counties: list[str], geojsons: Iterable[str]) -> set[str]:
    shapes = [shape(json.loads(text)) for text in geojsons if text]
    if not shapes or not open_counties:
        return set()
    tree = STRtree([_outline(fips) for fips in open_counties])
    _, county_index = tree.query(shapes, predicate="intersects")
    return {open_counties[int(j)] for j in np.unique(county_index)}


def _bounds(counties: list[str]) -> tuple[float, float, float, float]:
    boxes = np.array([_outline(fips).bounds for fips in counties])
    return (float(boxes[:, 1].min()), float(boxes[:, 3].max()), float(boxes[:, 0].min()),
            float(boxes[:, 2].max()))


def _members(rule: CoveringRule) -> Select:  # type: ignore[type-arg]
    """Ids of the organizations the rule counts. The service, when asked, is also given as an
    IN on the services index (the same condition as the rule's EXISTS), so that the database
    starts from the few organizations offering it rather than from every one."""
    query = select(Organization.id).where(*rule.organization)
    if "category_ids" in rule.params:
        query = query.where(Organization.id.in_(select(Service.organization_id).where(
            Service.category_id.in_(bindparam("category_ids", expanding=True)))))
    return query


def covered_counties(service: str, population: Population | None,
                     counties: list[str]) -> set[str]:
    """Which of ``counties`` (FIPS codes) a member covers for ``service`` (and ``population``),
    as the covering search decides for each of the county's points."""
    rule = covering_rule(SearchFilters(service=service, population=population,
                                       accepting_referrals=True))

    def areas(*columns: object) -> Select:  # type: ignore[type-arg]
        query = select(*columns).distinct().where(  # type: ignore[call-overload]
            CoverageArea.organization_id.in_(_members(rule)))
        return query if rule.area is None else query.where(rule.area)

    def values(query: Select) -> list[tuple]:  # type: ignore[type-arg]
        return [tuple(row) for row in db_session.execute(query, rule.params)]

    states, named = set(), set()
    for kind, state, fips, postal_code in values(areas(
            CoverageArea.kind, CoverageArea.state, CoverageArea.county_fips,
            CoverageArea.postal_code).where(CoverageArea.kind.in_(NAMED_KINDS))):
        if kind == CoverageKind.STATE:
            states.add(state)
        elif kind == CoverageKind.COUNTY:
            named.add(fips)
        elif postal_code:
            named.add(_zip_county(postal_code))
    covered = {fips for fips in counties
               if fips in named or boundaries().counties[fips].state in states}
    open_counties = [fips for fips in counties if fips not in covered]
    if not open_counties:
        return covered
    # Drawn areas and circles near the open counties, in one pass over the members' areas
    # (found through the services and organization indexes, as above).
    box = _bounds(open_counties)
    nearby = areas(CoverageArea.kind, CoverageArea.center_lat, CoverageArea.center_lon,
                   CoverageArea.radius_mi, CoverageArea.min_lat, CoverageArea.max_lat,
                   CoverageArea.min_lon, CoverageArea.max_lon, CoverageArea.geojson).where(
        CoverageArea.kind.in_((CoverageKind.RADIUS, CoverageKind.POLYGON)),
        CoverageArea.max_lat >= box[0], CoverageArea.min_lat <= box[1],
        CoverageArea.max_lon >= box[2], CoverageArea.min_lon <= box[3])
    found = values(nearby)
    covered |= _reached_by_polygons(open_counties, (row[-1] for row in found
                                                    if row[0] == CoverageKind.POLYGON))
    open_counties = [fips for fips in open_counties if fips not in covered]
    circles = np.array([row[1:8] for row in found if row[0] == CoverageKind.RADIUS],
                       dtype=float).reshape(-1, 7)
    return covered | _reached_by_circles(open_counties, circles)


def coverage_gaps(service: ServiceCategory, population: Population | None = None) -> GapReport:
    states = network_states()
    counties = [county for state in states for county in _counties_by_state().get(state, [])]
    covered = covered_counties(service.code, population, [c.fips for c in counties])
    return GapReport(service, population, states,
                     [CountyRow(county, county.fips in covered) for county in counties])
