"""The coordinators' workflow: the application queue and its decisions, suspending and
reinstating organizations and accounts, verifying listings."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.accounts.membership import ApplicationRequest, apply_for_membership
from directory.accounts.models import (
    ApplicationStatus,
    MemberRole,
    MembershipApplication,
    User,
)
from directory.audit.models import AuditEvent
from directory.db import db_session, utcnow
from directory.orgs.models import Location, MembershipStatus, Organization, Service
from tests.accounts.conftest import enable_two_factor
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to

APPLICANT = "lead@lighthouse.test.example"


def submit(email_verified: bool = True) -> MembershipApplication:
    application = apply_for_membership(ApplicationRequest(
        listing={"name": "Lighthouse Legal Aid", "kind": "legal",
                 "description": "Immigration relief for survivors (T visas).",
                 "services": ["legal.immigration"], "languages": ["en", "es"],
                 "locations": [{"city": "Columbus", "state": "OH", "postal_code": "43215"}]},
        admin_name="Lee Lead", admin_email=APPLICANT, password=PASSWORD,
        statement="We represent survivors in T-visa cases."))
    if email_verified:
        application.applicant.email_verified_at = utcnow()
        db_session.flush()
    return application


@pytest.fixture()
def coordinator(factory: Factory, auth: AuthActions) -> User:
    user = factory.user(coordinator=True)
    auth.login(user.email)
    return user


def decide(client: FlaskClient, application: MembershipApplication, decision: str,
           message: str = "") -> int:
    return client.post(f"/admin/applications/{application.id}/decision",
                       data={"decision": decision, "message": message}).status_code


def test_the_queue_and_an_approval(client: FlaskClient, coordinator: User, db: Session) -> None:
    application = submit()
    queue = client.get("/admin/applications").get_data(as_text=True)
    assert "Lighthouse Legal Aid" in queue
    detail = client.get(f"/admin/applications/{application.id}").get_data(as_text=True)
    assert "T-visa cases" in detail and APPLICANT in detail and "email confirmed" in detail

    assert decide(client, application, "approve") == 302
    db.expire_all()
    organization = application.organization
    assert organization.status == MembershipStatus.ACTIVE
    assert application.status == ApplicationStatus.APPROVED
    assert application.decided_by_id == coordinator.id and application.decided_at is not None
    assert "is a member" in last_mail_to(db, APPLICANT).subject
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "organization_approved"))
    assert event.actor_id == coordinator.id and event.organization_id == organization.id
    assert "No application is waiting" in client.get("/admin/applications").get_data(as_text=True)
    # A decision is final.
    assert decide(client, application, "decline", "Changed my mind") == 400


def test_approval_waits_for_a_confirmed_email(client: FlaskClient, coordinator: User,
                                              db: Session) -> None:
    application = submit(email_verified=False)
    response = client.post(f"/admin/applications/{application.id}/decision",
                           data={"decision": "approve"})
    assert response.status_code == 400
    assert "has not confirmed their email" in response.get_data(as_text=True)
    db.expire_all()
    assert application.organization.status == MembershipStatus.PENDING


def test_declining_takes_a_reason(client: FlaskClient, coordinator: User, db: Session) -> None:
    application = submit()
    missing = client.post(f"/admin/applications/{application.id}/decision",
                          data={"decision": "decline", "message": "  "})
    assert missing.status_code == 400 and "The reason is required" in missing.get_data(as_text=True)
    assert decide(client, application, "decline", "d" * 2001) == 400
    assert decide(client, application, "decline", "Outside the coalition's region.") == 302
    db.expire_all()
    assert application.status == ApplicationStatus.DECLINED
    assert application.organization.status == MembershipStatus.DECLINED
    assert "Outside the coalition's region." in last_mail_to(db, APPLICANT).text_body


def test_asking_for_more_information(client: FlaskClient, coordinator: User,
                                     db: Session) -> None:
    application = submit()
    assert decide(client, application, "request_info") == 400
    assert decide(client, application, "request_info", "Who refers youth to you?") == 302
    db.expire_all()
    assert application.status == ApplicationStatus.INFO_REQUESTED
    assert application.organization.status == MembershipStatus.PENDING
    assert "Who refers youth to you?" in last_mail_to(db, APPLICANT).text_body
    assert "More information requested" in client.get("/admin/applications").get_data(as_text=True)


@pytest.mark.parametrize("data", [{}, {"decision": "promote"}, {"decision": ""}])
def test_malformed_decisions_change_nothing(client: FlaskClient, coordinator: User,
                                            db: Session, data: dict[str, str]) -> None:
    application = submit()
    assert client.post(f"/admin/applications/{application.id}/decision",
                       data=data).status_code == 400
    db.expire_all()
    assert application.status == ApplicationStatus.SUBMITTED


def test_unknown_applications_are_404(client: FlaskClient, coordinator: User) -> None:
    assert client.get("/admin/applications/999999").status_code == 404
    assert client.post("/admin/applications/999999/decision",
                       data={"decision": "approve"}).status_code == 404


def test_suspension_hides_an_organization_and_keeps_its_data(
        app: Flask, client: FlaskClient, coordinator: User, factory: Factory,
        db: Session) -> None:
    organization = factory.organization(name="Suspended Soon")
    admin = factory.user(organization=organization, role=MemberRole.ADMIN)
    member_browser = app.test_client()
    member_browser.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert member_browser.get("/organizations").status_code == 200
    locations = db.scalar(select(func.count()).where(Location.organization_id == organization.id))
    services = db.scalar(select(func.count()).where(Service.organization_id == organization.id))

    url = f"/admin/organizations/{organization.slug}/status"
    assert client.post(url, data={"action": "suspend", "reason": ""}).status_code == 400
    assert client.post(url, data={"action": "suspend",
                                  "reason": "Complaint under review."}).status_code == 302
    db.expire_all()
    assert organization.status == MembershipStatus.SUSPENDED
    listed = f'href="/organizations/{organization.slug}"'
    assert listed not in client.get("/organizations?q=suspended").get_data(as_text=True)
    assert member_browser.get("/organizations").status_code == 302  # sessions ended
    member_browser.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert member_browser.get("/organizations").status_code == 403
    assert "Complaint under review." in last_mail_to(db, admin.email).text_body
    assert db.scalar(select(func.count()).where(
        Location.organization_id == organization.id)) == locations
    assert db.scalar(select(func.count()).where(
        Service.organization_id == organization.id)) == services
    # Twice is refused; reinstating brings it back.
    assert client.post(url, data={"action": "suspend", "reason": "Again"}).status_code == 400
    assert client.post(url, data={"action": "reinstate"}).status_code == 302
    db.expire_all()
    assert organization.status == MembershipStatus.ACTIVE
    assert listed in client.get("/organizations?q=suspended").get_data(as_text=True)
    assert member_browser.get("/organizations").status_code == 200
    assert client.post(url, data={"action": "reinstate"}).status_code == 400
    actions = db.scalars(select(AuditEvent.action).where(
        AuditEvent.organization_id == organization.id)).all()
    assert actions == ["organization_suspended", "organization_reinstated"]


def test_verifying_a_listing_records_who_and_when(client: FlaskClient, coordinator: User,
                                                  factory: Factory, db: Session) -> None:
    organization = factory.organization(name="Never Checked")
    assert "not verified by the network" in client.get(
        f"/organizations/{organization.slug}").get_data(as_text=True)
    assert client.post(f"/admin/organizations/{organization.slug}/verify").status_code == 302
    db.expire_all()
    assert organization.verified_by_id == coordinator.id and organization.verified_at
    assert "verified by the network 0 days ago" in client.get(
        f"/organizations/{organization.slug}").get_data(as_text=True)
    page = client.get(f"/admin/organizations/{organization.slug}").get_data(as_text=True)
    assert coordinator.name in page
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "listing_verified"))
    assert event.actor_id == coordinator.id and event.organization_id == organization.id


def test_declined_listings_are_not_verified(client: FlaskClient, coordinator: User,
                                            factory: Factory, db: Session) -> None:
    organization = factory.organization(status=MembershipStatus.DECLINED)
    assert client.post(f"/admin/organizations/{organization.slug}/verify").status_code == 400
    db.expire_all()
    assert organization.verified_at is None


def test_suspending_an_account(app: Flask, client: FlaskClient, coordinator: User,
                               factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    browser = app.test_client()
    browser.post("/login", data={"email": user.email, "password": PASSWORD})
    url = f"/admin/users/{user.id}/status"
    assert client.post(url, data={"action": "suspend", "reason": ""}).status_code == 400
    assert client.post(url, data={"action": "suspend", "reason": "Left the agency."}
                       ).status_code == 302
    assert browser.get("/organizations").status_code == 302
    assert browser.post("/login", data={"email": user.email,
                                        "password": PASSWORD}).status_code == 401
    assert client.post(url, data={"action": "reinstate"}).status_code == 302
    assert browser.post("/login", data={"email": user.email,
                                        "password": PASSWORD}).status_code == 302
    assert client.post(f"/admin/users/{coordinator.id}/status",
                       data={"action": "suspend", "reason": "Oops"}).status_code == 400
    db.refresh(coordinator)
    assert coordinator.active


def test_resetting_someones_two_factor(app: Flask, client: FlaskClient, coordinator: User,
                                       factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    enable_two_factor(user)
    assert client.post(f"/admin/users/{user.id}/reset-two-factor").status_code == 302
    db.refresh(user)
    assert not user.two_factor_enabled
    assert "reset" in last_mail_to(db, user.email).subject
    assert client.post(f"/admin/users/{user.id}/reset-two-factor").status_code == 400
    assert app.test_client().post("/login", data={"email": user.email, "password": PASSWORD}
                                  ).headers["Location"] == "/"


def test_lists_and_filters(client: FlaskClient, coordinator: User, factory: Factory) -> None:
    factory.organization(name="Pending Partner", status=MembershipStatus.PENDING)
    factory.user(email="findme@test.example")
    assert "Pending Partner" in client.get("/admin/organizations?status=pending").get_data(
        as_text=True)
    assert "Pending Partner" not in client.get("/admin/organizations?status=active").get_data(
        as_text=True)
    assert client.get("/admin/organizations?status=bogus&page=-3").status_code == 200
    assert "findme@test.example" in client.get("/admin/users?q=FINDME").get_data(as_text=True)
    assert client.get("/admin/users?q=%25_%25").status_code == 200
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/users/999999").status_code == 404
    assert client.get("/admin/organizations/nowhere").status_code == 404


def test_applications_count_on_the_overview(client: FlaskClient, coordinator: User,
                                            db: Session) -> None:
    submit()
    page = client.get("/admin/").get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Organization)) >= 1
    assert "open applications" in page
