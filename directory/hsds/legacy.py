"""Older shapes of the same data, read as HSDS 3.0 rows: HSDS 1.x and 2.x packages and the
Ohana API's CSV export.

Nothing here decides what is imported: each old row is only renamed into the 3.0 row it
stands for (``services_at_location`` -> ``service_at_location``, ``physical_addresses`` ->
``addresses``, ``regular_schedules`` -> ``schedules``, the old taxonomy tables -> taxonomy
terms and attributes...) and then goes through the same field checks and the same assembler
as a 3.0 package. Ids that are not UUIDs become name-based UUIDs of the source, the table and
the old id, so importing the same data again finds the same organizations.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from directory.hsds import spec
from directory.hsds.reader import HELD, PackageSource, SourceRow
from directory.safecsv import unescape_cell

NAMESPACE = uuid.UUID("5d0c7a3e-2f41-4b8e-9c6a-7e1f0b2d4a93")
HSDS_3 = "HSDS 3.0"
OHANA = "Ohana API CSV export"

# Files only older packages have; one of them present (and no 3.0 descriptor) means 1.x/2.x.
_LEGACY_FILES = frozenset({
    "services_at_location.csv", "physical_addresses.csv", "postal_addresses.csv",
    "regular_schedules.csv", "holiday_schedules.csv", "taxonomy.csv", "services_taxonomy.csv",
    "service_attributes.csv", "other_attributes.csv"})
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {name: code for code, name in zip(_WEEKDAYS, (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), strict=True)}
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*([ap]\.?m\.?)?$", re.IGNORECASE)
_PHONE_TYPES = frozenset({"text", "voice", "fax", "cell", "video", "pager", "textphone"})
_NOT_HELD = {
    # old files the directory has no place for, and why (said in the report)
    "holiday_schedules.csv": _l("holiday closures: the directory keeps weekly opening hours only"),
    "programs.csv": _l("programs are not held by the directory"),
    "funding.csv": _l("funding is not held by the directory"),
    "eligibility.csv": _l("eligibility is not held by the directory"),
    "service_areas.csv": _l("free-text service areas of HSDS 1.x/2.x cannot be placed on a map"),
    "required_documents.csv": _l("required documents are not held by the directory"),
    "payments_accepted.csv": _l("payment methods are not held by the directory"),
    "accessibility_for_disabilities.csv": _l("accessibility details are not held by the directory"),
    "metadata.csv": _l("change metadata is not imported"),
    "meta_table_description.csv": _l("table descriptions are not imported"),
}


@dataclass(frozen=True, slots=True)
class Detected:
    """What a package is: ``label`` names it in the report ("HSDS 1.1", "Ohana API CSV
    export"), ``how`` says what gave it away."""

    label: str
    how: str

    @property
    def legacy(self) -> bool:
        return self.label != HSDS_3


def detect(names: set[str], version: str | None, header: Callable[[str], list[str]]) -> Detected:
    """The format of a package, from its descriptor's ``version``, its file names and the
    field names of its organizations and services files."""
    if version:
        major = version.strip().lstrip("vV")
        if major.startswith("3"):
            return Detected(HSDS_3, _("datapackage.json says version %(version)s",
                                      version=version))
        if major[:1] in ("1", "2"):
            return Detected(f"HSDS {major}", _("datapackage.json says version %(version)s",
                                                 version=version))
    if "mail_addresses.csv" in names or (
            "services.csv" in names and "location_id" in header("services.csv")
            and "organization_id" not in header("services.csv")):
        return Detected(OHANA, _("services belong to locations (and mail_addresses.csv)"))
    old_files = sorted(names & _LEGACY_FILES)
    if old_files:
        return Detected("HSDS 1.x/2.x", _("file names of HSDS 1.x/2.x: %(files)s",
                                          files=", ".join(old_files)))
    if "url" in header("organizations.csv") and "website" not in header("organizations.csv"):
        return Detected("HSDS 1.x/2.x", _("organizations.csv has url, not website"))
    return Detected(HSDS_3, _("HSDS 3.0 file and field names"))


def _clock(value: str) -> str:
    """'08:00', '8:00:00', '4:00 PM', '3pm', '09:00-05:00' -> 'HH:MM'; anything else is
    returned as it is, for the 3.0 field check to report."""
    text = value.strip()
    if spec.parse_time(text) is not None:
        time = spec.parse_time(text)
        assert time is not None
        return f"{time:%H:%M}"
    match = _CLOCK.match(text)
    if match is None:
        return text
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    meridiem = (match.group(3) or "").lower().replace(".", "")
    if meridiem:
        if not 1 <= hour <= 12:
            return text
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        return text
    return f"{hour:02d}:{minute:02d}"


def _weekday(value: str) -> str:
    """A 1.x weekday (1 = Monday ... 7 = Sunday, as ISO 8601, or the day's name, whole or
    its first three letters) as a BYDAY code; anything else is returned as it is (the
    schedule is then reported as not weekly)."""
    text = value.strip().lower()
    if text.isdigit() and 1 <= int(text) <= 7:
        return _WEEKDAYS[int(text) - 1]
    return next((code for name, code in _DAY_NAMES.items()
                 if len(text) >= 3 and name.startswith(text)), value)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


Cells = dict[str, Any]
Converter = Callable[[Cells], Iterable[Cells]]


class LegacySource(PackageSource):
    """An HSDS 1.x/2.x package or an Ohana CSV export, handed out as HSDS 3.0 rows."""

    def __init__(self, label: str, names: set[str], opener: Any, archive: Any,
                 detected: Detected, source_key: str) -> None:
        super().__init__(label, names, opener, archive)
        self.detected = detected
        self.source_key = source_key
        self.location_owner: dict[str, str] = {}
        self.used: set[str] = set()
        self.feeds: dict[str, list[tuple[str, Converter]]] = self._feeds()

    # --- ids ----------------------------------------------------------------------------------

    def id(self, table: str, value: Any) -> str:
        """The 3.0 id of an old id: itself when it is a UUID, else a UUID derived from the
        source, the table and the id (the same every time the same source is imported)."""
        text = str(value or "").strip()
        if not text:
            return ""
        return spec.normalize_uuid(text) or str(
            uuid.uuid5(NAMESPACE, f"{self.source_key}/{table}/{text}"))

    # --- which old file feeds which 3.0 table -------------------------------------------------

    def _feeds(self) -> dict[str, list[tuple[str, Converter]]]:
        ohana = self.detected.label == OHANA
        feeds: dict[str, list[tuple[str, Converter]]] = {
            "taxonomy_term": [("taxonomy.csv", self._term), ("taxonomy_terms.csv", self._term)],
            "organization": [("organizations.csv", self._organization)],
            "service": [("services.csv", self._service)],
            "location": [("locations.csv", self._location)],
            "service_at_location": [("services_at_location.csv", self._service_at_location),
                                    ("service_at_location.csv", self._service_at_location)],
            "address": [("physical_addresses.csv", self._address("physical")),
                        ("postal_addresses.csv", self._address("postal")),
                        ("addresses.csv", self._address("physical")),
                        ("mail_addresses.csv", self._address("postal"))],
            "schedule": [("regular_schedules.csv", self._schedule)],
            "contact": [("contacts.csv", self._contact)],
            "phone": [("phones.csv", self._phone)],
            "language": [("languages.csv", self._language),
                         ("locations.csv", self._listed_languages("location")),
                         ("services.csv", self._listed_languages("service")),
                         ("phones.csv", self._phone_languages)],
            "attribute": [("services_taxonomy.csv", self._service_taxonomy),
                          ("service_attributes.csv", self._service_attribute),
                          ("other_attributes.csv", self._other_attribute),
                          ("services.csv", self._taxonomy_ids)],
        }
        if ohana:
            feeds["service_at_location"].append(("services.csv", self._ohana_service_location))
        return feeds

    # --- reading ------------------------------------------------------------------------------

    def _cells(self, path: str) -> Iterator[tuple[int, Cells]]:
        for header, number, record in self._records(path):
            yield number, dict(zip(header, map(unescape_cell, record), strict=False))

    def rows(self, table: str) -> Iterator[SourceRow]:
        definition = spec.tables()[table]
        keep = HELD[table]
        if table == "service" and self.detected.label == OHANA:
            self.location_owner = {cells.get("id", "").strip(): cells.get(
                "organization_id", "").strip() for _number, cells in self._cells("locations.csv")}
        for path, convert in self.feeds.get(table, []):
            if path not in self.names:
                continue
            self.used.add(path)
            for number, cells in self._cells(path):
                for converted in convert(cells):
                    values, problems = spec.check_row(definition, converted, keep)
                    yield SourceRow(path, number, values, tuple(problems))

    def count_ignored(self) -> None:
        for path in sorted(self.names):
            if path in self.used or not path.endswith(".csv"):
                continue
            count = sum(1 for _record in self._records(path))
            not_held = _NOT_HELD.get(path)
            self.skipped[path] = str(not_held) if not_held is not None else _(
                "not a table the directory reads from %(format)s", format=self.detected.label)
            if count:
                self.ignored[path] = count

    # --- converters: one old row -> the 3.0 rows it stands for -------------------------------

    def _term(self, cells: Cells) -> Iterable[Cells]:
        code = cells.get("taxonomy_id") or cells.get("id", "")
        name = cells.get("name") or cells.get("term", "")
        yield {"id": self.id("taxonomy", code), "code": code, "name": name,
               "description": cells.get("description") or name,
               "parent_id": self.id("taxonomy", cells.get("parent_id")),
               "taxonomy": cells.get("vocabulary") or cells.get("taxonomy", "")}

    def _organization(self, cells: Cells) -> Iterable[Cells]:
        yield {"id": self.id("organization", cells.get("id")), "name": cells.get("name"),
               "description": cells.get("description"), "email": cells.get("email"),
               "website": cells.get("website") or cells.get("url")}

    def _service(self, cells: Cells) -> Iterable[Cells]:
        owner = cells.get("organization_id", "").strip()
        if not owner and self.detected.label == OHANA:
            owner = self.location_owner.get(cells.get("location_id", "").strip(), "")
        yield {"id": self.id("service", cells.get("id")),
               "organization_id": self.id("organization", owner),
               "name": cells.get("name"), "description": cells.get("description"),
               "status": (cells.get("status") or "active").strip().lower()}

    def _location(self, cells: Cells) -> Iterable[Cells]:
        virtual = str(cells.get("virtual", "")).strip().lower() == "true"
        yield {"id": self.id("location", cells.get("id")),
               "organization_id": self.id("organization", cells.get("organization_id")),
               "location_type": cells.get("location_type")
               or ("virtual" if virtual else "physical"),
               "name": cells.get("name"), "latitude": cells.get("latitude"),
               "longitude": cells.get("longitude")}

    def _service_at_location(self, cells: Cells) -> Iterable[Cells]:
        yield {"id": self.id("service_at_location", cells.get("id")),
               "service_id": self.id("service", cells.get("service_id")),
               "location_id": self.id("location", cells.get("location_id"))}

    def _ohana_service_location(self, cells: Cells) -> Iterable[Cells]:
        if cells.get("location_id", "").strip():
            yield {"id": self.id("service_at_location", f"service-{cells.get('id')}"),
                   "service_id": self.id("service", cells.get("id")),
                   "location_id": self.id("location", cells.get("location_id"))}

    def _address(self, kind: str) -> Converter:
        def convert(cells: Cells) -> Iterable[Cells]:
            yield {"id": self.id(f"{kind}_address", cells.get("id")),
                   "location_id": self.id("location", cells.get("location_id")),
                   "address_1": cells.get("address_1"), "address_2": ", ".join(
                       part for part in (cells.get("address_2"), cells.get("address_3"),
                                         cells.get("address_4")) if part and part.strip()),
                   "city": cells.get("city"), "state_province": cells.get("state_province"),
                   "postal_code": cells.get("postal_code"),
                   "country": cells.get("country") or "US",
                   "address_type": cells.get("address_type") or kind}
        return convert

    def _schedule(self, cells: Cells) -> Iterable[Cells]:
        yield {"id": self.id("regular_schedule", cells.get("id")),
               "service_id": self.id("service", cells.get("service_id")),
               "location_id": self.id("location", cells.get("location_id")),
               "service_at_location_id": self.id("service_at_location",
                                                 cells.get("service_at_location_id")),
               "freq": "WEEKLY", "byday": _weekday(str(cells.get("weekday", ""))),
               "opens_at": _clock(str(cells.get("opens_at", ""))),
               "closes_at": _clock(str(cells.get("closes_at", "")))}

    def _contact(self, cells: Cells) -> Iterable[Cells]:
        yield {"id": self.id("contact", cells.get("id")),
               "organization_id": self.id("organization", cells.get("organization_id")),
               "service_id": self.id("service", cells.get("service_id")),
               "location_id": self.id("location", cells.get("location_id")),
               "service_at_location_id": self.id("service_at_location",
                                                 cells.get("service_at_location_id")),
               "name": cells.get("name"), "title": cells.get("title"),
               "email": cells.get("email")}

    def _phone(self, cells: Cells) -> Iterable[Cells]:
        kind = str(cells.get("type") or cells.get("number_type") or "").strip().lower()
        yield {"id": self.id("phone", cells.get("id")),
               "organization_id": self.id("organization", cells.get("organization_id")),
               "service_id": self.id("service", cells.get("service_id")),
               "location_id": self.id("location", cells.get("location_id")),
               "contact_id": self.id("contact", cells.get("contact_id")),
               "service_at_location_id": self.id("service_at_location",
                                                 cells.get("service_at_location_id")),
               "number": cells.get("number"), "extension": cells.get("extension"),
               "type": kind if kind in _PHONE_TYPES else ""}

    def _language_row(self, key: str, owner: str, owner_id: Any, value: str) -> Cells:
        text = value.strip()
        looks_like_code = len(text) <= 3 or "-" in text and len(text) <= 8
        return {"id": self.id("language", key), f"{owner}_id": self.id(owner, owner_id),
                "code" if looks_like_code else "name": text}

    def _language(self, cells: Cells) -> Iterable[Cells]:
        owner = "service" if cells.get("service_id", "").strip() else "location"
        for index, value in enumerate(_split(str(cells.get("language") or cells.get(
                "name") or cells.get("code") or ""))):
            yield self._language_row(f"{cells.get('id')}/{index}", owner,
                                     cells.get(f"{owner}_id"), value)

    def _listed_languages(self, owner: str) -> Converter:
        """Ohana lists languages in a column of locations and services."""
        def convert(cells: Cells) -> Iterable[Cells]:
            for value in _split(str(cells.get("languages") or "")):
                yield self._language_row(f"{owner}/{cells.get('id')}/{value}", owner,
                                         cells.get("id"), value)
        return convert

    def _phone_languages(self, cells: Cells) -> Iterable[Cells]:
        for value in _split(str(cells.get("language") or "")):
            yield self._language_row(f"phone/{cells.get('id')}/{value}", "phone",
                                     cells.get("id"), value)

    def _attribute(self, key: str, link_table: str, link_id: Any, term: Any) -> Cells:
        return {"id": self.id("attribute", key), "link_id": self.id(link_table, link_id),
                "taxonomy_term_id": self.id("taxonomy", term), "link_entity": link_table}

    def _service_taxonomy(self, cells: Cells) -> Iterable[Cells]:
        yield self._attribute(f"services_taxonomy/{cells.get('id')}", "service",
                              cells.get("service_id"), cells.get("taxonomy_id"))

    def _service_attribute(self, cells: Cells) -> Iterable[Cells]:
        yield self._attribute(f"service_attributes/{cells.get('id')}", "service",
                              cells.get("service_id"), cells.get("taxonomy_term_id"))

    def _other_attribute(self, cells: Cells) -> Iterable[Cells]:
        table = str(cells.get("link_type") or "").strip().lower() or "organization"
        yield self._attribute(f"other_attributes/{cells.get('id')}", table,
                              cells.get("link_id"), cells.get("taxonomy_term_id"))

    def _taxonomy_ids(self, cells: Cells) -> Iterable[Cells]:
        """The (deprecated in 1.x, current in Ohana) comma-separated taxonomy_ids column."""
        for term in _split(str(cells.get("taxonomy_ids") or "")):
            yield self._attribute(f"taxonomy_ids/{cells.get('id')}/{term}", "service",
                                  cells.get("id"), term)
