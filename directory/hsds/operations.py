"""Open Referral HSDS 3.0 export and import: the operations the CLI and the web call.

An export holds what a vetted member may see and nothing more: active listings, confidential
locations reduced to their city's centre, no users, memberships or referrals. An import goes
through ListingSchema and create_organization (or the update below, which keeps the same
rules), one savepoint per organization, so each is applied whole or not at all. Operations
flush; the caller (a CLI command, a request) commits.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import selectinload

from directory.accounts.models import User
from directory.audit.models import AuditAction
from directory.audit.operations import record_many
from directory.db import db_session
from directory.hsds.areas import area_codes, covers
from directory.hsds.assemble import Assembler, Listing, OrgDraft, build_listing
from directory.hsds.export import (
    CsvPackageWriter,
    JsonWriter,
    Rows,
    count_exported,
    exported_organizations,
    organization_rows,
    taxonomy_rows,
)
from directory.hsds.reader import Source
from directory.hsds.report import ImportReport, Problem
from directory.hsds.taxonomy import TermResolver
from directory.orgs.coverage import build_coverage_area
from directory.orgs.listing import created_fields, record_created, update_listing
from directory.orgs.models import (
    Contact,
    CoverageArea,
    CoverageKind,
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
from directory.orgs.schemas import WEEKDAYS
from directory.referrals.operations import services_in_use

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
EXPORT_FORMATS = ("csv", "json")
_ID_CHUNK = 500
CREATE_BATCH = 500


# --- export ------------------------------------------------------------------------------------

@dataclass
class ExportReport:
    format: str
    path: str
    organizations: int = 0
    rows: dict[str, int] = field(default_factory=dict)

    def count(self, rows: Rows) -> None:
        for table, items in rows.items():
            self.rows[table] = self.rows.get(table, 0) + len(items)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "path": self.path, "organizations": self.organizations,
                "rows": dict(sorted(self.rows.items()))}


def _categories() -> list[ServiceCategory]:
    return list(db_session.scalars(select(ServiceCategory).order_by(ServiceCategory.code)))


def export_csv(directory: Path, progress: Progress | None = None) -> ExportReport:
    """Write the tabular package (a CSV per HSDS table and datapackage.json) into ``directory``."""
    report = ExportReport("csv", str(directory))
    writer = CsvPackageWriter(directory)
    try:
        taxonomy = taxonomy_rows(_categories())
        writer.write(taxonomy)
        report.count(taxonomy)
        for organization in exported_organizations():
            rows = organization_rows(organization)
            writer.write(rows)
            report.count(rows)
            report.organizations += 1
            if progress:
                progress(1)
    finally:
        writer.close()
    log.info("HSDS package of %d organizations written to %s", report.organizations, directory)
    return report


def export_zip(target: Path | IO[bytes], progress: Progress | None = None) -> ExportReport:
    """The tabular package as one zip file (what the download serves)."""
    with tempfile.TemporaryDirectory(prefix="hsds-") as scratch:
        report = export_csv(Path(scratch), progress)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(scratch).iterdir()):
                archive.write(path, path.name)
    report.path = str(target) if isinstance(target, Path) else "download"
    return report


def export_json(stream: IO[str], progress: Progress | None = None) -> ExportReport:
    """Write the JSON form: one page of full HSDS organizations."""
    report = ExportReport("json", getattr(stream, "name", "stream"))
    writer = JsonWriter(stream, count_exported(), taxonomy_rows(_categories()))
    for organization in exported_organizations():
        rows = organization_rows(organization)
        writer.write(rows)
        report.count(rows)
        report.organizations += 1
        if progress:
            progress(1)
    writer.close()
    return report


def export_hsds(out: Path, fmt: str = "csv", progress: Progress | None = None) -> ExportReport:
    """Export to ``out``: a folder (or a .zip file) for the tabular package, a file for JSON."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}: use csv or json.")
    if fmt == "json":
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as stream:
            report = export_json(stream, progress)
        report.path = str(out)
        return report
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        return export_zip(out, progress)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file: give a folder (or a .zip path) for the package.")
    return export_csv(out, progress)


# --- import ------------------------------------------------------------------------------------

@dataclass
class PreparedImport:
    """A source read and assembled into organization drafts, nothing written yet."""

    drafts: list[OrgDraft]
    report: ImportReport
    resolver: TermResolver


