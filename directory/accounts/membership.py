"""Membership: applications to join the network, invitations, roles and removals, and the
accounts an operator creates with their organization."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from directory.accounts.errors import AccountError
from directory.accounts.models import (
    ApplicationStatus,
    Invitation,
    MemberRole,
    Membership,
    MembershipApplication,
    User,
)
from directory.accounts.operations import (
    check_password,
    clean_name,
    clean_text,
    create_user,
    find_user_by_email,
    send_account_mail,
    send_email_verification,
    valid_email,
)
from directory.accounts.sessions import end_all_sessions, hash_token, new_token
from directory.audit.models import AuditAction
from directory.audit.operations import record
from directory.db import db_session, delete_where, utcnow
from directory.i18n import DEFAULT_LANGUAGE, current_language
from directory.mail.operations import external_url
from directory.orgs.models import MembershipStatus, Organization
from directory.orgs.operations import ListingError, create_organization
from directory.orgs.schemas import ListingSchema

INVITATION_LIFETIME = dt.timedelta(days=7)
MESSAGE_MAX = 2000


def add_membership(user: User, organization: Organization, role: MemberRole) -> Membership:
    membership = user.membership_in(organization.id)
    if membership is None:
        membership = Membership(user=user, organization=organization, role=role)
        db_session.add(membership)
    else:
        membership.role = role
    db_session.flush()
    return membership


def active_coordinators() -> list[User]:
    return list(db_session.scalars(
        select(User).where(User.is_coordinator, User.active).order_by(User.id)))


@dataclass(frozen=True)
class ApplicationRequest:
    """What the public application form collects: the listing and the first admin."""

    listing: dict[str, Any]
    admin_name: str
    admin_email: str
    password: str
    statement: str


def apply_for_membership(request_data: ApplicationRequest) -> MembershipApplication:
    """A pending organization, its first admin (unconfirmed email) and the application."""
    email = valid_email(request_data.admin_email, "admin_email")
    if find_user_by_email(email) is not None:
        raise AccountError(_("An account with this email address already exists. Sign in, or "
                             "ask a coordinator to add your organization."), "admin_email")
    admin_name = clean_name(request_data.admin_name, label=_("Your name"), field="admin_name")
    check_password(request_data.password, email=email, name=admin_name)
    statement = clean_text(request_data.statement, label=_("About your work"),
                           field="statement", max_length=MESSAGE_MAX, required=False,
                           multiline=True)
    listing = dict(request_data.listing)
    listing["name"] = clean_name(listing.get("name", ""), label=_("Organization name"))
    listing["description"] = clean_text(listing.get("description", ""), label=_("Description"),
                                        field="description", max_length=5000, multiline=True)
    listing["locations"] = [
        {**location, "city": clean_text(location.get("city", ""), label=_("City"),
                                        field="city", max_length=120)}
        for location in listing.get("locations", [])]
    try:
        organization = create_organization(ListingSchema().load(listing),
                                           status=MembershipStatus.PENDING)
    except ValidationError as exc:
        field, messages = next(iter(exc.normalized_messages().items()))
        raise AccountError(f"{field}: {_first_message(messages)}", str(field)) from exc
    except ListingError as exc:
        raise AccountError(str(exc), next(iter(exc.fields), None)) from exc
    user = create_user(email, admin_name, request_data.password)
    user.language = _language_of_the_request()
    add_membership(user, organization, MemberRole.ADMIN)
    application = MembershipApplication(organization=organization, applicant=user,
                                        statement=statement)
    db_session.add(application)
    db_session.flush()
    record(AuditAction.APPLICATION_SUBMITTED, actor=user, organization=organization)
    send_email_verification(user)
    for coordinator in active_coordinators():
        send_account_mail(coordinator.email,
                          _l("New application: %(organization)s", organization=organization.name),
                          "new_application", recipient=coordinator, organization=organization,
                          applicant=user,
                          link=external_url("admin.application", application_id=application.id))
    return application


def _language_of_the_request() -> str | None:
    """A new account made from a page read in Spanish reads its mail in Spanish too (English,
    the default, needs no setting)."""
    language = current_language()
    return None if language == DEFAULT_LANGUAGE else language


def _first_message(messages: Any) -> str:
    while isinstance(messages, dict | list):
        messages = next(iter(messages.values() if isinstance(messages, dict) else messages), "")
    return str(messages)


def applications_of(user: User) -> list[MembershipApplication]:
    """The applications of the organizations ``user`` administers, newest first."""
    organization_ids = [m.organization_id for m in user.memberships if m.role == MemberRole.ADMIN]
    if not organization_ids:
        return []
    return list(db_session.scalars(
        select(MembershipApplication)
        .where(MembershipApplication.organization_id.in_(organization_ids))
        .order_by(MembershipApplication.created_at.desc())
        .options(selectinload(MembershipApplication.organization))
    ))


def answer_application(user: User, application: MembershipApplication, reply: str) -> None:
    if application.status != ApplicationStatus.INFO_REQUESTED:
        raise AccountError(_("The coordinators have not asked a question about this "
                             "application."))
    application.applicant_reply = clean_text(reply, label=_("Your answer"), field="reply",
                                             max_length=MESSAGE_MAX, multiline=True)
    application.status = ApplicationStatus.SUBMITTED
    db_session.flush()
    record(AuditAction.APPLICATION_ANSWERED, actor=user, organization=application.organization)
    if application.decided_by is not None and application.decided_by.active:
        send_account_mail(application.decided_by.email,
                          _l("%(organization)s answered your question",
                             organization=application.organization.name),
                          "application_answered", recipient=application.decided_by,
                          application=application,
                          link=external_url("admin.application", application_id=application.id))


def members_of(organization: Organization) -> list[Membership]:
    return list(db_session.scalars(
        select(Membership).where(Membership.organization_id == organization.id)
        .join(Membership.user).order_by(func.lower(User.name), User.id)
        .options(selectinload(Membership.user))
    ))


def open_invitations(organization: Organization) -> list[Invitation]:
    return list(db_session.scalars(
        select(Invitation)
        .where(Invitation.organization_id == organization.id, Invitation.accepted_at.is_(None),
               Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow())
        .order_by(Invitation.created_at.desc())
    ))


def invite_member(actor: User, organization: Organization, email: str,
                  role: MemberRole) -> Invitation:
    """Mail a single-use invitation; an earlier open one to the same address stops working."""
    if not organization.is_active:
        raise AccountError(_("Only active member organizations can invite people."))
    email = valid_email(email)
    existing = find_user_by_email(email)
    if existing is not None and existing.membership_in(organization.id) is not None:
        raise AccountError(_("%(email)s is already a member of %(organization)s.", email=email,
                             organization=organization.name), "email")
    now = utcnow()
    db_session.execute(
        update(Invitation)
        .where(Invitation.organization_id == organization.id, Invitation.email == email,
               Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token, token_hash = new_token()
    invitation = Invitation(organization=organization, email=email, role=role,
                            token_hash=token_hash, invited_by_id=actor.id,
                            expires_at=now + INVITATION_LIFETIME)
    db_session.add(invitation)
    db_session.flush()
    record(AuditAction.INVITATION_SENT, actor=actor, organization=organization,
           subject=existing, details={"email": email, "role": role.value})
    # An address with an account is written to in its user's language; a new one in the
    # language of the page the invitation was sent from.
    send_account_mail(email, _l("%(inviter)s invites you to the Partner Directory",
                                inviter=actor.name), "invitation", recipient=existing,
                      invitation=invitation, inviter=actor, days=INVITATION_LIFETIME.days,
                      link=external_url("accounts.invitation", token=token))
    return invitation


def revoke_invitation(actor: User, invitation: Invitation) -> None:
    if not invitation.is_open(utcnow()):
        raise AccountError(_("This invitation is no longer open."))
    invitation.revoked_at = utcnow()
    db_session.flush()
    record(AuditAction.INVITATION_REVOKED, actor=actor, organization=invitation.organization,
           details={"email": invitation.email})


def find_invitation(token: str) -> Invitation | None:
    """The open invitation ``token`` stands for, if any."""
    if not token or len(token) > 128:
        return None
    invitation = db_session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None or not invitation.is_open(utcnow()):
        return None
    return invitation


def addressed_to(invitation: Invitation, user: Any) -> bool:
    """Whether ``user`` (signed in, or not) is the one ``invitation`` was sent to."""
    return isinstance(user, User) and user.email == invitation.email


def _invited_by_an_admin(invitation: Invitation) -> bool:
    inviter = invitation.invited_by
    membership = inviter.membership_in(invitation.organization_id) if inviter else None
    return membership is not None and membership.role == MemberRole.ADMIN


def accept_invitation(token: str, *, user: User | None = None, name: str = "",
                      password: str = "") -> User:
    """Join the inviting organization: as ``user`` (signed in), or as a new account."""
    invitation = find_invitation(token)
    if invitation is None:
        raise AccountError(_("This invitation has expired, was withdrawn or was already "
                             "used. Ask your organization's admin for a new one."))
    if not invitation.organization.is_active:
        raise AccountError(_("%(organization)s cannot take in new members now.",
                             organization=invitation.organization.name))
    if user is not None:
        if not addressed_to(invitation, user):
            raise AccountError(_("This invitation was sent to %(email)s: sign out and open "
                                 "the link again.", email=invitation.email))
        if user.is_coordinator and not _invited_by_an_admin(invitation):
            # Coordinators see no client details: one who could invite themselves (or a
            # fellow coordinator) into any organization would read its referrals.
            raise AccountError(_("A coordinator joins an organization only when one of its "
                                 "own admins invites them."))
    else:
        if find_user_by_email(invitation.email) is not None:
            raise AccountError(_("An account for %(email)s already exists: sign in, then open "
                                 "the link again.", email=invitation.email))
        user = create_user(invitation.email, name, password, email_verified=True)
        user.language = _language_of_the_request()
    result = db_session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None),
               Invitation.revoked_at.is_(None))
        .values(accepted_at=utcnow(), accepted_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AccountError(_("This invitation was already used."))
    user.email_verified_at = user.email_verified_at or utcnow()  # the link proved the address
    if user.membership_in(invitation.organization_id) is None:  # a member keeps their role
        add_membership(user, invitation.organization, invitation.role)
    record(AuditAction.INVITATION_ACCEPTED, actor=user, organization=invitation.organization,
           details={"role": invitation.role.value})
    return user


def _admin_count(organization: Organization) -> int:
    return db_session.scalar(select(func.count()).where(
        Membership.organization_id == organization.id, Membership.role == MemberRole.ADMIN)) or 0


def _keep_an_admin(membership: Membership) -> None:
    if membership.role == MemberRole.ADMIN and _admin_count(membership.organization) <= 1:
        raise AccountError(_("%(name)s is the only admin of %(organization)s: make someone "
                             "else admin first.", name=membership.user.name,
                             organization=membership.organization.name))


def change_member_role(actor: User, membership: Membership, role: MemberRole) -> None:
    if membership.role == role:
        return
    if role != MemberRole.ADMIN:
        _keep_an_admin(membership)
    previous, membership.role = membership.role, role
    db_session.flush()
    record(AuditAction.ROLE_CHANGED, actor=actor, organization=membership.organization,
           subject=membership.user, details={"from": previous.value, "to": role.value})


def remove_member(actor: User, membership: Membership) -> None:
    """Remove a member; every session of theirs ends at its next request."""
    _keep_an_admin(membership)
    member, organization = membership.user, membership.organization
    db_session.delete(membership)
    db_session.flush()
    db_session.expire(member, ["memberships"])
    end_all_sessions(member)
    record(AuditAction.MEMBER_REMOVED, actor=actor, organization=organization, subject=member)


def create_account(email: str, name: str, password: str, *, coordinator: bool = False,
                   organization: Organization | None = None,
                   role: MemberRole | None = None) -> User:
    """A user made by an operator (`directory create-user`), who vouches for the address."""
    user = create_user(email, name, password, is_coordinator=coordinator, email_verified=True)
    if organization is not None and role is not None:
        add_membership(user, organization, role)
    record(AuditAction.USER_CREATED, subject=user, organization=organization,
           details={"via": "command line", "coordinator": coordinator,
                    "role": role.value if role else None})
    return user


def purge_invitations(before: dt.datetime) -> int:
    """Delete invitations accepted, revoked or expired before ``before`` (the audit log keeps
    who invited whom)."""
    return delete_where(Invitation, or_(Invitation.accepted_at < before,
                                        Invitation.revoked_at < before,
                                        Invitation.expires_at < before))
