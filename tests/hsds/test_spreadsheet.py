"""Spreadsheets in: `directory import-csv FILE --mapping MAPPING` and the coordinators' upload
page (preview, then import), with the same rules and report as an HSDS import."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.audit.models import AuditEvent
from directory.cli import main
from directory.hsds.spreadsheet import UPLOAD_LIMIT
from directory.models import Organization
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.hsds.test_cli import environment

FIXTURES = Path(__file__).with_name("fixtures") / "spreadsheet"
SPREADSHEET = FIXTURES / "partners.csv"
MAPPING = FIXTURES / "mapping.toml"


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=environment(tmp_path, "csv"))
    return result.exit_code, result.output


def test_a_spreadsheet_imports_through_its_mapping_and_again_changes_nothing(
        tmp_path: Path) -> None:
    code, output = run(tmp_path, "import-csv", str(SPREADSHEET), "--mapping", str(MAPPING),
                       "--json")
    assert code == 0, output
    report = json.loads(output[output.index("{"):])
    assert report["format"] == "Spreadsheet (CSV with a column mapping)"
    assert report["organizations"] == {"in_source": 3, "created": 3, "updated": 0,
                                       "unchanged": 0, "rejected": 0}
    assert report["rejected"] == [] and report["warnings"] == []
    assert report["skipped"] == {"partners.csv column 'Notes'": "not in the mapping"}
    code, output = run(tmp_path, "import-csv", str(SPREADSHEET), "--mapping", str(MAPPING))
    assert code == 0 and "Organizations: 0 created, 0 updated, 3 unchanged, 0 rejected." in output


def test_the_mapped_fields_land_in_the_listing(db: Session) -> None:
    from directory.hsds.operations import import_hsds
    from directory.hsds.spreadsheet import Mapping, open_spreadsheet

    import_hsds(open_spreadsheet(SPREADSHEET, Mapping.load(MAPPING)))
    db.expire_all()
    law = db.scalar(select(Organization).where(Organization.name == "Lone Star Survivor Law"))
    assert law is not None
    assert (law.kind.value, law.website, law.email, law.phone) == (
        "legal", "https://lonestarlaw.example.org", "help@lonestarlaw.example.org",
        "(512) 555-0110")
    assert sorted(service.category.code for service in law.services) == [
        "legal.civil", "legal.immigration"]  # by code and by category name
    assert sorted(law.language_codes) == ["es", "vi"] and sorted(law.population_codes) == [
        "adults", "foreign_nationals"]
    location = law.locations[0]
    assert (location.address, location.city, location.state, location.postal_code) == (
        "300 Congress Avenue", "Austin", "TX", "78701")


@pytest.mark.parametrize(("content", "message"), [
    (b"\x00\x01PK binary", "is not a CSV file"),
    ("Agency,City\nCaf\xe9 Refuge,Austin\n".encode("latin-1"), "is not UTF-8 text"),
    (b"Agency,City\n", "has no rows under its header"),
    (b"Name,Town\nRefuge,Austin\n", "the mapping names columns the file does not have: "),
])
def test_bad_spreadsheets_are_refused_with_a_clear_message(
        tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "sheet.csv"
    path.write_bytes(content)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"columns": {"name": "Agency", "city": "City"}}))
    code, output = run(tmp_path, "import-csv", str(path), "--mapping", str(mapping))
    assert code == 1 and message in output and "Traceback" not in output


@pytest.mark.parametrize(("mapping", "message"), [
    ('[columns]\nname = "Agency"\ncolour = "Colour"\n',
     "Unknown listing fields in the mapping: colour"),
    ('[columns]\ncity = "City"\n', "must name the column holding the organization's name"),
    ("[columns\n", "The mapping file cannot be read"),
    ('[columns]\nname = "Agency"\n[options]\nseparator = ";;"\n', "must be one character"),
])
def test_bad_mappings_are_refused(tmp_path: Path, mapping: str, message: str) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(mapping)
    code, output = run(tmp_path, "import-csv", str(SPREADSHEET), "--mapping", str(path))
    assert code == 1 and message in output


def test_rows_that_break_the_rules_are_rejected_and_a_run_of_only_those_fails(
        tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text("Agency,Type,State\nA,Nonprofit,TX\nGood Neighbours,Spaceship,TX\n")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\nname = "Agency"\nkind = "Type"\n')
    code, output = run(tmp_path, "import-csv", str(path), "--mapping", str(mapping))
    assert code == 1, output
    assert "0 created, 0 updated, 0 unchanged, 2 rejected" in output
    assert "row 2: name: Length must be between 2 and 200." in output
    assert "row 3: kind 'Spaceship' is not one of Law enforcement" in output


# --- the page ----------------------------------------------------------------------------------

def upload(client: FlaskClient, content: bytes = SPREADSHEET.read_bytes(),
           name: str = "partners.csv", mapping: str | None = None) -> tuple[int, str]:
    response = client.post("/admin/import-csv/preview", data={
        "spreadsheet": (io.BytesIO(content), name),
        "mapping": mapping if mapping is not None else MAPPING.read_text()},
        content_type="multipart/form-data")
    return response.status_code, response.get_data(as_text=True)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page) or re.search(
        rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', page)
    assert match, name
    return match.group(1).replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")


@pytest.fixture()
def coordinator(factory: Factory, auth: AuthActions) -> None:
    auth.login(factory.user(coordinator=True).email)


def test_a_coordinator_previews_then_imports(client: FlaskClient, coordinator: None,
                                            db: Session) -> None:
    assert client.get("/admin/import-csv").status_code == 200
    status, page = upload(client)
    assert status == 200, page
    assert "Nothing has been written yet." in page and "Lone Star Survivor Law" in page
    assert "3 would be created" in page
    assert db.scalar(select(Organization).where(Organization.name == "Capitol Mentors")) is None
    response = client.post("/admin/import-csv/confirm", data={
        field: hidden(page, field) for field in ("content", "name", "mapping")})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "3 created" in response.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(Organization).where(Organization.name == "Capitol Mentors"))
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "listings_imported"))
    assert event is not None and event.details["created"] == 3
    created = list(db.scalars(select(AuditEvent).where(AuditEvent.action == "listing_created")))
    assert len(created) == 3 and {item.actor_id for item in created} == {event.actor_id}
    assert event.actor_id is not None


def test_the_preview_shows_each_row_s_problems(client: FlaskClient, coordinator: None) -> None:
    status, page = upload(client, b"Agency,Type\nGood Neighbours,Spaceship\n",
                          mapping='[columns]\nname = "Agency"\nkind = "Type"\n')
    assert status == 200
    assert "kind &#39;Spaceship&#39; is not one of" in page
    assert "No organization of this file can be imported." in page


@pytest.mark.parametrize(("content", "name", "message"), [
    (b"x" * (UPLOAD_LIMIT + 1), "big.csv", "is larger than 1024 kB"),
    (b"Agency\nRefuge\n", "sheet.xlsx", "is not a .csv file"),
    ("Agency\nCaf\xe9\n".encode("latin-1"), "sheet.csv", "is not UTF-8 text"),
    (b"Town\nAustin\n", "sheet.csv", "the mapping names columns the file does not have"),
])
def test_bad_uploads_are_refused_with_a_clear_message(
        client: FlaskClient, coordinator: None, content: bytes, name: str,
        message: str) -> None:
    status, page = upload(client, content, name, '[columns]\nname = "Agency"\n')
    assert status == 400 and message in page


def test_an_altered_confirmation_is_refused(client: FlaskClient, coordinator: None) -> None:
    response = client.post("/admin/import-csv/confirm", data={
        "content": "not base64!", "name": "x.csv", "mapping": "{}"})
    assert response.status_code == 400
    assert "upload the file again" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/import-csv", "/admin/import-csv/preview",
                                  "/admin/import-csv/confirm"])
def test_only_coordinators_may_import(client: FlaskClient, factory: Factory,
                                      auth: AuthActions, path: str) -> None:
    method = client.get if path == "/admin/import-csv" else client.post
    anonymous = method(path)
    assert anonymous.status_code in (302, 401, 403)
    auth.login(factory.user().email)
    assert method(path).status_code == 403


def test_the_same_problems_are_english_without_a_request(tmp_path: Path) -> None:
    from directory.hsds.reader import HsdsReadError
    from directory.hsds.spreadsheet import Mapping, MappingError, check_upload

    path = tmp_path / "sheet.csv"
    path.write_text("Agency,Type,Lat,Lon\nCasa Segura,Nonprofit,,\nRefugio Norte,Nonprofit,95,"
                    "-97.7\n,Nonprofit,,\n")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\nname = "Agency"\nkind = "Type"\nlatitude = "Lat"\n'
                       'longitude = "Lon"\n')
    code, output = run(tmp_path, "import-csv", str(path), "--mapping", str(mapping))
    assert code == 0, output
    assert "Spreadsheet (CSV with a column mapping)" in output
    assert ("location not imported (its organization is, without it): bad coordinates: "
            "latitude 95 is outside -90..90") in output
    assert "name is required" in output and "obligatorio" not in output
    with pytest.raises(MappingError, match="Unknown listing fields in the mapping: nombre"):
        Mapping.parse(b'[columns]\nname = "Agency"\nnombre = "Agency"\n', "mapping.toml")
    with pytest.raises(HsdsReadError, match=r"sheet.xlsx is not a \.csv file"):
        check_upload(b"Agency\n", "sheet.xlsx")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01PK")
    code, output = run(tmp_path, "import-csv", str(binary), "--mapping", str(mapping))
    assert code != 0 and "binary.csv is not a CSV file (it holds binary data)" in output
