"""The two core questions: who is *near* this point, and who *covers* it.

Both are answered through the spatial index, never a scan of every row. Results are ranked by
the distance to each organization's nearest location, found by searching growing rings of
locations around the point: the first small ring usually holds the page, so the work depends
on how many partners are near, not on the size of the network. Only active member
organizations are found.

Statements are built once per *shape* (which filters are in use) with every value a bound
parameter, and reused: building them is costlier than running them. A question is one
statement per ring, with what it needs (the service's categories, on PostGIS the polygons
that contain the point, the *covers* badges of *near*) as subqueries: on a database server
each extra statement is a round trip that costs more than the index look-up itself. (In
process, on SQLite, the badges are a second small statement: cheaper than the subquery.)
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.engine import Dialect

from directory.db import db_session, utcnow
from directory.geo import spatial
from directory.geo.gazetteer import gazetteer
from directory.geo.geocoder import GeocodeError, geocode
from directory.orgs.coverage import PointContext, circle_bounds, locate, polygon_contains
from directory.orgs.models import (
    CoverageArea,
    CoverageKind,
    Location,
    MembershipStatus,
    OpeningHours,
    Organization,
    OrganizationKind,
    OrganizationLanguage,
    OrganizationPopulation,
    Population,
    Service,
    ServiceCategory,
    coverage_area_services,
)
from directory.orgs.operations import DEFAULT_TIMEZONE, service_codes_under

MAX_RADIUS_MI = 500.0
DEFAULT_NEAR_RADIUS_MI = 50.0
FIRST_RING_MI = 10.0


@dataclass(frozen=True)
class SearchFilters:
    service: str | None = None
    kinds: tuple[OrganizationKind, ...] = ()
    language: str | None = None
    population: Population | None = None
    accepting_referrals: bool = False
    open_now: bool = False
    verified_within_days: int | None = None


@dataclass(frozen=True)
class SearchHit:
    organization_id: int
    location_id: int | None
    distance_mi: float | None


@dataclass
class SearchResults:
    point: PointContext
    mode: str  # "near" or "covering"
    hits: list[SearchHit]
    total: int | None  # None when not counted
    radius_mi: float | None = None
    covering_ids: set[int] = field(default_factory=set)
    label: str = ""
    offset: int = 0

    @property
    def has_more(self) -> bool:
        return self.total is None or self.offset + len(self.hits) < self.total


# --- the shape of a search and its parameters ---------------------------------------------------

@dataclass(frozen=True)
class _Shape:
    """Which filters a search uses: one statement is built per shape."""

    service: bool
    kinds: bool
    language: bool
    population: bool
    accepting: bool
    verified: bool
    state: bool = False
    county: bool = False
    postal_code: bool = False
    polygons: bool = False
    polygons_in_sql: bool = False  # PostGIS tests the polygons itself


def _service_categories() -> Select[tuple[int]]:
    """The searched service's category and every one below it (``service_code``,
    ``service_prefix``: see ``_service_params``)."""
    return select(ServiceCategory.id).where(or_(
        ServiceCategory.code == bindparam("service_code"),
        ServiceCategory.code.like(bindparam("service_prefix"), escape="/")))


def _area_service_categories() -> Select[tuple[int]]:
    """The categories a service-limited coverage area may name to count for a search of the
    service: it, its sub-services and its parents ("shelter" covers "shelter.youth")."""
    return select(ServiceCategory.id).where(or_(
        ServiceCategory.code == bindparam("service_code"),
        ServiceCategory.code.like(bindparam("service_prefix"), escape="/"),
        ServiceCategory.code.in_(bindparam("service_parents", expanding=True))))


def _service_params(code: str | None) -> dict[str, Any]:
    if not code:
        return {}
    escaped = code.replace("/", "//").replace("%", "/%").replace("_", "/_")
    parts = code.split(".")
    return {"service_code": code, "service_prefix": f"{escaped}.%",
            "service_parents": [".".join(parts[:end]) for end in range(1, len(parts))]}


def _filter_shape(filters: SearchFilters) -> _Shape:
    return _Shape(service=bool(filters.service), kinds=bool(filters.kinds),
                  language=bool(filters.language), population=filters.population is not None,
                  accepting=filters.accepting_referrals,
                  verified=filters.verified_within_days is not None)


def _filter_params(filters: SearchFilters) -> dict[str, Any]:
    params: dict[str, Any] = {"active": MembershipStatus.ACTIVE.value,
                              **_service_params(filters.service)}
    if filters.kinds:
        params["kinds"] = [kind.value for kind in filters.kinds]
    if filters.language:
        params["language"] = filters.language
    if filters.population is not None:
        params["population"] = filters.population.value
    if filters.verified_within_days is not None:
        params["verified_since"] = utcnow() - dt.timedelta(days=filters.verified_within_days)
    return params


def _organization_conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Organization.status == bindparam("active", type_=Organization.status.type)]
    if shape.service:
        conditions.append(exists().where(
            Service.organization_id == Organization.id,
            Service.category_id.in_(_service_categories())))
    if shape.kinds:
        conditions.append(Organization.kind.in_(bindparam("kinds", expanding=True)))
    if shape.language:
        conditions.append(exists().where(OrganizationLanguage.organization_id == Organization.id,
                                         OrganizationLanguage.code == bindparam("language")))
    if shape.population:
        conditions.append(exists().where(
            OrganizationPopulation.organization_id == Organization.id,
            OrganizationPopulation.population == bindparam("population")))
    if shape.accepting:
        conditions.append(Organization.accepting_referrals.is_(True))
    if shape.verified:
        conditions.append(Organization.verified_at >= bindparam("verified_since"))
    return conditions


@functools.cache
def _time_zones() -> tuple[str, ...]:
    """Every zone a location can have: locations take theirs from the gazetteer."""
    zones = {area.timezone for area in gazetteer().zips.values() if area.timezone}
    return tuple(sorted(zones | {DEFAULT_TIMEZONE}))


def _open_now_condition(now: dt.datetime) -> ColumnElement[bool]:
    """The location is open 24/7 or has an opening interval around ``now`` in its own zone."""
    per_zone = []
    for zone in _time_zones():
        try:
            local = now.astimezone(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        moment = local.time().replace(tzinfo=None)
        per_zone.append(and_(Location.timezone == zone, OpeningHours.weekday == local.weekday(),
                             OpeningHours.opens <= moment, OpeningHours.closes > moment))
    open_interval = exists().where(OpeningHours.location_id == Location.id,
                                   or_(*per_zone) if per_zone else false())
    return or_(Location.open_24_7.is_(True), open_interval)


# --- coverage ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _polygon_candidates_statement(backend: str) -> Select[tuple[int, str | None]]:
    return select(CoverageArea.id, CoverageArea.geojson).where(
        CoverageArea.id.in_(spatial.coverage_candidates(backend, "polygon")))


def _polygons_containing(point: PointContext) -> list[int] | None:
    """The polygons that contain the point, by their shapes; None on PostGIS, which tests
    them in the search's own statement (``spatial.polygons_containing``)."""
    if _backend() == "postgis":
        return None
    rows = db_session.connection().execute(
        _polygon_candidates_statement(_backend()),
        spatial.point_params(point.lat, point.lon)).all()
    return [area_id for area_id, geojson in rows
            if polygon_contains(area_id, geojson or "", point.lat, point.lon)]


