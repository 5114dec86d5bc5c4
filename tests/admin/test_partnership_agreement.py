"""The partnership agreement (MOU) a coordinator keeps on an organization: recording it, its
rules, the audit trail, who sees the flag and date (never the note); and the date an
organization first became an active member, which the "new partners" figure counts."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.admin.operations import (
    reinstate_organization,
    suspend_organization,
)
from directory.audit.models import AuditEvent
from directory.db import utcnow
from directory.orgs.models import MembershipStatus, Organization, PartnershipAgreement
from tests.admin.test_views import decide, submit
from tests.conftest import AuthActions
from tests.factories import Factory

NOTE = "Countersigned by the board; renewal due 2027."


@pytest.fixture()
def coordinator(factory: Factory, auth: AuthActions) -> User:
    user = factory.user(coordinator=True)
    auth.login(user.email)
    return user


def _post(client: FlaskClient, organization: Organization, **data: str) -> int:
    return client.post(f"/admin/organizations/{organization.slug}/agreement",
                       data=data).status_code


def _agreement(db: Session, organization: Organization) -> PartnershipAgreement | None:
    db.expire_all()
    return db.get(PartnershipAgreement, organization.id)


def _events(db: Session) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(
        AuditEvent.action == "partnership_agreement_updated").order_by(AuditEvent.id)))


def test_a_coordinator_records_an_agreement(client: FlaskClient, coordinator: User,
                                            factory: Factory, db: Session) -> None:
    organization = factory.organization()
    page = client.get(f"/admin/organizations/{organization.slug}").text
    assert "Nothing recorded yet." in page
    assert _post(client, organization, on_file="yes", signed_on="2025-11-03", note=NOTE) == 302
    agreement = _agreement(db, organization)
    assert agreement is not None and agreement.on_file
    assert agreement.signed_on == dt.date(2025, 11, 3) and agreement.note == NOTE
    assert agreement.updated_by_id == coordinator.id
    page = client.get(f"/admin/organizations/{organization.slug}").text
    assert "On file, signed 2025-11-03." in page and NOTE in page
    [event] = _events(db)
    assert event.actor_id == coordinator.id and event.organization_id == organization.id
    assert event.details == {"on_file": True, "signed_on": "2025-11-03", "note_changed": True}
    log = client.get("/admin/audit").text
    assert "Partnership agreement (MOU) updated" in log and NOTE not in log

    assert _post(client, organization, on_file="no", signed_on="", note=NOTE) == 302
    agreement = _agreement(db, organization)
    assert agreement is not None and not agreement.on_file and agreement.signed_on is None
    assert _events(db)[-1].details == {"on_file": False, "signed_on": None,
                                       "note_changed": False}
    assert "Not on file." in client.get(f"/admin/organizations/{organization.slug}").text


def test_recording_an_agreement_is_no_change_of_the_listing(client: FlaskClient,
                                                            coordinator: User,
                                                            factory: Factory,
                                                            db: Session) -> None:
    organization = factory.organization()
    before = organization.updated_at
    assert _post(client, organization, on_file="yes", signed_on="2025-11-03") == 302
    db.expire_all()
    assert organization.updated_at == before


@pytest.mark.parametrize("data,message", [
    ({}, "Say whether an agreement is on file."),
    ({"on_file": "maybe"}, "Not a valid choice"),
    ({"on_file": "yes"}, "Give the date the agreement was signed."),
    ({"on_file": "no", "signed_on": "2025-01-01"}, "leave the date empty"),
    ({"on_file": "yes", "signed_on": "2025-02-30"}, "Not a valid date value"),
    ({"on_file": "yes", "signed_on": "2099-01-01"}, "The agreement&#39;s date is in the future."),
    ({"on_file": "yes", "signed_on": "1899-01-01"}, "check the year"),
    ({"on_file": "yes", "signed_on": "2025-01-01", "note": "n" * 501}, "500"),
    ({"on_file": "yes", "signed_on": "2025-01-01", "note": "a\u202eb"}, "invisible"),
])
def test_bad_input_is_refused_and_nothing_is_written(client: FlaskClient, coordinator: User,
                                                     factory: Factory, db: Session,
                                                     data: dict[str, str],
                                                     message: str) -> None:
    organization = factory.organization()
    response = client.post(f"/admin/organizations/{organization.slug}/agreement", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert _agreement(db, organization) is None and _events(db) == []


def test_an_unknown_organization(client: FlaskClient, coordinator: User) -> None:
    assert client.post("/admin/organizations/no-such-org/agreement",
                       data={"on_file": "no"}).status_code == 404


@pytest.mark.parametrize("role", [MemberRole.ADMIN, MemberRole.REFERRER])
def test_members_cannot_record_an_agreement(client: FlaskClient, auth: AuthActions,
                                            factory: Factory, db: Session,
                                            role: MemberRole) -> None:
    organization = factory.organization()
    auth.login(factory.user(organization=organization, role=role).email)
    assert _post(client, organization, on_file="yes", signed_on="2025-11-03") == 403
    assert _agreement(db, organization) is None


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, factory: Factory) -> None:
    organization = factory.organization()
    response = client.post(f"/admin/organizations/{organization.slug}/agreement",
                           data={"on_file": "no"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_who_sees_the_flag_the_date_and_the_note(client: FlaskClient, auth: AuthActions,
                                                 factory: Factory, db: Session) -> None:
    """The organization's admins and coordinators see whether an MOU is on file and its date;
    its referrers and other organizations do not; the note shows on the coordinators' admin
    page alone."""
    organization, other = factory.organization(), factory.organization()
    db.add(PartnershipAgreement(organization_id=organization.id, on_file=True,
                                signed_on=dt.date(2025, 11, 3), note=NOTE))
    db.flush()
    flag = "Partnership agreement with the network (MOU): on file, signed 2025-11-03."
    viewers = [(factory.user(organization=organization, role=MemberRole.ADMIN), True),
               (factory.user(coordinator=True), True),
               (factory.user(organization=organization, role=MemberRole.REFERRER), False),
               (factory.user(organization=other, role=MemberRole.ADMIN), False)]
    for user, sees in viewers:
        auth.login(user.email)
        page = client.get(f"/organizations/{organization.slug}")
        assert page.status_code == 200
        assert (flag in page.text) == sees, user.email
        assert NOTE not in page.text
        auth.logout()


def test_an_admin_sees_when_no_agreement_is_on_file(client: FlaskClient, auth: AuthActions,
                                                    factory: Factory) -> None:
    organization = factory.organization()
    auth.login(factory.user(organization=organization, role=MemberRole.ADMIN).email)
    assert "Partnership agreement with the network (MOU): none on file." in client.get(
        f"/organizations/{organization.slug}").text


# --- when an organization became a member -------------------------------------------------

def test_joining_is_dated_once_at_the_first_activation(client: FlaskClient, coordinator: User,
                                                       db: Session) -> None:
    application = submit()
    organization = application.organization
    assert organization.joined_at is None  # pending
    before = utcnow()
    assert decide(client, application, "approve") == 302
    db.expire_all()
    joined = organization.joined_at
    assert joined is not None and before <= joined <= utcnow()
    suspend_organization(coordinator, organization, "Paused.")
    reinstate_organization(coordinator, organization)
    db.flush()
    db.expire_all()
    assert organization.joined_at == joined and organization.status == MembershipStatus.ACTIVE


def test_an_organization_created_active_is_dated(factory: Factory, db: Session) -> None:
    active = factory.organization()
    pending = factory.organization(status=MembershipStatus.PENDING)
    assert active.joined_at is not None and pending.joined_at is None
    assert db.scalar(select(func.count()).select_from(PartnershipAgreement)) == 0
