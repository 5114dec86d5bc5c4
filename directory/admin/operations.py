"""Coordinators' decisions: applications, an organization's standing and verification, and
users' accounts. Like every operation they check, change, record and flush; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import selectinload

from directory.accounts.membership import MESSAGE_MAX
from directory.accounts.models import (
    ApplicationStatus,
    MemberRole,
    Membership,
    MembershipApplication,
    User,
)
from directory.accounts.operations import AccountError, clean_text
from directory.accounts.sessions import end_all_sessions
from directory.api.operations import revoke_all_tokens
from directory.audit.models import AuditAction
from directory.audit.operations import record
from directory.db import db_session, utcnow
from directory.i18n import recipient_language
from directory.mail.operations import external_url, queue_mail
from directory.orgs.models import MembershipStatus, Organization, PartnershipAgreement
from directory.orgs.operations import partnership_agreement
from directory.paging import Page

log = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(days=180)
AGREEMENT_NOTE_MAX = 500
EARLIEST_AGREEMENT = dt.date(1990, 1, 1)

# An organization's standing in words; the stored values stay the codes.
MEMBERSHIP_STATUS_LABELS = {
    MembershipStatus.PENDING: _l("Pending"),
    MembershipStatus.ACTIVE: _l("Active"),
    MembershipStatus.SUSPENDED: _l("Suspended"),
    MembershipStatus.DECLINED: _l("Declined"),
}


def membership_status_label(status: MembershipStatus) -> str:
    return str(MEMBERSHIP_STATUS_LABELS[status])


def _mail(recipient: User, subject: str, template: str, **context: object) -> None:
    """Queue a membership mail in its recipient's language (English when they have none),
    whatever the language of the coordinator's request. ``subject`` is a lazy message,
    translated here."""
    with recipient_language(recipient):
        queue_mail(recipient.email, str(subject),
                   render_template(f"admin/mail/{template}.txt", **context))


def _message(text: str, label: str) -> str:
    return clean_text(text, label=label, field="message", max_length=MESSAGE_MAX, multiline=True)


# --- applications --------------------------------------------------------------------------

def open_applications() -> list[MembershipApplication]:
    """The queue: new and answered applications first, then those waiting for an answer."""
    waiting_last = case((MembershipApplication.status == ApplicationStatus.INFO_REQUESTED, 1),
                        else_=0)
    return list(db_session.scalars(
        select(MembershipApplication)
        .where(MembershipApplication.status.in_(
            [ApplicationStatus.SUBMITTED, ApplicationStatus.INFO_REQUESTED]))
        .order_by(waiting_last, MembershipApplication.created_at, MembershipApplication.id)
        .options(selectinload(MembershipApplication.organization),
                 selectinload(MembershipApplication.applicant))
    ))


def recent_decisions(limit: int = 20) -> list[MembershipApplication]:
    return list(db_session.scalars(
        select(MembershipApplication)
        .where(MembershipApplication.status.in_(
            [ApplicationStatus.APPROVED, ApplicationStatus.DECLINED]))
        .order_by(MembershipApplication.decided_at.desc()).limit(limit)
        .options(selectinload(MembershipApplication.organization))
    ))


def _open(application: MembershipApplication) -> None:
    if not application.is_open:
        raise AccountError(_("This application was already approved.")
                           if application.status == ApplicationStatus.APPROVED
                           else _("This application was already declined."))


def _reachable_applicant(application: MembershipApplication) -> User | None:
    applicant = application.applicant
    return applicant if applicant is not None and applicant.active else None


def approve_application(coordinator: User, application: MembershipApplication) -> None:
    """Make the organization an active member; its admin can then invite their colleagues."""
    _open(application)
    applicant = application.applicant
    if applicant is not None and not applicant.email_verified:
        raise AccountError(_("%(email)s has not confirmed their email address yet: approve "
                             "once they have (they can ask for a new link).",
                             email=applicant.email))
    organization = application.organization
    organization.status = MembershipStatus.ACTIVE
    application.status, application.decided_at = ApplicationStatus.APPROVED, utcnow()
    application.decided_by_id = coordinator.id
    db_session.flush()
    record(AuditAction.ORGANIZATION_APPROVED, actor=coordinator, organization=organization,
           subject=applicant)
    if recipient := _reachable_applicant(application):
        _mail(recipient, _l("%(organization)s is a member of the Partner Directory",
                            organization=organization.name),
              "approved", organization=organization, link=external_url("accounts.login"))


def decline_application(coordinator: User, application: MembershipApplication,
                        reason: str) -> None:
    _open(application)
    reason = _message(reason, _("The reason"))
    organization = application.organization
    organization.status = MembershipStatus.DECLINED
    application.status, application.decided_at = ApplicationStatus.DECLINED, utcnow()
    application.decided_by_id, application.coordinator_message = coordinator.id, reason
    db_session.flush()
    record(AuditAction.ORGANIZATION_DECLINED, actor=coordinator, organization=organization,
           subject=application.applicant, details={"reason": reason})
    if recipient := _reachable_applicant(application):
        _mail(recipient, _l("Your application for %(organization)s",
                            organization=organization.name),
              "declined", organization=organization, reason=reason)


def request_information(coordinator: User, application: MembershipApplication,
                        question: str) -> None:
    _open(application)
    question = _message(question, _("The question"))
    application.status = ApplicationStatus.INFO_REQUESTED
    application.coordinator_message, application.applicant_reply = question, ""
    application.decided_by_id = coordinator.id
    db_session.flush()
    record(AuditAction.APPLICATION_INFO_REQUESTED, actor=coordinator,
           organization=application.organization, details={"question": question})
    if recipient := _reachable_applicant(application):
        _mail(recipient, _l("A question about your application for %(organization)s",
                            organization=application.organization.name),
              "info_requested", organization=application.organization, question=question,
              link=external_url("accounts.applications"))


# --- organizations -------------------------------------------------------------------------

def list_organizations(status: MembershipStatus | None, text: str, page: int,
                       per_page: int) -> Page:
    query = select(Organization)
    if status:
        query = query.where(Organization.status == status)
    if text:
        pattern = text.lower()
        query = query.where(or_(func.lower(Organization.name).contains(pattern, autoescape=True),
                                Organization.slug.contains(pattern, autoescape=True)))
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    items = list(db_session.scalars(
        query.order_by(func.lower(Organization.name), Organization.id)
        .offset((page - 1) * per_page).limit(per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total)


def _admins(organization: Organization) -> list[User]:
    return list(db_session.scalars(
        select(User).join(Membership)
        .where(Membership.organization_id == organization.id,
               Membership.role == MemberRole.ADMIN, User.active)))


def _members(organization: Organization) -> list[User]:
    return list(db_session.scalars(
        select(User).join(Membership).where(Membership.organization_id == organization.id)))


def suspend_organization(coordinator: User, organization: Organization, reason: str) -> None:
    """Take an organization out of the directory and the referral network, keeping its data;
    its members' sessions end."""
    if organization.status != MembershipStatus.ACTIVE:
        raise AccountError(_("Only an active organization can be suspended; the standing of "
                             "%(organization)s is: %(status)s.", organization=organization.name,
                             status=membership_status_label(organization.status)))
    reason = _message(reason, _("The reason"))
    organization.status = MembershipStatus.SUSPENDED
    for member in _members(organization):
        end_all_sessions(member)
    db_session.flush()
    record(AuditAction.ORGANIZATION_SUSPENDED, actor=coordinator, organization=organization,
           details={"reason": reason})
    for admin in _admins(organization):
        _mail(admin, _l("%(organization)s is suspended from the Partner Directory",
                        organization=organization.name),
              "suspended", organization=organization, reason=reason)


