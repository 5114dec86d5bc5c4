"""What the standard HSDS 3.0 API publishes: its lists, their filters, pages and objects.

Every object is built by the export's own code (``directory.hsds.export``), so that the API
and the export say the same thing: only active listings, confidential locations reduced to
their city's centre with no address. A list is a query of keys (ids, in a fixed order) with
its filters; a page loads the rows of its keys in a few batched queries (never one per
item) and builds the objects. ``proximity`` and ``postcode`` go through the spatial index.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import aliased, joinedload, selectinload

from directory.db import db_session
from directory.geo import spatial
from directory.hsds import taxonomy as tax
from directory.hsds.export import (
    Children,
    Rows,
    attributes_by_link,
    nest,
    organization_row,
    organization_rows,
    service_at_location_id,
    service_row,
    taxonomy_rows,
)
from directory.orgs.coverage import PointContext, circle_bounds
from directory.orgs.models import (
    CoverageArea,
    Location,
    MembershipStatus,
    Organization,
    OrganizationPopulation,
    Service,
    ServiceCategory,
    coverage_area_services,
)
from directory.orgs.search import coverage_of

STREAM_BATCH = 500
METERS_PER_MILE = 1609.344

Item = dict[str, Any]
Key = tuple[Any, ...]

# The children of a service and of the organization inside it (the compiled service schema:
# the organization is one-to-one there, without its services or locations).
SERVICE_CHILDREN: Children = {
    "service": [("languages", "language", "service_id"),
                ("service_areas", "service_area", "service_id"),
                ("service_at_locations", "service_at_location", "service_id")],
    "location": [("addresses", "address", "location_id"),
                 ("schedules", "schedule", "location_id"),
                 ("languages", "language", "location_id")],
    "organization": [("phones", "phone", "organization_id"),
                     ("contacts", "contact", "organization_id")],
    "contact": [("phones", "phone", "contact_id")],
}
SERVICE_IN_SAL: Children = {**SERVICE_CHILDREN, "service": SERVICE_CHILDREN["service"][:2]}
ORGANIZATION_ONLY: Children = {table: children for table, children in
                               SERVICE_CHILDREN.items() if table != "service"}


# --- filters --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Near:
    """Within ``miles`` of ``point`` (a postcode's centroid)."""

    point: PointContext
    miles: float


@dataclass(frozen=True)
class Filters:
    search: str | None = None
    taxonomy_term_id: str | None = None
    taxonomy_id: str | None = None
    organization_id: str | None = None
    modified_after: dt.datetime | None = None
    covering: PointContext | None = None  # a postcode alone: services whose area holds it
    near: Near | None = None  # a postcode and a proximity


def last_modified(moment: dt.datetime) -> str:
    """HSDS datetimes: UTC, with milliseconds."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _listed() -> ColumnElement[bool]:
    return Organization.status == MembershipStatus.ACTIVE


def _search(text: str) -> ColumnElement[bool]:
    return or_(Organization.name.icontains(text, autoescape=True),
               Service.description.icontains(text, autoescape=True),
               Service.category_id.in_(select(ServiceCategory.id).where(
                   ServiceCategory.name.icontains(text, autoescape=True))))


@dataclass
class _Terms:
    """What each taxonomy term of the directory's means for a service (see docs/hsds.md):
    its category, an Open Eligibility term its category maps to, or its organization's kind
    or population served."""

    categories: dict[str, int] = field(default_factory=dict)  # code -> id

    @classmethod
    def load(cls) -> _Terms:
        return cls(dict(db_session.execute(select(ServiceCategory.code, ServiceCategory.id))
                        .tuples().all()))

    def _mapped(self, paths: set[str] | None) -> list[int]:
        return [category_id for code, category_id in self.categories.items()
                if (paths is None and tax.open_eligibility_paths(code))
                or (paths is not None and paths & set(tax.open_eligibility_paths(code)))]

    def term(self, term_id: str) -> ColumnElement[bool]:
        for code, category_id in self.categories.items():
            if tax.category_term_id(code) == term_id:
                return Service.category_id == category_id
        for term in tax.fixed_terms():
            if term.id != term_id:
                continue
            if term.taxonomy is tax.OPEN_ELIGIBILITY:
                path = term.description.removeprefix("Open Eligibility: ").removesuffix(".")
                return Service.category_id.in_(self._mapped({path}))
            if term.taxonomy is tax.KINDS and term.code:
                return Organization.kind == term.code.removeprefix("kind:")
            if term.taxonomy is tax.POPULATIONS and term.code:
                return exists().where(
                    OrganizationPopulation.organization_id == Organization.id,
                    OrganizationPopulation.population == term.code.removeprefix("population:"))
        return false()

    def taxonomy(self, taxonomy_id: str) -> ColumnElement[bool]:
        if taxonomy_id in (tax.SERVICES.id, tax.KINDS.id):
            return true()  # every service has a category, every organization a kind
        if taxonomy_id == tax.OPEN_ELIGIBILITY.id:
            return Service.category_id.in_(self._mapped(None))
        if taxonomy_id == tax.POPULATIONS.id:
            return exists().where(OrganizationPopulation.organization_id == Organization.id)
        return false()


def _serves(area: type[CoverageArea]) -> ColumnElement[bool]:
    """The area counts for the service: it names no services, or the service's category or
    one of its parents ("shelter" covers "shelter.youth")."""
    named, own = aliased(ServiceCategory), aliased(ServiceCategory)
    limited = exists().where(coverage_area_services.c.coverage_area_id == area.id)
    # Correlated to the service two levels up, which auto-correlation does not reach.
    matching = (select(coverage_area_services.c.coverage_area_id)
                .where(coverage_area_services.c.coverage_area_id == area.id,
                       coverage_area_services.c.category_id == named.id,
                       own.id == Service.category_id,
                       or_(own.code == named.code, own.code.startswith(named.code + ".")))
                .correlate_except(coverage_area_services, named, own).exists())
    return or_(~limited, matching)


def _needs_organization(filters: Filters) -> bool:
    return any((filters.search, filters.taxonomy_term_id, filters.taxonomy_id,
                filters.organization_id, filters.modified_after, filters.covering))


def _service_conditions(filters: Filters, params: dict[str, Any], *,
                        by_index: bool = True) -> list[ColumnElement[bool]]:
    """Conditions on services (and their organization, when ``_needs_organization``).

    ``by_index`` keeps the listed ones by ``services.listed`` and its index; without it, by
    the organization's status: a list that starts from a few places (the spatial index)
    must not offer SQLite's planner an index that walks every listed service instead."""
    conditions: list[ColumnElement[bool]] = [Service.listed == true() if by_index
                                             else _listed()]
    if filters.search:
        conditions.append(_search(filters.search))
    if filters.taxonomy_term_id or filters.taxonomy_id:
        terms = _Terms.load()
        if filters.taxonomy_term_id:
            conditions.append(terms.term(filters.taxonomy_term_id))
        if filters.taxonomy_id:
            conditions.append(terms.taxonomy(filters.taxonomy_id))
    if filters.organization_id:
        conditions.append(Organization.hsds_id == filters.organization_id)
    if filters.modified_after:
        conditions.append(Organization.updated_at >= filters.modified_after)
    if filters.covering is not None:
        coverage = coverage_of(filters.covering)
        params.update(coverage.params)
        conditions.append(Organization.id.in_(coverage.organization_ids))
        conditions.append(exists().where(CoverageArea.organization_id == Organization.id,
                                         coverage.area_contains, _serves(CoverageArea)))
    return conditions


def _near_conditions(near: Near, params: dict[str, Any]) -> list[ColumnElement[bool]]:
    """The location is within the distance, found through the spatial index (its public
    point: a confidential location is measured from its city's centre)."""
    point = near.point
    params.update(spatial.point_params(point.lat, point.lon))
    params.update(spatial.ring_params(near.miles, circle_bounds(point.lat, point.lon,
                                                                 near.miles)))
    closeness = spatial.closeness_sql(Location.unit_x, Location.unit_y,  # type: ignore[arg-type]
                                      Location.unit_z)
    return [Location.id.in_(spatial.location_candidates(spatial.backend(db_session))),
            closeness >= bindparam("cos_radius")]


# --- lists and pages ------------------------------------------------------------------------

@dataclass
class Listing:
    """A list: ``query`` selects the ``keys`` (its order) of the matching items, with
    ``params``; ``build`` turns a run of keys into their objects, in the same order."""

    query: Select[Any]
    keys: tuple[ColumnElement[Any], ...]
    build: Callable[[Sequence[Key]], list[Item]]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    contents: list[Item]
    total: int
    number: int
    per_page: int

    def as_dict(self) -> dict[str, Any]:
        """The reference's Page: ``size`` is the number of items on this page."""
        pages = math.ceil(self.total / self.per_page)
        return {"total_items": self.total, "total_pages": pages, "page_number": self.number,
                "size": len(self.contents), "first_page": self.number == 1,
                "last_page": self.number >= pages, "empty": not self.contents,
                "contents": self.contents}


def page(listing: Listing, number: int, per_page: int) -> Page:
    total = db_session.scalar(select(func.count()).select_from(listing.query.subquery()),
                              listing.params) or 0
    keys: Sequence[Key] = []
    if (number - 1) * per_page < total:
        keys = [tuple(row) for row in db_session.execute(
            listing.query.order_by(*listing.keys).limit(per_page)
            .offset((number - 1) * per_page), listing.params)]
    return Page(listing.build(keys), total, number, per_page)


def stream(listing: Listing) -> Iterator[Item]:
    """Every item, a batch at a time, each batch after the last key of the one before."""
    last: Key | None = None
    while True:
        query = listing.query.order_by(*listing.keys).limit(STREAM_BATCH)
        if last is not None:
            query = query.where(tuple_(*listing.keys) > tuple_(*last))
        keys = [tuple(row) for row in db_session.execute(query, listing.params)]
        if not keys:
            return
        yield from listing.build(keys)
        last = keys[-1]


# --- building objects -----------------------------------------------------------------------

class _Taxonomy:
    """The terms and taxonomies attributes point at (looked up once per request)."""

    def __init__(self) -> None:
        rows = taxonomy_rows(db_session.scalars(select(ServiceCategory)).all())
        self.rows = rows
        self.terms = {term["id"]: term for term in rows["taxonomy_term"]}
        self.taxonomies = {item["id"]: item for item in rows["taxonomy"]}

    def attributes(self, rows: Rows) -> dict[str, list[Item]]:
        return attributes_by_link(rows, self.terms, self.taxonomies)


_FULL_LISTING = (selectinload(Organization.locations).selectinload(Location.hours),
                 selectinload(Organization.services), selectinload(Organization.contacts),
                 selectinload(Organization.coverage_areas).selectinload(CoverageArea.services),
                 selectinload(Organization.languages), selectinload(Organization.populations))


def _organizations(ids: set[int]) -> dict[int, Organization]:
    """Listed organizations with everything the export reads, in a fixed number of queries."""
    if not ids:
        return {}
    found = db_session.scalars(select(Organization).where(Organization.id.in_(ids))
                               .options(*_FULL_LISTING))
    return {organization.id: organization for organization in found}


def _row(rows: Rows, table: str, row_id: str) -> Item:
    return next(row for row in rows[table] if row["id"] == row_id)


def _full_service(rows: Rows, service_id: str, attributes: dict[str, list[Item]],
                  modified: dt.datetime, children: Children = SERVICE_CHILDREN) -> Item:
    item = nest(rows, "service", _row(rows, "service", service_id), attributes, children)
    for link in item.get("service_at_locations", []):
        link["location"] = nest(rows, "location", _row(rows, "location", link["location_id"]),
                                attributes, children)
    item["organization"] = nest(rows, "organization", rows["organization"][0], attributes,
                                ORGANIZATION_ONLY)
    item["last_modified"] = last_modified(modified)
    return item


def _services(keys: Sequence[Key], full: bool, minimal: bool) -> list[Item]:
    ids = [key[0] for key in keys]
    if not ids:
        return []
    if full:
        services = dict(db_session.execute(select(Service.id, Service.organization_id)
                                           .where(Service.id.in_(ids))).tuples().all())
        organizations = _organizations(set(services.values()))
        taxonomy = _Taxonomy()
        built: dict[int, Item] = {}
        for organization in organizations.values():
            rows = organization_rows(organization)
            attributes = taxonomy.attributes(rows)
            for service in organization.services:
                if service.id in services:
                    built[service.id] = _full_service(rows, service.hsds_id, attributes,
                                                      organization.updated_at)
        return [built[service_id] for service_id in ids]
    loaded = {service.id: service for service in db_session.scalars(
        select(Service).where(Service.id.in_(ids)).options(joinedload(Service.organization)))}
    items = []
    for service_id in ids:
        service = loaded[service_id]
        organization = service.organization
        item = service_row(service, organization.hsds_id)
        if minimal:
            item = {key: item[key] for key in ("id", "name", "status")}
        else:
            item["organization"] = organization_row(organization)
        item["last_modified"] = last_modified(organization.updated_at)
        items.append(item)
    return items


def services(filters: Filters, *, full: bool = False, minimal: bool = False) -> Listing:
    params: dict[str, Any] = {}
    query = select(Service.id).where(*_service_conditions(filters, params))
    if _needs_organization(filters):
        query = query.join(Organization, Organization.id == Service.organization_id)
    return Listing(query, (Service.id,), lambda keys: _services(keys, full, minimal), params)


def service(hsds_id: str) -> Item | None:
    found = db_session.scalar(select(Service.id).join(Organization).where(
        Service.hsds_id == hsds_id, _listed()))
    return _services([(found,)], full=True, minimal=False)[0] if found else None


def _service_at_locations(keys: Sequence[Key], full: bool) -> list[Item]:
    if not keys:
        return []
    organization_ids = set(db_session.scalars(select(Service.organization_id).where(
        Service.id.in_({service_id for service_id, _ in keys}))))
    organizations = _organizations(organization_ids)
    taxonomy = _Taxonomy() if full else None
    services_by_id = {service.id: (service, organization)
                      for organization in organizations.values()
                      for service in organization.services}
    locations_by_id = {location.id: location for organization in organizations.values()
                       for location in organization.locations}
    rows_of: dict[int, tuple[Rows, dict[str, list[Item]]]] = {}
    items = []
    for service_id, location_id in keys:
        service, organization = services_by_id[service_id]
        if organization.id not in rows_of:
            rows = organization_rows(organization)
            rows_of[organization.id] = (rows, taxonomy.attributes(rows) if taxonomy else {})
        rows, attributes = rows_of[organization.id]
        link = _row(rows, "service_at_location",
                    service_at_location_id(service.hsds_id, locations_by_id[location_id].hsds_id))
        location = _row(rows, "location", link["location_id"])
        if full:
            item = nest(rows, "service_at_location", link, attributes, SERVICE_IN_SAL)
            item["location"] = nest(rows, "location", location, attributes, SERVICE_IN_SAL)
            item["service"] = _full_service(rows, service.hsds_id, attributes,
                                            organization.updated_at, SERVICE_IN_SAL)
        else:
            item = {**link, "location": location,
                    "service": {**_row(rows, "service", service.hsds_id),
                                "last_modified": last_modified(organization.updated_at)}}
        items.append(item)
    return items


def _pairs(*columns: ColumnElement[Any]) -> Select[Any]:
    """Every service at every location of its organization (what the export links)."""
    return (select(*(columns or (Service.id, Location.id)))
            .join(Organization, Organization.id == Service.organization_id)
            .join(Location, Location.organization_id == Service.organization_id))


def service_at_locations(filters: Filters, *, full: bool = False) -> Listing:
    """Services at locations: nearest first with a proximity; else in id order, except that
    a postcode's list is ordered by ids the index cannot walk (``+ 0``), so that the planner
    starts from the few covering organizations instead of walking every service in order."""
    params: dict[str, Any] = {}
    conditions = _service_conditions(filters, params, by_index=False)
    keys: tuple[ColumnElement[Any], ...] = (Service.id, Location.id)
    if filters.near is not None:
        conditions += _near_conditions(filters.near, params)
        closeness = spatial.closeness_sql(Location.unit_x, Location.unit_y,  # type: ignore[arg-type]
                                          Location.unit_z)
        keys = (-closeness, Service.id, Location.id)
    elif filters.covering is not None:
        keys = (Service.id + 0, Location.id + 0)
    # The keys are selected in their order; the last two are the service's and location's ids.
    return Listing(_pairs(*keys).where(*conditions), keys, lambda rows: _service_at_locations(
        [tuple(row[-2:]) for row in rows], full), params)


def service_at_location(link_id: str) -> Item | None:
    """The link by its id: the location is found by the first 48 bits of the id (see
    ``service_at_location_id``), the service by recomputing the id of each of its
    organization's services there."""
    prefix = link_id.replace("-", "")[:12]
    if len(prefix) < 12:
        return None
    start = f"{prefix[:8]}-{prefix[8:]}"
    candidates = db_session.execute(
        _pairs().add_columns(Service.hsds_id, Location.hsds_id)
        .where(_listed(), Location.hsds_id >= start, Location.hsds_id < start + "~")).all()
    for service_id, location_id, service_hsds, location_hsds in candidates:
        if service_at_location_id(service_hsds, location_hsds) == link_id:
            return _service_at_locations([(service_id, location_id)], full=True)[0]
    return None


def _organizations_items(keys: Sequence[Key], full: bool, full_service: bool) -> list[Item]:
    ids = [key[0] for key in keys]
    if not (full or full_service):
        loaded = {organization.id: organization for organization in db_session.scalars(
            select(Organization).where(Organization.id.in_(ids)))}
        return [organization_row(loaded[organization_id]) for organization_id in ids]
    organizations = _organizations(set(ids))
    taxonomy = _Taxonomy()
    items = []
    for organization_id in ids:
        organization = organizations[organization_id]
        rows = organization_rows(organization)
        attributes = taxonomy.attributes(rows)
        item = nest(rows, "organization", rows["organization"][0], attributes)
        modified = last_modified(organization.updated_at)
        if full_service:
            for nested in item.get("services", []):
                nested["last_modified"] = modified
        elif "services" in item:
            item["services"] = [{**_row(rows, "service", nested["id"]), "last_modified": modified}
                                for nested in item["services"]]
        items.append(item)
    return items


def organizations(search: str | None, *, full: bool = False,
                  full_service: bool = False) -> Listing:
    query = select(Organization.id).where(_listed())
    if search:
        query = query.where(or_(Organization.name.icontains(search, autoescape=True),
                                Organization.description.icontains(search, autoescape=True)))
    return Listing(query, (Organization.id,),
                   lambda keys: _organizations_items(keys, full, full_service))


def organization(hsds_id: str, *, full_service: bool = False) -> Item | None:
    found = db_session.scalar(select(Organization.id).where(
        Organization.hsds_id == hsds_id, _listed()))
    if found is None:
        return None
    return _organizations_items([(found,)], full=True, full_service=full_service)[0]


# --- taxonomies (a few hundred rows at most: filtered and paged in memory) ---------------------

def _matches(item: Item, search: str | None) -> bool:
    if not search:
        return True
    needle = search.casefold()
    return any(needle in str(item.get(name, "")).casefold()
               for name in ("name", "description", "code"))


def taxonomies(search: str | None) -> list[Item]:
    return [item for item in _Taxonomy().rows["taxonomy"] if _matches(item, search)]


def taxonomy_terms(search: str | None, taxonomy_id: str | None = None,
                   parent_id: str | None = None, top_only: bool = False) -> list[Item]:
    known = _Taxonomy()
    return [{**term, "taxonomy_detail": known.taxonomies[term["taxonomy_id"]]}
            for term in known.rows["taxonomy_term"]
            if _matches(term, search)
            and (taxonomy_id is None or term["taxonomy_id"] == taxonomy_id)
            and (parent_id is None or term.get("parent_id") == parent_id)
            and (not top_only or "parent_id" not in term)]


def page_of(items: list[Item], number: int, per_page: int) -> Page:
    start = (number - 1) * per_page
    return Page(items[start:start + per_page], len(items), number, per_page)
