"""Creating the new organizations of an import: each checked in memory against
create_organization's rules and turned into the rows it would write (plain column values, no
ORM objects), then written a batch at a time with one executemany per table (the one-at-a-time
path through create_organization isolates a batch the database refuses).

On SQLite, a large import can suspend the row triggers that keep the new rows' derived data
(the spatial indexes, ``services.listed``): each batch then does their work itself, one
statement per index instead of one trigger program per row, which is a third of the writing
(``BatchTriggers``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Table, TextClause, func, select, text
from sqlalchemy.exc import DataError, IntegrityError

from directory.accounts.models import User
from directory.audit.models import AuditAction
from directory.audit.operations import record_many
from directory.db import db_session, insert_rows, utcnow
from directory.hsds.assemble import Listing
from directory.hsds.report import ImportReport
from directory.hsds.taxonomy import service_categories
from directory.hsds.updating import coverage_areas
from directory.orgs.coverage import radius_columns
from directory.orgs.listing import created_fields, record_created
from directory.orgs.models import (
    Closure,
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
    location_columns,
    opening_hours,
    slugify,
)

log = logging.getLogger(__name__)

CREATE_BATCH = 500

_ORGANIZATIONS: Table = Organization.__table__
_LANGUAGES: Table = OrganizationLanguage.__table__
_POPULATIONS: Table = OrganizationPopulation.__table__
_SERVICES: Table = Service.__table__
_CONTACTS: Table = Contact.__table__
_LOCATIONS: Table = Location.__table__
_HOURS: Table = OpeningHours.__table__
_CLOSURES: Table = Closure.__table__
_AREAS: Table = CoverageArea.__table__
_OWNED = {table.name: table for table in (_LANGUAGES, _POPULATIONS, _SERVICES, _CONTACTS)}

# SQLite's AFTER INSERT triggers on the tables a batch writes: the table of each, and what a
# batch does instead for its rows with ids from :first to :last (a new service's ``listed`` is
# given in its row).
_BATCH_TRIGGERS: dict[str, tuple[str, TextClause | None]] = {
    "services_listed_insert": ("services", None),
    "location_index_insert": ("locations", text(
        "INSERT INTO location_index SELECT id, latitude, latitude, longitude, longitude "
        "FROM locations WHERE id BETWEEN :first AND :last")),
    "coverage_index_insert": ("coverage_areas", text(
        "INSERT INTO coverage_index SELECT id, min_lat, max_lat, min_lon, max_lon "
        "FROM coverage_areas WHERE id BETWEEN :first AND :last AND kind = 'radius'")),
    "polygon_index_insert": ("coverage_areas", text(
        "INSERT INTO polygon_index SELECT id, min_lat, max_lat, min_lon, max_lon "
        "FROM coverage_areas WHERE id BETWEEN :first AND :last AND kind = 'polygon'")),
}


class BatchTriggers:
    """SQLite's row triggers for new rows, suspended for a large import's batches (each batch
    does their work in one statement per index) and back for anything else.

    They are dropped and created again from the very SQL the schema holds, inside the import's
    transaction: SQLite's DDL is transactional, so a rollback brings them back, and no other
    connection ever sees the schema without them (the import holds the write lock from its
    first write to its commit, and they are back before it commits). On PostgreSQL nothing
    is suspended."""

    def __init__(self) -> None:
        self.definitions: list[str] = []

    @property
    def suspended(self) -> bool:
        return bool(self.definitions)

    def suspend(self) -> None:
        if self.suspended or db_session.get_bind().dialect.name != "sqlite":
            return
        found = [(name, sql) for name, sql in db_session.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).tuples()
            if name in _BATCH_TRIGGERS]
        if len(found) != len(_BATCH_TRIGGERS):
            log.warning("the schema lacks some of the triggers %s; none is suspended",
                        ", ".join(_BATCH_TRIGGERS))
            return
        connection = db_session.connection()
        for name, _sql in found:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        self.definitions = [sql for _name, sql in found]

    def restore(self) -> None:
        connection = db_session.connection()
        for sql in self.definitions:
            connection.exec_driver_sql(sql)
        self.definitions = []

    @contextmanager
    def restored(self) -> Iterator[None]:
        """The triggers in place for the block (the one-by-one path writes through them)."""
        suspended = self.suspended
        self.restore()
        yield
        if suspended:
            self.suspend()

    def fill(self, table: Table, ids: list[int]) -> None:
        """Do the suspended triggers' work for the new rows of ``table`` with ids ``ids``
        (consecutive, as ``_new_ids`` gives them)."""
        if not self.suspended or not ids:
            return
        assert ids[-1] - ids[0] == len(ids) - 1, "ids not consecutive"
        for name, statement in _BATCH_TRIGGERS.values():
            if name == table.name and statement is not None:
                db_session.execute(statement, {"first": ids[0], "last": ids[-1]})


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


@dataclass(slots=True)
class NewRows:
    """The rows create_organization would write for one listing, as plain column values (the
    ids, and the foreign keys naming them, are given when its batch is written): owned rows by
    table, each location with its opening hours and closures, each coverage area with the
    index of the location it is drawn around and the ids of the categories it is limited to.
    ``position`` is the listing's draft in the import, ``created`` its audit entry's fields;
    ``listing`` is None once the rows have crossed from another process (directory.hsds.forked),
    which sends only plain values (the owned rows are keyed by their table's name)."""

    listing: Listing | None
    position: int
    created: dict[str, Any]
    organization: dict[str, Any]
    owned: dict[str, list[dict[str, Any]]]
    locations: list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]
    areas: list[tuple[dict[str, Any], int | None, list[int]]]


