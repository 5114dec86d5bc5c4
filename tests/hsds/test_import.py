"""The import: idempotent by HSDS id, whole organizations or nothing, every bad row reported."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from directory.audit.models import AuditAction, AuditEvent
from directory.hsds import importing
from directory.hsds.assemble import build_listing
from directory.hsds.operations import (
    _create_organization,
    build_organization,
    export_json,
    export_zip,
    prepare_import,
)
from directory.hsds.reader import HsdsReadError, open_source
from directory.hsds.report import ImportReport
from directory.models import Location, Organization, Service, ServiceCategory
from directory.orgs.coverage import add_coverage_area
from directory.orgs.models import OrganizationKind
from directory.referrals.models import Referral, ReferralStatus
from tests.factories import Factory
from tests.hsds.conftest import (
    edit_csv,
    export_to,
    import_path,
    organization_count,
    package_files,
    read_csv,
    remove_all_organizations,
)
from tests.hsds.test_export import OFFICE, SAFE_HOUSE

EXAMPLE_ORGANIZATION = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"


def problems(report: ImportReport, kind: str = "rejected") -> list[tuple[str, Any, str]]:
    return [(item.file, item.row, item.message) for item in getattr(report, kind)]


def find(db: Session, hsds_id: str) -> Organization | None:
    db.expire_all()
    return db.scalar(select(Organization).where(Organization.hsds_id == hsds_id))


def test_the_official_example_package_imports_and_its_dangling_references_are_reported(
        hsds_spec: Path, db: Session) -> None:
    report = import_path(hsds_spec / "examples" / "csv")
    assert (report.created, report.organizations_rejected) == (1, 0)
    rejected = problems(report)
    assert [(file, row) for file, row, _ in rejected] == [
        ("locations.csv", 2), ("contacts.csv", 2), ("attributes.csv", 2)]
    assert "organization_id 985e4a42-bd9f-4edc-911d-0243a4640aca is not in organizations.csv" \
        in rejected[0][2] and "latitude 100 is outside" in rejected[0][2]
    assert "organization_id ae67a707-5893-4225-b0b1-320ab9cb596b" in rejected[1][2]
    assert "link_id f28dd44b-0c4d-479f-8e90-4c52219a8b3c matches no row" in rejected[2][2]
    warnings = problems(report, "warnings")
    assert any(file == "taxonomy_terms.csv" and "taxonomy_id 07ff6aee" in message
               for file, _, message in warnings)
    assert report.ignored["funding.csv"] == 1
    organization = find(db, EXAMPLE_ORGANIZATION)
    assert organization is not None and organization.name == "Example Organization Inc."
    assert organization.kind == OrganizationKind.OTHER and organization.website == "http://example.com"
    assert organization.services == [] and organization.locations == []


def test_the_official_example_json_organization_is_kept_without_its_bad_location(
        hsds_spec: Path, db: Session) -> None:
    """As in the CSV example: the location is dropped with a warning, the organization kept."""
    report = import_path(hsds_spec / "examples" / "organization_full.json")
    assert (report.created, report.organizations_rejected, report.rejected) == (1, 0, [])
    assert ("organization_full.json", "/locations/0",
            "location not imported (its organization is, without it): bad coordinates: "
            "latitude 100 is outside -90..90") in problems(report, "warnings")
    organization = find(db, EXAMPLE_ORGANIZATION)
    assert organization is not None and organization.locations == []


def test_export_import_export_round_trips_to_the_same_content(
        demo_network: int, db: Session, tmp_path: Path) -> None:
    first = export_to(tmp_path / "first")
    assert len(read_csv(first / "service_areas.csv")) > 200, "coverage areas make the trip too"
    first_json = io.StringIO()
    export_json(first_json)
    remove_all_organizations(db)
    report = import_path(first)
    assert (report.created, report.organizations_rejected, report.rejected) == (
        demo_network, 0, [])
    assert report.warnings == []
    second = export_to(tmp_path / "second")
    assert package_files(second) == package_files(first)
    second_json = io.StringIO()
    export_json(second_json)
    assert second_json.getvalue() == first_json.getvalue()

    remove_all_organizations(db)
    (tmp_path / "directory.json").write_text(first_json.getvalue())
    from_json = import_path(tmp_path / "directory.json")
    assert (from_json.created, from_json.rejected, from_json.warnings) == (demo_network, [], [])
    assert package_files(export_to(tmp_path / "third")) == package_files(first)


def test_reimport_updates_and_never_duplicates(factory: Factory, db: Session,
                                               tmp_path: Path) -> None:
    organization = factory.organization(name="Harbor Legal Aid", locations=[OFFICE],
                                        services=["legal", "hotline"])
    hsds_id = organization.hsds_id
    package = export_to(tmp_path / "package")
    before = {model.__name__: db.scalar(select(func.count()).select_from(model))
              for model in (Organization, Service, Location)}
    again = import_path(package)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    row = edit_csv(package / "organizations.csv", {"id": hsds_id},
                   {"name": "Harbor Legal Aid Society", "email": "new@harbor.example"})
    assert row == 2
    service_id = organization.services[0].hsds_id
    edit_csv(package / "services.csv", {"id": service_id}, {"description": "Walk-in clinic."})
    changed = import_path(package)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 0)
    after = {model.__name__: db.scalar(select(func.count()).select_from(model))
             for model in (Organization, Service, Location)}
    assert after == before
    updated = find(db, hsds_id)
    assert updated is not None and updated.name == "Harbor Legal Aid Society"
    assert updated.email == "new@harbor.example" and updated.slug == organization.slug
    assert {service.hsds_id: service.description for service in updated.services}[
        service_id] == "Walk-in clinic."


def test_reimport_keeps_a_withheld_confidential_address(factory: Factory, db: Session,
                                                        tmp_path: Path) -> None:
    shelter = factory.organization(name="Quiet Harbor Shelter", locations=[OFFICE, SAFE_HOUSE])
    package = export_to(tmp_path / "package")
    report = import_path(package)
    assert (report.unchanged, report.rejected) == (1, [])
    kept = find(db, shelter.hsds_id)
    assert kept is not None
    safe_house = kept.locations[1]
    assert (safe_house.name, safe_house.address, safe_house.postal_code) == (
        "Harbor safe house", "77 Quiet Court", "77019")
    assert safe_house.true_point == (29.7512, -95.4107)


def test_a_withheld_confidential_location_imports_at_its_city_centre(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    shelter = factory.organization(name="Quiet Harbor Shelter", locations=[SAFE_HOUSE])
    package = export_to(tmp_path / "package")
    remove_all_organizations(db)
    assert import_path(package).created == 1
    imported = find(db, shelter.hsds_id)
    assert imported is not None
    location = imported.locations[0]
    assert (location.city, location.state, location.address, location.confidential) == (
        "Houston", "TX", "", True)
    assert location.open_24_7


def _two_organizations(factory: Factory, db: Session, tmp_path: Path) -> tuple[Path, str, str]:
    good = factory.organization(name="Good Partner", locations=[OFFICE])
    bad = factory.organization(name="Bad Partner", locations=[OFFICE], services=["hotline"],
                               phone="(713) 555-0199")
    package = export_to(tmp_path / "package")
    remove_all_organizations(db)
    return package, good.hsds_id, bad.hsds_id


BAD_ROWS = [
    # (file, what to change, expected message; the row is rejected with its organization)
    ("organizations.csv", {"name": ""}, "name is required"),
    ("organizations.csv", {"description": ""}, "description is required"),
    ("services.csv", {"status": ""}, "status is required"),
    ("services.csv", {"id": "not-a-uuid"}, "id is not a UUID: 'not-a-uuid'"),
    ("addresses.csv", {"state_province": "Atlantis"}, "state: Must be one of"),
    ("addresses.csv", {"postal_code": "ABC 123"}, "postal_code: Use a 5-digit ZIP code."),
    ("schedules.csv", {"opens_at": "9am"}, "opens_at must be a time such as 09:00:00"),
    ("organizations.csv", {"website": "not a url"}, "website: Not a valid URL."),
]


@pytest.mark.parametrize(("file", "changes", "message"), BAD_ROWS,
                         ids=[f"{item[0]}-{next(iter(item[1]))}" for item in BAD_ROWS])
def test_a_bad_row_rejects_its_whole_organization_and_says_where(
        factory: Factory, db: Session, tmp_path: Path, file: str, changes: dict[str, str],
        message: str) -> None:
    package, good_id, bad_id = _two_organizations(factory, db, tmp_path)
    owner = {"organizations.csv": "id", "services.csv": "organization_id",
             "locations.csv": "organization_id"}.get(file)
    if owner:
        row = edit_csv(package / file, {owner: bad_id}, changes)
    else:
        location_id = next(item["id"] for item in read_csv(package / "locations.csv")
                           if item["organization_id"] == bad_id)
        row = edit_csv(package / file, {"location_id": location_id}, changes)
    report = import_path(package)
    assert (report.created, report.organizations_rejected) == (1, 1)
    assert any((where, number) == (file, row) and message in text
               for where, number, text in problems(report)), problems(report)
    assert find(db, good_id) is not None and find(db, bad_id) is None
    assert organization_count(db) == 1


def _rewrite_csv(path: Path, change: Any) -> None:
    """Rewrite ``path`` as ``change(header, rows)`` returns it (lists of cells)."""
    with path.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    header, rows = change(header, rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])


def _row_of(rows: list[list[str]], position: int, value: str) -> list[str]:
    return next(row for row in rows if row[position] == value)


def _without_status(header: list[str], rows: list[list[str]], _bad: str) -> Any:
    drop = header.index("status")
    return ([name for index, name in enumerate(header) if index != drop],
            [[cell for index, cell in enumerate(row) if index != drop] for row in rows])


def _name_again(header: list[str], rows: list[list[str]], bad: str) -> Any:
    # a repeated column: the last one is read, as by name
    id_at, name_at = header.index("id"), header.index("name")
    for row in rows:
        row.append("" if row[id_at] == bad else row[name_at])
    return [*header, "name"], rows


def _escaped_bad_uuid(header: list[str], rows: list[list[str]], bad: str) -> Any:
    _row_of(rows, header.index("organization_id"), bad)[header.index("id")] = "'=bad"
    return header, rows


def _blank_name(header: list[str], rows: list[list[str]], bad: str) -> Any:
    _row_of(rows, header.index("id"), bad)[header.index("name")] = " \t "
    return header, rows


def _short_row(header: list[str], rows: list[list[str]], bad: str) -> Any:
    row = _row_of(rows, header.index("id"), bad)
    del row[header.index("name") + 1:]
    return header, rows


FILE_SHAPES = [
    # (file, its change, message of the bad organization's row, whether the good one is too)
    ("services.csv", _without_status, "status is required", True),
    ("organizations.csv", _name_again, "name is required", False),
    ("services.csv", _escaped_bad_uuid, "id is not a UUID: '=bad'", False),
    ("organizations.csv", _blank_name, "name is required", False),
    ("organizations.csv", _short_row, "description is required; has 2 values for 13 columns",
     False),
]


@pytest.mark.parametrize(("file", "change", "message", "both"), FILE_SHAPES,
                         ids=[item[1].__name__.strip("_") for item in FILE_SHAPES])
def test_each_file_is_checked_as_its_header_gives_its_columns(
        factory: Factory, db: Session, tmp_path: Path, file: str, change: Any, message: str,
        both: bool) -> None:
    package, good_id, bad_id = _two_organizations(factory, db, tmp_path)
    _rewrite_csv(package / file, lambda header, rows: change(header, rows, bad_id))
    report = import_path(package)
    assert (report.created, report.organizations_rejected) == ((0, 2) if both else (1, 1))
    messages = [text for where, _, text in problems(report) if where == file]
    assert len(messages) == (2 if both and file == "services.csv" else 1), messages
    assert all(message in text for text in messages), messages
    assert (find(db, good_id) is None) == both and find(db, bad_id) is None


BAD_LOCATIONS = [
    # (what to change in the location's row, expected message; the organization is kept)
    ({"latitude": "123.5"}, "bad coordinates: latitude 123.5 is outside"),
    ({"longitude": ""}, "latitude and longitude must be given together"),
    ({"latitude": "north"}, "latitude must be a number, not 'north'"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_LOCATIONS,
                         ids=[next(iter(item[0])) for item in BAD_LOCATIONS])
def test_a_bad_location_is_dropped_with_a_warning_and_its_organization_kept(
        factory: Factory, db: Session, tmp_path: Path, changes: dict[str, str],
        message: str) -> None:
    package, good_id, bad_id = _two_organizations(factory, db, tmp_path)
    row = edit_csv(package / "locations.csv", {"organization_id": bad_id}, changes)
    report = import_path(package)
    assert (report.created, report.organizations_rejected, report.rejected) == (2, 0, [])
    warnings = problems(report, "warnings")
    assert any((where, number) == ("locations.csv", row) and message in text
               and "its organization is, without it" in text
               for where, number, text in warnings), warnings
    kept = find(db, bad_id)
    assert kept is not None and kept.locations == []
    assert [service.category.code for service in kept.services] == ["hotline"]


def test_a_language_with_neither_code_nor_name_says_so(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    package, _, bad_id = _two_organizations(factory, db, tmp_path)
    service_id = next(item["id"] for item in read_csv(package / "services.csv")
                      if item["organization_id"] == bad_id)
    with (package / "languages.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{uuid.uuid4()},{service_id},,,,,a note only\n")
    report = import_path(package)
    messages = [text for _, _, text in problems(report, "warnings")]
    assert "language not used: it has neither a code nor a name" in messages
    assert not any("None" in text for text in messages)


@pytest.mark.parametrize(("file", "column"), [
    ("services.csv", "organization_id"), ("locations.csv", "organization_id"),
    ("addresses.csv", "location_id"), ("phones.csv", "organization_id"),
    ("attributes.csv", "link_id"),
])
def test_a_broken_foreign_key_rejects_the_row(factory: Factory, db: Session, tmp_path: Path,
                                              file: str, column: str) -> None:
    package, good_id, _ = _two_organizations(factory, db, tmp_path)
    factory.session.flush()
    target = read_csv(package / file)[0][column]
    stray = str(uuid.uuid4())
    row = edit_csv(package / file, {column: target}, {column: stray})
    report = import_path(package)
    assert any((where, number) == (file, row) and f"{column} {stray}" in text
               for where, number, text in problems(report)), problems(report)
    assert report.created == 2


def test_strict_refuses_the_whole_import(factory: Factory, db: Session, tmp_path: Path) -> None:
    package, _, bad_id = _two_organizations(factory, db, tmp_path)
    row = edit_csv(package / "organizations.csv", {"id": bad_id}, {"id": "bad"})
    report = import_path(package, strict=True)
    assert report.refused and report.created == 0
    assert ("organizations.csv", row, "organization not imported; id is not a UUID: 'bad'") in \
        problems(report)
    assert organization_count(db) == 0


def test_strict_import_of_a_clean_package_applies_it(factory: Factory, db: Session,
                                                     tmp_path: Path) -> None:
    package, _, _ = _two_organizations(factory, db, tmp_path)
    report = import_path(package, strict=True)
    assert not report.refused and report.created == 2 and organization_count(db) == 2


def test_dry_run_writes_nothing(factory: Factory, db: Session, tmp_path: Path) -> None:
    package, _, _ = _two_organizations(factory, db, tmp_path)
    report = import_path(package, dry_run=True)
    assert report.created == 2 and report.dry_run
    assert organization_count(db) == 0


def test_a_rejected_update_leaves_the_organization_as_it_was(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    organization = factory.organization(name="Steady Partner", locations=[OFFICE],
                                        services=["legal", "hotline"])
    package = export_to(tmp_path / "package")
    edit_csv(package / "organizations.csv", {"id": organization.hsds_id},
             {"name": "Renamed Partner"})
    location_id = next(item["id"] for item in read_csv(package / "locations.csv")
                       if item["organization_id"] == organization.hsds_id)
    edit_csv(package / "addresses.csv", {"location_id": location_id},
             {"state_province": "Atlantis"})
    report = import_path(package)
    assert report.organizations_rejected == 1 and report.updated == 0
    kept = find(db, organization.hsds_id)
    assert kept is not None and kept.name == "Steady Partner"
    assert sorted(service.category.code for service in kept.services) == ["hotline", "legal"]


def test_a_name_already_listed_is_rejected(factory: Factory, db: Session, tmp_path: Path) -> None:
    package, _, bad_id = _two_organizations(factory, db, tmp_path)
    factory.organization(name="Bad Partner")
    row = edit_csv(package / "organizations.csv", {"id": bad_id}, {})
    report = import_path(package)
    assert report.created == 1
    assert ("organizations.csv", row, "An organization with this name is already listed.") in \
        problems(report)


def test_an_id_held_by_another_organization_is_rejected(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    package, _, bad_id = _two_organizations(factory, db, tmp_path)
    other = factory.organization(name="Other Partner")
    service_id = next(row["id"] for row in read_csv(package / "services.csv")
                      if row["organization_id"] == bad_id)
    other.services[0].hsds_id = service_id
    db.flush()
    report = import_path(package)
    assert report.organizations_rejected == 1
    assert any("already belongs to another organization" in text
               for _, _, text in problems(report))


def test_zip_and_json_imports_give_the_same_listings(factory: Factory, db: Session,
                                                     tmp_path: Path) -> None:
    factory.organization(name="Zip Partner", locations=[OFFICE, SAFE_HOUSE],
                         services=["legal", "shelter.safe_house"], languages=["en", "vi"])
    folder = export_to(tmp_path / "package")
    archive = tmp_path / "package.zip"
    export_zip(archive)
    remove_all_organizations(db)
    assert import_path(archive).created == 1
    assert package_files(export_to(tmp_path / "again")) == package_files(folder)
    with zipfile.ZipFile(archive) as handle:
        assert "datapackage.json" in handle.namelist()


def test_third_party_json_is_read_by_open_eligibility_terms_names_and_codes(
        db: Session, tmp_path: Path) -> None:
    org_id, service_id, location_id = (str(uuid.uuid4()) for _ in range(3))
    term = {"id": str(uuid.uuid4()), "name": "Temporary Shelter", "description": "OE term",
            "taxonomy_detail": {"id": str(uuid.uuid4()), "name": "Open Eligibility",
                                "description": "x"}}
    document = {"id": org_id, "name": "Riverside Family Shelter", "description": "Shelter.",
                "phones": [{"id": str(uuid.uuid4()), "number": "555-0100"}],
                "services": [
                    {"id": service_id, "name": "Beds", "status": "active",
                     "languages": [{"id": str(uuid.uuid4()), "code": "spa"},
                                   {"id": str(uuid.uuid4()), "name": "Vietnamese"},
                                   {"id": str(uuid.uuid4()), "code": "ur"}],
                     "attributes": [{"id": str(uuid.uuid4()), "taxonomy_term_id": term["id"],
                                     "link_entity": "service", "taxonomy_term": term}]},
                    {"id": str(uuid.uuid4()), "name": "Case Management", "status": "active"}],
                "locations": [{"id": location_id, "location_type": "physical",
                               "addresses": [{"id": str(uuid.uuid4()), "address_1": "1 Elm St",
                                              "city": "Columbus", "state_province": "Ohio",
                                              "postal_code": "43215", "country": "US",
                                              "address_type": "physical"}],
                               "schedules": [{"id": str(uuid.uuid4()), "freq": "WEEKLY",
                                              "byday": "MO,WE", "opens_at": "09:00",
                                              "closes_at": "17:30"},
                                             {"id": str(uuid.uuid4()), "byday": "FR",
                                              "opens_at": "22:00", "closes_at": "06:00"}]}]}
    path = tmp_path / "third-party.json"
    path.write_text(json.dumps(document))
    report = import_path(path)
    assert report.created == 1, problems(report)
    warnings = [text for _, _, text in problems(report, "warnings")]
    assert any("'ur'" in text for text in warnings)
    assert any("past midnight" in text for text in warnings)
    organization = find(db, org_id)
    assert organization is not None and organization.phone == "555-0100"
    assert {service.category.code for service in organization.services} == {
        "shelter.emergency", "case_management"}
    assert organization.language_codes == ["es", "vi"]
    location = organization.locations[0]
    assert (location.city, location.state, location.postal_code) == ("Columbus", "OH", "43215")
    assert [(hours.weekday, f"{hours.opens:%H:%M}", f"{hours.closes:%H:%M}")
            for hours in location.hours] == [(0, "09:00", "17:30"), (2, "09:00", "17:30")]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing", None, "does not exist"),
    ("notes.txt", "hello", "neither an HSDS package"),
    ("broken.json", "{not json", "is not valid JSON"),
    ("other.json", '{"hello": "world"}', "is not HSDS JSON"),
    ("empty.json", "[]", "holds no organizations"),
    ("empty.zip", b"PK\x05\x06" + b"\x00" * 18, "has no organizations.csv"),
    ("bad.zip", b"not a zip", "not a readable zip file"),
    ("deep.json", '{"id": "x", "services": [' * 2000 + "]}" * 2000,
     "nested more than 32 levels deep"),
])
def test_unreadable_input_is_refused_with_a_message(tmp_path: Path, name: str,
                                                    content: str | bytes | None,
                                                    message: str) -> None:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(HsdsReadError, match=message):
        open_source(path)


def test_a_csv_that_is_not_utf8_is_refused(factory: Factory, db: Session,
                                           tmp_path: Path) -> None:
    package, _, _ = _two_organizations(factory, db, tmp_path)
    (package / "services.csv").write_bytes(b"id,name\n\xff\xfe,\x80\n")
    with pytest.raises(HsdsReadError, match="services.csv cannot be read as UTF-8 CSV"):
        import_path(package)
    assert organization_count(db) == 0


CHANGES = [
    # (file, column, new value, what the directory then holds)
    ("organizations.csv", "email", "new@harbor.example", lambda o: o.email),
    ("phones.csv", "number", "(713) 555-0142", lambda o: o.phone),
    ("services.csv", "description", "Walk-in clinic.", lambda o: o.services[0].description),
    ("addresses.csv", "address_1", "9 New Road", lambda o: o.locations[0].address),
    ("schedules.csv", "closes_at", "18:30:00",
     lambda o: f"{max(hours.closes for hours in o.locations[0].hours):%H:%M}"),
    ("contacts.csv", "title", "Director", lambda o: o.contacts[0].title),
    ("languages.csv", "code", "vi", lambda o: o.language_codes),
    ("attributes.csv", "value", "false", lambda o: o.accepting_referrals),
    ("organizations.csv", "description", "New words.", lambda o: o.description),
    ("locations.csv", "name", "Front desk", lambda o: o.locations[0].name),
    ("addresses.csv", "city", "Pasadena", lambda o: o.locations[0].city),
]


@pytest.mark.parametrize(("file", "column", "value", "held"), CHANGES,
                         ids=[f"{item[0]}-{item[1]}" for item in CHANGES])
def test_a_changed_row_updates_its_organization(factory: Factory, db: Session, tmp_path: Path,
                                                file: str, column: str, value: str,
                                                held: Any) -> None:
    organization = factory.organization(
        name="Changing Partner", locations=[OFFICE], services=["legal"], phone="(713) 555-0100",
        contacts=[{"name": "Intake", "title": "Lead", "email": None, "phone": None}])
    package = export_to(tmp_path / "package")
    target = next(row for row in read_csv(package / file) if row[column] or column != "value")
    edit_csv(package / file, {"id": target["id"]}, {column: value})
    report = import_path(package)
    assert (report.updated, report.unchanged, report.rejected) == (1, 0, [])
    changed = find(db, organization.hsds_id)
    assert changed is not None
    expected = {"vi": ["vi"], "false": False, "18:30:00": "18:30"}.get(value, value)
    assert held(changed) == expected


def listing_events(db: Session, organization: Organization,
                   action: AuditAction) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(
        AuditEvent.action == action.value, AuditEvent.organization_id == organization.id)
        .order_by(AuditEvent.id)))


AUDITED = [
    # (file, column, new value, the fields the audit entry names)
    ("organizations.csv", "email", "new@harbor.example", ["email"]),
    ("services.csv", "description", "Walk-in clinic.", ["services"]),
    ("schedules.csv", "closes_at", "18:30:00", ["locations"]),
    ("languages.csv", "code", "vi", ["languages"]),
]


@pytest.mark.parametrize(("file", "column", "value", "fields"), AUDITED,
                         ids=[f"{item[0]}-{item[1]}" for item in AUDITED])
def test_an_update_goes_through_update_listing_and_is_audited_with_its_changed_fields(
        factory: Factory, db: Session, tmp_path: Path, file: str, column: str, value: str,
        fields: list[str]) -> None:
    """The import changes an existing listing with the web's and the API's operation: one
    listing_updated entry naming the changed fields (no actor: the command line), and the
    listing's change time moves; a re-import that changes nothing records nothing."""
    organization = factory.organization(name="Audited Partner", locations=[OFFICE],
                                        services=["legal"], languages=["en"])
    package = export_to(tmp_path / "package")
    before = organization.updated_at
    target = read_csv(package / file)[0]
    edit_csv(package / file, {"id": target["id"]}, {column: value})
    assert import_path(package).updated == 1
    held = find(db, organization.hsds_id)
    assert held is not None and held.updated_at > before
    [event] = listing_events(db, held, AuditAction.LISTING_UPDATED)
    assert event.details == {"fields": fields} and event.actor_id is None
    assert import_path(package).unchanged == 1
    assert len(listing_events(db, held, AuditAction.LISTING_UPDATED)) == 1


