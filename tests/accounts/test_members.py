"""An organization's members: invitations by mail, accepting them, roles and removal."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.accounts.membership import invite_member
from directory.accounts.models import Invitation, MemberRole, Membership, User
from directory.accounts.operations import AccountError
from directory.audit.models import AuditEvent
from directory.db import utcnow
from directory.mail.models import OutboxMessage
from directory.orgs.models import MembershipStatus, Organization
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.mail.helpers import last_mail_to, link_path, mail_to

NEWCOMER = "newcomer@test.example"


@pytest.fixture()
def shelter(factory: Factory) -> Organization:
    return factory.organization(name="Harbor Light Shelter")


@pytest.fixture()
def admin(factory: Factory, shelter: Organization) -> User:
    return factory.user(organization=shelter, role=MemberRole.ADMIN)


def members_url(organization: Organization) -> str:
    return f"/organizations/{organization.slug}/members"


def invite(client: FlaskClient, organization: Organization, email: str = NEWCOMER,
           role: str = "referrer") -> int:
    return client.post(f"/organizations/{organization.slug}/invitations",
                       data={"email": email, "role": role}).status_code


def stored(db: Session) -> tuple[int, ...]:
    db.expire_all()
    return tuple(db.scalar(select(func.count()).select_from(model)) or 0
                 for model in (Invitation, Membership, User, OutboxMessage))


def test_an_admin_invites_and_the_newcomer_joins(app: Flask, client: FlaskClient,
                                                 auth: AuthActions, db: Session,
                                                 shelter: Organization, admin: User) -> None:
    auth.login(admin.email)
    assert invite(client, shelter) == 302
    page = client.get(members_url(shelter)).get_data(as_text=True)
    assert NEWCOMER in page and "Open invitations" in page
    message = last_mail_to(db, NEWCOMER)
    assert "invites you" in message.subject and "Harbor Light Shelter" in message.text_body
    path = link_path(message)

    newcomer = app.test_client()
    form = newcomer.get(path).get_data(as_text=True)
    assert "Create your account" in form and NEWCOMER in form
    response = newcomer.post(path, data={"name": "Nia Newcomer", "password": PASSWORD,
                                         "confirm": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    user = db.scalar(select(User).where(User.email == NEWCOMER))
    assert user.email_verified and user.membership_in(shelter.id).role == MemberRole.REFERRER
    assert newcomer.post("/login", data={"email": NEWCOMER,
                                         "password": PASSWORD}).status_code == 302
    assert newcomer.get("/organizations").status_code == 200
    # The link worked once.
    assert newcomer.get(path).status_code == 410
    assert app.test_client().post(path, data={"name": "Again", "password": PASSWORD,
                                              "confirm": PASSWORD}).status_code == 410
    assert db.scalars(select(AuditEvent.action).where(
        AuditEvent.organization_id == shelter.id)).all()[-2:] == ["invitation_sent",
                                                                  "invitation_accepted"]


def test_an_existing_account_accepts_after_signing_in(app: Flask, client: FlaskClient,
                                                      auth: AuthActions, db: Session,
                                                      factory: Factory, shelter: Organization,
                                                      admin: User) -> None:
    elsewhere = factory.organization(name="Other Partner")
    existing = factory.user(organization=elsewhere, email=NEWCOMER)
    auth.login(admin.email)
    invite(client, shelter, role="admin")
    path = link_path(last_mail_to(db, NEWCOMER))
    guest = app.test_client()
    assert "Sign in" in guest.get(path).get_data(as_text=True)
    refused = guest.post(path, data={})
    assert refused.status_code == 400 and "sign in" in refused.get_data(as_text=True)
    guest.post("/login", data={"email": NEWCOMER, "password": PASSWORD})
    assert guest.post(path).status_code == 302
    db.refresh(existing)
    assert existing.membership_in(shelter.id).role == MemberRole.ADMIN
    assert existing.membership_in(elsewhere.id) is not None


def test_an_invitation_is_for_its_address_only(app: Flask, client: FlaskClient,
                                               auth: AuthActions, db: Session, factory: Factory,
                                               shelter: Organization, admin: User) -> None:
    auth.login(admin.email)
    invite(client, shelter)
    path = link_path(last_mail_to(db, NEWCOMER))
    intruder = factory.user(organization=factory.organization())
    other = app.test_client()
    other.post("/login", data={"email": intruder.email, "password": PASSWORD})
    assert "sent to newcomer@test.example" in other.get(path).get_data(as_text=True)
    before = stored(db)
    response = other.post(path)
    assert response.status_code == 400
    assert stored(db) == before
    db.refresh(intruder)
    assert intruder.membership_in(shelter.id) is None


def test_expired_and_withdrawn_invitations_are_refused(app: Flask, client: FlaskClient,
                                                       auth: AuthActions, db: Session,
                                                       shelter: Organization,
                                                       admin: User) -> None:
    auth.login(admin.email)
    invite(client, shelter, email="late@test.example")
    invite(client, shelter, email="withdrawn@test.example")
    late = db.scalar(select(Invitation).where(Invitation.email == "late@test.example"))
    late.expires_at = utcnow() - dt.timedelta(minutes=1)
    db.flush()
    withdrawn = db.scalar(select(Invitation).where(Invitation.email == "withdrawn@test.example"))
    assert client.post(f"/organizations/{shelter.slug}/invitations/{withdrawn.id}/revoke"
                       ).status_code == 302
    for address in ("late@test.example", "withdrawn@test.example"):
        path = link_path(last_mail_to(db, address))
        guest = app.test_client()
        assert guest.get(path).status_code == 410
        assert guest.post(path, data={"name": "Too Late", "password": PASSWORD,
                                      "confirm": PASSWORD}).status_code == 410
    assert db.scalar(select(func.count()).where(User.email.in_(
        ["late@test.example", "withdrawn@test.example"]))) == 0


def test_a_new_invitation_replaces_the_open_one(client: FlaskClient, auth: AuthActions,
                                                db: Session, shelter: Organization,
                                                admin: User) -> None:
    auth.login(admin.email)
    invite(client, shelter)
    first = link_path(last_mail_to(db, NEWCOMER))
    invite(client, shelter, role="admin")
    second = link_path(last_mail_to(db, NEWCOMER))
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


@pytest.mark.parametrize(("email", "role", "message"), [
    ("not an email", "referrer", "valid email"),
    ("a" * 250 + "@test.example", "referrer", "valid email"),
    ("", "referrer", "required"),
    (NEWCOMER, "owner", "Not a valid choice"),
    ("josé@test.example", "referrer", "valid email"),
])
def test_bad_invitations_are_refused(client: FlaskClient, auth: AuthActions, db: Session,
                                     shelter: Organization, admin: User, email: str, role: str,
                                     message: str) -> None:
    auth.login(admin.email)
    before = stored(db)
    response = client.post(f"/organizations/{shelter.slug}/invitations",
                           data={"email": email, "role": role})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert stored(db) == before


def test_inviting_a_member_again_is_refused(client: FlaskClient, auth: AuthActions,
                                            db: Session, factory: Factory,
                                            shelter: Organization, admin: User) -> None:
    member = factory.user(organization=shelter)
    auth.login(admin.email)
    before = stored(db)
    response = client.post(f"/organizations/{shelter.slug}/invitations",
                           data={"email": member.email.upper(), "role": "referrer"})
    assert response.status_code == 400 and "already a member" in response.get_data(as_text=True)
    assert stored(db) == before


def test_suspended_and_pending_organizations_cannot_invite(factory: Factory, db: Session) -> None:
    for status in (MembershipStatus.PENDING, MembershipStatus.SUSPENDED):
        organization = factory.organization(status=status)
        admin = factory.user(organization=organization, role=MemberRole.ADMIN)
        with pytest.raises(AccountError, match="Only active"):
            invite_member(admin, organization, NEWCOMER, MemberRole.REFERRER)
    assert mail_to(db, NEWCOMER) == []


def test_referrers_see_the_members_but_change_nothing(client: FlaskClient, auth: AuthActions,
                                                      db: Session, factory: Factory,
                                                      shelter: Organization,
                                                      admin: User) -> None:
    referrer = factory.user(organization=shelter)
    auth.login(referrer.email)
    page = client.get(members_url(shelter)).get_data(as_text=True)
    assert admin.email in page and "Invite a colleague" not in page
    assert invite(client, shelter) == 403
    membership = admin.membership_in(shelter.id)
    assert client.post(f"{members_url(shelter)}/{membership.id}/role",
                       data={"role": "referrer"}).status_code == 403
    assert client.post(f"{members_url(shelter)}/{membership.id}/remove").status_code == 403


def test_roles_change_and_an_organization_keeps_an_admin(client: FlaskClient, auth: AuthActions,
                                                         db: Session, factory: Factory,
                                                         shelter: Organization,
                                                         admin: User) -> None:
    referrer = factory.user(organization=shelter)
    auth.login(admin.email)
    own = admin.membership_in(shelter.id)
    last = client.post(f"{members_url(shelter)}/{own.id}/role", data={"role": "referrer"})
    assert last.status_code == 400 and "only admin" in last.get_data(as_text=True)
    assert client.post(f"{members_url(shelter)}/{own.id}/remove").status_code == 400
    db.refresh(own)
    assert own.role == MemberRole.ADMIN

    theirs = referrer.membership_in(shelter.id)
    assert client.post(f"{members_url(shelter)}/{theirs.id}/role",
                       data={"role": "admin"}).status_code == 302
    db.refresh(theirs)
    assert theirs.role == MemberRole.ADMIN
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "role_changed"))
    assert event.actor_id == admin.id and event.subject_user_id == referrer.id
    assert event.details == {"from": "referrer", "to": "admin"}
    assert event.ip_address == "127.0.0.1" and event.occurred_at is not None
    bad = client.post(f"{members_url(shelter)}/{theirs.id}/role", data={"role": "root"})
    assert bad.status_code == 400 and "Choose a role" in bad.get_data(as_text=True)
    db.refresh(theirs)
    assert theirs.role == MemberRole.ADMIN
    # With a second admin, the first may step down, and then manages no more.
    assert client.post(f"{members_url(shelter)}/{own.id}/role",
                       data={"role": "referrer"}).status_code == 302
    assert client.post(f"{members_url(shelter)}/{theirs.id}/role",
                       data={"role": "referrer"}).status_code == 403


def test_removal_ends_every_session_of_the_member(app: Flask, client: FlaskClient,
                                                  auth: AuthActions, db: Session,
                                                  factory: Factory, shelter: Organization,
                                                  admin: User) -> None:
    member = factory.user(organization=shelter)
    theirs = member.membership_in(shelter.id).id
    their_browser = app.test_client()
    their_browser.post("/login", data={"email": member.email, "password": PASSWORD})
    assert their_browser.get("/organizations").status_code == 200
    auth.login(admin.email)
    assert client.post(f"{members_url(shelter)}/{theirs}/remove").status_code == 302
    db.expire_all()
    assert db.scalar(select(func.count()).where(Membership.id == theirs)) == 0
    assert their_browser.get("/organizations").status_code == 302
    # Signed in again, they are no longer a member: no directory.
    their_browser.post("/login", data={"email": member.email, "password": PASSWORD})
    assert their_browser.get("/organizations").status_code == 403
    removal = db.scalar(select(AuditEvent).where(AuditEvent.action == "member_removed"))
    assert removal.actor_id == admin.id and removal.subject_user_id == member.id


def test_members_of_another_organization_are_out_of_reach(client: FlaskClient,
                                                          auth: AuthActions, db: Session,
                                                          factory: Factory,
                                                          shelter: Organization,
                                                          admin: User) -> None:
    other = factory.organization(name="Elsewhere")
    outsider = factory.user(organization=other)
    auth.login(admin.email)
    theirs = outsider.membership_in(other.id)
    assert client.post(f"{members_url(shelter)}/{theirs.id}/remove").status_code == 404
    assert client.post(f"{members_url(shelter)}/{theirs.id}/role",
                       data={"role": "admin"}).status_code == 404
    assert client.post(f"{members_url(shelter)}/invitations/999999/revoke").status_code == 404
    assert client.get("/organizations/no-such-organization/members").status_code == 404
    db.refresh(outsider)
    assert outsider.membership_in(other.id) is not None


def test_coordinators_manage_any_organizations_members(client: FlaskClient, auth: AuthActions,
                                                       factory: Factory, db: Session,
                                                       shelter: Organization) -> None:
    auth.login(factory.user(coordinator=True).email)
    assert client.get(members_url(shelter)).status_code == 200
    assert invite(client, shelter, role="admin") == 302
    assert last_mail_to(db, NEWCOMER).to_address == NEWCOMER
