"""The search page and coverage editing over HTTP."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole
from directory.orgs.models import CoverageKind, MembershipStatus, Organization, OrganizationKind
from tests.conftest import AuthActions
from tests.factories import Factory

HOUSTON_OFFICE = {"name": "Office", "address": "900 Main St", "city": "Houston", "state": "TX",
                  "postal_code": "77002"}


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(name="Bayou Search Partner", services=["shelter.youth"],
                                locations=[HOUSTON_OFFICE])


def test_search_needs_a_member(client: FlaskClient) -> None:
    response = client.get("/search?near=77002")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/search/basemap.json").status_code == 302


def test_empty_search_shows_the_form(client: FlaskClient, auth: AuthActions,
                                     factory: Factory, partner: Organization) -> None:
    auth.login(factory.user(organization=partner).email)
    page = client.get("/search").get_data(as_text=True)
    assert 'id="near"' in page and "results-heading" not in page


def test_near_search_lists_the_partner_with_its_distance(
        client: FlaskClient, auth: AuthActions, factory: Factory, partner: Organization) -> None:
    auth.login(factory.user(coordinator=True).email)
    response = client.get("/search?near=77002&service=shelter&radius=10")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Bayou Search Partner" in page and "0.0 mi" in page
    map_data = json.loads(page.split('id="map-data">')[1].split("</script>")[0])
    entry = next(item for item in map_data["results"] if item["name"] == "Bayou Search Partner")
    assert (entry["lat"], entry["lon"]) == (29.7502, -95.3677)
    assert map_data["radius_m"] == round(10 * 1609.344)


@pytest.mark.parametrize(("query", "field", "message"), [
    ("near=Atlantis%2C+ZZ", "near", "Could not find"),
    ("near=77002&service=teleportation", "service", "Unknown service"),
    ("near=77002&radius=9000", "radius", "less than or equal to 500"),
    ("near=77002&kind=spaceship", "kind", "Must be one of"),
    ("near=77002&verified_within=-3", "verified_within", "greater than or equal"),
    ("near=" + "9" * 300, "near", "Length must be between 1 and 200"),
])
def test_bad_search_input_is_a_400_with_the_reason(client: FlaskClient, auth: AuthActions,
                                                   factory: Factory, partner: Organization,
                                                   query: str, field: str, message: str) -> None:
    auth.login(factory.user(organization=partner).email)
    response = client.get(f"/search?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page


def test_search_pages_through_results(client: FlaskClient, auth: AuthActions, app: object,
                                      factory: Factory) -> None:
    for number in range(4):
        factory.organization(name=f"Paging Partner {number}", kind=OrganizationKind.LEGAL,
                             locations=[HOUSTON_OFFICE])
    auth.login(factory.user(coordinator=True).email)
    app.config["PAGE_SIZE"] = 3  # type: ignore[attr-defined]
    try:
        first = client.get("/search?near=77002&kind=legal&radius=5").get_data(as_text=True)
        second = client.get("/search?near=77002&kind=legal&radius=5&page=2").get_data(as_text=True)
    finally:
        app.config["PAGE_SIZE"] = 25  # type: ignore[attr-defined]
    heading = "Organizations within 5 mi of 77002 Houston, TX, nearest first"
    assert heading in " ".join(first.split())
    assert "Page 1" in first and 'rel="next"' in first and "page=2" in first
    assert "4 organizations within 5 mi" in " ".join(second.split())  # the last page knows
    assert 'rel="next"' not in second and 'rel="prev"' in second
    names = lambda page: {f"Paging Partner {n}" for n in range(4) if f"Paging Partner {n}<" in page}  # noqa: E731
    assert len(names(first)) == 3 and len(names(second)) == 1
    assert not names(first) & names(second)


def test_suspended_organizations_are_not_found(client: FlaskClient, auth: AuthActions,
                                               factory: Factory, partner: Organization) -> None:
    factory.organization(name="Suspended Search Partner", status=MembershipStatus.SUSPENDED,
                         locations=[HOUSTON_OFFICE])
    auth.login(factory.user(coordinator=True).email)
    page = client.get("/search?near=77002&radius=5").get_data(as_text=True)
    assert "Bayou Search Partner" in page and "Suspended Search Partner" not in page


def test_basemap_is_geojson_of_state_outlines(client: FlaskClient, auth: AuthActions,
                                              factory: Factory, partner: Organization) -> None:
    auth.login(factory.user(organization=partner).email)
    response = client.get("/search/basemap.json")
    document = response.get_json(force=True)
    assert response.mimetype == "application/geo+json"
    assert {feature["properties"]["state"] for feature in document["features"]} >= {"TX", "OH"}


# --- coverage editing -----------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "status"), [
    ("admin", 200), ("referrer", 403), ("other_admin", 403), ("coordinator", 200),
])
def test_who_may_edit_coverage(role: str, status: int, client: FlaskClient, auth: AuthActions,
                               factory: Factory, partner: Organization) -> None:
    other = factory.organization(name="Other Coverage Org")
    user = {
        "admin": lambda: factory.user(organization=partner, role=MemberRole.ADMIN),
        "referrer": lambda: factory.user(organization=partner),
        "other_admin": lambda: factory.user(organization=other, role=MemberRole.ADMIN),
        "coordinator": lambda: factory.user(coordinator=True),
    }[role]()
    auth.login(user.email)
    url = f"/organizations/{partner.slug}/coverage"
    assert client.get(url).status_code == status
    posted = client.post(url, data={"kind": "state", "state": "TX"})
    assert posted.status_code == (302 if status == 200 else status)


def test_admin_adds_and_removes_coverage(client: FlaskClient, auth: AuthActions,
                                         factory: Factory, partner: Organization,
                                         db: Session) -> None:
    auth.login(factory.user(organization=partner, role=MemberRole.ADMIN).email)
    url = f"/organizations/{partner.slug}/coverage"
    location_id = partner.locations[0].id
    assert client.post(url, data={"kind": "radius", "radius_mi": "25",
                                  "location_id": str(location_id),
                                  "services": ["shelter.youth"]}).status_code == 302
    assert client.post(url, data={"kind": "county", "county": "Harris",
                                  "state": "TX"}).status_code == 302
    db.expire_all()
    areas = {area.kind: area for area in partner.coverage_areas}
    assert areas[CoverageKind.RADIUS].label == "Within 25 mi of Houston, TX"
    assert [c.code for c in areas[CoverageKind.RADIUS].services] == ["shelter.youth"]
    assert areas[CoverageKind.COUNTY].county_fips == "48201"
    page = client.get(url).get_data(as_text=True)
    assert "Within 25 mi of Houston, TX" in page and "Harris County, TX" in page

    delete = client.post(f"{url}/{areas[CoverageKind.COUNTY].id}/delete")
    assert delete.status_code == 302
    db.expire_all()
    assert [area.kind for area in partner.coverage_areas] == [CoverageKind.RADIUS]
    assert client.post(f"{url}/999999/delete").status_code == 404


@pytest.mark.parametrize(("form", "field"), [
    ({"kind": "radius", "radius_mi": "25"}, "center"),
    ({"kind": "radius", "radius_mi": "9999", "center": "77002"}, "radius_mi"),
    ({"kind": "radius", "radius_mi": "5", "center": "Atlantis, ZZ"}, "center"),
    ({"kind": "county", "county": "Narnia", "state": "TX"}, "county"),
    ({"kind": "zip", "postal_code": "00000"}, "postal_code"),
    ({"kind": "polygon", "geojson": '{"type": "Point", "coordinates": [0, 0]}'}, "geojson"),
    ({"kind": "polygon", "geojson": "<script>alert(1)</script>"}, "geojson"),
    ({"kind": "state", "state": "TX", "services": ["teleportation"]}, "services"),
    ({"kind": "moon"}, "kind"),
])
def test_bad_coverage_is_refused_and_nothing_is_stored(
        form: dict[str, object], field: str, client: FlaskClient, auth: AuthActions,
        factory: Factory, partner: Organization, db: Session) -> None:
    auth.login(factory.user(organization=partner, role=MemberRole.ADMIN).email)
    response = client.post(f"/organizations/{partner.slug}/coverage", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page
    assert "<script>alert(1)</script>" not in page
    db.expire_all()
    assert partner.coverage_areas == []


def test_coverage_page_of_a_safe_house_hides_nothing_from_its_own_admin(
        client: FlaskClient, auth: AuthActions, factory: Factory) -> None:
    shelter = factory.organization(name="Coverage Safe House", locations=[
        {**HOUSTON_OFFICE, "name": "Residence", "address": "1 Hidden Way", "confidential": True}])
    auth.login(factory.user(organization=shelter, role=MemberRole.ADMIN).email)
    page = client.get(f"/organizations/{shelter.slug}/coverage").get_data(as_text=True)
    assert "Residence (Houston, TX)" in page


def test_search_results_offer_referrals_and_placement_requests(
        client: FlaskClient, auth: AuthActions, factory: Factory, partner: Organization) -> None:
    sender = factory.organization(name="Sending Partner", locations=[HOUSTON_OFFICE])
    auth.login(factory.user(organization=sender).email)
    page = client.get("/search?near=77002&radius=5").get_data(as_text=True)
    assert f'href="/referrals/new?to={partner.slug}"' in page
    assert f'name="to" value="{partner.slug}" form="placement-form"' in page
    assert 'id="placement-form" method="get" action="/referrals/placements/new"' in page
    # The placement page takes the ticked partners as ?to= values.
    placement = client.get(f"/referrals/placements/new?to={partner.slug}")
    assert placement.status_code == 200 and f'value="{partner.name}"' in placement.text


def test_basemap_detail_gives_county_outlines_and_place_names_in_a_window(
        client: FlaskClient, auth: AuthActions, factory: Factory, partner: Organization) -> None:
    auth.login(factory.user(organization=partner).email)
    response = client.get("/search/basemap/detail.json?bbox=-95.8,29.4,-95.0,30.1")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    features = response.get_json(force=True)["features"]
    counties = {f["properties"]["name"] for f in features if f["properties"]["kind"] == "county"}
    places = [f for f in features if f["properties"]["kind"] == "place"]
    assert {"Harris County, TX", "Fort Bend County, TX"} <= counties
    assert "Dallas County, TX" not in counties
    assert "Houston" in {place["properties"]["name"] for place in places}
    assert 0 < len(places) <= 40
    for place in places:
        lon, lat = place["geometry"]["coordinates"]
        assert -95.8 <= lon <= -95.0 and 29.4 <= lat <= 30.1


@pytest.mark.parametrize("query", [
    "", "?bbox=", "?bbox=1,2,3", "?bbox=a,b,c,d", "?bbox=-95,29,-96,30", "?bbox=-95,30,-94,29",
    "?bbox=-200,29,-94,30", "?bbox=nan,29,-94,30", "?bbox=-100,29,-90,30", "?bbox=1,2,3,4,5",
])
def test_basemap_detail_refuses_a_bad_or_too_wide_window(
        query: str, client: FlaskClient, auth: AuthActions, factory: Factory,
        partner: Organization) -> None:
    auth.login(factory.user(organization=partner).email)
    response = client.get(f"/search/basemap/detail.json{query}")
    assert response.status_code == 400
    assert "bbox" in response.get_data(as_text=True)


def test_a_refused_search_has_an_error_summary_linking_to_the_field(
        client: FlaskClient, auth: AuthActions, factory: Factory, partner: Organization) -> None:
    auth.login(factory.user(organization=partner).email)
    response = client.get("/search?near=Atlantis%2C+ZZ")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="error-summary"' in page and '<a href="#near">Could not find' in page
