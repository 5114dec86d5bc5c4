"""From HSDS rows to listings: each organization with everything that belongs to it, checked.

Tables are read in dependency order and each row is folded into the draft of the organization
that owns it as it is read. Who owns a row is decided by one column per table (a service's
organization_id, an address's location_id, ...): when that reference points at nothing (a
broken foreign key) the row is rejected on its own; when a row has bad values (a missing
required field, a malformed UUID, impossible coordinates) its whole organization is rejected,
so that nothing is half-applied. What HSDS can say but the directory cannot hold (service
schedules, programs, costs, a language outside the directory's list...) becomes a warning.

What belongs to one location is kept to that location: a location whose own row is bad
(impossible or half-given coordinates, a malformed value) or that cannot be placed (no address
and no coordinates, an address outside the US, no US place near its point) is dropped with a
warning and its organization imported without it, whether it came from locations.csv or from
inside a JSON organization. An organization row that cannot even be read as one (no usable id,
an id given twice) counts as a rejected organization.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from marshmallow import ValidationError

from directory.fastload import FastLoader
from directory.geo.states import state_code
from directory.hsds import spec
from directory.hsds.areas import AreaShape, ExtentError, read_area
from directory.hsds.export import DAY_CODES
from directory.hsds.places import place_at
from directory.hsds.reader import HELD, Source, SourceRow
from directory.hsds.report import ImportReport, Problem
from directory.hsds.taxonomy import ACCEPTING_REFERRALS, CONFIDENTIAL, TermResolver
from directory.orgs.models import LANGUAGES
from directory.orgs.schemas import WEEKDAYS, ListingSchema

log = logging.getLogger(__name__)

_LANGUAGE_ALIASES = {
    "eng": "en", "spa": "es", "vie": "vi", "zho": "zh", "chi": "zh", "ara": "ar", "fra": "fr",
    "fre": "fr", "hat": "ht", "kor": "ko", "rus": "ru", "tgl": "tl", "fil": "tl", "por": "pt",
    "som": "so", "amh": "am", "asl": "ase", "sgn-us": "ase",
}
_LANGUAGE_NAMES = {label.casefold(): code for code, label in LANGUAGES.items()}
_US = {"us", "usa", "united states", "united states of america"}
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
MESSAGE_LIMIT = 300


@dataclass(slots=True)
class ServiceDraft:
    row: SourceRow
    hsds_id: str
    listed: bool
    category: str | None = None
    rank: int = 99


@dataclass(slots=True)
class LocationDraft:
    row: SourceRow
    hsds_id: str
    listed: bool
    address: SourceRow | None = None
    hours: list[tuple[SourceRow, list[str], str, str]] = field(default_factory=list)
    open_24_7: bool = False
    confidential: bool = False
    data: dict[str, Any] | None = None  # the listing's location, once placed


@dataclass(slots=True)
class ContactDraft:
    row: SourceRow
    phone: SourceRow | None = None


@dataclass(slots=True)
class AreaDraft:
    """A coverage area as read, and the services (HSDS ids) it appeared under."""

    row: SourceRow
    shape: AreaShape
    service_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AreaPlan:
    """A coverage area to give the organization: ``location`` is the index of the listing's
    location it is drawn around (a radius centred on it), ``services`` its category codes
    (empty: every service)."""

    shape: AreaShape
    location: int | None
    services: list[str]


@dataclass(slots=True)
class OrgDraft:
    row: SourceRow
    hsds_id: str
    errors: list[Problem] = field(default_factory=list)
    services: list[ServiceDraft] = field(default_factory=list)
    locations: list[LocationDraft] = field(default_factory=list)
    contacts: list[ContactDraft] = field(default_factory=list)
    phone: SourceRow | None = None
    fallback_phone: SourceRow | None = None
    languages: dict[str, None] = field(default_factory=dict)
    populations: dict[str, None] = field(default_factory=dict)
    kind: str | None = None
    accepting: bool | None = None
    area_rows: list[tuple[SourceRow, str]] = field(default_factory=list)  # (row, service id)


@dataclass
class Listing:
    """One organization ready for the listing operations: ``data`` is what ListingSchema
    loaded, the rest carries the HSDS ids the directory keeps."""

    draft: OrgDraft
    data: dict[str, Any]
    service_ids: dict[str, str]
    service_descriptions: dict[str, str]
    location_ids: list[str]
    withheld: list[bool]
    areas: list[AreaPlan] = field(default_factory=list)

    @property
    def hsds_id(self) -> str:
        return self.draft.hsds_id


@functools.cache
def _listing_schema() -> FastLoader:
    """ListingSchema's load for every listing (one schema: building one per load costs more
    than the load), through FastLoader: the same rules, a quarter of the time."""
    return FastLoader(ListingSchema())


def _short(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT - 1] + "…"


def _coordinate_problems(values: dict[str, Any]) -> list[str]:
    lat, lon = values.get("latitude"), values.get("longitude")
    problems = []
    if (lat is None) != (lon is None):
        problems.append(_("bad coordinates: latitude and longitude must be given together"))
    if lat is not None and not -90 <= lat <= 90:
        problems.append(_("bad coordinates: latitude %(latitude)s is outside -90..90",
                          latitude=format(lat, "g")))
    if lon is not None and not -180 <= lon <= 180:
        problems.append(_("bad coordinates: longitude %(longitude)s is outside -180..180",
                          longitude=format(lon, "g")))
    return problems


def _owner_not_imported(table: str, target: str) -> str:
    """The warning for a row whose owner (a ``table`` row) was in the source but not imported:
    one whole sentence per table, so that each can be translated."""
    if table == "organization":
        return _("skipped: its organization %(id)s was not imported", id=target)
    if table == "service":
        return _("skipped: its service %(id)s was not imported", id=target)
    if table == "location":
        return _("skipped: its location %(id)s was not imported", id=target)
    if table == "phone":
        return _("skipped: its phone %(id)s was not imported", id=target)
    return _("skipped: its %(table)s row %(id)s was not imported", table=table, id=target)


def language_code(code: str | None, name: str | None) -> str | None:
    """The directory's code for an HSDS language: by ISO 639-1/-2/-3 code, else by name."""
    if code:
        lowered = code.strip().lower()
        lowered = _LANGUAGE_ALIASES.get(lowered, lowered)
        if lowered in LANGUAGES:
            return lowered
        if lowered.split("-")[0] in LANGUAGES:
            return lowered.split("-")[0]
    return _LANGUAGE_NAMES.get((name or "").strip().casefold())


