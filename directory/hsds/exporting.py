"""HSDS export operations: the tabular package (a folder or a zip) and the JSON form.

An export holds what a vetted member may see and nothing more: active listings, confidential
locations reduced to their city's centre, no users, memberships or referrals.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flask_babel import gettext as _

from directory.hsds.export import (
    CsvPackageWriter,
    JsonWriter,
    Rows,
    count_exported,
    exported_organizations,
    organization_rows,
    taxonomy_rows,
)
from directory.hsds.taxonomy import service_categories

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
EXPORT_FORMATS = ("csv", "json")


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


def _write_organizations(writer: CsvPackageWriter | JsonWriter, report: ExportReport,
                         progress: Progress | None) -> None:
    for organization in exported_organizations():
        rows = organization_rows(organization)
        writer.write(rows)
        report.count(rows)
        report.organizations += 1
        if progress:
            progress(1)


def export_csv(directory: Path, progress: Progress | None = None) -> ExportReport:
    """Write the tabular package (a CSV per HSDS table and datapackage.json) into ``directory``."""
    report = ExportReport("csv", str(directory))
    writer = CsvPackageWriter(directory)
    try:
        taxonomy = taxonomy_rows(service_categories())
        writer.write(taxonomy)
        report.count(taxonomy)
        _write_organizations(writer, report, progress)
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
    writer = JsonWriter(stream, count_exported(), taxonomy_rows(service_categories()))
    _write_organizations(writer, report, progress)
    writer.close()
    return report


def export_hsds(out: Path, fmt: str = "csv", progress: Progress | None = None) -> ExportReport:
    """Export to ``out``: a folder (or a .zip file) for the tabular package, a file for JSON."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(_("Unknown export format %(format)s: use csv or json.",
                           format=repr(fmt)))
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
        raise ValueError(_("%(path)s is a file: give a folder (or a .zip path) for the "
                           "package.", path=out))
    return export_csv(out, progress)


