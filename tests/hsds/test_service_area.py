"""Coverage areas as HSDS service_area rows: exported with extents the directory reads back,
confidential centres withheld, imported into the same coverage, and found by search."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.geo.public import public_point
from directory.hsds.areas import area_codes, covers
from directory.hsds.operations import export_json
from directory.models import Organization
from directory.orgs.coverage import add_coverage_area
from directory.orgs.models import CoverageArea, CoverageKind, Location, MembershipStatus
from directory.orgs.schemas import CoverageAreaSchema, SearchQuerySchema
from directory.orgs.search import search
from tests.factories import Factory
from tests.hsds.conftest import (
    export_to,
    import_path,
    organization_count,
    package_files,
    read_csv,
    remove_all_organizations,
)
from tests.hsds.test_export import OFFICE, SAFE_HOUSE

TEXT_EXTENT = re.compile(r"^(radius:-?\d+(\.\d+)?,-?\d+(\.\d+)?,\d+(\.\d+)?|state:[A-Z]{2}|"
                         r"county:\d{5}|zip:\d{5})$")
SQUARE = {"type": "Polygon", "coordinates": [[[-106.8, 34.9], [-106.4, 34.9], [-106.4, 35.3],
                                              [-106.8, 35.3], [-106.8, 34.9]]]}


def add_area(organization: Organization, **data: Any) -> CoverageArea:
    return add_coverage_area(organization, CoverageAreaSchema().load(data))


def find(db: Session, hsds_id: str) -> Organization:
    db.expire_all()
    organization = db.scalar(select(Organization).where(Organization.hsds_id == hsds_id))
    assert organization is not None
    return organization


def described(organization: Organization) -> list[tuple[Any, ...]]:
    """An organization's coverage, independent of database ids."""
    locations = {location.id: location.name for location in organization.locations}
    return sorted((area.kind.value, area.label, locations.get(area.location_id or 0),
                   area.center_lat, area.center_lon, area.radius_mi, area.state,
                   area.county_fips, area.postal_code, area.geojson,
                   sorted(area_codes(area))) for area in organization.coverage_areas)


def area_rows(package: Path) -> list[dict[str, str]]:
    return read_csv(package / "service_areas.csv")


