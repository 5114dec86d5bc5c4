"""Spreadsheet formula injection: no CSV cell the application writes starts a formula, and the
HSDS import reads back exactly what the export wrote."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from frictionless import Package
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.hsds.operations import export_csv
from directory.orgs.models import Organization
from directory.safecsv import TRIGGERS, escape_cell, unescape_cell
from tests.factories import Factory
from tests.hsds.conftest import (
    HSDS_STANDARD,
    export_to,
    import_path,
    package_files,
    read_csv,
    remove_all_organizations,
)
from tests.security.conftest import bearer

HYPERLINK = '=HYPERLINK("http://evil.example","x")'
COMMAND = "@SUM(1+1)*cmd|' /C calc'!A0"
LISTING = {
    "name": "Formula Outreach", "description": HYPERLINK, "phone": "+1 555-0100",
    "contacts": [{"name": COMMAND, "title": "-2+3 Director", "email": "intake@formula.example",
                  "phone": "+1 555-0101"},
                 {"name": "'=already quoted", "title": "'Tis the season"}],
    "locations": [{"name": "+Main office", "address": "1 Main St", "city": "Houston",
                   "state": "TX", "postal_code": "77002", "latitude": 29.7604,
                   "longitude": -95.3698, "hours": []}],
}


def _csv_cells(package: Path) -> list[tuple[str, str, str]]:
    """(file, column, cell) of every data cell of every CSV file of the package."""
    cells = []
    for path in sorted(package.glob("*.csv")):
        for row in read_csv(path):
            cells.extend((path.name, column, value) for column, value in row.items())
    return cells


def _formula_cells(cells: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [cell for cell in cells if cell[2].startswith(TRIGGERS)]


def _frictionless_errors(package: Path) -> list[str]:
    descriptor = json.loads((HSDS_STANDARD / "datapackage.json").read_text())
    report = Package(descriptor, basepath=str(package)).validate()
    return [f"{task.name}: {error.message}" for task in report.tasks for error in task.errors]


def _by_name(db: Session, name: str) -> Organization:
    db.expire_all()
    organization = db.scalar(select(Organization).where(Organization.name == name))
    assert organization is not None
    return organization


def test_formula_text_is_exported_quoted_and_numbers_stay_numbers(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    organization = factory.organization(**LISTING)
    package = export_to(tmp_path / "package")

    (row,) = [row for row in read_csv(package / "organizations.csv")
              if row["id"] == organization.hsds_id]
    assert row["description"] == "'" + HYPERLINK
    contacts = {row["name"]: row for row in read_csv(package / "contacts.csv")}
    assert set(contacts) == {"'" + COMMAND, "''=already quoted"}
    assert contacts["'" + COMMAND]["title"] == "'-2+3 Director"
    assert contacts["''=already quoted"]["title"] == "'Tis the season"  # not formula-like
    phones = {row["number"] for row in read_csv(package / "phones.csv")}
    assert phones == {"'+1 555-0100", "'+1 555-0101"}
    (location,) = read_csv(package / "locations.csv")
    assert location["name"] == "'+Main office"
    assert (location["latitude"], location["longitude"]) == ("29.7604", "-95.3698")
    assert _formula_cells(_csv_cells(package)) == [
        ("locations.csv", "longitude", "-95.3698")], "only the number starts with a sign"
    assert _frictionless_errors(package) == []
    # The listing itself is unchanged: only its CSV form is quoted.
    assert _by_name(db, "Formula Outreach").description == HYPERLINK


def test_the_import_reads_back_what_the_export_wrote(factory: Factory, db: Session,
                                                     tmp_path: Path) -> None:
    factory.organization(**LISTING)
    first = export_to(tmp_path / "first")
    remove_all_organizations(db)
    report = import_path(first)
    assert (report.created, report.rejected, report.warnings) == (1, [], [])

    imported = _by_name(db, "Formula Outreach")
    assert imported.description == HYPERLINK
    assert imported.phone == "+1 555-0100"
    assert sorted((contact.name, contact.title, contact.phone)
                  for contact in imported.contacts) == sorted(
        [(COMMAND, "-2+3 Director", "+1 555-0101"), ("'=already quoted", "'Tis the season",
                                                      None)])
    (location,) = imported.locations
    assert (location.name, location.latitude, location.longitude) == (
        "+Main office", 29.7604, -95.3698)
    assert package_files(export_to(tmp_path / "second")) == package_files(first)


def test_the_api_download_is_quoted_too(client: FlaskClient, factory: Factory,
                                        tmp_path: Path) -> None:
    organization = factory.organization(**LISTING)
    member = factory.user(organization=organization)
    response = client.get("/api/v1/hsds/export", headers=bearer(member))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        organizations = archive.read("organizations.csv").decode()
        contacts = archive.read("contacts.csv").decode()
    (row,) = csv.DictReader(io.StringIO(organizations))
    assert row["description"] == "'" + HYPERLINK
    assert {row["name"] for row in csv.DictReader(io.StringIO(contacts))} == {
        "'" + COMMAND, "''=already quoted"}
    export_csv(tmp_path / "cli")  # what `directory export-hsds` writes: the same bytes
    assert (tmp_path / "cli" / "organizations.csv").read_bytes().decode() == organizations


TEXTS = ["=1+1", "+1 555-0100", "-97.7", "@SUM(A1)", "\t=cmd", "\r=cmd", "'=x", "''=x", "'",
         "''", "'Tis", "plain", "", "a=b", " =x", "-", "'\t", "='"]


@pytest.mark.parametrize("text", TEXTS)
def test_escaping_is_undone_exactly_and_never_leaves_a_formula(text: str) -> None:
    written = escape_cell(text)
    assert not written.startswith(TRIGGERS)
    assert unescape_cell(written) == text


@pytest.mark.parametrize("text", ["'Tis the season", "'", "' =x", "plain", "-5"])
def test_the_reader_leaves_other_cells_as_they_are(text: str) -> None:
    assert unescape_cell(text) == text


def test_numbers_in_number_columns_are_written_as_they_are() -> None:
    assert escape_cell(-97.7) == -97.7
    assert escape_cell("-97.7", numeric=True) == "-97.7"
    assert escape_cell("-1e-05", numeric=True) == "-1e-05"
    assert escape_cell("-97.7", numeric=False) == "'-97.7"  # a text column: text
    assert escape_cell("-1+cmd|' /C calc'!A0", numeric=True) == "'-1+cmd|' /C calc'!A0"
