"""The JSON API over HTTP: its answers, its paging and its error shape."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory.orgs.models import Organization
from tests.conftest import AuthActions
from tests.factories import Factory

HOUSTON = {"name": "Office", "address": "900 Main St", "city": "Houston", "state": "TX",
           "postal_code": "77002"}
SAFE_HOUSE = {**HOUSTON, "name": "Residence", "address": "1 Hidden Way", "confidential": True}


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(name="Bayou API Partner", services=["shelter.youth"],
                                languages=["en", "es"], locations=[HOUSTON])


@pytest.fixture()
def member(auth: AuthActions, factory: Factory, partner: Organization) -> None:
    auth.login(factory.user(organization=partner).email)


def _error(response: object, status: int, code: str) -> dict:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.mimetype == "application/json"  # type: ignore[attr-defined]
    error = response.get_json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == code and error["message"] and isinstance(error["fields"], dict)
    return error


@pytest.mark.parametrize("path", ["/api/v1/search?near=77002", "/api/v1/services",
                                  "/api/v1/me", "/api/v1/organizations/anything"])
def test_visitors_get_a_401_json_error_not_a_redirect(client: FlaskClient, path: str) -> None:
    _error(client.get(path), 401, "unauthorized")


@pytest.mark.usefixtures("member")
def test_search_finds_the_partner_with_its_fields(client: FlaskClient,
                                                  partner: Organization) -> None:
    body = client.get("/api/v1/search", query_string={"near": "77002", "service": "shelter"}
                      ).get_json()
    item = next(item for item in body["items"] if item["slug"] == partner.slug)
    assert item["name"] == "Bayou API Partner" and item["kind"] == "nonprofit"
    assert item["distance_mi"] < 2 and item["lat"] is not None and item["lon"] is not None
    assert item["languages"] == ["en", "es"] and item["accepting_referrals"] is True
    assert body["mode"] == "near" and body["place"]["label"]


@pytest.mark.usefixtures("member")
def test_confidential_locations_have_no_point_in_search(client: FlaskClient,
                                                        factory: Factory) -> None:
    shelter = factory.organization(name="API Safe House", locations=[SAFE_HOUSE])
    body = client.get("/api/v1/search?near=77002&covering=false").get_json()
    item = next(item for item in body["items"] if item["slug"] == shelter.slug)
    assert item["lat"] is None and item["lon"] is None and item["distance_rounded"]


@pytest.mark.usefixtures("member")
def test_covering_switch_is_the_mode(client: FlaskClient) -> None:
    assert client.get("/api/v1/search?near=77002&covering=true").get_json()["mode"] == "covering"


@pytest.mark.usefixtures("member")
def test_cursors_page_through_every_result_once(client: FlaskClient, factory: Factory) -> None:
    made = {factory.organization(name=f"Paged Partner {n}", locations=[HOUSTON]).slug
            for n in range(5)}
    seen: list[str] = []
    query = {"near": "77002", "limit": 2}
    while True:
        body = client.get("/api/v1/search", query_string=query).get_json()
        assert len(body["items"]) <= 2
        seen += [item["slug"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        query["cursor"] = body["next_cursor"]
    assert made <= set(seen) and len(seen) == len(set(seen))


@pytest.mark.usefixtures("member")
def test_a_cursor_from_another_query_or_forged_is_refused(client: FlaskClient,
                                                          factory: Factory) -> None:
    for n in range(3):
        factory.organization(name=f"Cursor Partner {n}", locations=[HOUSTON])
    cursor = client.get("/api/v1/search?near=77002&limit=1").get_json()["next_cursor"]
    assert cursor
    other = client.get(f"/api/v1/search?near=77002&limit=1&kind=legal&cursor={cursor}")
    assert "cursor" in _error(other, 400, "validation_error")["fields"]
    for forged in ["x", "eyJvIjotMX0", "!!!"]:
        _error(client.get(f"/api/v1/search?near=77002&cursor={forged}"), 400, "validation_error")


@pytest.mark.usefixtures("member")
@pytest.mark.parametrize("query", ["", "near=nowhere-at-all", "near=77002&radius=9999",
                                   "near=77002&kind=spaceship", "near=77002&limit=0",
                                   "near=77002&covering=maybe", "near=77002&service=nope"])
def test_bad_search_input_is_a_400_with_fields(client: FlaskClient, query: str) -> None:
    assert _error(client.get(f"/api/v1/search?{query}"), 400, "validation_error")["fields"]


@pytest.mark.usefixtures("member")
def test_services_is_the_taxonomy_tree(client: FlaskClient) -> None:
    services = client.get("/api/v1/services").get_json()["services"]
    shelter = next(node for node in services if node["code"] == "shelter")
    assert any(child["code"] == "shelter.youth" for child in shelter["children"])


def test_organization_hides_a_safe_house_from_outsiders_only(
        client: FlaskClient, auth: AuthActions, factory: Factory, partner: Organization) -> None:
    shelter = factory.organization(name="API Detail Safe House", locations=[SAFE_HOUSE])
    auth.login(factory.user(organization=partner).email)
    location = client.get(f"/api/v1/organizations/{shelter.slug}").get_json()["locations"][0]
    assert location["address"] is None and location["lat"] is None
    assert location["city"] == "Houston"
    auth.logout()
    auth.login(factory.user(organization=shelter).email)
    location = client.get(f"/api/v1/organizations/{shelter.slug}").get_json()["locations"][0]
    assert location["address"] == "1 Hidden Way" and location["lat"] is not None


@pytest.mark.usefixtures("member")
def test_me_names_the_caller_and_their_organizations(client: FlaskClient,
                                                     partner: Organization) -> None:
    body = client.get("/api/v1/me").get_json()
    assert body["organizations"] == [{"slug": partner.slug, "name": partner.name,
                                      "role": "referrer", "status": "active"}]


@pytest.mark.usefixtures("member")
def test_unknown_paths_and_methods_are_json_errors(client: FlaskClient) -> None:
    _error(client.get("/api/v1/organizations/no-such-org"), 404, "not_found")
    _error(client.get("/api/v1/nothing-here"), 404, "not_found")
    _error(client.delete("/api/v1/services"), 405, "method_not_allowed")


def test_openapi_lists_every_api_route(client: FlaskClient, app: Flask) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule.replace("<", "{").replace(">", "}")
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                assert method.lower() in document["paths"][path], (method, path)