class Assembler:
    """Folds a source's rows into organization drafts, reporting each row it cannot take."""

    def __init__(self, source: Source, categories: dict[str, str], report: ImportReport) -> None:
        self.source = source
        self.categories = categories
        self.report = report
        self.orgs: dict[str, OrgDraft] = {}
        self.services: dict[str, tuple[ServiceDraft, OrgDraft]] = {}
        self.locations: dict[str, tuple[LocationDraft, OrgDraft]] = {}
        self.orphans: dict[str, SourceRow] = {}
        self.contacts: dict[str, tuple[ContactDraft, OrgDraft]] = {}
        self.phones: dict[str, OrgDraft] = {}
        self.links: dict[str, OrgDraft] = {}
        self.seen: dict[str, set[str]] = {table: set() for table in HELD}
        self.taxonomies: dict[str, dict[str, Any]] = {}
        self.terms: dict[str, dict[str, Any]] = {}
        self.resolver: TermResolver | None = None

    # --- bookkeeping ----------------------------------------------------------------------

    def reject(self, row: SourceRow, message: str) -> None:
        """A row that belongs to no organization the import can take."""
        details = "; ".join([message, *row.problems])
        self.report.rejected.append(row.problem(_short(details)))

    def warn(self, row: SourceRow, message: str) -> None:
        self.report.warnings.append(row.problem(_short(message)))

    def fail(self, org: OrgDraft, row: SourceRow, message: str | None = None) -> None:
        """A bad row of ``org``: the organization will be rejected as a whole."""
        details = "; ".join([*([message] if message else []), *row.problems])
        org.errors.append(row.problem(_short(details)))

    def owner_missing(self, row: SourceRow, column: str, table: str) -> None:
        """``row`` names a ``table`` row by ``column`` that the import does not take: rejected
        when nothing in the source has that id, a warning when its owner was not imported."""
        target = row.values[column]
        path = spec.tables()[table].path
        if target in self.seen[table]:
            self.warn(row, _owner_not_imported(table, target))
        else:
            self.reject(row, _("broken reference: %(column)s %(id)s is not in %(file)s",
                               column=column, id=target, file=path))

    def checked(self, org: OrgDraft, row: SourceRow) -> bool:
        if row.problems:
            self.fail(org, row)
            return False
        return True

    def _rows(self, table: str) -> Iterator[SourceRow]:
        for row in self.source.rows(table):
            self.report.rows_read += 1
            if "id" in row.values:
                self.seen[table].add(row.values["id"])
            yield row

    # --- tables, in reading order -----------------------------------------------------------

    def run(self) -> list[OrgDraft]:
        for row in self._rows("taxonomy"):
            if "id" in row.values:
                self.taxonomies[row.values["id"]] = row.values
        self.resolver = TermResolver(self.categories, self.taxonomies)
        for row in self._rows("taxonomy_term"):
            self._taxonomy_term(row)
        for table, handler in (
                ("organization", self._organization), ("service", self._service),
                ("location", self._location), ("service_at_location", self._service_at_location),
                ("address", self._address), ("schedule", self._schedule),
                ("contact", self._contact), ("phone", self._phone),
                ("language", self._language), ("attribute", self._attribute),
                ("service_area", self._service_area)):
            for row in self._rows(table):
                handler(row)
        for row in self.orphans.values():
            self.warn(row, _("skipped: the location is linked to no organization"))
        self.source.count_ignored()
        for name, count in self.source.ignored.items():
            self.report.ignored[name] = self.report.ignored.get(name, 0) + count
        self.report.rows_read += sum(self.source.ignored.values())
        self.report.warnings.extend(self.source.notes)
        log.info("%s: %d rows read, %d organizations, %d rows rejected on their own",
                 self.source.label, self.report.rows_read, len(self.orgs),
                 len(self.report.rejected))
        return list(self.orgs.values())

    def _taxonomy_term(self, row: SourceRow) -> None:
        if row.problems or "id" not in row.values:
            self.warn(row, _("taxonomy term not used: %(problems)s",
                             problems="; ".join(row.problems)))
            return
        taxonomy_id = row.values.get("taxonomy_id")
        if taxonomy_id and taxonomy_id not in self.taxonomies:
            self.warn(row, _("broken reference: taxonomy_id %(id)s is not in %(file)s; the "
                             "term is read by its name", id=taxonomy_id,
                             file=spec.tables()["taxonomy"].path))
        self.terms[row.values["id"]] = row.values

    def _unreadable_organization(self, row: SourceRow, message: str) -> None:
        """An organization row that cannot be read as one: rejected, and counted."""
        self.reject(row, message)
        self.report.organizations_rejected += 1
        self.report.organizations += 1

    def _organization(self, row: SourceRow) -> None:
        org_id = row.values.get("id")
        if org_id is None:
            self._unreadable_organization(row, _("organization not imported"))
            return
        if org_id in self.orgs:
            first = self.orgs[org_id]
            self._unreadable_organization(
                row, _("duplicate id: organization %(id)s is also row %(row)s", id=org_id,
                       row=first.row.row))
            first.errors.append(first.row.problem(
                _("its id appears again at row %(row)s", row=row.row)))
            return
        org = OrgDraft(row=row, hsds_id=org_id)
        self.orgs[org_id] = org
        self.links[org_id] = org
        self.checked(org, row)

    def _owning_org(self, row: SourceRow, column: str = "organization_id") -> OrgDraft | None:
        target = row.values.get(column)
        org = self.orgs.get(target) if target else None
        if target and org is None:
            self.owner_missing(row, column, "organization")
        return org

    def _service(self, row: SourceRow) -> None:
        if "organization_id" not in row.values:
            self.reject(row, _("service not imported: it names no organization"))
            return
        org = self._owning_org(row)
        if org is None or not self.checked(org, row):
            return
        service_id = row.values["id"]
        if service_id in self.services:
            self.fail(org, row, _("duplicate id: service %(id)s appears twice", id=service_id))
            return
        listed = row.values.get("status") == "active"
        if not listed:
            self.warn(row, _("service not listed: its status is %(status)s",
                             status=repr(row.values.get("status"))))
        del row.values["organization_id"]  # held by the draft's place; a package has 100,000s
        draft = ServiceDraft(row=row, hsds_id=service_id, listed=listed)
        org.services.append(draft)
        self.services[service_id] = (draft, org)
        self.links[service_id] = org

    def _location(self, row: SourceRow) -> None:
        row.problems += tuple(_coordinate_problems(row.values))
        if "organization_id" not in row.values:
            if row.values.get("id") and not row.problems:
                self.orphans[row.values["id"]] = row
            else:
                self.reject(row, _("location not imported"))
            return
        org = self._owning_org(row)
        if org is not None:
            self._attach_location(row, org)

    def _attach_location(self, row: SourceRow, org: OrgDraft) -> None:
        if row.problems:
            self.warn(row, _("location not imported (its organization is, without it): "
                             "%(problem)s", problem="; ".join(row.problems)))
            return
        location_id = row.values["id"]
        if location_id in self.locations:
            self.fail(org, row, _("duplicate id: location %(id)s appears twice",
                                  id=location_id))
            return
        location_type = row.values.get("location_type")
        listed = location_type == "physical"
        if not listed:
            self.warn(row, _("location not listed: the directory holds physical locations, "
                             "not %(type)s ones", type=repr(location_type)))
        row.values.pop("organization_id", None)
        draft = LocationDraft(row=row, hsds_id=location_id, listed=listed)
        org.locations.append(draft)
        self.locations[location_id] = (draft, org)
        self.links[location_id] = org

    def _service_at_location(self, row: SourceRow) -> None:
        service_id, location_id = row.values.get("service_id"), row.values.get("location_id")
        if row.problems or service_id is None or location_id is None:
            self.reject(row, _("service at location not used"))
            return
        if service_id not in self.services:
            self.owner_missing(row, "service_id", "service")
            return
        org = self.services[service_id][1]
        self.links[row.values["id"]] = org
        if location_id in self.orphans:
            self._attach_location(self.orphans.pop(location_id), org)
        elif location_id not in self.locations and location_id not in self.seen["location"]:
            self.reject(row, _("broken reference: %(column)s %(id)s is not in %(file)s",
                               column="location_id", id=location_id,
                               file=spec.tables()["location"].path))

    def _address(self, row: SourceRow) -> None:
        location_id = row.values.get("location_id")
        if location_id is None:
            self.warn(row, _("address not used: it names no location"))
            return
        if location_id not in self.locations:
            self.owner_missing(row, "location_id", "location")
            return
        location, org = self.locations[location_id]
        if not self.checked(org, row) or not location.listed:
            return
        physical = row.values.get("address_type") == "physical"
        if location.address is None or (
                physical and location.address.values.get("address_type") != "physical"):
            location.address = row
        elif physical:
            self.warn(row, _("address not used: the location already has a physical address"))

    def _schedule(self, row: SourceRow) -> None:
        location_id = row.values.get("location_id")
        if location_id is None:
            self.warn(row, _("schedule not used: the directory keeps the opening hours of "
                             "locations, not of services"))
            return
        if location_id not in self.locations:
            self.owner_missing(row, "location_id", "location")
            return
        location, org = self.locations[location_id]
        if not self.checked(org, row) or not location.listed:
            return
        values = row.values
        days = [day.strip().upper() for day in str(values.get("byday", "")).split(",") if day]
        opens, closes = values.get("opens_at"), values.get("closes_at")
        if values.get("freq", "WEEKLY") != "WEEKLY" or not days or not set(days) <= set(DAY_CODES):
            self.warn(row, _("schedule not used: the directory keeps weekly hours (FREQ=WEEKLY "
                             "with plain BYDAY days)"))
        elif opens is None or closes is None:
            self.warn(row, _("schedule not used: it has no opening and closing times"))
        else:
            start, end = spec.parse_time(opens), spec.parse_time(closes)
            assert start is not None and end is not None  # checked by spec.check_row
            if len(set(days)) == 7 and start == dt.time(0) and end >= dt.time(23, 59):
                location.open_24_7 = True
            elif start >= end:
                self.warn(row, _("schedule not used: hours that run past midnight cannot be "
                                 "kept"))
            else:
                location.hours.append((row, [WEEKDAYS[DAY_CODES.index(day)] for day in days],
                                       f"{start:%H:%M}", f"{end:%H:%M}"))
                row.values = {}  # parsed; the row is kept only to say where a problem is

    def _contact(self, row: SourceRow) -> None:
        if "organization_id" in row.values:
            org = self._owning_org(row)
        else:
            org = next((self.links[row.values[column]] for column in
                        ("service_id", "location_id", "service_at_location_id")
                        if row.values.get(column) in self.links), None)
            if org is None:
                self.warn(row, _("contact not used: it is linked to no organization here"))
        if org is None or not self.checked(org, row):
            return
        draft = ContactDraft(row=row)
        org.contacts.append(draft)
        self.contacts[row.values["id"]] = (draft, org)

    def _phone(self, row: SourceRow) -> None:
        values = row.values
        contact = self.contacts.get(values.get("contact_id", ""))
        if "organization_id" in values:
            org = self._owning_org(row)
        elif contact is not None:
            org = contact[1]
        else:
            org = next((self.links[values[column]] for column in
                        ("location_id", "service_id", "service_at_location_id")
                        if values.get(column) in self.links), None)
            if org is None:
                self.warn(row, _("phone not used: it is linked to no organization here"))
        if org is None or not self.checked(org, row):
            return
        self.phones[values["id"]] = org
        if contact is not None and contact[0].phone is None:
            contact[0].phone = row
        if "organization_id" in values:
            if org.phone is None:
                org.phone = row
            else:
                self.warn(row, _("phone not used: the directory keeps one phone number per "
                                 "organization"))
        elif contact is None and org.fallback_phone is None:
            org.fallback_phone = row

    def _language(self, row: SourceRow) -> None:
        values = row.values
        if not row.problems and not (values.get("code") or values.get("name")):
            self.warn(row, _("language not used: it has neither a code nor a name"))
            return
        org = next((owner for owner in (
            self.services.get(values.get("service_id", ""), (None, None))[1],
            self.locations.get(values.get("location_id", ""), (None, None))[1],
            self.phones.get(values.get("phone_id", ""))) if owner is not None), None)
        if org is None:
            column = next((name for name in ("service_id", "location_id", "phone_id")
                           if name in values), None)
            if column is None:
                self.warn(row, _("language not used: it is linked to nothing"))
            else:
                self.owner_missing(row, column, column.removesuffix("_id"))
            return
        if not self.checked(org, row):
            return
        code = language_code(values.get("code"), values.get("name"))
        if code is None:
            self.warn(row, _("language %(language)s is not one the directory lists; ignored",
                             language=repr(values.get("code") or values.get("name"))))
        else:
            org.languages[code] = None

    def _attribute(self, row: SourceRow) -> None:
        link_id = row.values.get("link_id")
        if link_id is None:
            self.reject(row, _("attribute not used"))
            return
        org = self.links.get(link_id)
        if org is None:
            entity = row.values.get("link_entity")
            untracked = entity in spec.tables() and "id" not in HELD.get(entity, frozenset())
            if not untracked and not any(link_id in ids for ids in self.seen.values()):
                self.reject(row, _("broken reference: link_id %(id)s matches no row",
                                   id=link_id))
            return
        if not self.checked(org, row):
            return
        term_id = row.values["taxonomy_term_id"]
        term = self.terms.get(term_id)
        if term is None:
            self.warn(row, _("taxonomy_term_id %(id)s is not in %(file)s; ignored", id=term_id,
                             file=spec.tables()["taxonomy_term"].path))
            return
        assert self.resolver is not None
        meaning = self.resolver.meaning(term)
        if meaning is None:
            return
        if meaning.kind == "service" and link_id in self.services:
            service = self.services[link_id][0]
            if meaning.rank < service.rank:
                service.category, service.rank = meaning.value, meaning.rank
        elif meaning.kind == "kind" and link_id == org.hsds_id:
            if org.kind not in (None, meaning.value):
                self.warn(row, _("organization kind %(kind)s ignored: it is already "
                                 "%(current)s", kind=repr(meaning.value),
                                 current=repr(org.kind)))
            else:
                org.kind = meaning.value
        elif meaning.kind == "population" and link_id == org.hsds_id:
            org.populations[meaning.value] = None
        elif meaning.value == ACCEPTING_REFERRALS and link_id == org.hsds_id:
            value = str(row.values.get("value", "true")).casefold()
            if value not in _TRUE | _FALSE:
                self.fail(org, row, _("accepting referrals must be true or false, not "
                                      "%(value)s", value=repr(value)))
            else:
                org.accepting = value in _TRUE
        elif meaning.value == CONFIDENTIAL and link_id in self.locations:
            value = str(row.values.get("value", "true")).casefold()
            self.locations[link_id][0].confidential = value not in _FALSE

    def _service_area(self, row: SourceRow) -> None:
        """A service area becomes a coverage area of the service's organization; the same area
        under several of its services is one area limited to those services."""
        service_id = row.values.get("service_id")
        if service_id is None:
            self.warn(row, _("service area not used: it names no service"))
            return
        if service_id not in self.services:
            self.owner_missing(row, "service_id", "service")
            return
        org = self.services[service_id][1]
        if self.checked(org, row):
            org.area_rows.append((row, service_id))  # read with its listing (build_listing)