def organization_rows(listing: Listing, slug: str, categories: dict[str, ServiceCategory],
                      now: dt.datetime, position: int = 0) -> NewRows:
    """What build_organization builds, as rows (``now``: when it joins the network, as
    setting an organization active records). tests/hsds checks that both write the same."""
    data = listing.data
    organization = {
        "hsds_id": listing.hsds_id, "slug": slug, "name": data["name"].strip(),
        "kind": data["kind"], "description": data.get("description", ""),
        "website": data.get("website"), "email": data.get("email"),
        "phone": data.get("phone"), "accepting_referrals": data.get("accepting_referrals", True),
        "status": MembershipStatus.ACTIVE, "verified_at": None, "joined_at": now}
    listed = organization["status"] == MembershipStatus.ACTIVE  # as services_listed_insert sets
    owned: dict[str, list[dict[str, Any]]] = {
        _LANGUAGES.name: [{"code": code} for code in dict.fromkeys(data.get("languages", []))],
        _POPULATIONS.name: [{"population": population}
                       for population in dict.fromkeys(data.get("populations", []))],
        _SERVICES.name: [{"category_id": categories[code].id, "hsds_id": listing.service_ids[code],
                     "description": listing.service_descriptions[code], "listed": listed}
                    for code in dict.fromkeys(data.get("services", []))],
        _CONTACTS.name: [{"name": contact["name"], "title": contact.get("title", ""),
                     "email": contact.get("email"), "phone": contact.get("phone")}
                    for contact in data.get("contacts", [])],
    }
    locations = []
    for payload, location_id in zip(data.get("locations", []), listing.location_ids,
                                    strict=True):
        hours = [{"weekday": weekday, "opens": opens, "closes": closes}
                 for weekday, opens, closes in opening_hours(payload)]
        closures = [dict(closure) for closure in payload.get("closures", [])]
        locations.append((location_columns(payload) | {"hsds_id": location_id}, hours,
                          closures))
    areas = []
    for plan in listing.areas:
        if plan.location is None:
            area = dict(plan.shape.values)
        else:
            centre = locations[plan.location][0]
            area = radius_columns(centre["latitude"], centre["longitude"],
                                  float(plan.shape.values["radius_mi"]),
                                  f"{centre['city']}, {centre['state']}")
            area |= {"label": plan.shape.values["label"], "state": None, "county_fips": None,
                     "postal_code": None, "geojson": None}
        areas.append((area, plan.location, [categories[code].id for code in plan.services]))
    return NewRows(listing, position, created_fields(_created_values(listing)), organization,
                   owned, locations, areas)