def reinstate_organization(coordinator: User, organization: Organization) -> None:
    if organization.status != MembershipStatus.SUSPENDED:
        raise AccountError(_("%(organization)s is not suspended.",
                             organization=organization.name))
    organization.status = MembershipStatus.ACTIVE
    db_session.flush()
    record(AuditAction.ORGANIZATION_REINSTATED, actor=coordinator, organization=organization)
    for admin in _admins(organization):
        _mail(admin, _l("%(organization)s is back in the Partner Directory",
                        organization=organization.name),
              "reinstated", organization=organization, link=external_url("accounts.login"))


def verify_listing(coordinator: User, organization: Organization) -> None:
    """Record that a coordinator checked the listing today, and who."""
    if organization.status == MembershipStatus.DECLINED:
        raise AccountError(_("A declined organization's listing cannot be verified."))
    organization.verified_at, organization.verified_by_id = utcnow(), coordinator.id
    db_session.flush()
    record(AuditAction.LISTING_VERIFIED, actor=coordinator, organization=organization)


def record_partnership_agreement(coordinator: User, organization: Organization, *,
                                 on_file: bool, signed_on: dt.date | None, note: str,
                                 today: dt.date | None = None) -> PartnershipAgreement:
    """Record whether a partnership agreement (MOU) with ``organization`` is on file, the date
    it was signed and a note for coordinators. The audit event names the flag and the date,
    and only whether the note changed: the note stays on the record."""
    note = clean_text(note, label=_("The note"), field="note", max_length=AGREEMENT_NOTE_MAX,
                      required=False, multiline=True)
    if on_file and signed_on is None:
        raise AccountError(_("Give the date the agreement was signed."), "signed_on")
    if not on_file and signed_on is not None:
        raise AccountError(_("No agreement on file has no date: leave the date empty."),
                           "signed_on")
    if signed_on is not None and signed_on > (today or organization.local_date()):
        raise AccountError(_("The agreement's date is in the future."), "signed_on")
    if signed_on is not None and signed_on < EARLIEST_AGREEMENT:
        raise AccountError(_("The agreement's date is before %(year)s: check the year.",
                             year=EARLIEST_AGREEMENT.year), "signed_on")
    agreement = partnership_agreement(organization)
    if agreement is None:
        agreement = PartnershipAgreement(organization_id=organization.id, note="")
        db_session.add(agreement)
    note_changed = note != agreement.note
    agreement.on_file, agreement.signed_on, agreement.note = on_file, signed_on, note
    agreement.updated_by_id = coordinator.id
    db_session.flush()
    record(AuditAction.PARTNERSHIP_AGREEMENT_UPDATED, actor=coordinator,
           organization=organization,
           details={"on_file": on_file,
                    "signed_on": signed_on.isoformat() if signed_on else None,
                    "note_changed": note_changed})
    return agreement


