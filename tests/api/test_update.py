"""PATCH /api/v1/organizations/<slug>: the listing's admins change it, nobody else; bad input
is a JSON error and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import create_app
from directory.accounts.models import MemberRole, User
from directory.api.operations import create_token
from directory.audit.models import AuditEvent
from directory.db import get_database
from directory.orgs.listing import update_listing
from directory.orgs.models import Organization
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(name="Patch Partner", languages=["en"])


@pytest.fixture()
def admin(factory: Factory, partner: Organization) -> User:
    return factory.user(organization=partner, role=MemberRole.ADMIN)


def _url(organization: Organization) -> str:
    return f"/api/v1/organizations/{organization.slug}"


def test_an_admin_updates_the_listing(client: FlaskClient, auth: AuthActions, admin: User,
                                      partner: Organization, db: Session) -> None:
    auth.login(admin.email)
    response = client.patch(_url(partner), json={
        "description": "Shelter for youth.", "languages": ["en", "es", "en"],
        "populations": ["children"], "accepting_referrals": False,
        "contacts": [{"name": "Intake desk", "phone": "555-0100"}]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["description"] == "Shelter for youth." and body["languages"] == ["en", "es"]
    assert body["accepting_referrals"] is False and body["contacts"][0]["name"] == "Intake desk"
    db.refresh(partner)
    assert partner.language_codes == ["en", "es"] and partner.name == "Patch Partner"


@pytest.mark.parametrize(("body", "field"), [
    ({"website": "javascript:alert(1)"}, "website"),
    ({"email": "not an email"}, "email"),
    ({"languages": ["xx"]}, "languages"),
    ({"populations": ["martians"]}, "populations"),
    ({"accepting_referrals": "perhaps"}, "accepting_referrals"),
    ({"contacts": [{"title": "No name"}]}, "contacts"),
    ({"description": "x" * 5001}, "description"),
])
def test_bad_input_is_refused_and_stores_nothing(client: FlaskClient, auth: AuthActions,
                                                 admin: User, partner: Organization,
                                                 db: Session, body: dict[str, Any],
                                                 field: str) -> None:
    auth.login(admin.email)
    response = client.patch(_url(partner), json=body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]
    db.refresh(partner)
    assert partner.name == "Patch Partner" and partner.language_codes == ["en"]


def test_malformed_wrong_type_and_oversized_bodies_are_json_errors(
        client: FlaskClient, auth: AuthActions, admin: User, partner: Organization) -> None:
    auth.login(admin.email)
    cases = [
        (client.patch(_url(partner), data="{not json", content_type="application/json"), 400),
        (client.patch(_url(partner), json=["a list"]), 400),
        (client.patch(_url(partner), json={"phone": "555\u0000"}), 400),
        (client.patch(_url(partner), data="description=x",
                      content_type="application/x-www-form-urlencoded"), 415),
        (client.patch(_url(partner), data=b"{" + b" " * (3 * 2**20) + b"}",
                      content_type="application/json"), 413),
    ]
    for response, status in cases:
        assert response.status_code == status
        assert response.mimetype == "application/json" and response.get_json()["error"]


def test_referrers_and_other_admins_may_not_edit(client: FlaskClient, factory: Factory,
                                                 partner: Organization) -> None:
    for user in [factory.user(organization=partner),
                 factory.user(organization=factory.organization(), role=MemberRole.ADMIN)]:
        _, secret = create_token(user, "script", None)
        response = client.patch(_url(partner), json={"description": "Hijacked"},
                                headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 403


@pytest.fixture()
def guarded(app: Flask, settings: dict[str, Any]) -> Flask:
    application = create_app({**settings, "WTF_CSRF_ENABLED": True})
    get_database(application).engine.dispose()
    application.extensions["directory.db"] = get_database(app)
    return application


def test_sessions_need_the_csrf_token_and_tokens_do_not(guarded: Flask, admin: User,
                                                        partner: Organization) -> None:
    client = guarded.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"csrf_token": csrf, "email": admin.email, "password": PASSWORD})
    page = client.get("/account/tokens").get_data(as_text=True)  # sign-in renewed the token
    csrf = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    refused = client.patch(_url(partner), json={"description": "Forged"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    allowed = client.patch(_url(partner), json={"description": "Meant"},
                           headers={"X-CSRFToken": csrf})
    assert allowed.status_code == 200
    _, secret = create_token(admin, "script", None)
    bare = guarded.test_client()
    by_token = bare.patch(_url(partner), json={"description": "Scripted"},
                          headers={"Authorization": f"Bearer {secret}"})
    assert by_token.status_code == 200


def _listing_updates(db: Session) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "listing_updated")))


def test_an_update_is_audited_once_with_the_names_of_the_fields_it_changed(
        client: FlaskClient, auth: AuthActions, admin: User, partner: Organization,
        db: Session) -> None:
    auth.login(admin.email)
    response = client.patch(_url(partner), json={
        "description": "Beds for youth, ask for Dana.", "languages": ["es", "en"],
        "accepting_referrals": partner.accepting_referrals,
        "contacts": [{"name": "Dana Intake", "phone": "555-0142"}]})
    assert response.status_code == 200
    (event,) = _listing_updates(db)
    assert (event.actor_id, event.organization_id) == (admin.id, partner.id)
    assert event.details == {"fields": ["contacts", "description", "languages"]}
    assert "Dana" not in json.dumps(event.details)


def test_an_update_that_changes_nothing_is_not_audited(client: FlaskClient, factory: Factory,
                                                       admin: User, partner: Organization,
                                                       db: Session) -> None:
    _, secret = create_token(admin, "script", None)
    headers = {"Authorization": f"Bearer {secret}"}
    same = {"description": partner.description, "languages": ["en"], "contacts": []}
    assert client.patch(_url(partner), json=same, headers=headers).status_code == 200
    assert client.patch(_url(partner), json={"website": "not a url"},
                        headers=headers).status_code == 400
    assert _listing_updates(db) == []
    changed = client.patch(_url(partner), json={"phone": "555-0199"}, headers=headers)
    assert changed.status_code == 200
    (event,) = _listing_updates(db)
    assert event.actor_id == admin.id and event.details == {"fields": ["phone"]}


def test_the_operation_records_the_update(db: Session, admin: User,
                                          partner: Organization) -> None:
    update_listing(admin, partner, {"email": "intake@test.example", "populations": []})
    (event,) = _listing_updates(db)
    assert event.details == {"fields": ["email"]}  # populations were empty already