def _placed(location: LocationDraft, report: ImportReport) -> bool:
    """Place a listed location (kept on the draft for its listing), or drop it with a
    warning: its organization is imported without it."""
    problems: list[Problem] = []
    location.data = _location_data(location, problems)
    if location.data is not None:
        return True
    for problem in problems:
        report.warnings.append(Problem(
            problem.file, problem.row,
            _("location not imported (its organization is, without it): %(problem)s",
              problem=problem.message),
            problem.id))
    return False


def _areas(org: OrgDraft, report: ImportReport,
           problems: list[Problem]) -> dict[tuple[Any, ...], AreaDraft]:
    """The organization's service areas read as coverage areas; the same area under several
    of its services is one area limited to those services. A bad extent rejects the
    organization (into ``problems``); one the directory cannot read is kept out."""
    areas: dict[tuple[Any, ...], AreaDraft] = {}
    for row, service_id in org.area_rows:
        try:
            shape = read_area(row.values)
        except ExtentError as exc:
            problems.append(row.problem(_short(_("service area: %(problem)s",
                                                 problem=str(exc)))))
            continue
        if shape is None:
            report.warnings.append(row.problem(_short(
                _("service area %(name)s kept out: no extent the directory can read (see "
                  "docs/hsds.md)", name=repr(row.values.get("name", ""))))))
            continue
        area = areas.setdefault(shape.key, AreaDraft(row, shape))
        if service_id not in area.service_ids:
            area.service_ids.append(service_id)
    return areas


