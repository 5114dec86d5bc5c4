"""The export: valid HSDS 3.0 by Open Referral's own schemas, and nothing a member may not see."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import pytest
from frictionless import Package, validate
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy.orm import Session

from directory.geo.public import public_point
from directory.hsds import spec
from directory.hsds.operations import export_json
from directory.hsds.taxonomy import mapping
from directory.orgs.models import MembershipStatus
from tests.factories import Factory
from tests.hsds import standard
from tests.hsds.conftest import export_to, package_files, read_csv

REPOSITORY = Path(__file__).resolve().parents[2]

SAFE_HOUSE = {"name": "Harbor safe house", "address": "77 Quiet Court", "city": "Houston",
              "state": "TX", "postal_code": "77019", "latitude": 29.7512, "longitude": -95.4107,
              "confidential": True, "open_24_7": True}
OFFICE = {"name": "Office", "address": "500 Open Street", "city": "Houston", "state": "TX",
          "postal_code": "77002",
          "hours": [{"days": ["mon", "tue", "wed"], "opens": "09:00", "closes": "17:00"},
                    {"days": ["sat"], "opens": "10:00", "closes": "14:00"}]}


def json_form_validator(hsds_spec: Path) -> Draft202012Validator:
    """The JSON form's schema: the HSDS API page envelope around full organizations (the
    compiled organization schema), strict about unknown fields and formats."""
    organization = standard.shipped_schema("compiled/organization.json")
    page = json.loads((hsds_spec / "openapi" / "openapi.json").read_text())[
        "components"]["schemas"]["Page"]
    schema = standard.strict({
        "type": "object",
        "properties": {**page["properties"],
                       "contents": {"type": "array", "items": organization}},
        "required": [*page["properties"], "contents"]})
    return Draft202012Validator(schema, format_checker=FormatChecker())


def frictionless_errors(hsds_spec: Path, package: Path) -> list[str]:
    """`frictionless validate` of the exported CSV files against the official descriptor."""
    descriptor = json.loads((hsds_spec / "datapackage.json").read_text())
    report = Package(descriptor, basepath=str(package)).validate()
    return [f"{task.name}: {error.message}" for task in report.tasks for error in task.errors]


def test_shipped_standard_is_hsds_3_0() -> None:
    """Its files are checked against their recorded sums in tests/web/test_vendored_files.py."""
    assert spec.descriptor()["version"] == "3.0.0"


def test_export_of_the_demo_network_passes_frictionless_validate(
        hsds_spec: Path, demo_network: int, tmp_path: Path) -> None:
    package = export_to(tmp_path / "package")
    assert frictionless_errors(hsds_spec, package) == []
    report = validate(str(package / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "message"])[:10]
    assert len(read_csv(package / "organizations.csv")) == demo_network >= 150
    assert {path.name for path in package.iterdir()} == {
        "datapackage.json", *(table.path for table in spec.tables().values())}


def test_json_form_of_the_demo_network_passes_strict_json_schema_validation(
        hsds_spec: Path, demo_network: int) -> None:
    stream = io.StringIO()
    export_json(stream)
    document = json.loads(stream.getvalue())
    validator = json_form_validator(hsds_spec)
    errors = [f"{list(error.absolute_path)}: {error.message}"
              for error in validator.iter_errors(document)]
    assert errors == []
    assert document["total_items"] == len(document["contents"]) == demo_network
    first = document["contents"][0]
    assert {"services", "locations", "attributes"} <= first.keys()
    service = first["services"][0]
    assert {"service_at_locations", "languages", "attributes"} <= service.keys()
    assert service["attributes"][0]["taxonomy_term"]["taxonomy_detail"]["name"]
    unknown = copy.deepcopy(document)
    unknown["contents"][0]["services"][0]["referral_notes"] = "x"
    assert not validator.is_valid(unknown), "the validator must reject unknown fields"


def test_confidential_location_is_exported_without_address_or_exact_point(
        factory: Factory, tmp_path: Path) -> None:
    shelter = factory.organization(name="Quiet Harbor Shelter", locations=[OFFICE, SAFE_HOUSE],
                                   services=["shelter.safe_house"])
    safe_house_id = shelter.locations[1].hsds_id
    package = export_to(tmp_path / "package")
    text = "".join(content.decode() for content in package_files(package).values())
    assert "77 Quiet Court" not in text and "Harbor safe house" not in text
    assert "77019" not in {row["postal_code"] for row in read_csv(package / "addresses.csv")}
    location = next(row for row in read_csv(package / "locations.csv")
                    if row["id"] == safe_house_id)
    centre = public_point("Houston", "TX", 0, 0)
    assert (float(location["latitude"]), float(location["longitude"])) == centre
    assert centre != (SAFE_HOUSE["latitude"], SAFE_HOUSE["longitude"])
    assert location["name"] == "Confidential location"
    assert not [row for row in read_csv(package / "addresses.csv")
                if row["location_id"] == safe_house_id]
    schedules = [row for row in read_csv(package / "schedules.csv")
                 if row["location_id"] == safe_house_id]
    assert [(row["byday"], row["opens_at"], row["closes_at"]) for row in schedules] == [
        ("MO,TU,WE,TH,FR,SA,SU", "00:00:00", "23:59:59")]

    stream = io.StringIO()
    export_json(stream)
    assert "77 Quiet Court" not in stream.getvalue()
    assert '"postal_code": "77019"' not in stream.getvalue()


def test_export_holds_active_listings_and_no_people(factory: Factory, tmp_path: Path) -> None:
    listed = factory.organization(name="Listed Partner", locations=[OFFICE])
    factory.organization(name="Pending Applicant", status=MembershipStatus.PENDING)
    factory.organization(name="Suspended Partner", status=MembershipStatus.SUSPENDED)
    factory.user(organization=listed, email="caseworker.private@test.example")
    factory.user(coordinator=True, email="coordinator.private@test.example")
    package = export_to(tmp_path / "package")
    names = {row["name"] for row in read_csv(package / "organizations.csv")}
    assert "Listed Partner" in names
    assert not names & {"Pending Applicant", "Suspended Partner"}
    text = "".join(content.decode() for content in package_files(package).values())
    assert "private@test.example" not in text


def test_export_rows_say_what_the_listing_says(factory: Factory, tmp_path: Path) -> None:
    organization = factory.organization(
        name="Harbor Legal Aid", kind="legal", languages=["en", "es"],
        populations=["adults", "foreign_nationals"], services=["legal.immigration"],
        locations=[OFFICE], accepting_referrals=False, phone="(713) 555-0100",
        contacts=[{"name": "Intake", "title": "Intake lead", "email": "intake@harbor.example",
                   "phone": "(713) 555-0101"}])
    package = export_to(tmp_path / "package")
    service_id = organization.services[0].hsds_id
    terms = {row["id"]: row for row in read_csv(package / "taxonomy_terms.csv")}
    attributes = [row for row in read_csv(package / "attributes.csv")
                  if row["link_id"] in (organization.hsds_id, service_id)]
    labelled = {(terms[row["taxonomy_term_id"]]["code"] or terms[row["taxonomy_term_id"]]["name"],
                 row["value"]) for row in attributes}
    assert labelled == {("legal.immigration", ""), ("Citizenship & Immigration", ""),
                        ("kind:legal", ""), ("population:adults", ""),
                        ("population:foreign_nationals", ""),
                        ("flag:accepting_referrals", "false")}
    languages = {row["code"] for row in read_csv(package / "languages.csv")
                 if row["service_id"] == service_id}
    assert languages == {"en", "es"}
    phones = {row["number"] for row in read_csv(package / "phones.csv")}
    assert {"(713) 555-0100", "(713) 555-0101"} <= phones
    schedules = [(row["byday"], row["opens_at"], row["closes_at"])
                 for row in read_csv(package / "schedules.csv")
                 if row["location_id"] == organization.locations[0].hsds_id]
    assert schedules == [("MO,TU,WE", "09:00:00", "17:00:00"), ("SA", "10:00:00", "14:00:00")]


def test_exporting_twice_gives_identical_files(factory: Factory, tmp_path: Path) -> None:
    factory.organization(locations=[OFFICE, SAFE_HOUSE], services=["hotline", "legal"])
    assert package_files(export_to(tmp_path / "one")) == package_files(export_to(tmp_path / "two"))


def test_every_service_category_is_mapped_and_documented(tmp_path: Path) -> None:
    with (REPOSITORY / "seed" / "taxonomy.csv").open() as handle:
        codes = [row["code"] for row in csv.DictReader(handle)]
    rows = mapping()
    assert sorted(row.code for row in rows) == sorted(codes)
    assert {row.relation for row in rows} <= {"exact", "close", "broader", "none"}
    targets = [row.term.casefold() for row in rows if row.import_target]
    assert len(targets) == len(set(targets)), "an Open Eligibility term imports to one category"
    assert all(bool(row.term) == (row.relation != "none") for row in rows)
    docs = (REPOSITORY / "docs" / "hsds.md").read_text()
    assert "hsds_taxonomy.csv" in docs


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_empty_directory_exports_valid_hsds(hsds_spec: Path, tmp_path: Path, fmt: str,
                                            db: Session) -> None:
    if fmt == "csv":
        assert frictionless_errors(hsds_spec, export_to(tmp_path / "package")) == []
    else:
        stream = io.StringIO()
        export_json(stream)
        assert json_form_validator(hsds_spec).is_valid(json.loads(stream.getvalue()))