class Creator:
    """Creates new organizations a batch at a time (validate all, then write).

    Each listing is checked in memory against create_organization's rules (a name not listed
    yet, a free address name, placeable locations) and built whole before anything of it is
    added; a batch is then flushed in one savepoint. A batch the database refuses is redone
    one organization per savepoint through create_organization, which isolates the culprit.
    """

    def __init__(self, categories: dict[str, ServiceCategory], report: ImportReport,
                 actor: User | None, redo: Callable[[NewRows], None]) -> None:
        self.categories = categories
        self.redo = redo  # one organization in its own savepoint, through create_organization
        self.report = report
        self.actor = actor
        self.names = set(db_session.scalars(select(func.lower(Organization.name))))
        self.slugs = set(db_session.scalars(select(Organization.slug)))
        self.pending: list[NewRows] = []
        self.triggers = BatchTriggers()

    def _slug(self, name: str) -> str:
        base = slugify(name)
        slug, counter = base, 2
        while slug in self.slugs:
            suffix = f"-{counter}"
            slug, counter = base[: 80 - len(suffix)] + suffix, counter + 1
        return slug

    def plan(self, listing: Listing, position: int) -> NewRows | None:
        """Check and build one new organization (the draft at ``position`` of the import): its
        rows, or None when it is rejected."""
        draft = listing.draft
        name = listing.data["name"].strip()
        if name.lower() in self.names:
            self.report.reject(draft.row, [draft.row.problem(
                _("An organization with this name is already listed."))])
            return None
        slug = self._slug(name)
        try:
            rows = organization_rows(listing, slug, self.categories, utcnow(), position)
        except ListingError as exc:
            self.report.reject(draft.row, [draft.row.problem(str(exc))])
            return None
        self.names.add(name.lower())
        self.slugs.add(slug)
        return rows

    def queue(self, rows: NewRows) -> None:
        """Add one planned organization to the batch; a full batch is written."""
        self.pending.append(rows)
        if len(self.pending) >= CREATE_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        try:
            with db_session.begin_nested():
                ids = write_new_rows(self.pending, self.triggers)
                record_many(AuditAction.LISTING_CREATED, actor=self.actor, events=[
                    (organization_id, {"fields": rows.created})
                    for organization_id, rows in zip(ids, self.pending, strict=True)])
            self.report.created += len(self.pending)
        except (IntegrityError, DataError):
            log.info("a batch of %d new organizations was refused; redoing it one by one",
                     len(self.pending))
            with self.triggers.restored():
                for rows in self.pending:
                    self.redo(rows)
        self.pending.clear()


def _new_ids(table: Table, count: int) -> list[int]:
    """``count`` ids for new rows of ``table``: from its sequence on PostgreSQL; on SQLite,
    after the largest (should another writer take one meanwhile, the INSERT fails and the
    batch is redone one organization at a time)."""
    if db_session.get_bind().dialect.name == "postgresql":
        return list(db_session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                 "FROM generate_series(1, :count)"), {"table": table.name, "count": count}))
    start = (db_session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))


def _with_ids(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row, new_id in zip(rows, _new_ids(table, len(rows)), strict=True):
        row["id"] = new_id
    return rows


def write_new_rows(batch: list[NewRows], triggers: BatchTriggers | None = None) -> list[int]:
    """Insert a batch of new organizations table by table, one executemany each, the foreign
    keys filled in from the ids their parents were given (the unit of work would write the
    same rows, sorting out their dependencies object by object: most of an import's time).
    The database's triggers keep the spatial indexes and the services' listed flag as they do
    for any insert, or, while ``triggers`` are suspended, the batch does their work itself.
    Returns the organizations' ids."""
    organizations = _with_ids(_ORGANIZATIONS, [rows.organization for rows in batch])
    owned: dict[Table, list[dict[str, Any]]] = {}
    locations, hours, closures, areas, links = [], [], [], [], []
    for rows, organization in zip(batch, organizations, strict=True):
        for name, items in rows.owned.items():
            for item in items:
                item["organization_id"] = organization["id"]
            owned.setdefault(_OWNED[name], []).extend(items)
        for location, _hours, _closures in rows.locations:
            location["organization_id"] = organization["id"]
            locations.append(location)
    insert_rows(_ORGANIZATIONS, organizations)
    for table, items in owned.items():
        insert_rows(table, items)
    insert_rows(_LOCATIONS, _with_ids(_LOCATIONS, locations))
    if triggers is not None:
        triggers.fill(_LOCATIONS, [location["id"] for location in locations])
    for rows, organization in zip(batch, organizations, strict=True):
        for location, opening, closed in rows.locations:
            for item in (*opening, *closed):
                item["location_id"] = location["id"]
            hours += opening
            closures += closed
        for area, index, _services in rows.areas:
            area["organization_id"] = organization["id"]
            area["location_id"] = None if index is None else rows.locations[index][0]["id"]
            areas.append(area)
    insert_rows(_HOURS, hours)
    insert_rows(_CLOSURES, closures)
    insert_rows(_AREAS, _with_ids(_AREAS, areas))
    if triggers is not None:
        triggers.fill(_AREAS, [area["id"] for area in areas])
    for rows in batch:
        links += [{"coverage_area_id": area["id"], "category_id": category_id}
                  for area, _, category_ids in rows.areas for category_id in category_ids]
    insert_rows(coverage_area_services, links)
    return [organization["id"] for organization in organizations]