def _coverage_params(point: PointContext, polygon_ids: list[int] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if point.state:
        params["state"] = point.state
    if point.county_fips:
        params["county_fips"] = point.county_fips
    if point.postal_code:
        params["postal_code"] = point.postal_code
    if polygon_ids:
        params["polygon_ids"] = polygon_ids
    return params


def _with_coverage(shape: _Shape, point: PointContext,
                   polygon_ids: list[int] | None) -> _Shape:
    return _Shape(**{**shape.__dict__, "state": bool(point.state),
                     "county": bool(point.county_fips), "postal_code": bool(point.postal_code),
                     "polygons": bool(polygon_ids), "polygons_in_sql": polygon_ids is None})


def _polygon_match(shape: _Shape) -> ColumnElement[bool] | None:
    """The coverage area is a polygon that contains the point (None: no such polygon)."""
    if shape.polygons_in_sql:
        return CoverageArea.id.in_(spatial.polygons_containing())
    if shape.polygons:
        return CoverageArea.id.in_(bindparam("polygon_ids", expanding=True))
    return None


def _area_serves(shape: _Shape) -> ColumnElement[bool] | None:
    """An area limited to some services counts only for a search for one of them."""
    if not shape.service:
        return None
    limited = exists().where(coverage_area_services.c.coverage_area_id == CoverageArea.id)
    matching = exists().where(
        coverage_area_services.c.coverage_area_id == CoverageArea.id,
        coverage_area_services.c.category_id.in_(_area_service_categories()))
    return or_(~limited, matching)


def _named_area_matches(shape: _Shape) -> list[ColumnElement[bool]]:
    """State, county and ZIP areas that name the point's own (given as parameters)."""
    return [and_(CoverageArea.kind == kind, column == bindparam(name))
            for present, kind, column, name in (
                (shape.state, CoverageKind.STATE, CoverageArea.state, "state"),
                (shape.county, CoverageKind.COUNTY, CoverageArea.county_fips, "county_fips"),
                (shape.postal_code, CoverageKind.ZIP, CoverageArea.postal_code, "postal_code"))
            if present]


def _area_contains(shape: _Shape) -> ColumnElement[bool]:
    """The exact containment test of every kind, as one condition on a coverage area row."""
    closeness = spatial.closeness_sql(CoverageArea.unit_x, CoverageArea.unit_y,  # type: ignore[arg-type]
                                      CoverageArea.unit_z)
    options = [and_(CoverageArea.kind == CoverageKind.RADIUS, closeness >= CoverageArea.cos_radius)]
    options.extend(_named_area_matches(shape))
    polygons = _polygon_match(shape)
    if polygons is not None:
        options.append(polygons)
    conditions = [or_(*options)]
    serves = _area_serves(shape)
    if serves is not None:
        conditions.append(serves)
    return and_(*conditions)


def _covering_organization_ids(backend: str, shape: _Shape) -> Select[tuple[int]]:
    """Every organization with an area that contains the point, each kind by its index."""
    closeness = spatial.closeness_sql(CoverageArea.unit_x, CoverageArea.unit_y,  # type: ignore[arg-type]
                                      CoverageArea.unit_z)
    branches = [select(CoverageArea.organization_id).where(
        CoverageArea.id.in_(spatial.coverage_candidates(backend, "radius")),
        CoverageArea.kind == CoverageKind.RADIUS, closeness >= CoverageArea.cos_radius)]
    polygons = _polygon_match(shape)
    if polygons is not None:
        branches.append(select(CoverageArea.organization_id).where(polygons))
    branches.extend(select(CoverageArea.organization_id).where(match)
                    for match in _named_area_matches(shape))
    serves = _area_serves(shape)
    if serves is not None:
        branches = [branch.where(serves) for branch in branches]
    return union(*branches)  # type: ignore[return-value]


@dataclass(frozen=True)
class Coverage:
    """Who covers a point, for callers that filter rows of their own by it (the HSDS API):
    ``organization_ids`` selects, through the spatial index, the organizations with an area
    that contains the point; ``area_contains`` is the exact test as a condition on a
    CoverageArea row; both take ``params``."""

    organization_ids: Select[tuple[int]]
    area_contains: ColumnElement[bool]
    params: dict[str, Any]


def coverage_of(point: PointContext) -> Coverage:
    polygon_ids = _polygons_containing(point)
    shape = _with_coverage(_Shape(service=False, kinds=False, language=False, population=False,
                                  accepting=False, verified=False), point, polygon_ids)
    # (No service: ``_area_serves`` adds nothing, so no service parameters are needed.)
    return Coverage(_covering_organization_ids(_backend(), shape), _area_contains(shape),
                    {**_coverage_params(point, polygon_ids),
                     **spatial.point_params(point.lat, point.lon)})


@dataclass(frozen=True)
class CoveringRule:
    """The parts of the covering query that do not depend on the point: which organizations
    count (active, and the filters) and which of their areas (a service-limited area only for
    its services), with the parameters both take. For questions about a whole region at once,
    such as the coverage-gaps report, which applies them to every area of a kind."""

    organization: list[ColumnElement[bool]]
    area: ColumnElement[bool] | None
    params: dict[str, Any]


def covering_rule(filters: SearchFilters) -> CoveringRule:
    shape = _filter_shape(filters)
    return CoveringRule(_organization_conditions(shape), _area_serves(shape),
                        _filter_params(filters))


# --- statements ---------------------------------------------------------------------------------

def _backend() -> str:
    """The spatial backend (see directory.geo.spatial.backend)."""
    return spatial.backend(db_session)


def _ranked_locations(located: Select, ring: bool,  # type: ignore[type-arg]
                      organization: ColumnElement[int] = Location.organization_id) -> Select:  # type: ignore[type-arg,assignment]
    """``located`` (a select joining locations) with each location's closeness to the point
    and its rank within its ``organization`` (1 = nearest); within the ring if ``ring``."""
    closeness = spatial.closeness_sql(Location.unit_x, Location.unit_y,  # type: ignore[arg-type]
                                      Location.unit_z)
    query = located.add_columns(
        Location.organization_id, Location.id.label("location_id"),
        closeness.label("closeness"),
        func.row_number().over(partition_by=organization,
                               order_by=(closeness.desc(), Location.id)).label("rank"))
    if ring:
        query = query.where(closeness >= bindparam("cos_radius"))
    return query


def _ring_statement(backend: str, shape: _Shape, covering: bool, count: bool,
                    open_condition: ColumnElement[bool] | None) -> Select:  # type: ignore[type-arg]
    """Each matching organization's nearest location within the ring (box and radius given as
    parameters). The window function keeps the inner query whole, so the spatial index drives
    it. For *near* on PostgreSQL, each organization of the page also comes with whether it
    covers the point (``covers``), tested on the page only."""
    located = (select().select_from(Location)
               .where(Location.id.in_(spatial.location_candidates(backend))))
    if open_condition is not None:
        located = located.where(open_condition)
    nearest = _ranked_locations(located, ring=True).subquery("nearest")
    columns = [nearest.c.organization_id, nearest.c.location_id, nearest.c.closeness]
    if count:
        columns.append(func.count().over().label("total"))
    conditions = _organization_conditions(shape)
    if covering:
        conditions.append(exists().where(CoverageArea.organization_id == Organization.id,
                                         _area_contains(shape)))
    page = (select(*columns)
            .join(Organization, Organization.id == nearest.c.organization_id)
            .where(nearest.c.rank == 1, *conditions)
            .order_by(nearest.c.closeness.desc(), nearest.c.organization_id)
            .limit(bindparam("limit")).offset(bindparam("offset")))
    # In process (SQLite) a second statement for the badges costs less than the subquery.
    return page if covering or backend == "sqlite" else _with_badges(page, shape)


_cached_ring_statement = functools.lru_cache(maxsize=512)(_ring_statement)


def _with_badges(page: Select, shape: _Shape) -> Select:  # type: ignore[type-arg]
    """The page with whether each organization covers the point, tested on the page only."""
    found = page.subquery("page")
    covers = exists().where(CoverageArea.organization_id == found.c.organization_id,
                            _area_contains(shape))
    return (select(*found.c, covers.label("covers"))
            .order_by(found.c.closeness.desc(), found.c.organization_id))


def _number(value: int) -> ColumnElement[int]:
    """A page size or offset written into the statement's text: PostgreSQL then plans the
    prepared statement once for all points (a generic plan) instead of again on every
    execution, as it does while a LIMIT is a parameter."""
    return literal_column(str(int(value)), Integer)


def _nearest_statement(shape: _Shape, covering: bool, walk: int, limit: int,
                       offset: int) -> Select:  # type: ignore[type-arg]
    """PostGIS: the page among the ``walk`` locations nearest the point, as the GiST index
    walks them outwards (KNN, a bounded walk whatever the filters), instead of every location
    of a ring; only those within the radius (``cos_radius``) count. Every row also has
    ``reach``: the closeness of the farthest location walked, and ``seen``: how many were
    walked (fewer than ``walk``: all there are); an empty page is one row of them alone. No
    ST_DWithin in the walk: with it, PostgreSQL's custom plans for some points read every
    location within the radius by a bitmap scan and sorted them (300 ms to 3 s at 1,000,000
    organizations) instead of walking the index."""
    closeness = spatial.closeness_sql(Location.unit_x, Location.unit_y,  # type: ignore[arg-type]
                                      Location.unit_z)
    walked = (select(Location.organization_id, Location.id.label("location_id"),
                     closeness.label("closeness"))
              .order_by(spatial.nearest_first())
              .limit(_number(walk))
              .cte("walked"))
    stats = select(func.min(walked.c.closeness).label("reach"),
                   func.count().label("seen")).subquery("stats")
    ranked = select(
        walked.c.organization_id, walked.c.location_id, walked.c.closeness,
        func.row_number().over(partition_by=walked.c.organization_id,
                               order_by=(walked.c.closeness.desc(),
                                         walked.c.location_id)).label("rank")
    ).subquery("ranked")
    conditions = _organization_conditions(shape)
    if covering:
        conditions.append(exists().where(CoverageArea.organization_id == Organization.id,
                                         _area_contains(shape)))
    page = (select(ranked.c.organization_id, ranked.c.location_id, ranked.c.closeness)
            .join(Organization, Organization.id == ranked.c.organization_id)
            .where(ranked.c.rank == 1, ranked.c.closeness >= bindparam("cos_radius"),
                   *conditions)
            .order_by(ranked.c.closeness.desc(), ranked.c.organization_id)
            .limit(_number(limit)).offset(_number(offset))
            .subquery("found"))
    statement = (select(page.c.organization_id, page.c.location_id, page.c.closeness,
                        stats.c.reach, stats.c.seen)
                 .select_from(stats.outerjoin(page, true()))
                 .order_by(page.c.closeness.desc(), page.c.organization_id))
    return statement if covering else _with_badges(statement, shape)


_cached_nearest_statement = functools.lru_cache(maxsize=512)(_nearest_statement)


@dataclass(frozen=True)
class _DriverSQL:
    """A statement compiled once for the driver: its SQL, the values of its own constants and
    the conversions its parameters' types make (as SQLAlchemy makes them when it runs one)."""
    sql: str
    constants: dict[str, Any]
    conversions: dict[str, Callable[[Any], Any]]

    def parameters(self, values: dict[str, Any]) -> dict[str, Any]:
        converted = {name: self.conversions[name](value) if name in self.conversions else value
                     for name, value in values.items()}
        return {**self.constants, **converted}


@functools.lru_cache(maxsize=512)
def _nearest_sql(dialect: Dialect, shape: _Shape, covering: bool, walk: int, limit: int,
                 offset: int) -> _DriverSQL | None:
    """The nearest statement for the driver; None where a list parameter (``IN``) is expanded
    only as the statement runs. Run as SQL because SQLAlchemy computes a statement's cache key
    from its whole tree on every execution: about 0.1 ms of a 0.8 ms search here."""
    compiled = _cached_nearest_statement(shape, covering, walk, limit,
                                         offset).compile(dialect=dialect)
    if compiled.post_compile_params:
        return None
    constants: dict[str, Any] = {}
    conversions: dict[str, Callable[[Any], Any]] = {}
    for name, value in compiled.params.items():
        convert = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if value is not None:
            constants[name] = value if convert is None else convert(value)
        elif convert is not None:
            conversions[name] = convert
    return _DriverSQL(compiled.string, constants, conversions)


# Closeness is computed from stored unit vectors, the KNN order by PostGIS on the sphere: the
# same order but for rounding. A page is taken as complete only if its last organization is
# nearer than the farthest location seen by more than this (a tie at the edge is looked at
# again with more locations).
_REACH_MARGIN = 1e-12
_NO_FILTERS = {"service": False, "kinds": False, "language": False, "population": False,
               "accepting": False, "verified": False}
_KNN_TRIES = 4


def _search_nearest(shape: _Shape, covering: bool, point: PointContext, radius_mi: float,
                    params: dict[str, Any], limit: int,
                    offset: int) -> tuple[Sequence[Any], bool] | None:
    """The page from the nearest locations (PostGIS), and whether it was filled; None when a
    few growing walks could not prove the page complete (the rings answer then)."""
    connection = db_session.connection()
    base = {**params, **spatial.point_params(point.lat, point.lon),
            "cos_radius": spatial.cos_of_miles(radius_mi)}
    # Organizations average a little over one location: a quarter more than the page, and a
    # few, fill it at once almost always (a second walk for about 1 search in 200).
    walk = (offset + limit) * 5 // 4 + 4
    if shape != _Shape(**{**shape.__dict__, **_NO_FILTERS}):
        walk *= 4  # filters keep a fraction of the nearest: walk further at once
    for _ in range(_KNN_TRIES):
        compiled = _nearest_sql(connection.dialect, shape, covering, walk, limit, offset)
        found = (connection.execute(_cached_nearest_statement(shape, covering, walk, limit,
                                                              offset), base).all()
                 if compiled is None else
                 connection.exec_driver_sql(compiled.sql, compiled.parameters(base)).all())
        rows = [row for row in found if row.organization_id is not None]
        reach, seen = found[0].reach, found[0].seen
        if seen < walk or reach + _REACH_MARGIN < base["cos_radius"]:
            # Every location within the radius was walked.
            return rows, len(rows) == limit
        if len(rows) == limit and rows[-1].closeness > reach + _REACH_MARGIN:
            return rows, True  # whatever was not walked is farther than the whole page
        walk *= 4
    return None


def _statement_for(backend: str, shape: _Shape, covering: bool, count: bool,
                   open_at: dt.datetime | None) -> Select:  # type: ignore[type-arg]
    if open_at is None:
        return _cached_ring_statement(backend, shape, covering, count, None)
    return _ring_statement(backend, shape, covering, count, _open_now_condition(open_at))


def _radii(first: float, last: float) -> list[float]:
    """Growing rings: most questions are answered by the first, small one."""
    radii = [min(first, last)]
    while radii[-1] < last:
        radii.append(min(radii[-1] * 4, last))
    return radii


def _search_rings(statement: Select, point: PointContext, radii: list[float],  # type: ignore[type-arg]
                  params: dict[str, Any], limit: int,
                  offset: int) -> tuple[Sequence[Any], bool]:
    """The page from the smallest ring that holds it, and whether it was filled."""
    rows: Sequence[Any] = []
    base = {**params, **spatial.point_params(point.lat, point.lon), "limit": limit,
            "offset": offset}
    for radius in radii:
        ring = spatial.ring_params(radius, circle_bounds(point.lat, point.lon, radius))
        rows = db_session.connection().execute(statement, {**base, **ring}).all()
        if len(rows) == limit:
            return rows, True
    return rows, False


def _hits(rows: Sequence[Any]) -> list[SearchHit]:
    return [SearchHit(row.organization_id, row.location_id,
                      None if row.closeness is None
                      else spatial.miles_from_closeness(row.closeness))
            for row in rows]


# --- the two questions --------------------------------------------------------------------------

def near(point: PointContext, radius_mi: float = DEFAULT_NEAR_RADIUS_MI,
         filters: SearchFilters = SearchFilters(), *, limit: int = 25, offset: int = 0,
         now: dt.datetime | None = None, with_total: bool = False) -> SearchResults:
    """Organizations with a location within ``radius_mi`` of the point, nearest first.

    ``with_total`` also counts every match within the radius (costlier in dense areas)."""
    radius_mi = min(max(radius_mi, 0.1), MAX_RADIUS_MI)
    open_at = (now or utcnow()) if filters.open_now else None
    polygon_ids = _polygons_containing(point)  # for the badges
    shape = _with_coverage(_filter_shape(filters), point, polygon_ids)
    params = {**_filter_params(filters), **_coverage_params(point, polygon_ids)}
    statement = _statement_for(_backend(), shape, False, with_total, open_at)
    radii = [radius_mi] if with_total else _radii(FIRST_RING_MI / 2, radius_mi)
    found = (_search_nearest(shape, False, point, radius_mi, params, limit, offset)
             if _backend() == "postgis" and not with_total and open_at is None else None)
    rows, _ = found or _search_rings(statement, point, radii, params, limit, offset)
    if with_total:
        total = rows[0].total if rows else (
            _count_ring(statement, point, radius_mi, params) if offset else 0)
    elif len(rows) < limit and (rows or not offset):
        total = offset + len(rows)  # the rings reached the full radius: this is all there is
    else:
        total = None
    hits = _hits(rows)
    covering_ids = (covering_among([hit.organization_id for hit in hits], point, filters)
                    if _backend() == "sqlite" else
                    {row.organization_id for row in rows if row.covers})
    return SearchResults(point=point, mode="near", hits=hits, total=total,
                         radius_mi=radius_mi, offset=offset, covering_ids=covering_ids)


def _count_ring(statement: Select, point: PointContext, radius_mi: float,  # type: ignore[type-arg]
                params: dict[str, Any]) -> int:
    rows, _ = _search_rings(statement, point, [radius_mi], params, 1, 0)
    return rows[0].total if rows else 0


def covering(point: PointContext, filters: SearchFilters = SearchFilters(), *,
             limit: int = 25, offset: int = 0, now: dt.datetime | None = None,
             with_total: bool = False) -> SearchResults:
    """Organizations whose coverage contains the point, nearest location first.

    ``with_total`` also counts every organization that covers the point."""
    open_at = (now or utcnow()) if filters.open_now else None
    polygon_ids = _polygons_containing(point)
    shape = _with_coverage(_filter_shape(filters), point, polygon_ids)
    params = {**_filter_params(filters), **_coverage_params(point, polygon_ids)}
    statement = _statement_for(_backend(), shape, True, False, open_at)
    found = (_search_nearest(shape, True, point, MAX_RADIUS_MI, params, limit, offset)
             if _backend() == "postgis" and open_at is None else None)
    rows, filled = found or _search_rings(statement, point, _radii(FIRST_RING_MI, MAX_RADIUS_MI),
                                          params, limit, offset)
    if not filled:
        # Some covering organizations may have no location within reach, or none at all.
        rows = _covering_everywhere(shape, point, params, open_at, limit, offset)
    total = None
    if with_total or len(rows) < limit:
        total = _count_covering(shape, point, params, open_at)
    hits = _hits(rows)
    return SearchResults(point=point, mode="covering", hits=hits, total=total, offset=offset,
                         covering_ids={hit.organization_id for hit in hits})


def _covering_everywhere(shape: _Shape, point: PointContext, params: dict[str, Any],
                         open_at: dt.datetime | None, limit: int,
                         offset: int) -> Sequence[Any]:
    """Every covering organization ranked by its nearest location, wherever it is (those with
    no location last)."""
    matching = (select(Organization.id.label("matched_id"))
                .where(Organization.id.in_(_covering_organization_ids(_backend(), shape)),
                       *_organization_conditions(shape))
                .subquery("matching"))
    location_join = Location.organization_id == matching.c.matched_id
    if open_at is not None:
        location_join = and_(location_join, _open_now_condition(open_at))
    located = select(matching.c.matched_id).select_from(matching.outerjoin(Location, location_join))
    # Grouped by the matched organization: those without a location have no organization_id
    # on the location side, and each must still come out once.
    nearest = _ranked_locations(located, ring=False,
                                organization=matching.c.matched_id).subquery("nearest")
    ranked = (select(nearest.c.matched_id.label("organization_id"), nearest.c.location_id,
                     nearest.c.closeness)
              .where(nearest.c.rank == 1)
              .order_by(nearest.c.closeness.is_(None), nearest.c.closeness.desc(),
                        nearest.c.matched_id)
              .limit(limit).offset(offset))
    if open_at is not None:
        ranked = ranked.where(nearest.c.location_id.is_not(None))
    parameters = {**params, **spatial.point_params(point.lat, point.lon)}
    return db_session.execute(ranked, parameters).all()


def _count_covering(shape: _Shape, point: PointContext, params: dict[str, Any],
                    open_at: dt.datetime | None) -> int:
    query = select(func.count()).where(
        Organization.id.in_(_covering_organization_ids(_backend(), shape)),
        *_organization_conditions(shape))
    if open_at is not None:
        query = query.where(exists().where(Location.organization_id == Organization.id,
                                           _open_now_condition(open_at)))
    return db_session.scalar(query, {**params, **spatial.point_params(point.lat, point.lon)}) or 0


def covering_among(organization_ids: Sequence[int], point: PointContext,
                   filters: SearchFilters = SearchFilters()) -> set[int]:
    """Which of a few organizations cover the point (for the badges on *near* results)."""
    if not organization_ids:
        return set()
    polygon_ids = _polygons_containing(point)
    shape = _with_coverage(_filter_shape(filters), point, polygon_ids)
    params = {**_coverage_params(point, polygon_ids), **spatial.point_params(point.lat, point.lon),
              **_service_params(filters.service), "organization_ids": list(organization_ids)}
    return set(db_session.connection().scalars(_covering_among_statement(shape), params).all())


@functools.lru_cache(maxsize=256)
def _covering_among_statement(shape: _Shape) -> Select[tuple[int]]:
    return (select(CoverageArea.organization_id).distinct()
            .where(CoverageArea.organization_id.in_(bindparam("organization_ids", expanding=True)),
                   _area_contains(shape)))


class SearchError(ValueError):
    """The search cannot be run as asked; ``field`` names the input at fault."""

    def __init__(self, message: str, field_name: str) -> None:
        super().__init__(message)
        self.field = field_name


def search(query: dict[str, Any], *, limit: int = 25, offset: int = 0,
           with_total: bool = False, geocoder: str = "offline",
           now: dt.datetime | None = None) -> SearchResults:
    """Run a validated search (see SearchQuerySchema): place the query, then ask it."""
    service = query.get("service")
    if service and not service_codes_under(service):
        raise SearchError(gettext("Unknown service %(service)s.", service=repr(service)), "service")
    try:
        found = geocode(query["near"], service=geocoder)
    except GeocodeError as exc:
        raise SearchError(str(exc), "near") from exc
    point = locate(found.lat, found.lon, found.postal_code if found.precision == "zip" else None)
    filters = SearchFilters(
        service=service or None, kinds=tuple(query.get("kind") or ()),
        language=query.get("language"), population=query.get("population"),
        accepting_referrals=bool(query.get("accepting")), open_now=bool(query.get("open_now")),
        verified_within_days=query.get("verified_within"))
    if query.get("mode") == "covering":
        results = covering(point, filters, limit=limit, offset=offset, now=now,
                           with_total=with_total)
    else:
        results = near(point, query.get("radius") or DEFAULT_NEAR_RADIUS_MI, filters,
                       limit=limit, offset=offset, now=now, with_total=with_total)
    results.label = found.label
    return results