def _location_data(location: LocationDraft, problems: list[Problem]) -> dict[str, Any] | None:
    values = location.row.values
    data: dict[str, Any] = {"name": values.get("name", ""),
                            "confidential": location.confidential,
                            "open_24_7": location.open_24_7,
                            "hours": [{"days": days, "opens": opens, "closes": closes}
                                      for _, days, opens, closes in location.hours]}
    if "latitude" in values:
        data["latitude"], data["longitude"] = values["latitude"], values["longitude"]
    if location.address is not None:
        address = location.address.values
        country = str(address.get("country", "US")).strip().casefold()
        if country not in _US:
            problems.append(location.address.problem(
                _("country %(country)s: the directory lists US locations only",
                  country=repr(address["country"]))))
            return None
        street = ", ".join(part for part in (address.get("address_1"), address.get("address_2"))
                           if part)
        state = str(address.get("state_province", ""))
        data.update(address=street, city=address.get("city", ""),
                    state=state_code(state) or state, postal_code=address.get("postal_code", ""))
        return data
    if "latitude" not in values:
        problems.append(location.row.problem(_("cannot place the location: it has neither "
                                               "an address nor coordinates")))
        return None
    place = place_at(values["latitude"], values["longitude"])
    if place is None:
        problems.append(location.row.problem(_("cannot place the location: there is no US "
                                               "place near its coordinates")))
        return None
    data.update(address="", city=place[0], state=place[1], postal_code=place[2])
    return data