def prepare_import(source: Source, *, strict: bool = False,
                   dry_run: bool = False) -> PreparedImport:
    """Read every table of ``source`` and fold its rows into organization drafts; rows that
    belong to no organization are reported here. Raises HsdsReadError for unreadable input."""
    report = ImportReport(source=source.label, format=source.format,
                          format_evidence=source.format_evidence, strict=strict,
                          dry_run=dry_run)
    categories = {category.code: category.name for category in _categories()}
    assembler = Assembler(source, categories, report)
    drafts = assembler.run()
    assert assembler.resolver is not None
    report.organizations += len(drafts)
    report.skipped.update(source.skipped)
    return PreparedImport(drafts, report, assembler.resolver)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _ID_CHUNK):
        yield values[start:start + _ID_CHUNK]


def _existing_organizations(drafts: list[OrgDraft]) -> dict[str, int]:
    ids = [draft.hsds_id for draft in drafts]
    found: dict[str, int] = {}
    for chunk in _chunks(ids):
        found.update(db_session.execute(
            select(Organization.hsds_id, Organization.id).where(Organization.hsds_id.in_(chunk))
        ).tuples().all())
    return found


def _existing_owners(drafts: list[OrgDraft]) -> dict[str, str]:
    """Service and location ids of the source that the directory already has, with the HSDS
    id of the organization that holds each."""
    owners: dict[str, str] = {}
    for model, attribute in ((Service, "services"), (Location, "locations")):
        ids = [item.hsds_id for draft in drafts for item in getattr(draft, attribute)]
        for chunk in _chunks(ids):
            owners.update(db_session.execute(
                select(model.hsds_id, Organization.hsds_id)
                .join(Organization, model.organization_id == Organization.id)
                .where(model.hsds_id.in_(chunk))
            ).tuples().all())
    return owners


def _foreign_ids(listing: Listing, owners: dict[str, str]) -> list[Problem]:
    """Services or locations whose ids the directory already holds for another organization."""
    problems = []
    draft = listing.draft
    items = [(service.hsds_id, service.row) for service in draft.services
             if service.hsds_id in listing.service_ids.values()]
    items += [(location.hsds_id, location.row) for location in draft.locations
              if location.hsds_id in listing.location_ids]
    for hsds_id, row in items:
        owner = owners.get(hsds_id)
        if owner is not None and owner != draft.hsds_id:
            problems.append(row.problem(f"id {hsds_id} already belongs to another organization "
                                        f"({owner}) in the directory"))
    return problems


def _hours(payload: dict[str, Any]) -> list[tuple[int, dt.time, dt.time]]:
    return sorted((WEEKDAYS.index(day), block["opens"], block["closes"])
                  for block in payload["hours"] for day in block["days"])


_LOCATION_FIELDS = ("name", "address", "city", "state", "postal_code", "county", "latitude",
                    "longitude", "true_latitude", "true_longitude", "timezone", "confidential",
                    "open_24_7")
_ORGANIZATION_FIELDS = ("kind", "description", "website", "email", "phone",
                        "accepting_referrals")


def _set(target: Any, attribute: str, value: Any) -> None:
    """Set only what differs: an attribute set to its own value still marks the row dirty."""
    if getattr(target, attribute) != value:
        setattr(target, attribute, value)


def _update_location(location: Location, payload: dict[str, Any], withheld: bool) -> None:
    """Bring a location up to date. A confidential location whose export withheld its place
    (no address, a city-centre point) keeps the name, address and point the directory has."""
    if not (withheld and location.confidential):
        fresh = build_location(payload)
        for attribute in _LOCATION_FIELDS:
            _set(location, attribute, getattr(fresh, attribute))
    else:
        _set(location, "open_24_7", payload["open_24_7"])
    hours = _hours(payload)
    if sorted((item.weekday, item.opens, item.closes) for item in location.hours) != hours:
        location.hours = [OpeningHours(weekday=day, opens=opens, closes=closes)
                          for day, opens, closes in hours]


def _coverage_areas(organization: Organization, listing: Listing,
                    categories: dict[str, ServiceCategory]) -> list[CoverageArea]:
    """The coverage areas a listing gives ``organization`` (its locations already in place):
    a radius tied to a location is drawn around the point the directory holds for it."""
    areas = []
    for plan in listing.areas:
        if plan.location is None:
            area = plan.shape.area()
        else:
            area = build_coverage_area(
                organization, {"kind": CoverageKind.RADIUS,
                               "radius_mi": plan.shape.values["radius_mi"]},
                location=organization.locations[plan.location])
            area.label = plan.shape.values["label"]
        area.services = [categories[code] for code in plan.services]
        areas.append(area)
    return areas


