"""Applying to join: the public form, what it creates, and every kind of bad input refused
without storing anything."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory import create_app
from directory.accounts.models import (
    ApplicationStatus,
    MemberRole,
    MembershipApplication,
    User,
)
from directory.audit.models import AuditEvent
from directory.db import get_database
from directory.mail.models import OutboxMessage
from directory.orgs.models import MembershipStatus, Organization
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to, link_path, mail_to

APPLICANT = "director@riverbend.test.example"


def application(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Riverbend Youth Shelter", "kind": "nonprofit",
        "description": "Emergency shelter and case management for youth aged 12-17.",
        "website": "https://riverbend.example.org", "email": "intake@riverbend.example.org",
        "phone": "(713) 555-0150", "city": "Houston", "state": "TX", "postal_code": "77002",
        "services": ["shelter.youth", "case_management"], "languages": ["en", "es"],
        "populations": ["adolescents"], "statement": "We shelter youth referred by the task force.",
        "admin_name": "Rosa Director", "admin_email": APPLICANT,
        "password": PASSWORD, "confirm": PASSWORD, "authorized": "y",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def counts(db: Session) -> tuple[int, ...]:
    db.expire_all()
    return tuple(db.scalar(select(func.count()).select_from(model)) or 0
                 for model in (Organization, User, MembershipApplication, OutboxMessage,
                               AuditEvent))


def test_an_application_creates_a_pending_organization_and_its_admin(
        client: FlaskClient, factory: Factory, db: Session) -> None:
    coordinator = factory.user(coordinator=True)
    assert client.get("/apply").status_code == 200
    response = client.post("/apply", data=application())
    assert response.status_code == 302 and response.headers["Location"] == "/login"

    organization = db.scalar(select(Organization).where(
        Organization.name == "Riverbend Youth Shelter"))
    assert organization.status == MembershipStatus.PENDING
    assert [s.category.code for s in organization.services] == ["shelter.youth",
                                                                 "case_management"]
    assert organization.locations[0].city == "Houston"
    user = db.scalar(select(User).where(User.email == APPLICANT))
    assert user.name == "Rosa Director" and not user.email_verified
    assert user.membership_in(organization.id).role == MemberRole.ADMIN
    submitted = db.scalar(select(MembershipApplication).where(
        MembershipApplication.organization_id == organization.id))
    assert submitted.status == ApplicationStatus.SUBMITTED
    assert submitted.statement.startswith("We shelter youth")
    assert "/verify-email/" in last_mail_to(db, APPLICANT).text_body
    assert "New application: Riverbend Youth Shelter" in last_mail_to(db, coordinator.email).subject
    assert db.scalar(select(AuditEvent.action).where(
        AuditEvent.organization_id == organization.id)) == "application_submitted"


def test_the_applicant_follows_the_application_but_sees_no_directory(
        client: FlaskClient, auth: AuthActions, db: Session) -> None:
    client.post("/apply", data=application())
    client.post(link_path(last_mail_to(db, APPLICANT)))  # confirms the address
    assert auth.login(APPLICANT).status_code == 302
    assert client.get("/organizations").status_code == 403
    page = client.get("/application").get_data(as_text=True)
    assert "Riverbend Youth Shelter" in page and "Waiting for review" in page
    assert client.get("/organizations/riverbend-youth-shelter/members").status_code == 403


def test_unicode_names_are_welcome(client: FlaskClient, db: Session) -> None:
    response = client.post("/apply", data=application(
        name="Casa Esperanza — Niños y Jóvenes", admin_name="José Nguyễn 李"))
    assert response.status_code == 302
    assert db.scalar(select(User.name).where(User.email == APPLICANT)) == "José Nguyễn 李"


BAD_INPUT = {
    "overlong organization name": ({"name": "N" * 201}, "200"),
    "overlong description": ({"description": "d" * 5001}, "5000"),
    "overlong admin name": ({"admin_name": "A" * 201}, "200"),
    "overlong email": ({"admin_email": "a" * 250 + "@test.example"}, "valid email"),
    "malformed email": ({"admin_email": "rosa at riverbend"}, "valid email"),
    "email with a line break": ({"admin_email": "rosa@test.example\nBcc: x@evil.example"},
                                "valid email"),
    "non-ASCII mailbox": ({"admin_email": "josé@test.example"}, "valid email"),
    "script in the organization name": ({"name": "<script>alert(1)</script>"}, "cannot contain"),
    "markup in the admin name": ({"admin_name": "Rosa <b>Director</b>"}, "cannot contain"),
    "right-to-left override in a name": ({"admin_name": "Rosa \u202eDirector"}, "invisible"),
    "NUL character in a name": ({"name": "River\x00bend"}, "NUL character"),
    "control character in a name": ({"admin_name": "Rosa\x07 Director"}, "invisible"),
    "zero-width space in a name": ({"name": "River\u200bbend"}, "invisible"),
    "control character in the description": ({"description": "Shelter\x1b[31m"}, "invisible"),
    "common password": ({"password": "password1234", "confirm": "password1234"}, "common"),
    "short password": ({"password": "short", "confirm": "short"}, "at least 12"),
    "passwords differ": ({"confirm": PASSWORD + "!"}, "differ"),
    "not authorized": ({"authorized": None}, "Please confirm"),
    "unknown state": ({"state": "XX"}, "Not a valid choice"),
    "malformed ZIP code": ({"postal_code": "7700"}, "5-digit"),
    "website is not a URL": ({"website": "javascript:alert(1)"}, "URL"),
    "unknown service": ({"services": ["teleportation"]}, "not a valid choice"),
    "unknown kind": ({"kind": "cartel"}, "Not a valid choice"),
    "missing name": ({"name": ""}, "required"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_refused_and_stores_nothing(case: str, client: FlaskClient,
                                                 factory: Factory, db: Session) -> None:
    factory.user(coordinator=True)
    changes, message = BAD_INPUT[case]
    before = counts(db)
    response = client.post("/apply", data=application(**changes))
    assert response.status_code == 400, case
    page = response.get_data(as_text=True)
    assert message in page, case
    assert "<script>alert(1)</script>" not in page
    assert counts(db) == before


def test_a_duplicate_email_is_refused(client: FlaskClient, factory: Factory,
                                      db: Session) -> None:
    factory.user(email=APPLICANT)
    before = counts(db)
    response = client.post("/apply", data=application(admin_email=APPLICANT.upper()))
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert counts(db) == before


def test_a_duplicate_organization_is_refused(client: FlaskClient, factory: Factory,
                                             db: Session) -> None:
    factory.organization(name="Riverbend Youth Shelter")
    before = counts(db)
    response = client.post("/apply", data=application())
    assert response.status_code == 400
    assert "already listed" in response.get_data(as_text=True)
    assert counts(db) == before


def test_a_forged_csrf_token_is_refused(app: Flask, settings: dict, db: Session) -> None:
    guarded = create_app({**settings, "WTF_CSRF_ENABLED": True})
    get_database(guarded).engine.dispose()
    guarded.extensions["directory.db"] = get_database(app)
    before = counts(db)
    response = guarded.test_client().post("/apply",
                                          data={**application(), "csrf_token": "forged"})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert counts(db) == before


def test_signed_in_users_are_sent_home(client: FlaskClient, auth: AuthActions,
                                       factory: Factory) -> None:
    auth.login(factory.user(organization=factory.organization()).email)
    assert client.get("/apply").headers["Location"] == "/"


def test_applications_are_rate_limited_per_address(client: FlaskClient, db: Session) -> None:
    statuses = [client.post("/apply", data=application(
        name=f"Shelter number {n}", admin_email=f"admin{n}@test.example")).status_code
        for n in range(11)]
    assert statuses == [302] * 10 + [429]


def test_answering_a_coordinators_question(client: FlaskClient, auth: AuthActions,
                                           factory: Factory, db: Session) -> None:
    from directory.admin.operations import request_information

    coordinator = factory.user(coordinator=True)
    client.post("/apply", data=application())
    submitted = db.scalar(select(MembershipApplication))
    request_information(coordinator, submitted, "Which counties do you serve?")
    assert "Which counties" in last_mail_to(db, APPLICANT).text_body
    auth.login(APPLICANT)
    page = client.get("/application").get_data(as_text=True)
    assert "Which counties do you serve?" in page

    empty = client.post(f"/application/{submitted.id}/reply", data={"reply": "  "})
    assert empty.status_code == 400
    response = client.post(f"/application/{submitted.id}/reply",
                           data={"reply": "Harris and Fort Bend."})
    assert response.status_code == 302
    db.refresh(submitted)
    assert submitted.status == ApplicationStatus.SUBMITTED
    assert submitted.applicant_reply == "Harris and Fort Bend."
    assert "answered your question" in last_mail_to(db, coordinator.email).subject
    # Answering again, without a new question, is refused.
    assert client.post(f"/application/{submitted.id}/reply",
                       data={"reply": "More."}).status_code == 400


def test_nobody_else_answers_for_an_applicant(client: FlaskClient, auth: AuthActions,
                                              factory: Factory, db: Session) -> None:
    client.post("/apply", data=application())
    submitted = db.scalar(select(MembershipApplication))
    auth.login(factory.user(organization=factory.organization(), role=MemberRole.ADMIN).email)
    assert client.post(f"/application/{submitted.id}/reply",
                       data={"reply": "Hijacked"}).status_code == 404
    assert client.post("/application/99999/reply", data={"reply": "x"}).status_code == 404
    assert mail_to(db, APPLICANT)[-1].subject.startswith("Confirm")