def write_rows(package: Path, rows: list[dict[str, str]]) -> None:
    path = package / "service_areas.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        fields = next(csv.reader(handle))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    """A partner with four services and one area of each kind, one limited to the hotline."""
    organization = factory.organization(
        name="Rio Grande Partner", locations=[OFFICE, SAFE_HOUSE],
        services=["legal", "hotline", "case_management", "shelter.safe_house"])
    add_area(organization, kind="radius", radius_mi=25, location_id=organization.locations[0].id)
    add_area(organization, kind="state", state="NM", services=["hotline"])
    add_area(organization, kind="county", state="TX", county="Harris")
    add_area(organization, kind="zip", postal_code="77002")
    add_area(organization, kind="polygon", geojson=json.dumps(SQUARE), label="Albuquerque")
    return organization


# --- export ------------------------------------------------------------------------------------

def test_demo_export_has_a_service_area_per_service_and_area_with_readable_extents(
        demo_network: int, db: Session, tmp_path: Path) -> None:
    package = export_to(tmp_path / "package")
    rows = area_rows(package)
    services = {row["id"]: row for row in read_csv(package / "services.csv")}
    expected = 0
    for organization in db.scalars(select(Organization).where(
            Organization.status == MembershipStatus.ACTIVE)):
        for service in organization.services:
            extents = {(area.kind, area.center_lat, area.radius_mi, area.state, area.county_fips,
                        area.postal_code, area.geojson) for area in organization.coverage_areas
                       if covers(area_codes(area), service.category.code)}
            expected += len(extents)
    assert len(rows) == expected > 200
    assert len({row["id"] for row in rows}) == len(rows)
    kinds = Counter(row["extent"].split(":")[0] if row["extent_type"] == "text" else "geojson"
                    for row in rows)
    assert set(kinds) == {"radius", "state", "county", "zip", "geojson"}
    for row in rows:
        assert row["service_id"] in services and row["name"] and row["description"]
        if row["extent_type"] == "text":
            assert TEXT_EXTENT.match(row["extent"]), row
        else:
            assert row["extent_type"] == "geojson"
            assert json.loads(row["extent"])["type"] in ("Polygon", "MultiPolygon")

    # Demo listings placed by ZIP centroid share points; a point another listing publishes
    # as its own is not a confidential location's secret.
    text = (package / "service_areas.csv").read_text()
    public = {(float(row["latitude"]), float(row["longitude"]))
              for row in read_csv(package / "locations.csv")}
    hidden = [location.true_point
              for location in db.scalars(select(Location).where(Location.confidential))
              if location.true_point not in public]
    assert len(hidden) > 5
    assert not [point for point in hidden if f"{point[0]!r},{point[1]!r}" in text]

    stream = io.StringIO()
    export_json(stream)
    page = json.loads(stream.getvalue())
    in_json = [area for organization in page["contents"]
               for service in organization.get("services", [])
               for area in service.get("service_areas", [])]
    assert sorted(area["id"] for area in in_json) == sorted(row["id"] for row in rows)


def test_each_kind_is_written_in_its_documented_form(partner: Organization,
                                                     tmp_path: Path) -> None:
    rows = area_rows(export_to(tmp_path / "package"))
    by_service = {service.category.code: service.hsds_id for service in partner.services}
    hotline = {row["extent"]: row for row in rows if row["service_id"] == by_service["hotline"]}
    legal = {row["extent"]: row for row in rows if row["service_id"] == by_service["legal"]}
    assert set(hotline) - set(legal) == {"state:NM"}, "the hotline-only area is under the hotline"
    office = partner.locations[0]
    radius = f"radius:{office.latitude!r},{office.longitude!r},25"
    assert legal[radius]["name"] == "Within 25 mi of Houston, TX"
    assert legal[radius]["description"] == "Within 25 miles of Houston, TX"
    assert (legal["county:48201"]["name"], legal["county:48201"]["description"]) == (
        "Harris County, TX", "Anywhere in Harris County, TX")
    assert legal["zip:77002"]["extent_type"] == "text"
    assert hotline["state:NM"]["description"] == "Anywhere in New Mexico"
    polygon = next(row for row in legal.values() if row["extent_type"] == "geojson")
    assert json.loads(polygon["extent"]) == SQUARE and polygon["name"] == "Albuquerque"


def test_a_radius_around_a_confidential_location_is_published_around_its_public_point(
        factory: Factory, db: Session, tmp_path: Path) -> None:
    shelter = factory.organization(name="Quiet Harbor Shelter", locations=[OFFICE, SAFE_HOUSE],
                                   services=["shelter.safe_house", "hotline"])
    safe_house = shelter.locations[1]
    add_area(shelter, kind="radius", radius_mi=25, location_id=safe_house.id)
    before = described(shelter)
    package = export_to(tmp_path / "package")
    stream = io.StringIO()
    export_json(stream)
    point = (str(SAFE_HOUSE["latitude"]), str(SAFE_HOUSE["longitude"]))
    for text in [content.decode() for content in package_files(package).values()] + [
            stream.getvalue()]:
        assert point[0] not in text and point[1] not in text
    lat, lon = public_point("Houston", "TX", 0, 0)
    assert {row["extent"] for row in area_rows(package)} == {f"radius:{lat!r},{lon!r},25"}

    report = import_path(package)
    assert (report.unchanged, report.updated, report.rejected) == (1, 0, [])
    assert described(find(db, shelter.hsds_id)) == before, "the true centre is kept"

    remove_all_organizations(db)
    assert import_path(package).created == 1
    imported = find(db, shelter.hsds_id)
    [area] = imported.coverage_areas
    assert (area.center_lat, area.center_lon, area.radius_mi) == (lat, lon, 25)
    assert area.location_id == imported.locations[1].id and imported.locations[1].confidential


def test_a_radius_typed_at_a_confidential_point_is_withheld_too(
        factory: Factory, tmp_path: Path) -> None:
    shelter = factory.organization(name="Quiet Harbor Shelter", locations=[OFFICE, SAFE_HOUSE])
    add_area(shelter, kind="radius", radius_mi=10,
             center=f"{SAFE_HOUSE['latitude']},{SAFE_HOUSE['longitude']}")
    package = export_to(tmp_path / "package")
    [row] = area_rows(package)
    assert str(SAFE_HOUSE["latitude"]) not in json.dumps(row)
    assert row["name"] == "Within 10 mi of Houston, TX"


# --- import ------------------------------------------------------------------------------------

def test_round_trip_into_an_empty_directory_gives_the_same_coverage(
        partner: Organization, db: Session, tmp_path: Path) -> None:
    before = described(partner)
    first = export_to(tmp_path / "first")
    remove_all_organizations(db)
    report = import_path(first)
    assert (report.created, report.rejected, report.warnings) == (1, [], [])
    imported = find(db, partner.hsds_id)
    assert described(imported) == before
    hotline_only = next(area for area in imported.coverage_areas if area.state == "NM")
    assert [category.code for category in hotline_only.services] == ["hotline"]
    assert package_files(export_to(tmp_path / "second")) == package_files(first)
    again = import_path(first)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_the_demo_network_reimported_into_itself_changes_nothing(
        demo_network: int, db: Session, tmp_path: Path) -> None:
    areas = db.scalar(select(func.count()).select_from(CoverageArea))
    report = import_path(export_to(tmp_path / "package"))
    assert (report.unchanged, report.updated, report.rejected) == (demo_network, 0, [])
    assert db.scalar(select(func.count()).select_from(CoverageArea)) == areas


def test_changed_areas_replace_the_coverage(partner: Organization, db: Session,
                                            tmp_path: Path) -> None:
    package = export_to(tmp_path / "package")
    rows = [row for row in area_rows(package) if row["extent"] != "zip:77002"]
    for row in rows:
        if row["extent"] == "county:48201":
            row.update(extent="county:48113", name="Dallas County, TX")
    write_rows(package, rows)
    report = import_path(package)
    assert (report.updated, report.rejected) == (1, [])
    areas = find(db, partner.hsds_id).coverage_areas
    assert sorted(area.kind.value for area in areas) == ["county", "polygon", "radius", "state"]
    assert next(area for area in areas if area.kind == CoverageKind.COUNTY).county_fips == "48113"
    assert import_path(package).unchanged == 1


def test_an_area_under_every_service_is_for_all_services(partner: Organization, db: Session,
                                                         tmp_path: Path) -> None:
    package = export_to(tmp_path / "package")
    rows = area_rows(package)
    template = next(row for row in rows if row["extent"] == "state:NM")
    rows += [{**template, "id": f"00000000-0000-4000-8000-00000000000{index}",
              "service_id": service.hsds_id}
             for index, service in enumerate(partner.services)
             if service.hsds_id != template["service_id"]]
    write_rows(package, rows)
    assert import_path(package).updated == 1
    state = next(area for area in find(db, partner.hsds_id).coverage_areas
                 if area.kind == CoverageKind.STATE)
    assert state.services == []


def test_a_state_name_without_an_extent_becomes_a_state_area(
        partner: Organization, db: Session, tmp_path: Path) -> None:
    package = export_to(tmp_path / "package")
    rows = area_rows(package)
    for row in rows:
        if row["extent"] == "state:NM":
            row.update(extent="", extent_type="", name="Oklahoma")
    write_rows(package, rows)
    report = import_path(package)
    assert (report.updated, report.rejected, report.warnings) == (1, [], [])
    assert {area.state for area in find(db, partner.hsds_id).coverage_areas
            if area.kind == CoverageKind.STATE} == {"OK"}


def test_an_area_without_a_readable_extent_is_kept_out_with_a_warning(
        partner: Organization, db: Session, tmp_path: Path) -> None:
    package = export_to(tmp_path / "package")
    rows = area_rows(package)
    number = next(index for index, row in enumerate(rows, start=2)
                  if row["extent"] == "zip:77002")
    rows[number - 2].update(extent="<kml/>", extent_type="kml", name="The MyCity area")
    write_rows(package, rows)
    report = import_path(package)
    assert report.rejected == []
    assert [(item.file, item.row) for item in report.warnings] == [
        ("service_areas.csv", number)]
    assert "kept out: no extent the directory can read" in report.warnings[0].message


def test_the_official_example_imports_its_area_as_a_warning(hsds_spec: Path, db: Session) -> None:
    report = import_path(hsds_spec / "examples" / "csv")
    assert (report.created, report.organizations_rejected) == (1, 0)
    assert [(item.file, item.row) for item in report.warnings
            if item.file == "service_areas.csv"] == [("service_areas.csv", 2)]


@pytest.mark.parametrize(("extent", "extent_type", "message"), [
    ("county:99999", "text", "county:99999 is not the 5-digit FIPS code of a US county"),
    ("zip:00000", "text", "Not a known US ZIP code."),
    ("state:ZZ", "text", "Choose a US state."),
    ("radius:29.7,-95.3", "text", "is not radius:<lat>,<lon>,<miles>"),
    ("radius:29.7,-95.3,900", "text", "radius_mi"),
    ('{"type": "Polygon", "coordinates": [[[-106.8, 34.9], [-106.4, 34.9], [-106.4, 35.3]]]}',
     "geojson", "Each ring needs at least 4 positions."),
    ('{"type": "Point", "coordinates": [-106.8, 34.9]}', "geojson",
     "Give a GeoJSON Polygon or MultiPolygon."),
])
def test_a_bad_extent_rejects_its_organization_and_says_where(
        partner: Organization, db: Session, tmp_path: Path, extent: str, extent_type: str,
        message: str) -> None:
    before = described(partner)
    package = export_to(tmp_path / "package")
    rows = area_rows(package)
    number = next(index for index, row in enumerate(rows, start=2)
                  if row["extent"] == "zip:77002")
    rows[number - 2].update(extent=extent, extent_type=extent_type)
    write_rows(package, rows)
    report = import_path(package)
    assert report.organizations_rejected == 1
    problem = report.rejected[0]
    assert (problem.file, problem.row) == ("service_areas.csv", number)
    assert problem.message.startswith("service area: ") and message in problem.message
    assert described(find(db, partner.hsds_id)) == before


def test_strict_refuses_a_bad_area_and_writes_nothing(
        partner: Organization, factory: Factory, db: Session, tmp_path: Path) -> None:
    other = factory.organization(name="Second Partner", locations=[OFFICE],
                                 services=["legal"])
    add_area(other, kind="state", state="TX")
    package = export_to(tmp_path / "package")
    rows = area_rows(package)
    for row in rows:
        if row["extent"] == "zip:77002":
            row.update(extent="zip:00000")
    write_rows(package, rows)
    remove_all_organizations(db)
    strict = import_path(package, strict=True)
    assert strict.refused and organization_count(db) == 0
    assert db.scalar(select(func.count()).select_from(CoverageArea)) == 0
    relaxed = import_path(package)
    assert (relaxed.created, relaxed.organizations_rejected) == (1, 1)
    assert [area.state for area in find(db, other.hsds_id).coverage_areas] == ["TX"]


def test_a_dry_run_writes_no_area(partner: Organization, db: Session, tmp_path: Path) -> None:
    package = export_to(tmp_path / "package")
    remove_all_organizations(db)
    report = import_path(package, dry_run=True)
    assert report.created == 1 and organization_count(db) == 0
    assert db.scalar(select(func.count()).select_from(CoverageArea)) == 0


def test_json_form_imports_the_same_areas(partner: Organization, db: Session,
                                          tmp_path: Path) -> None:
    before = described(partner)
    stream = io.StringIO()
    export_json(stream)
    (tmp_path / "directory.json").write_text(stream.getvalue())
    remove_all_organizations(db)
    assert import_path(tmp_path / "directory.json").created == 1
    assert described(find(db, partner.hsds_id)) == before


def test_search_finds_an_imported_organization_by_its_imported_area(
        partner: Organization, db: Session, tmp_path: Path) -> None:
    package = export_to(tmp_path / "package")
    remove_all_organizations(db)
    shutil.copytree(package, tmp_path / "copy")
    assert import_path(tmp_path / "copy").created == 1
    imported = find(db, partner.hsds_id)

    def covering(near: str, service: str | None = None) -> set[int]:
        query = SearchQuerySchema().load({"near": near, "mode": "covering", "service": service})
        return {hit.organization_id for hit in search(query).hits}

    assert imported.id in covering("35.1,-106.6")  # inside the drawn square (Albuquerque)
    assert imported.id in covering("Santa Fe, NM", "hotline")  # New Mexico, hotline only
    assert imported.id not in covering("Santa Fe, NM", "legal")
    assert imported.id not in covering("Denver, CO")


def test_a_bad_extent_in_the_json_form_is_reported_by_its_pointer(
        partner: Organization, db: Session, tmp_path: Path) -> None:
    stream = io.StringIO()
    export_json(stream)
    page = json.loads(stream.getvalue())
    services = page["contents"][0]["services"]
    index, area = next((index, area) for index, area in enumerate(services[0]["service_areas"])
                       if area["extent"] == "zip:77002")
    area["extent"] = "zip:00000"
    (tmp_path / "directory.json").write_text(json.dumps(page))
    report = import_path(tmp_path / "directory.json")
    assert report.organizations_rejected == 1
    assert (report.rejected[0].file, report.rejected[0].row) == (
        "directory.json", f"/contents/0/services/0/service_areas/{index}")
