"""Mass assignment: fields a request may not set (status, verification, names and slugs, kinds,
ids, roles, the coordinator flag, a referral's sender, state or version, a consent's
revocation) added to API bodies and web forms. The API refuses unknown fields with a 400 that
names them and stores nothing; web forms either refuse them or build the object from the
fields they know, so the extra field is never applied."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.membership import add_membership, invite_member
from directory.accounts.models import MemberRole, User
from directory.api.models import ApiToken
from directory.orgs.models import CoverageArea, MembershipStatus, Organization
from directory.referrals.models import Referral, ReferralStatus
from tests.accounts.test_applications import application
from tests.conftest import PASSWORD
from tests.factories import Factory
from tests.mail.helpers import last_mail_to, link_path
from tests.security.conftest import Network, StoredData, bearer, sign_in

# Fields a listing PATCH never takes. Name and kind (a coordinator's change, 403 for an admin),
# services and locations are listing fields now: tests/api/test_update*.py cover them.
LISTING_EXTRAS: list[dict[str, Any]] = [
    {"status": "active"},
    {"status": "suspended"},
    {"verified_at": "2020-01-01T00:00:00Z"},
    {"verified_by_id": 1},
    {"slug": "renamed-shelter"},
    {"id": 1},
    {"hsds_id": "00000000-0000-4000-8000-000000000000"},
    {"organization_id": 1},
    {"created_at": "2020-01-01T00:00:00Z"},
    {"coverage": ["state:TX"]},
    {"members": [{"email": "planted@test.example", "role": "admin"}]},
    {"is_coordinator": True},
]


def _listing(db: Session, organization: Organization) -> tuple[Any, ...]:
    db.expire_all()
    fresh = db.get(Organization, organization.id)
    assert fresh is not None
    return (fresh.name, fresh.slug, fresh.kind, fresh.status, fresh.verified_at,
            fresh.description)


@pytest.mark.parametrize("who", ["b_admin", "coordinator"])
@pytest.mark.parametrize("extra", LISTING_EXTRAS, ids=lambda extra: next(iter(extra)))
def test_a_listing_patch_refuses_fields_it_does_not_change(
        client: FlaskClient, network: Network, stored: StoredData, who: str,
        extra: dict[str, Any]) -> None:
    """Even beside a field it may change: the whole body is refused, nothing is applied."""
    token = bearer(getattr(network, who))
    before = stored.snapshot()
    response = client.patch(f"/api/v1/organizations/{network.b.slug}", headers=token,
                            json={"description": "A legitimate change.", **extra})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and set(extra) <= set(error["fields"])
    stored.assert_unchanged(before)


def test_a_listing_patch_applies_what_it_may(client: FlaskClient, network: Network,
                                             db: Session) -> None:
    """The control of the case above: the same body without the extra field is applied."""
    listing = _listing(db, network.b)
    response = client.patch(f"/api/v1/organizations/{network.b.slug}",
                            headers=bearer(network.b_admin),
                            json={"description": "A legitimate change."})
    assert response.status_code == 200
    assert _listing(db, network.b) == (*listing[:-1], "A legitimate change.")


REFERRAL_EXTRAS: list[dict[str, Any]] = [
    {"status": "accepted"},
    {"version": 7},
    {"public_id": "chosen-by-caller"},
    {"sender_org_id": 1},
    {"receiver_org_id": 1},
    {"created_by_id": 1},
    {"viewed_at": "2020-01-01T00:00:00Z"},
    {"outcome": "completed"},
    {"placement_id": 1},
    {"redirected_from_id": 1},
    {"purged_at": "2020-01-01T00:00:00Z"},
]
CONSENT_EXTRAS: list[dict[str, Any]] = [
    {"revoked_at": "2020-01-01T00:00:00Z"},
    {"recorded_by_id": 1},
    {"receiver_org_id": 1},
    {"recorded_at": "2020-01-01T00:00:00Z"},
]


@pytest.mark.parametrize("extra", REFERRAL_EXTRAS, ids=lambda extra: next(iter(extra)))
def test_a_new_referral_refuses_fields_of_its_record(client: FlaskClient, network: Network,
                                                     stored: StoredData,
                                                     extra: dict[str, Any]) -> None:
    token = bearer(network.a_referrer)
    before = stored.snapshot()
    response = client.post("/api/v1/referrals", headers=token,
                           json={**Factory.referral_data(network.c), **extra})
    assert response.status_code == 400
    assert set(extra) <= set(response.get_json()["error"]["fields"])
    stored.assert_unchanged(before)


@pytest.mark.parametrize("extra", CONSENT_EXTRAS, ids=lambda extra: next(iter(extra)))
def test_a_consent_record_refuses_fields_of_its_record(client: FlaskClient,
                                                       network: Network, stored: StoredData,
                                                       extra: dict[str, Any]) -> None:
    token = bearer(network.a_referrer)
    before = stored.snapshot()
    response = client.post("/api/v1/referrals", headers=token,
                           json=Factory.referral_data(network.c, consent=extra))
    assert response.status_code == 400
    fields = response.get_json()["error"]["fields"]
    assert set(extra) <= set(fields.get("consent", {}))
    stored.assert_unchanged(before)


def test_a_referral_cannot_be_sent_for_someone_elses_organization(
        client: FlaskClient, network: Network, stored: StoredData) -> None:
    """The sender organization is one of the caller's own that may send, whatever the body
    names: A's referrer cannot send as B (web and API)."""
    token = bearer(network.a_referrer)
    sign_in(client, network.a_referrer)
    before = stored.snapshot()
    api = client.post("/api/v1/referrals", headers=token, json=Factory.referral_data(
        network.c, from_organization=network.b.slug))
    assert api.status_code == 403
    web = client.post(f"/referrals/new?to={network.c.slug}",
                      data=_web_form(from_organization=network.b.slug))
    assert web.status_code == 403
    stored.assert_unchanged(before)


