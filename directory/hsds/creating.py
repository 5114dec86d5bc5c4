"""Creating the new organizations of an import: each checked in memory against
create_organization's rules and built whole, then written a batch at a time with one
executemany per table (the one-at-a-time path through create_organization isolates a batch the
database refuses).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import groupby
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError

from directory.accounts.models import User
from directory.audit.models import AuditAction
from directory.audit.operations import record_many
from directory.db import db_session
from directory.hsds.assemble import Listing
from directory.hsds.report import ImportReport
from directory.hsds.taxonomy import service_categories
from directory.hsds.updating import coverage_areas
from directory.orgs.listing import created_fields, record_created
from directory.orgs.models import (
    Contact,
    CoverageArea,
    Location,
    MembershipStatus,
    OpeningHours,
    Organization,
    OrganizationLanguage,
    OrganizationPopulation,
    Service,
    ServiceCategory,
    coverage_area_services,
)
from directory.orgs.operations import (
    ListingError,
    build_location,
    create_organization,
    slugify,
)

log = logging.getLogger(__name__)

CREATE_BATCH = 500


def _create_organization(actor: User | None, listing: Listing) -> Organization:
    """A new listing through create_organization itself, keeping the HSDS ids it came with
    (the one-at-a-time path, used when a batch must be redone)."""
    organization = create_organization(listing.data, status=MembershipStatus.ACTIVE)
    organization.hsds_id = listing.hsds_id
    for service in organization.services:
        service.hsds_id = listing.service_ids[service.category.code]
        service.description = listing.service_descriptions[service.category.code]
    for location, location_id in zip(organization.locations, listing.location_ids, strict=True):
        location.hsds_id = location_id
    categories = {category.code: category for category in service_categories()}
    organization.coverage_areas = coverage_areas(organization, listing, categories)
    db_session.flush()
    record_created(actor, organization, _created_values(listing))
    return organization


def _created_values(listing: Listing) -> dict[str, Any]:
    return listing.data | {"coverage_areas": listing.areas}


def build_organization(listing: Listing, slug: str,
                       categories: dict[str, ServiceCategory]) -> Organization:
    """The organization create_organization would build from a validated listing, with the
    HSDS ids kept, not yet added. New listings are listed at once (the operator chose to
    import them) but not verified: that stays a coordinator's call. tests/hsds checks that
    this and create_organization build the same rows."""
    data = listing.data
    organization = Organization(
        hsds_id=listing.hsds_id, slug=slug, name=data["name"].strip(), kind=data["kind"],
        description=data.get("description", ""), website=data.get("website"),
        email=data.get("email"), phone=data.get("phone"),
        accepting_referrals=data.get("accepting_referrals", True),
        status=MembershipStatus.ACTIVE, verified_at=None,
    )
    organization.languages = [OrganizationLanguage(code=code)
                              for code in dict.fromkeys(data.get("languages", []))]
    organization.populations = [OrganizationPopulation(population=population)
                                for population in dict.fromkeys(data.get("populations", []))]
    organization.services = [Service(category=categories[code], hsds_id=listing.service_ids[code],
                                     description=listing.service_descriptions[code])
                             for code in dict.fromkeys(data.get("services", []))]
    organization.contacts = [Contact(**contact) for contact in data.get("contacts", [])]
    for payload, location_id in zip(data.get("locations", []), listing.location_ids,
                                    strict=True):
        location = build_location(payload)
        location.hsds_id = location_id
        organization.locations.append(location)
    organization.coverage_areas = coverage_areas(organization, listing, categories)
    return organization


class Creator:
    """Creates new organizations a batch at a time (validate all, then write).

    Each listing is checked in memory against create_organization's rules (a name not listed
    yet, a free address name, placeable locations) and built whole before anything of it is
    added; a batch is then flushed in one savepoint. A batch the database refuses is redone
    one organization per savepoint through create_organization, which isolates the culprit.
    """

    def __init__(self, categories: dict[str, ServiceCategory], report: ImportReport,
                 actor: User | None, redo: Callable[[Listing], None]) -> None:
        self.categories = categories
        self.redo = redo  # one listing in its own savepoint, through create_organization
        self.report = report
        self.actor = actor
        self.names = set(db_session.scalars(select(func.lower(Organization.name))))
        self.slugs = set(db_session.scalars(select(Organization.slug)))
        self.pending: list[tuple[Listing, Organization]] = []

    def _slug(self, name: str) -> str:
        base = slugify(name)
        slug, counter = base, 2
        while slug in self.slugs:
            suffix = f"-{counter}"
            slug, counter = base[: 80 - len(suffix)] + suffix, counter + 1
        return slug

    def add(self, listing: Listing, write: bool) -> None:
        """Check and build one new organization; queue it for writing when ``write``."""
        draft = listing.draft
        name = listing.data["name"].strip()
        if name.lower() in self.names:
            self.report.reject(draft.row, [draft.row.problem(
                "An organization with this name is already listed.")])
            return
        slug = self._slug(name)
        try:
            organization = build_organization(listing, slug, self.categories)
        except ListingError as exc:
            self.report.reject(draft.row, [draft.row.problem(str(exc))])
            return
        self.names.add(name.lower())
        self.slugs.add(slug)
        if not write:
            return
        self.pending.append((listing, organization))
        if len(self.pending) >= CREATE_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        try:
            with db_session.begin_nested():
                write_new_organizations([organization for _, organization in self.pending])
                record_many(AuditAction.LISTING_CREATED, actor=self.actor, events=[
                    (organization, {"fields": created_fields(_created_values(listing))})
                    for listing, organization in self.pending])
            self.report.created += len(self.pending)
        except (IntegrityError, DataError):
            log.info("a batch of %d new organizations was refused; redoing it one by one",
                     len(self.pending))
            for listing, _ in self.pending:
                self.redo(listing)
        self.pending.clear()


def _new_ids(model: type[Any], count: int) -> list[int]:
    """``count`` ids for new rows of ``model``: from its sequence on PostgreSQL; on SQLite,
    after the largest (should another writer take one meanwhile, the INSERT fails and the
    batch is redone one organization at a time)."""
    table = model.__table__
    if db_session.get_bind().dialect.name == "postgresql":
        return list(db_session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                 "FROM generate_series(1, :count)"), {"table": table.name, "count": count}))
    start = (db_session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))


def _insert_with_ids(model: type[Any], objects: list[Any]) -> None:
    """INSERT the objects' rows (one executemany; RETURNING would mean a statement a row on
    SQLite) after giving each object its id."""
    if not objects:
        return
    for item, new_id in zip(objects, _new_ids(model, len(objects)), strict=True):
        item.id = new_id
    _insert(model, objects)


def _insert(model: type[Any], objects: list[Any]) -> None:
    """The objects' rows, with the columns they set (the others take their defaults): one
    executemany per set of columns."""
    columns = [(attribute.key, attribute.columns[0].name)
               for attribute in sa_inspect(model).column_attrs]
    rows = [{name: item.__dict__[key] for key, name in columns if key in item.__dict__}
            for item in objects]
    rows.sort(key=lambda row: tuple(row))
    for _, group in groupby(rows, key=lambda row: tuple(row)):
        db_session.execute(insert(model.__table__), list(group))


def write_new_organizations(organizations: list[Organization]) -> None:
    """Insert new organizations as build_organization built them, table by table: one
    multi-row INSERT per table and batch, the foreign keys filled in from the ids the parents
    got. The unit of work would write the same rows, sorting out their dependencies object by
    object (most of an import's time). The objects are not added to the session."""
    # Everything is gathered while the objects are transient: once saved, an attribute never
    # set (no opening hours) would try to load from the database.
    batch = [(organization, [*organization.languages, *organization.populations,
                             *organization.contacts], list(organization.services),
              [(location, list(location.hours)) for location in organization.locations],
              [(area, area.location, list(area.services))
               for area in organization.coverage_areas])
             for organization in organizations]
    _insert_with_ids(Organization, organizations)
    owned: dict[type, list[Any]] = {}  # one list per table: a mixed list is one INSERT per run
    locations: list[Location] = []
    for organization, items, services, placed, _ in batch:
        for item in items:
            item.organization_id = organization.id
            owned.setdefault(type(item), []).append(item)
        for service in services:
            service.organization_id, service.category_id = organization.id, service.category.id
        owned.setdefault(Service, []).extend(services)
        for location, _ in placed:
            location.organization_id = organization.id
            locations.append(location)
    for model, items in owned.items():
        _insert(model, items)
    _insert_with_ids(Location, locations)
    hours = []
    for *_, placed, _ in batch:
        for location, opening_hours in placed:
            for item in opening_hours:
                item.location_id = location.id
            hours += opening_hours
    _insert(OpeningHours, hours)
    areas = []
    for organization, *_, covered in batch:
        for area, location, _ in covered:
            area.organization_id = organization.id
            area.location_id = location.id if location is not None else None
            areas.append(area)
    _insert_with_ids(CoverageArea, areas)
    links = [{"coverage_area_id": area.id, "category_id": category.id}
             for *_, covered in batch for area, _, categories in covered
             for category in categories]
    if links:
        db_session.execute(insert(coverage_area_services), links)


