"""PATCH /api/v1/organizations/<slug> for services, populations, locations, hours and
closures: the same operation and schemas as the edit pages, and confidentiality intact."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.orgs.models import Organization
from tests.conftest import AuthActions
from tests.factories import Factory

HOUSE = {"name": "Safe house", "address": "12 Hidden Lane", "city": "Columbus", "state": "OH",
         "latitude": 39.99, "longitude": -82.97, "confidential": True,
         "hours": [{"days": ["mon", "wed"], "opens": "08:00", "closes": "12:00"},
                   {"days": ["mon"], "opens": "13:00", "closes": "18:30"}],
         "closures": [{"starts_on": "2026-12-24", "ends_on": "2026-12-26", "note": "Holidays"}]}


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(name="Api Partner")


@pytest.fixture()
def admin(factory: Factory, partner: Organization) -> User:
    return factory.user(organization=partner, role=MemberRole.ADMIN)


def _url(organization: Organization) -> str:
    return f"/api/v1/organizations/{organization.slug}"


def _patch(client: FlaskClient, organization: Organization, body: dict[str, Any]) -> Any:
    return client.patch(_url(organization), json=body)


def test_services_populations_and_a_confidential_location(
        client: FlaskClient, auth: AuthActions, admin: User, partner: Organization,
        factory: Factory, db: Session) -> None:
    auth.login(admin.email)
    office = _patch(client, partner, {}).get_json()["locations"][0]
    response = _patch(client, partner, {
        "services": ["shelter.safe_house", "case_management"],
        "populations": ["adolescents"], "min_age": 12, "max_age": 17,
        "eligibility_note": "Girls referred by an advocate.", "capacity_note": "2 beds open",
        "locations": [{"id": office["id"], "city": office["city"], "state": office["state"],
                       "postal_code": office["postal_code"], "name": office["name"],
                       "address": office["address"]}, HOUSE]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [s["code"] for s in body["services"]] == ["shelter.safe_house", "case_management"]
    assert (body["min_age"], body["max_age"], body["capacity_note"]) == (12, 17, "2 beds open")
    assert body["capacity_noted_at"] is not None
    house = body["locations"][1]
    assert house["lat"] == 39.99 and house["address"] == "12 Hidden Lane"  # its own admin
    assert house["weekly_hours"] == [
        {"day": "mon", "opens": "08:00", "closes": "12:00"},
        {"day": "mon", "opens": "13:00", "closes": "18:30"},
        {"day": "wed", "opens": "08:00", "closes": "12:00"}]
    assert house["closures"] == [{"starts_on": "2026-12-24", "ends_on": "2026-12-26",
                                  "note": "Holidays"}]
    assert body["locations"][0]["id"] == office["id"]

    # An outsider, and a coordinator, see the city only: no id, address or point.
    for outsider in (factory.user(organization=factory.organization()),
                     factory.user(coordinator=True)):
        auth.logout()
        auth.login(outsider.email)
        seen = client.get(_url(partner)).get_json()["locations"][1]
        assert (seen["id"], seen["lat"], seen["lon"], seen["address"]) == (None, None, None,
                                                                            None)
        assert (seen["city"], seen["name"]) == ("Columbus", "Confidential location")
        assert "39.99" not in client.get(_url(partner)).get_data(as_text=True)


@pytest.mark.parametrize(("body", "field"), [
    ({"services": ["no_such_service"]}, "services"),
    ({"locations": [{"city": "Columbus"}]}, "locations"),
    ({"locations": [dict(HOUSE, hours=[{"days": ["xx"], "opens": "9", "closes": "5"}])]},
     "locations"),
    ({"locations": [{"id": 10**6, "city": "Columbus", "state": "OH"}]}, "locations"),
    ({"min_age": 30, "max_age": 12}, "max_age"),
    ({"capacity_note": "x" * 201}, "capacity_note"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
        client: FlaskClient, auth: AuthActions, admin: User, partner: Organization,
        db: Session, body: dict[str, Any], field: str) -> None:
    auth.login(admin.email)
    response = _patch(client, partner, body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    db.expire_all()
    assert len(partner.locations) == 1 and partner.min_age is None


def test_name_and_kind_are_refused_to_an_admin(client: FlaskClient, auth: AuthActions,
                                               admin: User, partner: Organization,
                                               factory: Factory) -> None:
    auth.login(admin.email)
    response = _patch(client, partner, {"name": "Renamed"})
    assert response.status_code == 403
    assert "name" in response.get_json()["error"]["fields"]
    auth.logout()
    auth.login(factory.user(coordinator=True).email)
    assert _patch(client, partner, {"name": "Renamed", "kind": "legal"}).status_code == 200


def test_a_referrer_may_not_and_a_stranger_cannot_know(
        client: FlaskClient, auth: AuthActions, partner: Organization,
        factory: Factory) -> None:
    auth.login(factory.user(organization=partner).email)
    assert _patch(client, partner, {"services": []}).status_code == 403
    pending = factory.organization(name="Pending Partner", status="pending")
    assert _patch(client, pending, {"services": []}).status_code == 404


def test_the_openapi_document_describes_the_new_fields(app: Flask,
                                                       client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    update = document["components"]["schemas"]["ListingUpdate"]["properties"]
    assert {"services", "locations", "populations", "languages", "min_age"} <= set(update)
    location = document["components"]["schemas"]["Location"]["properties"]
    assert {"id", "hours", "closures", "confidential", "latitude"} <= set(location)
    listing = document["components"]["schemas"]["Organization"]["properties"]
    assert {"confirmed_days", "capacity_noted_at"} <= set(listing)
