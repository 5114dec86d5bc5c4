"""Older shapes in: HSDS 1.0 and 1.1 packages and the Ohana API's CSV export (fixtures written
for these tests in those shapes, under fixtures/), converted to HSDS 3.0 rows and imported by
the same rules as a 3.0 package."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.cli import main
from directory.hsds.legacy import NAMESPACE
from directory.models import Location, Organization, Service
from directory.orgs.models import OpeningHours
from tests.hsds.conftest import import_path
from tests.hsds.test_cli import environment

FIXTURES = Path(__file__).with_name("fixtures")

# fixture -> (format named in the report, organizations, locations, services, opening hours)
HELD = {
    "hsds-1.0": ("HSDS 1.0", 2, 3, 3, 6),
    "hsds-1.1": ("HSDS 1.1", 2, 3, 3, 10),
    "ohana": ("Ohana API CSV export", 2, 3, 4, 3),
}


def counts(db: Session) -> tuple[int, int, int, int]:
    db.expire_all()
    return tuple(db.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[return-value]
                 for model in (Organization, Location, Service, OpeningHours))


def by_name(db: Session, name: str) -> Organization:
    db.expire_all()
    organization = db.scalar(select(Organization).where(Organization.name == name))
    assert organization is not None, name
    return organization


@pytest.mark.parametrize("fixture", sorted(HELD))
def test_an_older_package_imports_whole_and_a_second_import_changes_nothing(
        db: Session, fixture: str) -> None:
    label, organizations, locations, services, hours = HELD[fixture]
    report = import_path(FIXTURES / fixture)
    assert report.format == label and report.format_evidence
    assert (report.created, report.organizations_rejected, report.rejected) == (
        organizations, 0, [])
    assert not any("not listed" in problem.message for problem in report.warnings), \
        report.warnings
    assert counts(db) == (organizations, locations, services, hours)

    again = import_path(FIXTURES / fixture)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (
        0, 0, organizations, [])
    assert counts(db) == (organizations, locations, services, hours)


def test_hsds_1_0_rows_land_where_the_3_0_rows_would(db: Session) -> None:
    import_path(FIXTURES / "hsds-1.0")
    legal = by_name(db, "Bayou Legal Aid")
    assert legal.hsds_id == str(uuid.uuid5(NAMESPACE, "hsds-1.0/organization/1"))
    assert legal.website == "https://bayoulegal.example.org"  # 1.x calls it url
    assert sorted(service.category.code for service in legal.services) == [
        "legal", "legal.immigration"]  # services_taxonomy.csv + taxonomy.csv, by term name
    office = next(item for item in legal.locations if item.name == "Main office")
    assert (office.address, office.city, office.state, office.postal_code) == (
        "1200 Main Street, Suite 300", "Houston", "TX", "77002")  # physical_addresses.csv
    assert sorted((item.weekday, f"{item.opens:%H:%M}", f"{item.closes:%H:%M}")
                  for item in office.hours)[0] == (0, "09:00", "17:00")  # weekday 1 = Monday
    assert set(legal.language_codes) == {"en", "es", "vi"}  # languages.csv and phones' column
    assert [(contact.name, contact.phone) for contact in legal.contacts] == [
        ("Dana Ruiz", "(713) 555-0141")]
    line = by_name(db, "Harbor Crisis Line")
    assert [service.category.code for service in line.services] == ["hotline"]  # taxonomy_ids
    assert line.locations[0].city == "New Orleans"  # only a postal address: it is used


def test_hsds_1_1_keeps_uuid_ids_and_reads_day_names_and_12_hour_times(db: Session) -> None:
    import_path(FIXTURES / "hsds-1.1")
    counselling = by_name(db, "Franklin Counseling Collective")
    assert counselling.hsds_id == "4b1e8f2a-6c3d-4e5f-8a9b-0c1d2e3f4a5b"
    assert [service.category.code for service in counselling.services] == [
        "mental_health.counseling"]
    assert counselling.language_codes == ["so"]
    haven = by_name(db, "Scioto Safe Haven")
    office = next(item for item in haven.locations if item.name == "Downtown office")
    assert sorted((item.weekday, f"{item.opens:%H:%M}", f"{item.closes:%H:%M}")
                  for item in office.hours) == [(0, "08:30", "17:00"), (3, "08:30", "19:00")]


def test_ohana_services_belong_to_their_location_s_organization(db: Session) -> None:
    report = import_path(FIXTURES / "ohana")
    harbor = by_name(db, "Peninsula Harbor House")
    assert sorted(service.category.code for service in harbor.services) == [
        "hotline", "shelter.safe_house", "victim_advocacy"]
    assert set(harbor.language_codes) == {"es", "tl"}  # the locations' languages column
    assert harbor.phone == "650 555-0101"
    centre = next(item for item in harbor.locations if item.name == "Advocacy centre")
    assert centre.address == "2000 Broadway, Suite 12"  # addresses.csv over mail_addresses.csv
    assert report.skipped == {
        "holiday_schedules.csv": "holiday closures: the directory keeps weekly opening hours only"}


def test_every_skipped_file_is_named_with_its_reason(db: Session) -> None:
    report = import_path(FIXTURES / "hsds-1.0")
    assert report.skipped == {
        "funding.csv": "funding is not held by the directory",
        "holiday_schedules.csv": "holiday closures: the directory keeps weekly opening hours only"}
    assert report.ignored == {"funding.csv": 1, "holiday_schedules.csv": 1}


def test_a_package_without_a_version_is_recognised_by_its_file_names(
        db: Session, tmp_path: Path) -> None:
    package = shutil.copytree(FIXTURES / "hsds-1.0", tmp_path / "export")
    (package / "datapackage.json").unlink()
    report = import_path(package)
    assert report.format == "HSDS 1.x/2.x"
    assert "services_at_location.csv" in report.format_evidence
    assert report.created == 2


def test_the_source_name_keeps_ids_apart(db: Session, tmp_path: Path) -> None:
    first = shutil.copytree(FIXTURES / "ohana", tmp_path / "county-a")
    import_path(first)
    renamed = tmp_path / "county-b"
    shutil.copytree(first, renamed)
    report = import_path(renamed)
    # The same ids "1", "2" from another source are other organizations (here refused only
    # because the names are already listed).
    assert report.created == 0 and report.organizations_rejected == 2
    assert all("already listed" in problem.message for problem in report.rejected)


def test_the_cli_names_the_format_and_the_skipped_files(tmp_path: Path) -> None:
    env = environment(tmp_path, "legacy")
    result = CliRunner().invoke(main, ["import-hsds", str(FIXTURES / "hsds-1.1")], env=env)
    assert result.exit_code == 0, result.output
    assert "Format: HSDS 1.1 (datapackage.json says version 1.1)." in result.output
    assert "Files skipped:" in result.output
    assert "  programs.csv: programs are not held by the directory" in result.output
    as_json = CliRunner().invoke(main, ["import-hsds", str(FIXTURES / "ohana"), "--json",
                                        "--source", "san-mateo"], env=env)
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["format"] == "Ohana API CSV export" and not document["failed"]
    assert document["organizations"]["created"] == 2


def test_a_run_that_imports_nothing_fails_and_counts_every_rejection(tmp_path: Path) -> None:
    package = shutil.copytree(FIXTURES / "hsds-1.0", tmp_path / "broken")
    header = (package / "organizations.csv").read_text().splitlines()[0]
    (package / "organizations.csv").write_text(f"{header}\n1,,,,,,,,,\n2,,,,,,,,,\n")  # no names
    env = environment(tmp_path, "broken")
    result = CliRunner().invoke(main, ["import-hsds", str(package)], env=env)
    assert result.exit_code == 1, result.output
    assert "Organizations: 0 created, 0 updated, 0 unchanged, 2 rejected." in result.output
    assert "Nothing was imported" in result.output