@dataclass(frozen=True)
class NetworkOverview:
    open_applications: int
    active: int
    suspended: int
    never_verified: int
    stale: int
    users: int


def network_overview() -> NetworkOverview:
    def count(*conditions: object) -> int:
        return db_session.scalar(select(func.count()).select_from(Organization)
                                 .where(*conditions)) or 0  # type: ignore[arg-type]

    active = Organization.status == MembershipStatus.ACTIVE
    return NetworkOverview(
        open_applications=db_session.scalar(select(func.count()).where(
            MembershipApplication.status.in_(
                [ApplicationStatus.SUBMITTED, ApplicationStatus.INFO_REQUESTED]))) or 0,
        active=count(active),
        suspended=count(Organization.status == MembershipStatus.SUSPENDED),
        never_verified=count(active, Organization.verified_at.is_(None)),
        stale=count(active, Organization.verified_at < utcnow() - STALE_AFTER),
        users=db_session.scalar(select(func.count()).select_from(User)) or 0,
    )


# --- users ---------------------------------------------------------------------------------

def list_users(text: str, page: int, per_page: int) -> Page:
    query = select(User)
    if text:
        pattern = text.lower()
        query = query.where(or_(func.lower(User.email).contains(pattern, autoescape=True),
                                func.lower(User.name).contains(pattern, autoescape=True)))
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    items = list(db_session.scalars(
        query.order_by(func.lower(User.email)).offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(User.memberships))))
    return Page(items=items, page=page, per_page=per_page, total=total)


def suspend_user(coordinator: User, user: User, reason: str) -> None:
    """Stop an account: it cannot sign in, its sessions end at their next request and its API
    tokens are revoked, so that reinstating it brings none of them back."""
    if user.id == coordinator.id:
        raise AccountError(_("You cannot suspend your own account."))
    if not user.active:
        raise AccountError(_("%(email)s is already suspended.", email=user.email))
    reason = _message(reason, _("The reason"))
    user.active = False
    end_all_sessions(user)
    revoked = revoke_all_tokens(coordinator, user, reason="account suspended")
    record(AuditAction.USER_SUSPENDED, actor=coordinator, subject=user,
           details={"reason": reason, "api_tokens_revoked": revoked})


def reinstate_user(coordinator: User, user: User) -> None:
    if user.active:
        raise AccountError(_("%(email)s is not suspended.", email=user.email))
    user.active = True
    db_session.flush()
    record(AuditAction.USER_REINSTATED, actor=coordinator, subject=user)
