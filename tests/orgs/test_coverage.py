"""Coverage areas: each kind built with its label and bounding box, validated, and tested for
containment; the spatial index kept in step as areas are added, changed and removed."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from marshmallow import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from directory.geo import spatial
from directory.geo.boundaries import boundaries
from directory.geo.distance import EARTH_RADIUS_MI, haversine_mi
from directory.geo.gazetteer import gazetteer
from directory.orgs.coverage import (
    MAX_POLYGON_VERTICES,
    PointContext,
    add_coverage_area,
    build_coverage_area,
    circle_bounds,
    contains,
    covers_service,
    locate,
    parse_polygon,
    remove_coverage_area,
)
from directory.orgs.models import CoverageArea, CoverageKind, Organization
from directory.orgs.operations import ListingError
from directory.orgs.schemas import CoverageAreaSchema
from directory.orgs.search import covering
from tests.factories import Factory

HOUSTON = (29.7604, -95.3698)      # downtown, Harris County, TX
PASADENA = (29.6911, -95.2091)     # Harris County, TX
GALVESTON = (29.3013, -94.7977)    # Galveston County, TX
DALLAS = (32.7767, -96.7970)       # Dallas County, TX
COLUMBUS = (39.9612, -82.9988)     # Franklin County, OH
SHREVEPORT = (32.5252, -93.7502)   # Caddo Parish, LA

# A square of about 7 x 8 miles around downtown Houston, [lon, lat] as GeoJSON has it.
DOWNTOWN_SQUARE = [[-95.42, 29.72], [-95.30, 29.72], [-95.30, 29.82], [-95.42, 29.82],
                   [-95.42, 29.72]]


def north_of(point: tuple[float, float], miles: float) -> tuple[float, float]:
    """The point ``miles`` due north (along a meridian: exact on the sphere)."""
    return point[0] + math.degrees(miles / EARTH_RADIUS_MI), point[1]


def polygon(*rings: list[list[float]]) -> str:
    return json.dumps({"type": "Polygon", "coordinates": list(rings)})


def area_data(**data: Any) -> dict[str, Any]:
    return CoverageAreaSchema().load(data)


def add(organization: Organization, **data: Any) -> CoverageArea:
    return add_coverage_area(organization, area_data(**data))


def org_at(factory: Factory, *points: tuple[float, float], **listing: Any) -> Organization:
    locations = [{"name": f"Site {n}", "city": "Houston", "state": "TX", "latitude": lat,
                  "longitude": lon} for n, (lat, lon) in enumerate(points)]
    return factory.organization(locations=locations, **listing)


def box_contains(area: CoverageArea, point: tuple[float, float]) -> bool:
    return (area.min_lat <= point[0] <= area.max_lat
            and area.min_lon <= point[1] <= area.max_lon)


# --- each kind ---------------------------------------------------------------------------------

def test_radius_around_a_location_is_centered_on_it(factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    location = organization.locations[0]
    area = add(organization, kind="radius", radius_mi=10, location_id=location.id)

    assert area.kind == CoverageKind.RADIUS and area.location_id == location.id
    assert (area.center_lat, area.center_lon, area.radius_mi) == (*HOUSTON, 10.0)
    assert area.label == "Within 10 mi of Houston, TX"
    # The box holds the circle with a little room, and no more than a little.
    degrees = math.degrees(10 / EARTH_RADIUS_MI)
    assert area.max_lat - HOUSTON[0] == pytest.approx(degrees, rel=0.01)
    assert HOUSTON[0] - area.min_lat == pytest.approx(degrees, rel=0.01)
    assert area.max_lon - HOUSTON[1] == pytest.approx(
        degrees / math.cos(math.radians(HOUSTON[0])), rel=0.01)
    assert box_contains(area, north_of(HOUSTON, 9.99))
    assert organization.coverage_areas == [area]


def test_radius_contains_points_within_the_radius_only(factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    area = add(organization, kind="radius", radius_mi=10, location_id=organization.locations[0].id)
    assert contains(area, locate(*HOUSTON))
    assert contains(area, locate(*north_of(HOUSTON, 9.9)))
    assert not contains(area, locate(*north_of(HOUSTON, 10.1)))
    assert 10 < haversine_mi(*HOUSTON, *PASADENA) < 11
    assert not contains(area, locate(*PASADENA))
    assert not contains(area, locate(*GALVESTON))


def test_radius_around_a_geocoded_center(factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    area = add(organization, kind="radius", radius_mi=25, center="Columbus, OH")
    place = gazetteer().place("Columbus", "OH")
    assert place is not None
    assert area.location_id is None
    assert (area.center_lat, area.center_lon) == (place.lat, place.lon)
    assert area.label == "Within 25 mi of Columbus, OH"
    assert box_contains(area, COLUMBUS) and not box_contains(area, HOUSTON)
    assert contains(area, locate(*COLUMBUS))
    assert not contains(area, locate(*HOUSTON))


def test_radius_around_a_zip_code_center_is_labelled_with_the_zip(factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    area = add(organization, kind="radius", radius_mi=2.5, center="77002")
    assert area.label == "Within 2.5 mi of 77002 Houston, TX"
    assert (area.center_lat, area.center_lon) == (29.7502, -95.3677)


def test_radius_around_an_unknown_place_is_refused(factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    with pytest.raises(ListingError) as error:
        add(organization, kind="radius", radius_mi=5, center="Atlantis, TX")
    assert set(error.value.fields) == {"center"}
    assert "Could not find 'Atlantis, TX'" in error.value.fields["center"][0]
    assert organization.coverage_areas == []


def test_radius_around_another_organizations_location_is_refused(factory: Factory) -> None:
    ours = org_at(factory, HOUSTON)
    theirs = org_at(factory, COLUMBUS)
    with pytest.raises(ListingError) as error:
        add(ours, kind="radius", radius_mi=5, location_id=theirs.locations[0].id)
    assert error.value.fields == {"location_id": ["Choose one of this organization's locations."]}
    assert ours.coverage_areas == [] and theirs.coverage_areas == []


def test_state_area(factory: Factory) -> None:
    area = add(org_at(factory, HOUSTON), kind="state", state="tx")
    assert (area.state, area.label) == ("TX", "Texas")
    assert (area.min_lat, area.max_lat, area.min_lon, area.max_lon) == \
        boundaries().state_bounds["TX"]
    assert contains(area, locate(*HOUSTON)) and contains(area, locate(*DALLAS))
    assert not contains(area, locate(*SHREVEPORT)) and not contains(area, locate(*COLUMBUS))


def test_state_that_is_not_a_state_is_refused(factory: Factory) -> None:
    with pytest.raises(ListingError) as error:
        add(org_at(factory, HOUSTON), kind="state", state="ZZ")
    assert error.value.fields == {"state": ["Choose a US state."]}


@pytest.mark.parametrize("name", ["Harris County", "harris", "HARRIS"])
def test_county_area_by_name_and_state(factory: Factory, name: str) -> None:
    area = add(org_at(factory, HOUSTON), kind="county", county=name, state="TX")
    assert (area.county_fips, area.state, area.label) == ("48201", "TX", "Harris County, TX")
    assert (area.min_lat, area.max_lat, area.min_lon, area.max_lon) == \
        boundaries().county_bounds("48201")
    assert box_contains(area, HOUSTON) and not box_contains(area, DALLAS)
    assert contains(area, locate(*HOUSTON)) and contains(area, locate(*PASADENA))
    assert not contains(area, locate(*GALVESTON)) and not contains(area, locate(*DALLAS))


def test_county_area_in_ohio(factory: Factory) -> None:
    area = add(org_at(factory, COLUMBUS), kind="county", county="Franklin County", state="OH")
    assert (area.county_fips, area.label) == ("39049", "Franklin County, OH")
    assert contains(area, locate(*COLUMBUS)) and not contains(area, locate(*HOUSTON))


def test_county_area_of_an_independent_city(factory: Factory) -> None:
    area = add(org_at(factory, COLUMBUS), kind="county", county="Richmond city", state="va")
    assert (area.county_fips, area.state, area.label) == ("51760", "VA", "Richmond city, VA")
    assert contains(area, locate(37.5407, -77.4360))  # downtown Richmond
    assert not contains(area, locate(37.9, -76.7))    # Richmond County, 50 miles away


def test_county_not_in_that_state_is_refused(factory: Factory) -> None:
    with pytest.raises(ListingError) as error:
        add(org_at(factory, HOUSTON), kind="county", county="Harris", state="OH")
    assert error.value.fields == {"county": ["No county named 'Harris' in Ohio."]}


def test_zip_area(factory: Factory) -> None:
    area = add(org_at(factory, HOUSTON), kind="zip", postal_code="77002")
    assert (area.postal_code, area.state, area.label) == ("77002", "TX", "ZIP 77002 (Houston, TX)")
    assert box_contains(area, (29.7502, -95.3677))
    assert contains(area, PointContext(29.7502, -95.3677, "TX", "48201", "77002"))
    assert not contains(area, PointContext(29.7488, -95.3438, "TX", "48201", "77003"))
    assert contains(area, locate(29.7502, -95.3677))  # the nearest centroid is 77002's own


def test_unknown_zip_is_refused(factory: Factory) -> None:
    with pytest.raises(ListingError) as error:
        add(org_at(factory, HOUSTON), kind="zip", postal_code="00000")
    assert error.value.fields == {"postal_code": ["Not a known US ZIP code."]}


def test_polygon_area(factory: Factory) -> None:
    area = add(org_at(factory, HOUSTON), kind="polygon", geojson=polygon(DOWNTOWN_SQUARE),
               label="  Inner Loop  ")
    assert area.label == "Inner Loop"
    assert (area.min_lat, area.max_lat, area.min_lon, area.max_lon) == (
        29.72, 29.82, -95.42, -95.30)
    assert json.loads(area.geojson or "") == {"type": "Polygon", "coordinates": [DOWNTOWN_SQUARE]}
    assert contains(area, locate(*HOUSTON))
    assert not contains(area, locate(*PASADENA)) and not contains(area, locate(*COLUMBUS))


def test_polygon_without_label_gets_a_default_one(factory: Factory) -> None:
    area = add(org_at(factory, HOUSTON), kind="polygon", geojson=polygon(DOWNTOWN_SQUARE))
    assert area.label == "Drawn service area"


def test_polygon_may_be_a_feature_or_a_multipolygon_and_holes_are_outside(
        factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    feature = add(organization, kind="polygon", geojson=json.dumps({
        "type": "Feature", "properties": {"name": "x"},
        "geometry": {"type": "Polygon", "coordinates": [DOWNTOWN_SQUARE]}}))
    assert json.loads(feature.geojson or "")["type"] == "Polygon"
    assert contains(feature, locate(*HOUSTON))

    columbus_square = [[-83.05, 39.92], [-82.95, 39.92], [-82.95, 40.0], [-83.05, 40.0],
                       [-83.05, 39.92]]
    multi = add(organization, kind="polygon", geojson=json.dumps(
        {"type": "MultiPolygon", "coordinates": [[DOWNTOWN_SQUARE], [columbus_square]]}))
    assert contains(multi, locate(*HOUSTON)) and contains(multi, locate(*COLUMBUS))
    assert not contains(multi, locate(*DALLAS))
    assert multi.min_lat == 29.72 and multi.max_lat == 40.0

    hole = [[-95.38, 29.75], [-95.36, 29.75], [-95.36, 29.77], [-95.38, 29.77], [-95.38, 29.75]]
    with_hole = add(organization, kind="polygon", geojson=polygon(DOWNTOWN_SQUARE, hole))
    assert not contains(with_hole, locate(*HOUSTON))  # 29.7604, -95.3698 is in the hole
    assert contains(with_hole, locate(29.74, -95.40))


def _ring(count: int) -> list[list[float]]:
    """A closed, valid ring of ``count`` positions (a circle around Houston)."""
    points = [[round(-95.37 + 0.3 * math.cos(2 * math.pi * i / (count - 1)), 5),
               round(29.76 + 0.3 * math.sin(2 * math.pi * i / (count - 1)), 5)]
              for i in range(count - 1)]
    return [*points, points[0]]


@pytest.mark.parametrize(("document", "message"), [
    ("{not json", "Not valid JSON"),
    ("", "Not valid JSON"),
    (json.dumps({"type": "Point", "coordinates": [-95.3, 29.7]}),
     "Give a GeoJSON Polygon or MultiPolygon."),
    (json.dumps({"type": "LineString", "coordinates": DOWNTOWN_SQUARE}),
     "Give a GeoJSON Polygon or MultiPolygon."),
    (json.dumps([DOWNTOWN_SQUARE]), "Give a GeoJSON Polygon or MultiPolygon."),
    (json.dumps({"type": "Feature", "geometry": None}), "Give a GeoJSON Polygon or MultiPolygon."),
    (json.dumps({"type": "MultiPolygon", "coordinates": []}), "The polygon has no coordinates."),
    (polygon(), "Each polygon needs at least one ring."),
    (polygon(DOWNTOWN_SQUARE[:-1]), "A ring is not closed"),
    (polygon([[-95.42, 29.72], [-95.30, 29.72], [-95.42, 29.72]]),
     "Each ring needs at least 4 positions."),
    (polygon([[-95.42, 29.72], ["x", 29.72], [-95.30, 29.82], [-95.42, 29.72]]),
     "Positions are [longitude, latitude] numbers."),
    (polygon([[-95.42, 29.72], [-95.30], [-95.30, 29.82], [-95.42, 29.72]]),
     "Positions are [longitude, latitude] numbers."),
    (polygon([[-95.42, 29.72], [200.0, 29.72], [-95.30, 29.82], [-95.42, 29.72]]),
     "A position is out of range"),
    (polygon([[-95.42, 29.72], [-95.30, 95.0], [-95.30, 29.82], [-95.42, 29.72]]),
     "A position is out of range"),
    (polygon([[-95.4, 29.7], [-95.3, 29.8], [-95.3, 29.7], [-95.4, 29.8], [-95.4, 29.7]]),
     "The area is not a valid shape (Self-intersection"),
    (polygon([[-100.0, 25.0], [-60.0, 25.0], [-60.0, 35.0], [-100.0, 35.0], [-100.0, 25.0]]),
     "The area is implausibly large"),
    (polygon(_ring(MAX_POLYGON_VERTICES + 1)), "The area has too many points (over 5000)."),
    (polygon(DOWNTOWN_SQUARE) + " " * 200_001, "The area is too large a document (over 200 kB)."),
], ids=["invalid-json", "empty", "point", "linestring", "bare-array", "feature-without-geometry",
        "multipolygon-without-polygons", "no-rings", "unclosed", "three-positions", "text-position",
        "short-position", "longitude-out-of-range", "latitude-out-of-range", "bow-tie",
        "too-wide", "too-many-vertices", "oversized-document"])
def test_invalid_polygons_are_refused_with_a_clear_message(factory: Factory, document: str,
                                                           message: str) -> None:
    organization = org_at(factory, HOUSTON)
    with pytest.raises(ListingError) as error:
        build_coverage_area(organization, {"kind": "polygon", "geojson": document})
    assert set(error.value.fields) == {"geojson"}
    assert error.value.fields["geojson"][0].startswith(message)
    assert str(error.value) == error.value.fields["geojson"][0]


def test_polygon_with_exactly_the_most_vertices_is_accepted() -> None:
    normalized, bounds = parse_polygon(polygon(_ring(MAX_POLYGON_VERTICES)))
    assert len(json.loads(normalized)["coordinates"][0]) == MAX_POLYGON_VERTICES
    assert bounds == pytest.approx((29.46, 30.06, -95.67, -95.07), abs=1e-3)


def test_polygon_mixing_positions_with_and_without_altitude_gets_a_clear_error() -> None:
    mixed = [[-95.42, 29.72, 10.0], *DOWNTOWN_SQUARE[1:]]
    try:
        parse_polygon(polygon(mixed))
    except ListingError as error:
        assert set(error.fields) == {"geojson"}


def test_schema_refuses_an_oversized_polygon_document_on_the_geojson_field() -> None:
    with pytest.raises(ValidationError) as error:
        area_data(kind="polygon", geojson=polygon(DOWNTOWN_SQUARE) + " " * 200_001)
    assert set(error.value.messages) == {"geojson"}


@pytest.mark.parametrize(("data", "field"), [
    ({}, "kind"),
    ({"kind": "circle"}, "kind"),
    ({"kind": "radius", "center": "77002"}, "radius_mi"),
    ({"kind": "radius", "radius_mi": 5}, "center"),
    ({"kind": "radius", "radius_mi": 0, "center": "77002"}, "radius_mi"),
    ({"kind": "radius", "radius_mi": 501, "center": "77002"}, "radius_mi"),
    ({"kind": "state"}, "state"),
    ({"kind": "state", "state": "Texas"}, "state"),
    ({"kind": "county", "state": "TX"}, "county"),
    ({"kind": "county", "county": "Harris"}, "state"),
    ({"kind": "zip"}, "postal_code"),
    ({"kind": "zip", "postal_code": "7700"}, "postal_code"),
    ({"kind": "zip", "postal_code": "77002-1234"}, "postal_code"),
    ({"kind": "polygon"}, "geojson"),
    ({"kind": "polygon", "geojson": polygon(DOWNTOWN_SQUARE), "label": "x" * 201}, "label"),
])
def test_schema_names_the_missing_or_bad_field_of_each_kind(data: dict[str, Any],
                                                            field: str) -> None:
    with pytest.raises(ValidationError) as error:
        CoverageAreaSchema().load(data)
    assert field in error.value.messages


# --- service-limited areas ---------------------------------------------------------------------

def test_area_limited_to_services_keeps_them(factory: Factory) -> None:
    organization = org_at(factory, HOUSTON, services=["shelter.youth", "legal.immigration"])
    area = add(organization, kind="state", state="TX", services=["legal.immigration", "legal"])
    assert [category.code for category in area.services] == ["legal", "legal.immigration"]
    ids = {category.id for category in area.services}
    assert covers_service(area, ids) and covers_service(area, None)
    assert not covers_service(area, {ids.pop() + 10_000})


def test_area_limited_to_an_unknown_service_is_refused(factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    with pytest.raises(ListingError) as error:
        add(organization, kind="state", state="TX", services=["teleportation"])
    assert error.value.fields == {"services": ["Unknown service category 'teleportation'."]}
    assert organization.coverage_areas == []


# --- removing ---------------------------------------------------------------------------------

def test_remove_coverage_area(factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    kept = add(organization, kind="state", state="TX")
    removed = add(organization, kind="zip", postal_code="77002")
    remove_coverage_area(organization, removed.id)
    assert organization.coverage_areas == [kept]


def test_removing_an_area_that_is_not_on_the_listing_is_refused(factory: Factory) -> None:
    ours = org_at(factory, HOUSTON)
    theirs = org_at(factory, COLUMBUS)
    their_area = add(theirs, kind="state", state="OH")
    with pytest.raises(ListingError) as error:
        remove_coverage_area(ours, their_area.id)
    assert error.value.fields == {"coverage_area": ["That coverage area is not on this listing."]}
    assert theirs.coverage_areas == [their_area]
    with pytest.raises(ListingError):
        remove_coverage_area(ours, 10**9)


# --- the spatial index follows inserts, updates and deletes -------------------------------------

def candidates(db: Session, kind: str, point: tuple[float, float]) -> set[int]:
    """Areas of ``kind`` whose box holds the point, straight from the database's spatial index."""
    return set(db.scalars(spatial.coverage_candidates(spatial.backend(db), kind),
                          spatial.point_params(*point)))