def test_a_suspended_organization_cannot_be_named_as_the_sender(
        client: FlaskClient, network: Network, factory: Factory, db: Session,
        stored: StoredData) -> None:
    """A member of A and of a suspended organization sends only for A."""
    suspended = factory.organization(name="Suspended Branch", status=MembershipStatus.SUSPENDED)
    add_membership(network.a_referrer, suspended, MemberRole.ADMIN)
    db.flush()
    token = bearer(network.a_referrer)
    before = stored.snapshot()
    response = client.post("/api/v1/referrals", headers=token, json=Factory.referral_data(
        network.c, from_organization=suspended.slug))
    assert response.status_code == 403
    stored.assert_unchanged(before)


def _web_form(**changes: str) -> dict[str, str]:
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    return {"service": "case_management", "urgency": "urgent", "age_range": "18-24",
            "alias": "Wren", "language": "English", "needs": "Legal advice.",
            "contact_instructions": "Email first.", "contact_person": "Intake",
            "handoff_time": "Monday 9am", "consent_purpose": "Legal referral",
            "consent_method": "written", "consent_expires_on": expires, **changes}


@pytest.mark.parametrize("extra", [{"status": "accepted"}, {"sender_org_id": "1"},
                                   {"version": "9"}, {"public_id": "chosen"}],
                         ids=lambda extra: next(iter(extra)))
def test_the_referral_form_refuses_fields_of_its_record(client: FlaskClient, network: Network,
                                                        stored: StoredData,
                                                        extra: dict[str, str]) -> None:
    sign_in(client, network.a_referrer)
    before = stored.snapshot()
    response = client.post(f"/referrals/new?to={network.c.slug}", data=_web_form(**extra))
    assert response.status_code == 400
    stored.assert_unchanged(before)


def test_the_partner_is_the_one_in_the_address_not_in_the_form(
        client: FlaskClient, network: Network, db: Session) -> None:
    """A ``to`` field planted in the form does not redirect the referral to B."""
    sign_in(client, network.a_referrer)
    response = client.post(f"/referrals/new?to={network.c.slug}",
                           data=_web_form(to=network.b.slug))
    assert response.status_code == 302
    public_id = response.headers["Location"].rsplit("/", 1)[1]
    referral = db.scalar(select(Referral).where(Referral.public_id == public_id))
    assert referral is not None
    assert (referral.sender_org_id, referral.receiver_org_id) == (network.a.id, network.c.id)


@pytest.mark.parametrize("extra", [{"status": "completed"}, {"finished_at": "2020-01-01"},
                                   {"receiver_org_id": 1}, {"sender_org_id": 1}],
                         ids=lambda extra: next(iter(extra)))
def test_a_transition_refuses_fields_of_the_record(client: FlaskClient, network: Network,
                                                   stored: StoredData,
                                                   extra: dict[str, Any]) -> None:
    referral = network.b_to_c
    token = bearer(network.c_referrer)
    sign_in(client, network.c_referrer)
    before = stored.snapshot()
    body = {"to": "accepted", "version": referral.version, **extra}
    api = client.post(f"/api/v1/referrals/{referral.public_id}/transitions", headers=token,
                      json=body)
    assert api.status_code == 400 and set(extra) <= set(api.get_json()["error"]["fields"])
    web = client.post(f"/referrals/{referral.public_id}/transitions",
                      data={key: str(value) for key, value in body.items()})
    assert web.status_code == 400
    stored.assert_unchanged(before, refusals_audited=True)


def test_fields_of_other_moves_are_never_applied(client: FlaskClient, network: Network,
                                                 db: Session) -> None:
    """An accept carrying a close's outcome and redirect and a decline's reason is an accept:
    no outcome, no reason, no redirected draft."""
    referral = network.b_to_c
    count = len(db.scalars(select(Referral)).all())
    response = client.post(
        f"/api/v1/referrals/{referral.public_id}/transitions", headers=bearer(network.c_referrer),
        json={"to": "accepted", "version": referral.version, "outcome": "redirected",
              "redirect_to": network.a.slug, "reason": "no_capacity"})
    assert response.status_code == 200
    db.expire_all()
    fresh = db.get(Referral, referral.id)
    assert fresh is not None and fresh.status == ReferralStatus.ACCEPTED
    assert fresh.outcome is None and fresh.decline_reason is None
    assert len(db.scalars(select(Referral)).all()) == count


