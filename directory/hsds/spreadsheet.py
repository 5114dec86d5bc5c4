"""A coalition's spreadsheet, read as HSDS 3.0 rows through a mapping of its column names.

Each spreadsheet row is one organization: its columns are turned into the organization, location,
address, phone, service, language and attribute rows an HSDS package would hold for it, and
those go through the same field checks, assembler and listing schema as any HSDS import (the
report is the same too, by file and row). The mapping file is documented in docs/hsds.md.

    [columns]            # listing field = the spreadsheet's column
    name = "Agency"
    services = "Services offered"
    [options]
    separator = ";"      # between the values of services, languages and populations
    source = "county-2024"
"""

from __future__ import annotations

import csv
import dataclasses
import io
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from directory.accounts.models import User
from directory.audit.operations import record
from directory.db import db_session
from directory.hsds import spec
from directory.hsds.assemble import language_code
from directory.hsds.operations import import_hsds
from directory.hsds.reader import HELD, HsdsReadError, Source, SourceRow
from directory.hsds.report import ImportReport, Problem
from directory.hsds.taxonomy import KINDS, POPULATIONS, SERVICES, stable_id
from directory.inputs import loads
from directory.orgs.models import KIND_LABELS, POPULATION_LABELS
from directory.seeding import SeedReport, load_taxonomy

NAMESPACE = uuid.UUID("b7e3c2d1-4a5f-4e6b-8c9d-0a1b2c3d4e5f")
FIELDS = ("id", "name", "kind", "description", "website", "email", "phone", "location_name",
          "address", "city", "state", "zip", "latitude", "longitude", "services", "languages",
          "populations")
LIST_FIELDS = frozenset({"services", "languages", "populations"})
MAPPING_LIMIT = 64 * 1024
SNIFF_BYTES = 4096
_KINDS = {**{kind.value: kind.value for kind in KIND_LABELS},
          **{label.casefold(): kind.value for kind, label in KIND_LABELS.items()}}
_POPULATIONS = {**{item.value: item.value for item in POPULATION_LABELS},
                **{label.casefold(): item.value for item, label in POPULATION_LABELS.items()}}


class MappingError(ValueError):
    """The mapping file cannot be used; nothing is read."""


