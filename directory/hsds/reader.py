"""Reading HSDS input: the tabular package (a folder, a .zip, or its datapackage.json) or a JSON
document (a page of organizations as the HSDS API serves it, a list of organizations, one
organization, or the tabular JSON form keyed by file name).

Rows are handed out table by table, in the order the assembler needs them, each file read once
as it goes. Every row is checked against its table's HSDS field definitions as it is read, and
only the columns the directory uses are kept, so that a package of 100,000 organizations fits
in memory.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from flask_babel import gettext as _

from directory.hsds import spec
from directory.hsds.report import Problem
from directory.inputs import loads
from directory.safecsv import unescape_cell

if TYPE_CHECKING:
    from directory.hsds.readahead import ReadAhead

log = logging.getLogger(__name__)

Opener = Callable[[str], IO[bytes]]

HELD: dict[str, frozenset[str]] = {
    # the tables the directory reads, in reading order, and the columns it keeps of each
    "taxonomy": frozenset({"id", "name"}),
    "taxonomy_term": frozenset({"id", "code", "name", "taxonomy", "taxonomy_id"}),
    "organization": frozenset({"id", "name", "description", "email", "website"}),
    "service": frozenset({"id", "organization_id", "name", "description", "status"}),
    "location": frozenset({"id", "location_type", "organization_id", "name", "latitude",
                           "longitude"}),
    "service_at_location": frozenset({"id", "service_id", "location_id"}),
    "address": frozenset({"location_id", "address_1", "address_2", "city", "state_province",
                          "postal_code", "country", "address_type"}),
    "schedule": frozenset({"service_id", "location_id", "service_at_location_id", "freq",
                           "byday", "opens_at", "closes_at"}),
    "contact": frozenset({"id", "organization_id", "service_id", "service_at_location_id",
                          "location_id", "name", "title", "email"}),
    "phone": frozenset({"id", "location_id", "service_id", "organization_id", "contact_id",
                        "service_at_location_id", "number"}),
    "language": frozenset({"service_id", "location_id", "phone_id", "name", "code"}),
    "attribute": frozenset({"link_id", "taxonomy_term_id", "link_entity", "value"}),
    "service_area": frozenset({"id", "service_id", "name", "extent", "extent_type"}),
}


DESCRIPTOR_LIMIT = 16 * 2**20  # a descriptor of every HSDS table is under 200 kB


class HsdsReadError(ValueError):
    """The input cannot be read as HSDS at all; nothing of it is imported."""


@dataclass(slots=True)
class SourceRow:
    """One row as read: its place (file and row), the values the directory keeps, and what is
    wrong with it (a tuple, empty for nearly every row: a package holds millions of rows)."""

    file: str
    row: int | str
    values: dict[str, Any]
    problems: tuple[str, ...] = ()

    def problem(self, message: str, id: str | None = None) -> Problem:
        return Problem(self.file, self.row, message, id or self.values.get("id"))


class Source:
    """An HSDS dataset, read table by table."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.format = "HSDS 3.0"
        self.format_evidence = ""
        self.ignored: dict[str, int] = defaultdict(int)
        self.skipped: dict[str, str] = {}  # file -> why none of it was read
        self.notes: list[Problem] = []

    def rows(self, table: str) -> Iterator[SourceRow]:
        raise NotImplementedError

    def count_ignored(self) -> None:
        """Count the rows of tables the directory does not hold (funding, programs...)."""

    def close(self) -> None:
        """Let go of open files."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class PackageSource(Source):
    """CSV files named by a data package descriptor (or by the HSDS default names)."""

    def __init__(self, label: str, names: set[str], opener: Opener,
                 archive: zipfile.ZipFile | None = None, *, sizes: dict[str, int] | None = None,
                 reopener: Callable[[], Opener] | None = None) -> None:
        super().__init__(label)
        self.names = names
        self.opener = opener
        self.archive = archive
        self.sizes = sizes or {}
        self.reopener = reopener  # an opener with file handles of its own (a zip's are shared)
        self.ahead: ReadAhead | None = None  # tables read by a forked child (readahead.py)
        self.paths = {name: table.path for name, table in spec.tables().items()}
        self.version: str | None = None
        if "datapackage.json" in names:
            self._read_descriptor()
        if self.paths["organization"] not in names:
            raise HsdsReadError(_("%(source)s has no %(file)s: an HSDS package needs its "
                                  "organizations table.", source=label,
                                  file=self.paths["organization"]))

    def _read_descriptor(self) -> None:
        try:
            with self.opener("datapackage.json") as handle:
                data = handle.read(DESCRIPTOR_LIMIT + 1)
            if len(data) > DESCRIPTOR_LIMIT:
                raise HsdsReadError(_("%(source)s: datapackage.json is larger than %(size)s "
                                      "MB; it cannot be a descriptor.", source=self.label,
                                      size=DESCRIPTOR_LIMIT // 2**20))
            descriptor = loads(data)
        except HsdsReadError:
            raise
        except (ValueError, UnicodeDecodeError) as exc:
            raise HsdsReadError(_("%(source)s: datapackage.json is not valid JSON: %(error)s",
                                  source=self.label, error=str(exc))) from exc
        version = descriptor.get("version") if isinstance(descriptor, dict) else None
        self.version = str(version) if isinstance(version, str | int | float) else None
        resources = descriptor.get("resources") if isinstance(descriptor, dict) else None
        for resource in resources if isinstance(resources, list) else []:
            if not isinstance(resource, dict) or resource.get("name") not in self.paths:
                continue
            path = resource.get("path")
            if isinstance(path, str) and ".." not in PurePosixPath(path).parts:
                self.paths[resource["name"]] = path
            else:
                self.notes.append(Problem("datapackage.json", None,
                                          _("resource %(name)s has an unusable path "
                                            "%(path)s; the default file name is used",
                                            name=repr(resource["name"]), path=repr(path))))

    def _records(self, path: str) -> Iterator[tuple[list[str], int, list[str]]]:
        """(header, row number, values) of each non-blank data row; the header is row 1."""
        try:
            with self.opener(path) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                reader = csv.reader(text)
                header = [name.strip() for name in next(reader, [])]
                for number, record in enumerate(reader, start=2):
                    if "".join(record).strip():  # not a blank row
                        yield header, number, record
        except (csv.Error, UnicodeDecodeError) as exc:
            raise HsdsReadError(_("%(file)s cannot be read as UTF-8 CSV: %(error)s",
                                      file=path, error=str(exc))) from exc

    def size(self, path: str) -> int:
        """The bytes of file ``path`` (0 when unknown)."""
        return self.sizes.get(path, 0)

    def reopen(self) -> None:
        """Read through file handles of this process's own (in a forked child: the parent's
        zip archive shares its file offset with the child)."""
        if self.reopener is not None:
            self.opener = self.reopener()

    def rows(self, table: str) -> Iterator[SourceRow]:
        if self.ahead is not None and self.ahead.holds(table):
            return self.ahead.rows(table, self.paths[table], self.notes, self.read)
        return self.read(table)

    def read(self, table: str) -> Iterator[SourceRow]:
        """The rows of ``table`` read and checked from its file."""
        path = self.paths[table]
        if path not in self.names:
            return
        definition = spec.tables()[table]
        keep = HELD[table]
        check_record = None
        for header, number, record in self._records(path):
            if check_record is None:
                unknown = [name for name in header if name not in definition.field_names]
                if unknown:
                    self.notes.append(Problem(path, 1, _(
                        "columns not in HSDS 3.0 are ignored: %(columns)s",
                        columns=", ".join(unknown))))
                check_record = spec.record_checker(definition, header, keep)
            # The export wrote formula-like text with a leading ' (directory/safecsv.py):
            # both checks take it off.
            if len(record) == len(header):
                values, problems = check_record(record)
            else:
                cells = dict(zip(header, map(unescape_cell, record), strict=False))
                values, problems = spec.check_row(definition, cells, keep)
                problems.append(_("has %(values)s values for %(columns)s columns",
                                  values=len(record), columns=len(header)))
            yield SourceRow(path, number, values, tuple(problems))

    def header(self, path: str) -> list[str]:
        """The column names of ``path`` (none when the package has no such file)."""
        if path not in self.names:
            return []
        with self.opener(path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            try:
                return [name.strip() for name in next(csv.reader(text), [])]
            except (csv.Error, UnicodeDecodeError) as exc:
                raise HsdsReadError(_("%(file)s cannot be read as UTF-8 CSV: %(error)s",
                                      file=path, error=str(exc))) from exc

    def count_ignored(self) -> None:
        known = set(self.paths.values()) | {"datapackage.json"}
        for name, path in self.paths.items():
            if name not in HELD and path in self.names:
                self.skipped[path] = _("the directory does not hold HSDS %(table)s",
                                       table=name.replace("_", " "))
                count = sum(1 for _record in self._records(path))
                if count:
                    self.ignored[path] = count
        for path in sorted(self.names - known):
            self.skipped[path] = _("not a file of an HSDS 3.0 package")

    def close(self) -> None:
        if self.ahead is not None:
            self.ahead.close()
        if self.archive is not None:
            self.archive.close()


_NESTED: dict[str, dict[str, tuple[str, str]]] = {
    # parent table -> {JSON key: (child table, the child's column naming the parent)}
    "organization": {"services": ("service", "organization_id"),
                     "locations": ("location", "organization_id"),
                     "contacts": ("contact", "organization_id"),
                     "phones": ("phone", "organization_id")},
    "service": {"service_at_locations": ("service_at_location", "service_id"),
                "languages": ("language", "service_id"), "phones": ("phone", "service_id"),
                "schedules": ("schedule", "service_id"),
                "service_areas": ("service_area", "service_id"),
                "contacts": ("contact", "service_id")},
    "service_at_location": {"contacts": ("contact", "service_at_location_id"),
                            "phones": ("phone", "service_at_location_id"),
                            "schedules": ("schedule", "service_at_location_id")},
    "location": {"addresses": ("address", "location_id"), "languages": ("language", "location_id"),
                 "phones": ("phone", "location_id"), "schedules": ("schedule", "location_id"),
                 "contacts": ("contact", "location_id")},
    "contact": {"phones": ("phone", "contact_id")},
    "phone": {"languages": ("language", "phone_id")},
}
_POINTED: dict[str, dict[str, tuple[str, str]]] = {
    # parent table -> {JSON key: (table of the object, the parent's column naming it)}
    "service": {"organization": ("organization", "organization_id")},
    "service_at_location": {"location": ("location", "location_id"),
                            "service": ("service", "service_id")},
    "attribute": {"taxonomy_term": ("taxonomy_term", "taxonomy_term_id")},
    "taxonomy_term": {"taxonomy_detail": ("taxonomy", "taxonomy_id")},
}


class JsonSource(Source):
    """A JSON document, flattened into the HSDS tables (an object repeated in several places,
    such as a taxonomy term, is taken once)."""

    def __init__(self, label: str, file: str, document: Any) -> None:
        super().__init__(label)
        self.file = file
        self.tables: dict[str, list[SourceRow]] = defaultdict(list)
        self._seen: dict[tuple[str, str], tuple[str, int]] = {}
        if isinstance(document, dict) and isinstance(document.get("contents"), list):
            for index, item in enumerate(document["contents"]):
                self._flatten("organization", item, f"/contents/{index}", {})
        elif isinstance(document, list):
            for index, item in enumerate(document):
                self._flatten("organization", item, f"/{index}", {})
        elif isinstance(document, dict) and any(str(key).endswith(".csv") for key in document):
            self._tabular(document)
        elif isinstance(document, dict) and "id" in document:
            self._flatten("organization", document, "", {})
        else:
            raise HsdsReadError(_("%(source)s is not HSDS JSON: expected a page of "
                                  "organizations (with 'contents'), a list of organizations, one "
                                  "organization, or the tabular form keyed by file name.",
                                  source=label))
        if not self.tables.get("organization"):
            raise HsdsReadError(_("%(source)s holds no organizations.", source=label))

    def _tabular(self, document: dict[str, Any]) -> None:
        by_path = {table.path: name for name, table in spec.tables().items()}
        for key, items in document.items():
            table = by_path.get(str(key))
            if table not in HELD or not isinstance(items, list):
                self.ignored[str(key)] += len(items) if isinstance(items, list) else 1
                continue
            for index, item in enumerate(items):
                scalars = item if isinstance(item, dict) else {}
                self._add(table, scalars, f"/{key}/{index}", isinstance(item, dict))

    def _add(self, table: str, raw: dict[str, Any], pointer: str, is_object: bool = True,
             own: dict[str, Any] | None = None) -> None:
        """Add a row; an object met again under the same id (a location inside a service at
        location, a taxonomy term inside each attribute) is taken once, with a warning when
        its own values differ from the first."""
        raw_id = str(raw.get("id") or "").strip().lower()
        fingerprint = hash(frozenset((own if own is not None else raw).items()))
        if raw_id and (table, raw_id) in self._seen:
            first, first_fingerprint = self._seen[(table, raw_id)]
            if fingerprint != first_fingerprint:
                self.notes.append(Problem(self.file, pointer,
                                          _("%(table)s %(id)s appears again with other "
                                            "values than at %(first)s; the first is used",
                                            table=table, id=raw_id, first=first or "/"),
                                          raw_id))
            return
        if raw_id:
            self._seen[(table, raw_id)] = (pointer, fingerprint)
        values, problems = spec.check_row(spec.tables()[table], raw, HELD[table])
        if not is_object:
            problems.append(_("must be a JSON object"))
        self.tables[table].append(SourceRow(self.file, pointer, values, tuple(problems)))

    def _flatten(self, table: str, item: Any, pointer: str, inherited: dict[str, Any]) -> None:
        if not isinstance(item, dict):
            self._add(table, {}, pointer, is_object=False)
            return
        own = {key: value for key, value in item.items() if not isinstance(value, dict | list)}
        scalars = {**inherited, **own}
        for key, (child_table, column) in _POINTED.get(table, {}).items():
            child = item.get(key)
            if isinstance(child, dict):
                if child.get("id"):
                    scalars.setdefault(column, child["id"])
                self._flatten(child_table, child, f"{pointer}/{key}", {})
        self._add(table, scalars, pointer, own=own)
        for key, value in item.items():
            if key in _POINTED.get(table, {}) or not isinstance(value, dict | list):
                continue
            if key == "attributes" and isinstance(value, list):
                child_table, link = "attribute", {"link_id": item.get("id"), "link_entity": table}
            elif key in _NESTED.get(table, {}) and isinstance(value, list):
                child_table, column = _NESTED[table][key]
                link = {column: item.get("id")}
            else:
                self.ignored[key] += len(value) if isinstance(value, list) else 1
                continue
            for index, child in enumerate(value):
                self._flatten(child_table, child, f"{pointer}/{key}/{index}", link)

    def rows(self, table: str) -> Iterator[SourceRow]:
        yield from self.tables.get(table, [])


def _package(label: str, names: set[str], opener: Opener, archive: zipfile.ZipFile | None,
             source_key: str, sizes: dict[str, int],
             reopener: Callable[[], Opener] | None = None) -> PackageSource:
    """The package, read as HSDS 3.0 or, when it is an older shape, converted to it."""
    from directory.hsds import legacy  # it builds on PackageSource

    source = PackageSource(label, names, opener, archive, sizes=sizes, reopener=reopener)
    detected = legacy.detect(names, source.version, source.header)
    if detected.legacy:
        source = legacy.LegacySource(label, names, opener, archive, detected, source_key)
    source.format, source.format_evidence = detected.label, detected.how
    return source


def _zip_source(path: Path, source_key: str) -> PackageSource:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise HsdsReadError(_("%(file)s is not a readable zip file.", file=path)) from exc
    members = [name for name in archive.namelist() if not name.endswith("/")]
    anchors = [name for name in members
               if PurePosixPath(name).name in ("datapackage.json", "organizations.csv")]
    prefix = str(PurePosixPath(min(anchors, key=len)).parent) if anchors else "."
    prefix = "" if prefix == "." else prefix + "/"
    names = {name.removeprefix(prefix) for name in members if name.startswith(prefix)}
    sizes = {info.filename.removeprefix(prefix): info.file_size for info in archive.infolist()
             if info.filename.startswith(prefix)}

    def opener(archive: zipfile.ZipFile) -> Opener:
        return lambda name: archive.open(prefix + name)

    try:
        return _package(str(path), names, opener(archive), archive, source_key, sizes,
                        reopener=lambda: opener(zipfile.ZipFile(path)))
    except HsdsReadError:
        archive.close()
        raise


def open_source(path: Path, source_key: str | None = None) -> Source:
    """The HSDS dataset at ``path``: a package folder, a .zip of one, its datapackage.json, or
    a .json document. ``source_key`` names the source in the ids derived for an older
    package's ids that are not UUIDs (default: the folder's or file's name)."""
    log.info("reading HSDS data from %s", path)
    if not path.exists():
        raise HsdsReadError(_("%(file)s does not exist.", file=path))
    if path.is_dir():
        sizes = {str(item.relative_to(path).as_posix()): item.stat().st_size
                 for item in path.rglob("*") if item.is_file()}
        return _package(str(path), set(sizes), lambda name: (path / name).open("rb"), None,
                        source_key or path.resolve().name, sizes)
    if path.suffix.lower() == ".zip":
        return _zip_source(path, source_key or path.stem)
    if path.name == "datapackage.json":
        return open_source(path.parent, source_key)
    if path.suffix.lower() == ".json":
        try:
            document = loads(path.read_text(encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise HsdsReadError(_("%(file)s is not valid JSON: %(error)s", file=path,
                                  error=str(exc))) from exc
        return JsonSource(str(path), path.name, document)
    raise HsdsReadError(_("%(file)s is neither an HSDS package (a folder, a .zip or a "
                          "datapackage.json) nor a .json document.", file=path))