_Signature = tuple[Any, ...]


def _held_areas(organization: Organization, codes: list[str]) -> list[_Signature]:
    """What the organization's coverage says, as an export would carry it: each area's
    extent, label, location and the listed services it counts for."""
    locations = {location.id: location.hsds_id for location in organization.locations}
    return sorted((
        (area.kind.value, area.label, locations.get(area.location_id or 0), area.center_lat,
         area.center_lon, area.radius_mi, area.state, area.county_fips, area.postal_code,
         area.geojson, tuple(code for code in codes if covers(area_codes(area), code)))
        for area in organization.coverage_areas), key=repr)


def _wanted_areas(organization: Organization, listing: Listing,
                  codes: list[str]) -> list[_Signature]:
    """The same for the coverage a listing gives the organization (its locations in place)."""
    signatures = []
    for plan in listing.areas:
        values = dict(plan.shape.values)
        location_id = None
        if plan.location is not None:
            location = organization.locations[plan.location]
            location_id = location.hsds_id
            values.update(center_lat=location.latitude, center_lon=location.longitude)
        signatures.append((
            CoverageKind(values["kind"]).value, values["label"], location_id,
            values["center_lat"], values["center_lon"], values["radius_mi"], values["state"],
            values["county_fips"], values["postal_code"], values["geojson"],
            tuple(code for code in codes if covers(plan.services, code))))
    return sorted(signatures, key=repr)


def _same_coverage(organization: Organization, listing: Listing) -> bool:
    codes = sorted(listing.data["services"])
    return _held_areas(organization, codes) == _wanted_areas(organization, listing, codes)


def _check_services_in_use(organization: Organization, listing: Listing) -> None:
    """Refuse an update that would drop a service referrals in progress are for."""
    kept = set(listing.data["services"])
    dropped = {service.category.code for service in organization.services} - kept
    in_use = services_in_use(organization, dropped, kept)
    if in_use:
        named = ", ".join(f"{code!r} ({count} referral{'s' if count > 1 else ''})"
                          for code, count in sorted(in_use.items()))
        message = (f"services not dropped: referrals in progress to this organization are "
                   f"for {named}; they must be finished first")
        raise ListingError(message, {"services": [message]})


def _update_services(organization: Organization, listing: Listing,
                     categories: dict[str, ServiceCategory]) -> None:
    _check_services_in_use(organization, listing)
    by_id = {service.hsds_id: service for service in organization.services}
    by_code = {service.category.code: service for service in organization.services}
    matched: dict[str, Service | None] = {}
    for code in listing.data["services"]:
        service = by_id.get(listing.service_ids[code]) or by_code.get(code)
        matched[code] = service if service not in matched.values() else None
    kept = [service for service in matched.values() if service is not None]
    if len(kept) != len(organization.services):
        organization.services = kept
        db_session.flush()  # the dropped rows go before a new one may take their HSDS id
    for code, service in matched.items():
        if service is None:
            organization.services.append(Service(
                category=categories[code], hsds_id=listing.service_ids[code],
                description=listing.service_descriptions[code]))
            continue
        _set(service, "category", categories[code])
        _set(service, "hsds_id", listing.service_ids[code])
        _set(service, "description", listing.service_descriptions[code])


def _update_organization(actor: User | None, organization: Organization, listing: Listing,
                         categories: dict[str, ServiceCategory]) -> bool:
    """Apply a validated listing to an existing organization through update_listing (its
    rules, its diff and its audit entry naming the changed fields); True when anything
    changed. The rows the source names by HSDS id (services, locations, coverage areas) are
    placed by the import's own rules inside that operation. Its status, slug, age range and
    notes stay as they are: HSDS does not carry them."""
    data = listing.data
    changes = {name: data[name] for name in _ORGANIZATION_FIELDS} | {
        "name": data["name"].strip(), "languages": sorted(data["languages"]),
        "populations": sorted(data["populations"]), "contacts": data["contacts"]}

    def place_rows(held: Organization) -> None:
        _place_rows(held, listing, categories)

    return bool(update_listing(actor, organization, changes, place_rows=place_rows))