@dataclass(frozen=True)
class Mapping:
    """Which spreadsheet column holds each listing field."""

    columns: dict[str, str]
    separator: str = ";"
    source: str | None = None

    @classmethod
    def from_dict(cls, document: Any) -> Mapping:
        if not isinstance(document, dict):
            raise MappingError(_("The mapping must be a table of listing fields to column "
                                 "names."))
        options = document.get("options", {})
        columns = document.get("columns", document)
        if not isinstance(columns, dict) or not isinstance(options, dict):
            raise MappingError(_("The mapping's [columns] and [options] must be tables."))
        columns = {key: value for key, value in columns.items() if key != "options"}
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            raise MappingError(_("Unknown listing fields in the mapping: %(unknown)s. Use: "
                                 "%(fields)s.", unknown=", ".join(unknown),
                                 fields=", ".join(FIELDS)))
        if not all(isinstance(value, str) and value.strip() for value in columns.values()):
            raise MappingError(_("Each listing field must name one column (a non-empty "
                                 "text)."))
        if "name" not in columns:
            raise MappingError(_("The mapping must name the column holding the organization's "
                                 "name."))
        separator = options.get("separator", ";")
        source = options.get("source")
        if not isinstance(separator, str) or len(separator) != 1:
            raise MappingError(_("options.separator must be one character, such as ; or |."))
        if source is not None and not (isinstance(source, str) and source.strip()):
            raise MappingError(_("options.source must be a non-empty text."))
        return cls({key: value.strip() for key, value in columns.items()}, separator, source)

    def as_dict(self) -> dict[str, Any]:
        options: dict[str, Any] = {"separator": self.separator}
        if self.source:
            options["source"] = self.source
        return {"columns": self.columns, "options": options}

    @classmethod
    def parse(cls, data: bytes, name: str) -> Mapping:
        """A mapping file's content: TOML (.toml) or JSON (.json, or anything starting '{')."""
        if len(data) > MAPPING_LIMIT:
            raise MappingError(_("The mapping file is larger than %(size)s kB.",
                                 size=MAPPING_LIMIT // 1024))
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MappingError(_("The mapping file is not UTF-8 text.")) from exc
        try:
            if name.lower().endswith(".json") or text.lstrip().startswith("{"):
                return cls.from_dict(loads(text))
            return cls.from_dict(tomllib.loads(text))
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            if isinstance(exc, MappingError):
                raise
            raise MappingError(_("The mapping file cannot be read: %(error)s",
                                 error=str(exc))) from exc

    @classmethod
    def load(cls, path: Path) -> Mapping:
        try:
            return cls.parse(path.read_bytes()[:MAPPING_LIMIT + 1], path.name)
        except OSError as exc:
            raise MappingError(f"{path}: {exc.strerror or exc}") from exc


_OPTIONAL = {
    # HSDS requires these; a spreadsheet need not have them (the listing rules do not)
    "organization": frozenset({"description"}),
    "address": frozenset({"address_1", "postal_code"}),
}


def _definition(table: str) -> spec.Table:
    definition = spec.tables()[table]
    optional = _OPTIONAL.get(table)
    if not optional:
        return definition
    return dataclasses.replace(definition, fields=tuple(
        dataclasses.replace(field, required=False) if field.name in optional else field
        for field in definition.fields))


class SpreadsheetSource(Source):
    """The rows of one CSV file, each an organization, as HSDS 3.0 tables."""

    def __init__(self, label: str, data: bytes, mapping: Mapping, source_key: str) -> None:
        super().__init__(label)
        self.format = _("Spreadsheet (CSV with a column mapping)")
        self.file = Path(label).name
        self.mapping = mapping
        self.source_key = mapping.source or source_key
        self.header, self.records = _read_csv(data, self.file)
        self.format_evidence = ngettext("%(num)d mapped column", "%(num)d mapped columns",
                                        len(mapping.columns))
        missing = sorted({column for column in mapping.columns.values()
                          if column not in self.header})
        if missing:
            raise HsdsReadError(_("%(file)s: the mapping names columns the file does not have: "
                                  "%(missing)s (its columns: %(columns)s).", file=self.file,
                                  missing=", ".join(missing), columns=", ".join(self.header)))
        if not self.records:
            raise HsdsReadError(_("%(file)s has no rows under its header.", file=self.file))
        used = set(mapping.columns.values())
        unused = [column for column in self.header if column and column not in used]
        if unused:
            reason = _("not in the mapping")
            self.skipped.update({_("%(file)s column %(column)s", file=self.file,
                                   column=repr(column)): reason for column in unused})
        self.tables = self._convert()

    def _id(self, *parts: str) -> str:
        return str(uuid.uuid5(NAMESPACE, "/".join((self.source_key, *parts))))

    def value(self, cells: dict[str, str], field: str) -> str:
        column = self.mapping.columns.get(field)
        return cells.get(column, "").strip() if column else ""

    def values(self, cells: dict[str, str], field: str) -> list[str]:
        return list(dict.fromkeys(part.strip() for part in self.value(cells, field).split(
            self.mapping.separator) if part.strip()))

    def _convert(self) -> dict[str, list[SourceRow]]:
        tables: dict[str, list[SourceRow]] = {name: [] for name in HELD}
        definitions = {name: _definition(name) for name in HELD}
        terms: dict[str, dict[str, Any]] = {}

        def add(table: str, number: int, cells: dict[str, Any],
                extra: tuple[str, ...] = ()) -> None:
            values, problems = spec.check_row(definitions[table], cells, HELD[table])
            tables[table].append(SourceRow(self.file, number, values, (*problems, *extra)))

        def term(taxonomy_id: str, code: str, name: str) -> str:
            term_id = stable_id("spreadsheet-term", taxonomy_id, code.casefold())
            terms.setdefault(term_id, {"id": term_id, "code": code, "name": name,
                                       "description": name, "taxonomy_id": taxonomy_id})
            return term_id

        for number, cells in self.records:
            name = self.value(cells, "name")
            org_id = self._id("organization", self.value(cells, "id") or name.casefold())
            problems: list[str] = []
            kind = self.value(cells, "kind")
            attributes: list[tuple[str, str, str]] = []  # (link id, entity, term id)
            if kind:
                code = _KINDS.get(kind.casefold())
                if code is None:
                    problems.append(_("kind %(kind)s is not one of %(kinds)s", kind=repr(kind),
                                      kinds=", ".join(KIND_LABELS.values())))
                else:
                    attributes.append((org_id, "organization",
                                       term(KINDS.id, f"kind:{code}", code)))
            for population in self.values(cells, "populations"):
                code = _POPULATIONS.get(population.casefold())
                if code is None:
                    problems.append(_("population %(population)s is not one the directory "
                                      "lists", population=repr(population)))
                else:
                    attributes.append((org_id, "organization",
                                       term(POPULATIONS.id, f"population:{code}", code)))
            add("organization", number, {
                "id": org_id, "name": name, "description": self.value(cells, "description"),
                "email": self.value(cells, "email"), "website": self.value(cells, "website")},
                tuple(problems))
            if self.value(cells, "phone"):
                add("phone", number, {"id": self._id("phone", org_id), "organization_id": org_id,
                                      "number": self.value(cells, "phone")})
            services = []
            for service in self.values(cells, "services"):
                service_id = self._id("service", org_id, service.casefold())
                services.append(service_id)
                add("service", number, {"id": service_id, "organization_id": org_id,
                                        "name": service, "status": "active"})
                attributes.append((service_id, "service", term(SERVICES.id, service, service)))
            location_id = self._location(cells, number, org_id, add)
            owner = ("location_id", location_id) if location_id else (
                ("service_id", services[0]) if services else None)
            languages = self.values(cells, "languages")
            if languages and owner is None:
                self.notes.append(Problem(self.file, number, _(
                    "languages not used: the row has neither an address nor services to hold "
                    "them")))
            for language in languages if owner is not None else []:
                add("language", number, {"id": self._id("language", org_id, language),
                                         owner[0]: owner[1], "name": language,
                                         "code": language_code(language, language) or ""})
            for link_id, entity, term_id in attributes:
                add("attribute", number, {"id": self._id("attribute", link_id, term_id),
                                          "link_id": link_id, "link_entity": entity,
                                          "taxonomy_term_id": term_id})
        for taxonomy in (SERVICES, KINDS, POPULATIONS):
            add("taxonomy", 1, {"id": taxonomy.id, "name": taxonomy.name,
                                "description": taxonomy.description})
        for values in terms.values():
            add("taxonomy_term", 1, values)
        return tables

    def _location(self, cells: dict[str, str], number: int, org_id: str, add: Any) -> str | None:
        fields = ("address", "city", "state", "zip", "latitude", "longitude")
        if not any(self.value(cells, field) for field in fields):
            return None
        location_id = self._id("location", org_id)
        add("location", number, {
            "id": location_id, "organization_id": org_id, "location_type": "physical",
            "name": self.value(cells, "location_name"), "latitude": self.value(cells, "latitude"),
            "longitude": self.value(cells, "longitude")})
        if any(self.value(cells, field) for field in ("address", "city", "state", "zip")):
            add("address", number, {
                "id": self._id("address", location_id), "location_id": location_id,
                "address_1": self.value(cells, "address"),
                "city": self.value(cells, "city"), "state_province": self.value(cells, "state"),
                "postal_code": self.value(cells, "zip"),
                "country": "US", "address_type": "physical"})
        return location_id

    def rows(self, table: str) -> Iterator[SourceRow]:
        yield from self.tables.get(table, [])

    def preview(self, limit: int) -> list[tuple[int, dict[str, str]]]:
        """The first rows, as listing field -> value, for a page to show before importing."""
        return [(number, {field: self.value(cells, field) for field in self.mapping.columns})
                for number, cells in self.records[:limit]]


def _read_csv(data: bytes, file: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the non-blank rows (with their row numbers; the header is row 1)."""
    if b"\x00" in data[:SNIFF_BYTES]:
        raise HsdsReadError(_("%(file)s is not a CSV file (it holds binary data); save the "
                              "spreadsheet as CSV.", file=file))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HsdsReadError(_("%(file)s is not UTF-8 text (byte %(byte)s cannot be read): save "
                              "the spreadsheet as \"CSV UTF-8\".", file=file,
                              byte=exc.start)) from exc
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [name.strip() for name in next(reader, [])]
        records = [(number, dict(zip(header, record, strict=False)))
                   for number, record in enumerate(reader, start=2)
                   if any(cell.strip() for cell in record)]
    except csv.Error as exc:
        raise HsdsReadError(_("%(file)s cannot be read as CSV: %(error)s", file=file,
                              error=str(exc))) from exc
    if len([name for name in header if name]) < 1 or len(header) != len(set(header)):
        raise HsdsReadError(_("%(file)s needs a header row of distinct column names.",
                              file=file))
    return header, records


def open_spreadsheet(path: Path, mapping: Mapping) -> SpreadsheetSource:
    """The spreadsheet at ``path`` (a CSV file) read through ``mapping``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HsdsReadError(f"{path}: {exc.strerror or exc}") from exc
    return SpreadsheetSource(str(path), data, mapping, path.stem)


# --- the coordinators' upload: a dry run to preview, then the import ----------------------------

UPLOAD_LIMIT = 1024 * 1024
PREVIEW_ROWS = 10


@dataclass
class PreviewRow:
    number: int
    fields: dict[str, str]
    problems: list[str]


@dataclass
class Preview:
    """What importing a spreadsheet would do: the dry run's report and its first rows, each
    with the problems reported for it."""

    report: ImportReport
    rows: list[PreviewRow]
    columns: list[str]


def check_upload(data: bytes, name: str) -> None:
    """Refuse what cannot be a spreadsheet upload before reading it."""
    if len(data) > UPLOAD_LIMIT:
        raise HsdsReadError(_("%(file)s is larger than %(size)s kB: import it with "
                              "`directory import-csv` instead.", file=name,
                              size=UPLOAD_LIMIT // 1024))
    if not name.lower().endswith((".csv", ".txt")):
        raise HsdsReadError(_("%(file)s is not a .csv file: save the spreadsheet as CSV.",
                              file=name))


def preview_spreadsheet(data: bytes, name: str, mapping: Mapping) -> Preview:
    """A dry run of the import (everything rolled back), and the first rows as mapped."""
    check_upload(data, name)
    source = SpreadsheetSource(name, data, mapping, Path(name).stem)
    with db_session.begin_nested() as scope:
        load_taxonomy(SeedReport())
        report = import_hsds(source, dry_run=True)
        scope.rollback()
    rows = []
    for number, fields in source.preview(PREVIEW_ROWS):
        problems = [problem.message for problem in (*report.rejected, *report.warnings)
                    if problem.row == number]
        rows.append(PreviewRow(number, fields, problems))
    return Preview(report, rows, list(mapping.columns))


def import_spreadsheet(data: bytes, name: str, mapping: Mapping, actor: User) -> ImportReport:
    """Import the spreadsheet for real (the caller commits), with an audit event."""
    check_upload(data, name)
    source = SpreadsheetSource(name, data, mapping, Path(name).stem)
    load_taxonomy(SeedReport())
    report = import_hsds(source, actor=actor)
    record("listings_imported", actor=actor, details={
        # A code, not report.format: that is in the uploader's language, the log is everyone's.
        "file": name, "format": "spreadsheet", "created": report.created,
        "updated": report.updated, "unchanged": report.unchanged,
        "rejected": report.organizations_rejected})
    return report