def _area_plans(areas: dict[tuple[Any, ...], AreaDraft], codes_by_id: dict[str, str],
                listed: list[str], locations: list[LocationDraft],
                report: ImportReport) -> list[AreaPlan]:
    """The organization's coverage areas: each limited to the services it appeared under
    (none: all of them), and a radius tied to the location at its centre, if any."""
    points: dict[tuple[float, float], int] = {}
    for index, location in enumerate(locations):
        values = location.row.values
        if "latitude" in values:
            points.setdefault((values["latitude"], values["longitude"]), index)
    plans = []
    for area in areas.values():
        codes = list(dict.fromkeys(codes_by_id[service_id] for service_id in area.service_ids
                                   if service_id in codes_by_id))
        if not codes:
            report.warnings.append(area.row.problem(
                _("service area kept out: none of its services is listed")))
            continue
        centre = area.shape.centre
        plans.append(AreaPlan(area.shape, points.get(centre) if centre else None,
                              [] if set(codes) == set(listed) else sorted(codes)))
    return plans


def _messages(messages: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _messages(value, (*path, key))
    else:
        yield path, " ".join(messages) if isinstance(messages, list) else str(messages)


def _schema_problems(error: ValidationError, org: OrgDraft,
                     paths: dict[tuple[Any, ...], SourceRow]) -> list[Problem]:
    """ListingSchema's messages, each pinned to the HSDS row the value came from (an address
    field to the address row, an hours block to its schedule row...)."""
    problems = []
    for path, text in _messages(error.messages):
        row = next((paths[path[:length]] for length in range(len(path), 0, -1)
                    if path[:length] in paths), org.row)
        name = next((str(part) for part in reversed(path) if isinstance(part, str)), "listing")
        problems.append(row.problem(_short(f"{name}: {text}")))
    return problems


def build_listing(org: OrgDraft, resolver: TermResolver,
                  report: ImportReport) -> tuple[Listing | None, list[Problem]]:
    """The listing an organization draft describes, validated by ListingSchema, or the
    problems that stop it (each naming its file and row)."""
    problems = list(org.errors)
    areas = _areas(org, report, problems)
    values = org.row.values
    paths: dict[tuple[Any, ...], SourceRow] = {}
    services: dict[str, ServiceDraft] = {}
    codes_by_id: dict[str, str] = {}
    for service in org.services:
        if not service.listed:
            continue
        code = service.category or resolver.category_by_name(service.row.values.get("name", ""))
        if code is None:
            report.warnings.append(service.row.problem(
                _("service not listed: none of its taxonomy terms maps to a directory service "
                  "category (see docs/hsds.md)")))
        elif code in services:
            report.warnings.append(service.row.problem(
                _("service merged into row %(row)s: both are %(category)s",
                  row=services[code].row.row, category=repr(code))))
            codes_by_id[service.hsds_id] = code
        else:
            services[code] = service
            codes_by_id[service.hsds_id] = code
    locations = [location for location in org.locations
                 if location.listed and _placed(location, report)]
    location_data = []
    for index, location in enumerate(locations):
        paths[("locations", index)] = location.row
        if location.address is not None:
            for name in ("address", "city", "state", "postal_code"):
                paths[("locations", index, name)] = location.address
        for block, (row, *_rest) in enumerate(location.hours):
            paths[("locations", index, "hours", block)] = row
        location_data.append(location.data)
        location.data = None  # let go of it once the listing holds it
    for index, contact in enumerate(org.contacts):
        paths[("contacts", index)] = contact.row
        if contact.phone is not None:
            paths[("contacts", index, "phone")] = contact.phone
    phone = org.phone or org.fallback_phone
    if phone is not None:
        paths[("phone",)] = phone
    if problems:
        return None, problems
    data = {
        "name": values.get("name", ""), "kind": org.kind or "other",
        "description": values.get("description", ""), "website": values.get("website"),
        "email": values.get("email"), "phone": phone.values["number"] if phone else None,
        "languages": list(org.languages), "populations": list(org.populations),
        "services": list(services),
        "accepting_referrals": True if org.accepting is None else org.accepting,
        "contacts": [{"name": contact.row.values.get("name", ""),
                      "title": contact.row.values.get("title", ""),
                      "email": contact.row.values.get("email"),
                      "phone": contact.phone.values["number"] if contact.phone else None}
                     for contact in org.contacts],
        "locations": location_data,
    }
    listing = Listing(draft=org, data=data,
                      service_ids={code: item.hsds_id for code, item in services.items()},
                      service_descriptions={code: item.row.values.get("description", "")
                                            for code, item in services.items()},
                      location_ids=[location.hsds_id for location in locations],
                      withheld=[location.confidential and location.address is None
                                for location in locations],
                      areas=_area_plans(areas, codes_by_id, list(services), locations, report))
    try:
        listing.data = _listing_schema().load(data)
    except ValidationError as exc:
        return None, _schema_problems(exc, org, paths)
    return listing, []