def _place_rows(organization: Organization, listing: Listing,
                categories: dict[str, ServiceCategory]) -> None:
    """Services, locations and coverage areas as the listing gives them, matched by HSDS id."""
    _update_services(organization, listing, categories)
    by_id = {location.hsds_id: location for location in organization.locations}
    locations = []
    for payload, location_id, withheld in zip(listing.data["locations"], listing.location_ids,
                                              listing.withheld, strict=True):
        location = by_id.get(location_id)
        if location is None:
            location = build_location(payload)
            location.hsds_id = location_id
        else:
            _update_location(location, payload, withheld)
        locations.append(location)
    if locations != list(organization.locations):
        organization.locations = locations
    if not _same_coverage(organization, listing):
        organization.coverage_areas = _coverage_areas(organization, listing, categories)


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
    categories = {category.code: category for category in _categories()}
    organization.coverage_areas = _coverage_areas(organization, listing, categories)
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
    organization.coverage_areas = _coverage_areas(organization, listing, categories)
    return organization


class _Creator:
    """Creates new organizations a batch at a time (validate all, then write).

    Each listing is checked in memory against create_organization's rules (a name not listed
    yet, a free address name, placeable locations) and built whole before anything of it is
    added; a batch is then flushed in one savepoint. A batch the database refuses is redone
    one organization per savepoint through create_organization, which isolates the culprit.
    """

    def __init__(self, categories: dict[str, ServiceCategory], report: ImportReport,
                 actor: User | None) -> None:
        self.categories = categories
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
            _reject(self.report, draft, [draft.row.problem(
                "An organization with this name is already listed.")])
            return
        slug = self._slug(name)
        try:
            organization = build_organization(listing, slug, self.categories)
        except ListingError as exc:
            _reject(self.report, draft, [draft.row.problem(str(exc))])
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
                _apply(listing, None, self.categories, self.report, self.actor)
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


_WITH_CHILDREN = (selectinload(Organization.locations).selectinload(Location.hours),
                  selectinload(Organization.services), selectinload(Organization.contacts),
                  selectinload(Organization.languages), selectinload(Organization.populations),
                  selectinload(Organization.coverage_areas).selectinload(CoverageArea.services))


class _Loader:
    """Loads the organizations an import updates a chunk at a time, in import order, with
    everything the comparison needs (one query per table and chunk, not per organization)."""

    def __init__(self, organization_ids: list[int]) -> None:
        self.chunks = list(_chunks(organization_ids))
        self.chunk_of = {item: index for index, chunk in enumerate(self.chunks) for item in chunk}
        self.current = -1
        self.loaded: dict[int, Organization] = {}

    def get(self, organization_id: int) -> Organization:
        index = self.chunk_of[organization_id]
        if index != self.current:
            self.loaded = {organization.id: organization for organization in db_session.scalars(
                select(Organization).where(Organization.id.in_(self.chunks[index]))
                .options(*_WITH_CHILDREN))}
            self.current = index
        return self.loaded[organization_id]


def _unchanged(organization: Organization, listing: Listing) -> bool:
    """Whether applying ``listing`` would change nothing: the common case of a re-import,
    answered without a savepoint."""
    data = listing.data
    if organization.name != data["name"].strip() or any(
            getattr(organization, name) != data[name] for name in _ORGANIZATION_FIELDS):
        return False
    if (set(organization.language_codes) != set(data["languages"])
            or set(organization.population_codes) != set(data["populations"])):
        return False
    if [(c.name, c.title, c.email, c.phone) for c in organization.contacts] != [
            (c["name"], c["title"], c["email"], c["phone"]) for c in data["contacts"]]:
        return False
    if sorted((s.hsds_id, s.category.code, s.description) for s in organization.services) != \
            sorted((listing.service_ids[code], code, listing.service_descriptions[code])
                   for code in data["services"]):
        return False
    if [location.hsds_id for location in organization.locations] != listing.location_ids:
        return False
    for location, payload, withheld in zip(organization.locations, data["locations"],
                                           listing.withheld, strict=True):
        hours = sorted((item.weekday, item.opens, item.closes) for item in location.hours)
        if hours != _hours(payload) or location.open_24_7 != payload["open_24_7"]:
            return False
        if withheld and location.confidential:
            continue
        if (location.name, location.address, location.city, location.state,
                location.postal_code, *location.true_point, location.confidential) != (
                payload["name"], payload["address"], payload["city"], payload["state"],
                (payload["postal_code"] or "")[:5], payload["latitude"], payload["longitude"],
                payload["confidential"]):
            return False
    return _same_coverage(organization, listing)


def _reject(report: ImportReport, draft: OrgDraft, problems: list[Problem]) -> None:
    report.organizations_rejected += 1
    report.rejected.extend(problems)
    if any((problem.file, problem.row) != (draft.row.file, draft.row.row) for problem in problems):
        report.rejected.append(draft.row.problem(
            f"organization not imported: {len(problems)} problem(s) in its rows"))