@pytest.mark.parametrize("extra", [{"author_id": 1}, {"author_org_id": 1},
                                   {"created_at": "2020-01-01T00:00:00Z"}],
                         ids=lambda extra: next(iter(extra)))
def test_a_note_refuses_fields_of_its_record(client: FlaskClient, network: Network,
                                             stored: StoredData, extra: dict[str, Any]) -> None:
    referral = network.b_to_c
    token = bearer(network.c_referrer)
    sign_in(client, network.c_referrer)
    before = stored.snapshot()
    api = client.post(f"/api/v1/referrals/{referral.public_id}/notes", headers=token,
                      json={"body": "A note.", **extra})
    assert api.status_code == 400 and set(extra) <= set(api.get_json()["error"]["fields"])
    web = client.post(f"/referrals/{referral.public_id}/notes",
                      data={"body": "A note.", **{k: str(v) for k, v in extra.items()}})
    assert web.status_code == 400
    stored.assert_unchanged(before, refusals_audited=True)


# --- roles, accounts, tokens, coverage, applications ----------------------------------------

@pytest.mark.parametrize("role", ["coordinator", "owner", "superuser", "ADMIN", ""])
def test_roles_are_one_of_the_two(client: FlaskClient, network: Network, stored: StoredData,
                                  role: str) -> None:
    membership = network.b_referrer.membership_in(network.b.id)
    assert membership is not None
    members = f"/organizations/{network.b.slug}"
    sign_in(client, network.b_admin)
    before = stored.snapshot()
    assert client.post(f"{members}/members/{membership.id}/role",
                       data={"role": role}).status_code == 400
    assert client.post(f"{members}/invitations", data={
        "email": "newcomer@test.example", "role": role}).status_code == 400
    stored.assert_unchanged(before)


def test_accepting_an_invitation_takes_only_the_name_and_password(
        client: FlaskClient, network: Network, db: Session) -> None:
    invite_member(network.b_admin, network.b, "invitee@test.example", MemberRole.REFERRER)
    path = link_path(last_mail_to(db, "invitee@test.example"))
    response = client.post(path, data={
        "name": "Invitee", "password": PASSWORD, "confirm": PASSWORD,
        "role": "admin", "is_coordinator": "y", "email": "other@test.example",
        "organization_id": str(network.a.id), "active": "y"})
    assert response.status_code == 302
    db.expire_all()
    user = db.scalar(select(User).where(User.email == "invitee@test.example"))
    assert user is not None and not user.is_coordinator
    assert [(m.organization_id, m.role) for m in user.memberships] == [
        (network.b.id, MemberRole.REFERRER)]
    assert db.scalar(select(User).where(User.email == "other@test.example")) is None


def test_a_token_is_made_for_its_creator_only(client: FlaskClient, network: Network,
                                              db: Session) -> None:
    sign_in(client, network.a_referrer)
    response = client.post("/account/tokens", data={
        "name": "mine", "expires_in_days": "30", "user_id": str(network.b_admin.id),
        "revoked_at": "", "token_hash": "0" * 64})
    assert response.status_code == 200
    tokens = db.scalars(select(ApiToken)).all()
    assert [(token.user_id, token.name) for token in tokens] == [(network.a_referrer.id, "mine")]
    assert tokens[0].token_hash != "0" * 64


def test_a_coverage_area_is_added_to_the_listing_in_the_address(
        client: FlaskClient, network: Network, db: Session) -> None:
    sign_in(client, network.a_admin)
    response = client.post(f"/organizations/{network.a.slug}/coverage", data={
        "kind": "state", "state": "OH", "organization_id": str(network.b.id),
        "id": "1"})
    assert response.status_code == 302
    areas = db.scalars(select(CoverageArea)).all()
    assert [(area.organization_id, area.state) for area in areas] == [(network.a.id, "OH")]


def test_an_application_cannot_choose_its_standing(client: FlaskClient, db: Session) -> None:
    response = client.post("/apply", data=application(
        status="active", slug="chosen-slug", verified_at="2020-01-01", is_coordinator="y",
        role="coordinator", accepting_referrals="y", email_verified_at="2020-01-01"))
    assert response.status_code == 302
    organization = db.scalar(select(Organization).where(
        Organization.name == "Riverbend Youth Shelter"))
    assert organization is not None
    assert organization.status == MembershipStatus.PENDING and organization.verified_at is None
    assert organization.slug != "chosen-slug"
    user = db.scalar(select(User).where(User.email == "director@riverbend.test.example"))
    assert user is not None and not user.is_coordinator and not user.email_verified


@pytest.mark.parametrize("action", ["approve", "activate", "delete", "verify", ""])
def test_a_coordinators_standing_form_takes_only_its_choices(
        client: FlaskClient, network: Network, stored: StoredData, action: str) -> None:
    sign_in(client, network.coordinator)
    before = stored.snapshot()
    response = client.post(f"/admin/organizations/{network.a.slug}/status",
                           data={"action": action, "reason": "Planted."})
    assert response.status_code == 400
    stored.assert_unchanged(before)
