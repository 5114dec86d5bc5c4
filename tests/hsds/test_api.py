"""The standard HSDS 3.0 API at /hsds/: every answer validated against Open Referral's
reference and schemas (the shipped copies, strict about unknown fields), its pages, filters,
spatial searches, confidential locations and access rules."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from directory.api.operations import create_token
from directory.geo.distance import haversine_mi
from directory.geo.gazetteer import gazetteer
from directory.hsds import taxonomy as tax
from directory.orgs.coverage import add_coverage_area
from directory.orgs.listing import update_listing
from directory.orgs.models import MembershipStatus, Organization
from directory.orgs.schemas import CoverageAreaSchema
from tests.conftest import AuthActions
from tests.factories import Factory
from tests.hsds import standard

SAFE_HOUSE = {"name": "Harbor safe house", "address": "77 Quiet Court", "city": "Houston",
              "state": "TX", "postal_code": "77019", "latitude": 29.7512, "longitude": -95.4107,
              "confidential": True, "open_24_7": True}
OFFICE = {"name": "Office", "address": "500 Open Street", "city": "Houston", "state": "TX",
          "postal_code": "77002",
          "hours": [{"days": ["mon", "tue"], "opens": "09:00", "closes": "17:00"}]}
LISTS = ["/services", "/organizations", "/service_at_locations", "/taxonomies",
         "/taxonomy_terms"]


@pytest.fixture()
def public(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_HSDS_API", True)


@pytest.fixture()
def listed(factory: Factory, public: None) -> Organization:
    """One listed partner with an office, a safe house, two services and a ZIP coverage."""
    return covered(factory.organization(
        name="Harbor Partner", locations=[OFFICE, SAFE_HOUSE],
        services=["case_management", "shelter"], populations=["adolescents"],
        contacts=[{"name": "Intake desk", "phone": "713-555-0100"}]),
        {"kind": "zip", "postal_code": "77002"})


def covered(organization: Organization, area: dict[str, Any]) -> Organization:
    add_coverage_area(organization, CoverageAreaSchema().load(area))
    return organization


def get(client: FlaskClient, path: str, **query: Any) -> Any:
    response = client.get("/hsds" + path, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def valid(path: str, document: Any) -> Any:
    assert standard.errors(standard.response_validator(path), document) == []
    return document


# With full=true a list holds the full objects of the compiled schemas, which the list
# schemas it names (one-to-one fields) do not define: the list is checked by the reference
# without rejecting unknown fields, and each item strictly by its full schema.
FULL_ITEMS = {"/services": "compiled/service.json",
              "/organizations": "compiled/organization.json",
              "/service_at_locations": "compiled/service_at_location.json"}


def valid_full(path: str, document: Any) -> Any:
    lenient = standard.response_validator(path, strict_schemas=False)
    assert standard.errors(lenient, document) == []
    full = standard.schema_validator(FULL_ITEMS[path])
    assert [error for item in document["contents"] for error in standard.errors(full, item)] == []
    return document


# --- every endpoint, validated ----------------------------------------------------------------

def test_root_says_version_and_where_the_reference_is(client: FlaskClient, public: None) -> None:
    meta = valid("/", get(client, "/"))
    assert meta["version"] == "3.0"
    reference = client.get(meta["openapi_url"].removeprefix("http://localhost"))
    assert reference.status_code == 200
    assert reference.get_json()["paths"].keys() == standard.reference()["paths"].keys()


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("options", [{}, {"full": "true"}, {"full_service": "true"},
                                     {"minimal": "true"}])
def test_every_list_answers_by_the_reference(client: FlaskClient, listed: Organization,
                                             path: str, options: dict[str, str]) -> None:
    full = path in FULL_ITEMS and bool({"full", "full_service"} & options.keys())
    document = (valid_full if full else valid)(path, get(client, path, **options))
    assert document["total_items"] >= 1 and document["contents"]


def test_every_item_answers_by_the_reference(client: FlaskClient, listed: Organization) -> None:
    for path, reference_path in [("/services", "/services/{id}"),
                                 ("/organizations", "/organizations/{id}"),
                                 ("/taxonomies", "/taxonomies/{id}"),
                                 ("/taxonomy_terms", "/taxonomy_terms/{id}")]:
        for item in get(client, path, per_page=500)["contents"]:
            document = valid(reference_path, get(client, f"{path}/{item['id']}"))
            assert document["id"] == item["id"]
    organization = valid("/organizations/{id}", get(
        client, f"/organizations/{listed.hsds_id}", full_service="true"))
    assert {"service_areas", "service_at_locations"} <= organization["services"][0].keys()
    simple = get(client, f"/organizations/{listed.hsds_id}")
    assert {"id", "name", "status"} <= simple["services"][0].keys()
    assert "service_at_locations" not in simple["services"][0]


def test_a_service_at_location_by_id_is_the_full_link(client: FlaskClient,
                                                      listed: Organization) -> None:
    # The reference names the service schema for this answer (a defect, see
    # test_schemathesis.py); it is validated against the service_at_location schema.
    links = get(client, "/service_at_locations")["contents"]
    assert len(links) == 4  # two services at two locations
    validator = standard.response_validator("/service_at_locations")
    compiled = standard.schema_validator("compiled/service_at_location.json")
    for link in links:
        document = get(client, f"/service_at_locations/{link['id']}")
        assert standard.errors(compiled, document) == []
        assert (document["service_id"], document["location_id"]) == (
            link["service_id"], link["location_id"])
        assert document["service"]["id"] == link["service_id"]
        assert document["location"]["id"] == link["location_id"]
    assert standard.errors(validator, {"contents": links}) == []


@pytest.mark.parametrize("path", ["/services/", "/organizations/", "/service_at_locations/",
                                  "/taxonomies/", "/taxonomy_terms/"])
@pytest.mark.parametrize("item_id", ["nope", "00000000-0000-0000-0000-000000000000",
                                     "d71ab9ff-1b76-84b0-b428-86842bfc3671"])
def test_unknown_ids_are_404_json(client: FlaskClient, listed: Organization, path: str,
                                  item_id: str) -> None:
    response = client.get("/hsds" + path + item_id)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


# --- pages ------------------------------------------------------------------------------------

def test_pages_walk_the_whole_list_once(client: FlaskClient, factory: Factory,
                                        public: None) -> None:
    for _ in range(5):
        factory.organization(services=["case_management"])
    seen = []
    first = get(client, "/services", per_page=2)
    assert (first["total_items"], first["total_pages"], first["page_number"], first["size"],
            first["first_page"], first["last_page"], first["empty"]) == (5, 3, 1, 2, True,
                                                                          False, False)
    for number in (1, 2, 3):
        page = valid("/services", get(client, "/services", per_page=2, page=number))
        seen += [item["id"] for item in page["contents"]]
        assert page["page_number"] == number and page["first_page"] == (number == 1)
        assert page["last_page"] == (number == 3)
    assert len(seen) == len(set(seen)) == 5
    assert get(client, "/services", per_page=2, page=3)["size"] == 1
    beyond = valid("/services", get(client, "/services", per_page=2, page=4))
    assert (beyond["contents"], beyond["size"], beyond["empty"], beyond["last_page"],
            beyond["total_items"]) == ([], 0, True, True, 5)


def test_an_empty_directory_is_one_empty_page(client: FlaskClient, public: None) -> None:
    page = valid("/services", get(client, "/services"))
    assert (page["total_items"], page["total_pages"], page["size"], page["empty"],
            page["first_page"], page["last_page"]) == (0, 0, 0, True, True, True)


@pytest.mark.parametrize("query", [
    {"page": "0"}, {"page": "-1"}, {"page": "x"}, {"page": "1.5"}, {"page": "9" * 40},
    {"per_page": "0"}, {"per_page": "501"}, {"format": "xml"}, {"full": "maybe"},
    {"minimal": "true", "full": "true"}, {"modified_after": "yesterday"},
    {"search": "x" * 201},
])
def test_bad_parameters_are_400_json(client: FlaskClient, public: None,
                                     query: dict[str, str]) -> None:
    response = client.get("/hsds/services", query_string=query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and error["fields"]


@pytest.mark.parametrize("query", [
    {"proximity": "1000"}, {"postcode": "00000"}, {"postcode": "abcde"},
    {"postcode": "77002", "proximity": "-5"}, {"postcode": "77002", "proximity": "nan"},
    {"postcode": "77002", "proximity": "1e12"}, {"postcode": "77002", "proximity": "far"},
])
def test_bad_places_are_400_json(client: FlaskClient, public: None,
                                 query: dict[str, str]) -> None:
    response = client.get("/hsds/service_at_locations", query_string=query)
    assert response.status_code == 400
    assert set(response.get_json()["error"]["fields"]) <= {"postcode", "proximity"}


def test_ndjson_streams_every_item_without_pages(client: FlaskClient, factory: Factory,
                                                 public: None) -> None:
    for _ in range(3):
        factory.organization(services=["case_management", "shelter"])
    response = client.get("/hsds/services", query_string={"format": "ndjson", "per_page": 1})
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    items = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(items) == len({item["id"] for item in items}) == 6
    validator = standard.response_validator("/services")
    assert standard.errors(validator, {"contents": items}) == []
    links = client.get("/hsds/service_at_locations", query_string={"format": "ndjson"})
    assert len(links.get_data(as_text=True).splitlines()) == 6


# --- filters ----------------------------------------------------------------------------------

def _ids(document: Any, key: str = "id") -> set[str]:
    return {item[key] for item in document["contents"]}


def test_filters_narrow_the_services(client: FlaskClient, factory: Factory,
                                     public: None) -> None:
    shelter = factory.organization(name="Lighthouse Shelter", services=["shelter"],
                                   kind="faith_based", populations=["women"])
    legal = factory.organization(name="Counsel Partners", services=["legal"], kind="legal")
    service_of = {organization.hsds_id: organization.services[0].hsds_id
                  for organization in (shelter, legal)}
    everything = _ids(get(client, "/services"))
    assert everything == set(service_of.values())
    by_org = get(client, "/services", organization_id=legal.hsds_id)
    assert _ids(by_org) == {service_of[legal.hsds_id]}
    assert _ids(get(client, "/services", search="lighthouse")) == {service_of[shelter.hsds_id]}
    assert _ids(get(client, "/services", search="100%")) == set()
    shelter_term = tax.category_term_id("shelter")
    assert _ids(get(client, "/services", taxonomy_term_id=shelter_term)) == {
        service_of[shelter.hsds_id]}
    kind_term = tax.code_term_id(tax.KINDS, "kind:legal")
    assert _ids(get(client, "/services", taxonomy_term_id=kind_term)) == {
        service_of[legal.hsds_id]}
    women = tax.code_term_id(tax.POPULATIONS, "population:women")
    assert _ids(get(client, "/services", taxonomy_term_id=women)) == {service_of[shelter.hsds_id]}
    assert _ids(get(client, "/services", taxonomy_term_id="unknown")) == set()
    assert _ids(get(client, "/services", taxonomy_id=tax.SERVICES.id)) == everything
    assert _ids(get(client, "/services", taxonomy_id=tax.POPULATIONS.id)) == {
        service_of[shelter.hsds_id]}
    assert _ids(get(client, "/services", taxonomy_id="unknown")) == set()
    links = get(client, "/service_at_locations", organization_id=shelter.hsds_id)
    assert _ids(links, "service_id") == {service_of[shelter.hsds_id]}


def test_taxonomy_terms_filter_by_taxonomy_parent_and_top(client: FlaskClient,
                                                          public: None) -> None:
    terms = get(client, "/taxonomy_terms", per_page=500)["contents"]
    children = [term for term in terms if term.get("parent_id")]
    assert children, "the services taxonomy has sub-categories"
    parent = children[0]["parent_id"]
    under = get(client, "/taxonomy_terms", parent_id=parent, per_page=500)["contents"]
    assert under and all(term["parent_id"] == parent for term in under)
    top = get(client, "/taxonomy_terms", top_only="true", per_page=500)["contents"]
    assert top and all("parent_id" not in term for term in top)
    kinds = get(client, "/taxonomy_terms", taxonomy_id=tax.KINDS.id, per_page=500)
    assert kinds["total_items"] == 8
    assert get(client, "/taxonomies", search="eligibility")["total_items"] == 1


def test_modified_after_follows_every_change_to_a_listing(
        client: FlaskClient, factory: Factory, db: Session, public: None) -> None:
    old, edited = factory.organization(), factory.organization()
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    db.execute(update(Organization).values(updated_at=long_ago))
    db.expire_all()
    since = "2024-06-01T00:00:00Z"
    assert get(client, "/services", modified_after=since)["total_items"] == 0
    # Only a row that belongs to the organization changes (a contact), not the row itself.
    update_listing(factory.user(coordinator=True), edited,
                   {"contacts": [{"name": "New intake desk"}]})
    db.flush()
    found = get(client, "/services", modified_after=since)["contents"]
    assert [item["organization_id"] for item in found] == [edited.hsds_id]
    assert found[0]["last_modified"] > since
    assert old.updated_at == long_ago
    assert get(client, "/services", modified_after="2019-12-31")["total_items"] == 2


def test_only_listed_organizations_are_published(client: FlaskClient, factory: Factory,
                                                 public: None) -> None:
    listed_one = factory.organization()
    pending = factory.organization(status=MembershipStatus.PENDING)
    suspended = factory.organization(status=MembershipStatus.SUSPENDED)
    assert _ids(get(client, "/organizations")) == {listed_one.hsds_id}
    for hidden in (pending, suspended):
        assert client.get(f"/hsds/organizations/{hidden.hsds_id}").status_code == 404
        assert client.get(f"/hsds/services/{hidden.services[0].hsds_id}").status_code == 404


def test_a_suspended_organization_leaves_the_lists_at_once(
        client: FlaskClient, factory: Factory, db: Session, public: None) -> None:
    organization = factory.organization(services=["shelter", "legal"])
    assert get(client, "/services")["total_items"] == 2
    organization.status = MembershipStatus.SUSPENDED
    db.flush()
    assert get(client, "/services")["total_items"] == 0
    assert get(client, "/service_at_locations")["total_items"] == 0
    organization.status = MembershipStatus.ACTIVE
    db.flush()
    assert get(client, "/services")["total_items"] == 2


# --- places -----------------------------------------------------------------------------------

def _scatter(factory: Factory, centre: tuple[float, float], count: int,
             seed: int) -> list[Organization]:
    """Partners at random points up to ~40 miles around ``centre``, some confidential."""
    rng = random.Random(seed)
    organizations = []
    for index in range(count):
        lat = centre[0] + rng.uniform(-0.6, 0.6)
        lon = centre[1] + rng.uniform(-0.6, 0.6)
        organizations.append(factory.organization(locations=[{
            "name": f"Site {index}", "address": f"{index} Scatter Road", "city": "Houston",
            "state": "TX", "postal_code": "77002", "latitude": lat, "longitude": lon,
            "confidential": index % 4 == 0}]))
    return organizations


@pytest.mark.parametrize("meters", [2_000, 15_000, 40_000, 90_000])
def test_proximity_finds_what_a_brute_force_distance_finds(
        client: FlaskClient, factory: Factory, public: None, meters: int) -> None:
    organizations = _scatter(factory, (29.76, -95.37), 24, seed=meters)
    centre = gazetteer().zip_area("77002")
    assert centre is not None
    expected = {location.hsds_id for organization in organizations
                for location in organization.locations
                if haversine_mi(centre.lat, centre.lon, location.latitude, location.longitude)
                * 1609.344 <= meters}
    found = valid("/service_at_locations", get(
        client, "/service_at_locations", postcode="77002", proximity=str(meters), per_page=500))
    assert _ids(found, "location_id") == expected
    assert found["total_items"] == len(expected)


def test_postcode_alone_finds_the_services_whose_area_holds_it(
        client: FlaskClient, factory: Factory, public: None) -> None:
    zip_area = covered(factory.organization(), {"kind": "zip", "postal_code": "77019"})
    state = covered(factory.organization(), {"kind": "state", "state": "TX"})
    elsewhere = covered(factory.organization(), {"kind": "state", "state": "OK"})
    limited = covered(factory.organization(services=["shelter", "legal"]),
                      {"kind": "zip", "postal_code": "77019", "services": ["shelter"]})
    factory.organization()  # no coverage at all
    found = get(client, "/service_at_locations", postcode="77019", per_page=500)
    by_org = {item["service"]["organization_id"] for item in found["contents"]}
    assert by_org == {zip_area.hsds_id, state.hsds_id, limited.hsds_id}
    assert elsewhere.hsds_id not in by_org
    shelter = next(service for service in limited.services if service.category.code == "shelter")
    assert {item["service_id"] for item in found["contents"]
            if item["service"]["organization_id"] == limited.hsds_id} == {shelter.hsds_id}
    outside = get(client, "/service_at_locations", postcode="73301")["contents"]
    assert {item["service"]["organization_id"] for item in outside} == {state.hsds_id}


# --- confidential locations -------------------------------------------------------------------

def _everything(client: FlaskClient, organization: Organization) -> str:
    texts = []
    for path in LISTS:
        for options in ({}, {"full": "true"}, {"full_service": "true"}, {"format": "ndjson"}):
            texts.append(client.get("/hsds" + path, query_string=options).get_data(as_text=True))
    texts.append(client.get(f"/hsds/organizations/{organization.hsds_id}",
                            query_string={"full_service": "true"}).get_data(as_text=True))
    for service in organization.services:
        texts.append(client.get(f"/hsds/services/{service.hsds_id}").get_data(as_text=True))
    for link in get(client, "/service_at_locations")["contents"]:
        texts.append(client.get(f"/hsds/service_at_locations/{link['id']}")
                     .get_data(as_text=True))
    return "\n".join(texts)


@pytest.mark.parametrize("caller", ["anonymous", "own member", "coordinator"])
def test_a_confidential_location_never_shows_its_address_or_true_point(
        client: FlaskClient, auth: AuthActions, factory: Factory, listed: Organization,
        caller: str) -> None:
    if caller != "anonymous":
        user = (factory.user(coordinator=True) if caller == "coordinator"
                else factory.user(organization=listed))
        auth.login(user.email)
    safe_house = next(location for location in listed.locations if location.confidential)
    text = _everything(client, listed)
    assert "Harbor Partner" in text
    for secret in ("77 Quiet Court", "Harbor safe house", "77019\"", str(SAFE_HOUSE["latitude"]),
                   str(SAFE_HOUSE["longitude"])):
        assert secret not in text
    public_point = (safe_house.latitude, safe_house.longitude)
    assert public_point != (SAFE_HOUSE["latitude"], SAFE_HOUSE["longitude"])
    assert json.dumps(public_point[0]) in text


def test_proximity_measures_a_confidential_location_from_its_public_point(
        client: FlaskClient, listed: Organization) -> None:
    safe_house = next(location for location in listed.locations if location.confidential)
    near_true = get(client, "/service_at_locations", postcode="77019", proximity="400")
    # The postcode's centroid is within 400 m of the true point only if that point is public.
    centre = gazetteer().zip_area("77019")
    assert centre is not None
    public_m = haversine_mi(centre.lat, centre.lon, safe_house.latitude,
                            safe_house.longitude) * 1609.344
    found = safe_house.hsds_id in _ids(near_true, "location_id")
    assert found == (public_m <= 400)
    assert not math.isclose(public_m, haversine_mi(
        centre.lat, centre.lon, SAFE_HOUSE["latitude"], SAFE_HOUSE["longitude"]) * 1609.344)


# --- access -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/services", "/organizations", "/taxonomies",
                                  "/service_at_locations", "/taxonomy_terms",
                                  "/openapi.json"])
def test_anonymous_consumers_are_refused_by_default(client: FlaskClient, path: str) -> None:
    response = client.get("/hsds" + path)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_the_public_flag_opens_the_api_to_anonymous_consumers(
        client: FlaskClient, factory: Factory, public: None) -> None:
    factory.organization(name="Open Data Partner")
    assert "Open Data Partner" in _everything(client, factory.organization())


def test_a_token_or_a_vetted_session_opens_the_api(client: FlaskClient, auth: AuthActions,
                                                   factory: Factory) -> None:
    member = factory.user(organization=factory.organization())
    _, secret = create_token(member, "211 feed", None)
    answer = client.get("/hsds/services", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and answer.get_json()["total_items"] == 1
    refused = client.get("/hsds/services", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401 and "token" in refused.get_json()["error"]["message"]
    auth.login(member.email)
    assert client.get("/hsds/services").status_code == 200


def test_members_of_unvetted_organizations_are_refused(client: FlaskClient, auth: AuthActions,
                                                       factory: Factory) -> None:
    user = factory.user(organization=factory.organization(status=MembershipStatus.PENDING))
    auth.login(user.email)
    assert client.get("/hsds/services").status_code == 403