_IMPORTED_TABLES = (Organization, OrganizationLanguage, OrganizationPopulation, Service,
                    Contact, Location, OpeningHours, CoverageArea)


def refresh_statistics() -> None:
    """ANALYZE the tables an import wrote, so that the planner does not go on estimating from
    the empty directory it saw before (harmless on SQLite, where it fills sqlite_stat1)."""
    tables = [model.__table__.name for model in _IMPORTED_TABLES]
    tables.append(coverage_area_services.name)
    for name in tables:
        db_session.execute(text(f'ANALYZE "{name}"'))


@contextmanager
def _long_lived_objects() -> Iterator[None]:
    """An import holds millions of small objects until it ends (the drafts read, the rows
    written): left alone, the cyclic garbage collector rescans all of them at every full
    collection, a third of the import's time. The drafts are frozen out of its sight and
    full collections made rarer while the import runs."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 50_000), thresholds[1], max(thresholds[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def apply_import(prepared: PreparedImport, progress: Progress | None = None, *,
                 actor: User | None = None) -> ImportReport:
    """Create or update each organization of a prepared import in its own savepoint, as
    ``actor`` (the coordinator who uploaded it; None for the command line), who is named in
    each listing's audit entry.

    Idempotent by HSDS id: an organization, service or location the directory already has
    under that id is updated, never duplicated. In a dry run everything is rolled back at the
    end; in a strict import any rejected row rolls everything back (and once one is found,
    the rest is only checked, not written).
    """
    with _long_lived_objects():
        return _apply_import(prepared, progress, actor)


def _apply_import(prepared: PreparedImport, progress: Progress | None,
                  actor: User | None) -> ImportReport:
    report = prepared.report
    categories = {category.code: category for category in _categories()}
    existing = _existing_organizations(prepared.drafts)
    owners = _existing_owners(prepared.drafts)
    outer = db_session.begin_nested()
    try:
        creator = _Creator(categories, report, actor)
        loader = _Loader([existing[draft.hsds_id] for draft in prepared.drafts
                          if draft.hsds_id in existing])
        for draft in prepared.drafts:
            listing, problems = build_listing(draft, prepared.resolver, report)
            if listing is not None:
                problems = _foreign_ids(listing, owners)
            write = not (report.strict and report.rejected)
            if listing is None or problems:
                _reject(report, draft, problems)
            elif draft.hsds_id not in existing:
                creator.add(listing, write)
            elif write:
                creator.flush()
                organization = loader.get(existing[draft.hsds_id])
                if _unchanged(organization, listing):
                    report.unchanged += 1
                else:
                    _apply(listing, organization, categories, report, actor)
                    creator.names.add(listing.data["name"].strip().lower())
            if progress:
                progress(1)
        creator.flush()
        report.refused = report.strict and bool(report.rejected)
        if report.dry_run or report.refused:
            outer.rollback()
        else:
            outer.commit()
            if report.created or report.updated:
                refresh_statistics()
    except BaseException:
        if outer.is_active:
            outer.rollback()
        raise
    log.info("HSDS import from %s: %d created, %d updated, %d unchanged, %d rejected%s",
             report.source, report.created, report.updated, report.unchanged,
             report.organizations_rejected, " (dry run)" if report.dry_run else "")
    return report


def _apply(listing: Listing, organization: Organization | None,
           categories: dict[str, ServiceCategory], report: ImportReport,
           actor: User | None) -> None:
    """Create (``organization`` None) or update one organization in its own savepoint."""
    draft = listing.draft
    try:
        with db_session.begin_nested():
            if organization is None:
                _create_organization(actor, listing)
                report.created += 1
            elif _update_organization(actor, organization, listing, categories):
                report.updated += 1
            else:
                report.unchanged += 1
    except ListingError as exc:
        _reject(report, draft, [draft.row.problem(str(exc))])
    except (IntegrityError, DataError) as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        _reject(report, draft, [draft.row.problem(
            f"conflicts with data already in the directory: {detail}")])


def import_hsds(source: Source, *, strict: bool = False, dry_run: bool = False,
                progress: Progress | None = None, actor: User | None = None) -> ImportReport:
    """Read, check and apply an HSDS source in one call."""
    return apply_import(prepare_import(source, strict=strict, dry_run=dry_run), progress,
                        actor=actor)