def radius_candidates(db: Session, point: tuple[float, float]) -> set[int]:
    return candidates(db, "radius", point)


def polygon_candidates(db: Session, point: tuple[float, float]) -> set[int]:
    return candidates(db, "polygon", point)


def covering_ids(point: tuple[float, float]) -> list[int]:
    """Organizations covering the point; with few organizations the page is never filled, so
    the search takes its index-driven path (every covering organization, wherever it is)."""
    return [hit.organization_id for hit in covering(locate(*point), with_total=True).hits]


def set_radius(area: CoverageArea, radius: float,
               center: tuple[float, float] | None = None) -> None:
    """Change a radius area in place, as an edit form would, box included."""
    lat, lon = center or (area.center_lat, area.center_lon)
    area.center_lat, area.center_lon, area.radius_mi = lat, lon, radius
    area.min_lat, area.max_lat, area.min_lon, area.max_lon = circle_bounds(lat, lon, radius)


def test_index_follows_a_radius_area_that_grows_and_shrinks(db: Session,
                                                            factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    area = add(organization, kind="radius", radius_mi=5, location_id=organization.locations[0].id)
    eight_north = north_of(HOUSTON, 8)
    assert area.id in radius_candidates(db, HOUSTON)
    assert area.id not in radius_candidates(db, eight_north)
    assert covering_ids(HOUSTON) == [organization.id] and covering_ids(eight_north) == []

    set_radius(area, 10)
    db.flush()
    assert area.id in radius_candidates(db, eight_north)
    assert covering_ids(eight_north) == [organization.id]

    set_radius(area, 2)
    db.flush()
    assert area.id not in radius_candidates(db, eight_north)
    assert covering_ids(eight_north) == [] and covering_ids(HOUSTON) == [organization.id]


def test_index_follows_a_radius_area_whose_center_moves(db: Session, factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    area = add(organization, kind="radius", radius_mi=20, center="Houston, TX")
    assert covering_ids(HOUSTON) == [organization.id] and covering_ids(COLUMBUS) == []

    set_radius(area, 20, center=COLUMBUS)
    db.flush()
    assert area.id in radius_candidates(db, COLUMBUS)
    assert area.id not in radius_candidates(db, HOUSTON)
    assert covering_ids(COLUMBUS) == [organization.id] and covering_ids(HOUSTON) == []


def test_index_forgets_a_removed_area(db: Session, factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    radius = add(organization, kind="radius", radius_mi=5, location_id=organization.locations[0].id)
    drawn = add(organization, kind="polygon", geojson=polygon(DOWNTOWN_SQUARE))
    assert radius.id in radius_candidates(db, HOUSTON)
    assert drawn.id in polygon_candidates(db, HOUSTON)

    remove_coverage_area(organization, radius.id)
    assert radius.id not in radius_candidates(db, HOUSTON)
    assert covering_ids(HOUSTON) == [organization.id]  # the polygon still covers it

    remove_coverage_area(organization, drawn.id)
    assert drawn.id not in polygon_candidates(db, HOUSTON)
    assert covering_ids(HOUSTON) == []


def test_index_holds_radius_and_polygon_areas_apart(db: Session, factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    radius = add(organization, kind="radius", radius_mi=5, location_id=organization.locations[0].id)
    drawn = add(organization, kind="polygon", geojson=polygon(DOWNTOWN_SQUARE))
    state = add(organization, kind="state", state="TX")
    assert radius_candidates(db, HOUSTON) == {radius.id}
    assert polygon_candidates(db, HOUSTON) == {drawn.id}
    assert state.id not in radius_candidates(db, HOUSTON) | polygon_candidates(db, HOUSTON)


# The R*Tree tables themselves (SQLite only; PostgreSQL indexes the rows' own columns).

@pytest.fixture()
def sqlite_db(db: Session) -> Session:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("the R*Tree tables exist on SQLite only")
    return db


def rtree_row(db: Session, table: str, row_id: int) -> tuple[float, ...] | None:
    row = db.execute(text(f"SELECT min_lat, max_lat, min_lon, max_lon FROM {table} "  # noqa: S608
                          "WHERE id = :id"), {"id": row_id}).one_or_none()
    return None if row is None else tuple(row)


def test_rtree_rows_follow_coverage_areas(sqlite_db: Session, factory: Factory) -> None:
    organization = org_at(factory, HOUSTON)
    area = add(organization, kind="radius", radius_mi=5, location_id=organization.locations[0].id)
    drawn = add(organization, kind="polygon", geojson=polygon(DOWNTOWN_SQUARE))
    state = add(organization, kind="state", state="TX")

    box = rtree_row(sqlite_db, "coverage_index", area.id)
    assert box == pytest.approx((area.min_lat, area.max_lat, area.min_lon, area.max_lon), abs=1e-4)
    assert rtree_row(sqlite_db, "polygon_index", drawn.id) == pytest.approx(
        (29.72, 29.82, -95.42, -95.30), abs=1e-4)
    assert rtree_row(sqlite_db, "polygon_index", area.id) is None
    assert rtree_row(sqlite_db, "coverage_index", drawn.id) is None
    assert rtree_row(sqlite_db, "coverage_index", state.id) is None
    assert rtree_row(sqlite_db, "polygon_index", state.id) is None

    set_radius(area, 20, center=COLUMBUS)
    sqlite_db.flush()
    moved = rtree_row(sqlite_db, "coverage_index", area.id)
    assert moved is not None and moved[0] < COLUMBUS[0] < moved[1]

    remove_coverage_area(organization, area.id)
    remove_coverage_area(organization, drawn.id)
    assert rtree_row(sqlite_db, "coverage_index", area.id) is None
    assert rtree_row(sqlite_db, "polygon_index", drawn.id) is None