def test_an_update_takes_the_listing_rules_of_update_listing(factory: Factory, db: Session,
                                                             tmp_path: Path) -> None:
    """A rename onto a name already listed is refused by update_listing's own check."""
    organization = factory.organization(name="Renamed Partner", locations=[OFFICE])
    factory.organization(name="Taken Name")
    package = export_to(tmp_path / "package")
    edit_csv(package / "organizations.csv", {"id": organization.hsds_id}, {"name": "taken name"})
    report = import_path(package)
    assert report.organizations_rejected == 1
    assert any("An organization with this name is already listed." in problem.message
               for problem in report.rejected)
    held = find(db, organization.hsds_id)
    assert held is not None and held.name == "Renamed Partner"
    assert listing_events(db, held, AuditAction.LISTING_UPDATED) == []


def test_new_organizations_are_audited_as_created_with_the_fields_they_fill(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    organization = factory.organization(name="Created Partner", locations=[OFFICE],
                                        services=["legal"], languages=["es"])
    package = export_to(tmp_path / "package")
    remove_all_organizations(db)
    assert import_path(package).created == 1
    created = find(db, organization.hsds_id)
    assert created is not None
    [event] = listing_events(db, created, AuditAction.LISTING_CREATED)
    assert event.actor_id is None
    assert {"name", "kind", "services", "locations", "languages"} <= set(event.details["fields"])
    assert "contacts" not in event.details["fields"]


def _twin_package(factory: Factory, tmp_path: Path) -> Path:
    """The network exported with one more partner that has every kind of row: confidential
    locations, a radius tied to one, a service-limited state area, a polygon, contacts,
    languages."""
    twin = factory.organization(name="Twin Partner", kind="legal",
                                locations=[OFFICE, SAFE_HOUSE], services=["legal", "hotline"],
                                languages=["en", "es"], populations=["adults"],
                                phone="(713) 555-0100",
                                contacts=[{"name": "Intake", "title": "Lead",
                                           "email": "a@b.example", "phone": "1"}])
    add_coverage_area(twin, {"kind": "radius", "radius_mi": 30,
                             "location_id": twin.locations[1].id})
    add_coverage_area(twin, {"kind": "state", "state": "LA", "services": ["hotline"]})
    add_coverage_area(twin, {"kind": "polygon", "geojson": json.dumps({
        "type": "Polygon", "coordinates": [[[-95.4, 29.7], [-95.3, 29.7], [-95.3, 29.8],
                                            [-95.4, 29.7]]]})})
    package = export_to(tmp_path / "package")
    return package


def test_the_bulk_path_builds_what_create_organization_builds(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    """New organizations are written in batches by build_organization; it must build the same
    rows as create_organization, which the one-by-one fallback uses."""
    package = _twin_package(factory, tmp_path)
    remove_all_organizations(db)
    with open_source(package) as source:
        prepared = prepare_import(source)
    listing, problems = build_listing(prepared.drafts[0], prepared.resolver, prepared.report)
    assert listing is not None and not problems
    categories = {item.code: item for item in db.scalars(select(ServiceCategory))}

    def snapshot(organization: Organization) -> dict[str, Any]:
        def columns(item: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
            return {column.key: getattr(item, column.key) for column in item.__table__.columns
                    if column.key not in ("id", "organization_id", "location_id", "created_at",
                                          "updated_at", "joined_at", *skip)}
        return {"organization": columns(organization, ("slug",)),
                "languages": organization.language_codes,
                "populations": organization.population_codes,
                "services": [columns(item) for item in organization.services],
                "contacts": [columns(item) for item in organization.contacts],
                "locations": [(columns(item), [columns(hours) for hours in item.hours])
                              for item in organization.locations],
                "coverage": [(columns(area), organization.locations.index(area.location)
                              if area.location else None,
                              [category.code for category in area.services])
                             for area in organization.coverage_areas]}

    built = build_organization(listing, "twin-partner-bulk", categories)
    db.add(built)
    db.flush()
    bulk = snapshot(built)
    remove_all_organizations(db)
    assert snapshot(_create_organization(None, listing)) == bulk


def test_a_json_object_repeated_with_other_values_is_taken_once_with_a_warning(
        db: Session, tmp_path: Path) -> None:
    org_id = str(uuid.uuid4())
    first = {"id": org_id, "name": "First Name", "description": "One."}
    path = tmp_path / "list.json"
    path.write_text(json.dumps([first, {**first, "name": "Second Name"}]))
    report = import_path(path)
    assert report.created == 1
    assert ("list.json", "/1", f"organization {org_id} appears again with other values than "
            "at /0; the first is used") in problems(report, "warnings")
    organization = find(db, org_id)
    assert organization is not None and organization.name == "First Name"


def test_a_reimport_does_not_drop_a_service_referrals_in_progress_are_for(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    receiver = factory.organization(name="Receiving Shelter", locations=[OFFICE],
                                    services=["case_management", "legal"])
    sender = factory.organization(name="Sending Outreach")
    referral = factory.referral(factory.user(organization=sender), receiver)
    package = export_to(tmp_path / "package")
    dropped = next(service.hsds_id for service in receiver.services
                   if service.category.code == "case_management")
    edit_csv(package / "services.csv", {"id": dropped}, {"status": "inactive"})

    report = import_path(package)
    assert (report.updated, report.organizations_rejected) == (0, 1)
    [problem] = report.rejected
    assert problem.file == "organizations.csv" and problem.id == receiver.hsds_id
    assert "'case_management' (1 referral)" in problem.message
    held = find(db, receiver.hsds_id)
    assert held is not None
    assert sorted(service.category.code for service in held.services) == [
        "case_management", "legal"]

    db.execute(update(Referral).where(Referral.id == referral.id)
               .values(status=ReferralStatus.COMPLETED))
    finished = import_path(package)
    assert (finished.updated, finished.rejected) == (1, [])
    held = find(db, receiver.hsds_id)
    assert held is not None and [service.category.code for service in held.services] == ["legal"]


def test_a_referral_for_a_broader_service_holds_the_sub_services_that_make_it(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    """A referral for "shelter" reached a partner through its youth shelter (sub-services
    count, as in search): dropping the youth shelter drops the service the referral is for,
    unless another shelter service stays."""
    receiver = factory.organization(name="Youth Shelter", locations=[OFFICE],
                                    services=["shelter.youth", "shelter.emergency", "legal"])
    sender = factory.organization(name="Sending Outreach")
    factory.referral(factory.user(organization=sender), receiver, service="shelter")
    package = export_to(tmp_path / "package")
    ids = {service.category.code: service.hsds_id for service in receiver.services}

    edit_csv(package / "services.csv", {"id": ids["shelter.youth"]}, {"status": "inactive"})
    report = import_path(package)
    assert (report.updated, report.rejected) == (1, [])
    held = find(db, receiver.hsds_id)
    assert held is not None
    assert sorted(service.category.code for service in held.services) == [
        "legal", "shelter.emergency"]

    edit_csv(package / "services.csv", {"id": ids["shelter.emergency"]}, {"status": "inactive"})
    report = import_path(package)
    assert (report.updated, report.organizations_rejected) == (0, 1)
    assert "'shelter' (1 referral)" in report.rejected[0].message
    held = find(db, receiver.hsds_id)
    assert held is not None
    assert sorted(service.category.code for service in held.services) == [
        "legal", "shelter.emergency"]


_SKIPPED_COLUMNS = {"id", "created_at", "updated_at", "joined_at", "occurred_at"}


def _database_rows(db: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row an import writes, each foreign key replaced by what it points at (an HSDS id,
    an area's own values), ids and timestamps left out: comparable across two imports."""
    def plain(table: Any, row: Any) -> dict[str, Any]:
        return {key: value for key, value in row._mapping.items() if key not in _SKIPPED_COLUMNS}

    tables = {table.name: table for table in Organization.metadata.sorted_tables}
    organizations = dict(db.execute(select(Organization.id, Organization.hsds_id)).tuples().all())
    locations = dict(db.execute(select(Location.id, Location.hsds_id)).tuples().all())

    def resolved(table: Any, row: Any) -> tuple[Any, ...]:
        values = plain(table, row)
        if "organization_id" in values:
            values["organization_id"] = organizations.get(values["organization_id"])
        if "location_id" in values:
            values["location_id"] = locations.get(values["location_id"])
        return tuple(sorted(values.items(), key=lambda item: item[0]))

    areas = {row.id: resolved(tables["coverage_areas"], row)
             for row in db.execute(select(tables["coverage_areas"]))}
    snapshot = {name: sorted((resolved(tables[name], row)
                              for row in db.execute(select(tables[name]))), key=repr)
                for name in ("organizations", "organization_languages",
                             "organization_populations", "services", "contacts", "locations",
                             "location_closures", "coverage_areas")}
    snapshot["opening_hours"] = sorted((resolved(tables["opening_hours"], row) for row in
                                        db.execute(select(tables["opening_hours"]))), key=repr)
    snapshot["coverage_area_services"] = sorted(
        ((areas[row.coverage_area_id], row.category_id)
         for row in db.execute(select(tables["coverage_area_services"]))), key=repr)
    snapshot["audit"] = sorted(
        (organizations.get(event.organization_id), event.actor_id, event.details)
        for event in db.scalars(select(AuditEvent).where(
            AuditEvent.action == AuditAction.LISTING_CREATED,
            AuditEvent.organization_id.is_not(None))))
    if db.get_bind().dialect.name == "sqlite":
        snapshot["location_index"] = sorted(db.execute(text(
            "SELECT l.hsds_id, i.min_lat, i.max_lat, i.min_lon, i.max_lon FROM location_index i"
            " JOIN locations l ON l.id = i.id")).tuples())
        for name in ("coverage_index", "polygon_index"):
            snapshot[name] = sorted((areas[row[0]], *row[1:]) for row in db.execute(text(
                f"SELECT id, min_lat, max_lat, min_lon, max_lon FROM {name}")).tuples())
    return snapshot


def _triggers(db: Session) -> list[tuple[str, str]]:
    """SQLite's triggers, by name, as the schema holds them (none listed on PostgreSQL)."""
    if db.get_bind().dialect.name != "sqlite":
        return []
    return sorted(db.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).tuples())


def _count_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every import forks its planning child, however small; returns the list that counts
    the forks."""
    forks: list[int] = []
    real = importing.create_in_child

    def counted(*args: Any) -> None:
        forks.append(1)
        real(*args)

    monkeypatch.setattr(importing, "FORK_FROM", 1)
    monkeypatch.setattr(importing, "create_in_child", counted)
    return forks


@pytest.mark.parametrize("processes", [1, 2])
def test_the_bulk_rows_are_the_rows_create_organization_writes(
        demo_network: int, factory: Factory, db: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, processes: int) -> None:
    """New organizations are written as plain rows a batch at a time, in one process or
    planned in a forked child; importing a package that way writes exactly what the one-by-one
    path through create_organization writes (every column of every table, the audit entries
    and the spatial index)."""
    forks = _count_forks(monkeypatch)
    package = _twin_package(factory, tmp_path)
    remove_all_organizations(db)
    db.execute(delete(AuditEvent))
    triggers = _triggers(db)
    report = import_path(package, processes=processes)
    assert (report.created, report.organizations_rejected) == (demo_network + 1, 0)
    assert _triggers(db) == triggers
    bulk = _database_rows(db)
    assert len(bulk["locations"]) > demo_network
    # The R*Trees are SQLite's; PostGIS indexes the locations' and areas' own columns.
    assert len(bulk.get("location_index", bulk["locations"])) == len(bulk["locations"])
    assert len(bulk["coverage_areas"]) > 200 and bulk["coverage_area_services"]
    if db.get_bind().dialect.name == "sqlite":
        assert bulk["coverage_index"] and bulk["polygon_index"]

    remove_all_organizations(db)
    db.execute(delete(AuditEvent))

    def refused(*_args: Any) -> list[int]:
        raise IntegrityError("INSERT", {}, Exception("refused"))

    monkeypatch.setattr("directory.hsds.creating.write_new_rows", refused)
    report = import_path(package, processes=processes)
    assert (report.created, report.organizations_rejected) == (demo_network + 1, 0)
    one_by_one = _database_rows(db)
    for name, rows in bulk.items():
        assert one_by_one[name] == rows, name
    assert len(forks) == (2 if processes == 2 else 0)


def test_two_processes_report_and_write_what_one_does(
        demo_network: int, factory: Factory, db: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An import planned in a forked child, several batches long, with organizations
    rejected (a bad state, a name listed twice) and warnings (a location off the map): the
    same report, entry for entry and in order, and the same rows as in one process."""
    forks = _count_forks(monkeypatch)
    monkeypatch.setattr(importing, "CREATE_BATCH", 3)
    package = export_to(tmp_path / "package")
    organizations = read_csv(package / "organizations.csv")
    assert len(organizations) == demo_network > 8
    locations = read_csv(package / "locations.csv")
    edit_csv(package / "addresses.csv", {"location_id": locations[1]["id"]},
             {"state_province": "Atlantis"})
    edit_csv(package / "locations.csv", {"id": locations[-1]["id"]}, {"latitude": "100"})
    edit_csv(package / "organizations.csv", {"id": organizations[-2]["id"]},
             {"name": organizations[2]["name"]})

    documents, written = [], []
    for processes in (1, 2):
        remove_all_organizations(db)
        db.execute(delete(AuditEvent))
        documents.append(import_path(package, processes=processes).as_dict())
        written.append(_database_rows(db))
    one, two = documents
    assert one["organizations"]["rejected"] == 2 and one["warnings"]
    assert one["organizations"]["created"] == demo_network - 2
    assert two == one
    for name, rows in written[0].items():
        assert written[1][name] == rows, name
    assert forks == [1]


def test_a_planning_child_that_fails_fails_the_import_and_writes_nothing(
        demo_network: int, factory: Factory, db: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The child's traceback is raised in the parent; the batches already written and the
    suspended triggers are rolled back with the import."""
    forks = _count_forks(monkeypatch)
    monkeypatch.setattr(importing, "CREATE_BATCH", 3)
    package = export_to(tmp_path / "package")
    remove_all_organizations(db)
    triggers = _triggers(db)
    real = importing.Creator.plan

    def failing(self: Any, listing: Any, position: int) -> Any:
        if position == 7:
            raise ValueError("out of memory, say")
        return real(self, listing, position)

    monkeypatch.setattr(importing.Creator, "plan", failing)  # the child is a copy: it has it
    with pytest.raises(RuntimeError, match="(?s)planning process failed.*out of memory, say"):
        import_path(package, processes=2)
    assert forks == [1]
    assert organization_count(db) == 0
    assert _triggers(db) == triggers
