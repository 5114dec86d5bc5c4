"""Every access decision of the application, in one place.

Views, API handlers and templates ask ``can(user, Permission.X, target)``; nothing else decides.
"""

from __future__ import annotations

import enum
from typing import Any

from flask import abort, current_app, has_request_context, request
from flask_login import AnonymousUserMixin

from directory.accounts.models import MemberRole, MembershipApplication, User
from directory.audit.operations import record_denial
from directory.orgs.models import MembershipStatus, Organization
from directory.referrals.models import Referral, ReferralStatus
from directory.referrals.states import Side

Viewer = User | AnonymousUserMixin


class Permission(enum.StrEnum):
    VIEW_DIRECTORY = "view_directory"
    READ_HSDS_API = "read_hsds_api"
    VIEW_ORGANIZATION = "view_organization"
    VIEW_CONFIDENTIAL_LOCATIONS = "view_confidential_locations"
    EDIT_LISTING = "edit_listing"
    RENAME_ORGANIZATION = "rename_organization"
    CONFIRM_LISTING = "confirm_listing"
    MANAGE_NETWORK = "manage_network"
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_OWN_ACCOUNT = "manage_own_account"
    VIEW_MEMBERS = "view_members"
    MANAGE_MEMBERS = "manage_members"
    VIEW_APPLICATION = "view_application"
    ANSWER_APPLICATION = "answer_application"
    SEND_REFERRALS = "send_referrals"
    RECEIVE_REFERRALS = "receive_referrals"
    USE_REFERRALS = "use_referrals"
    REFER_TO = "refer_to"
    VIEW_REFERRAL = "view_referral"
    VIEW_CLIENT_DETAILS = "view_client_details"
    ADD_REFERRAL_NOTE = "add_referral_note"
    REVOKE_CONSENT = "revoke_consent"
    SHARE_IDENTIFYING = "share_identifying"
    VIEW_REFERRAL_REPORT = "view_referral_report"  # the network's reports
    VIEW_ORGANIZATION_REPORT = "view_organization_report"  # one organization's own figures
    VIEW_REPORTS = "view_reports"  # either of the two: the reports' entry page
    VIEW_PUBLIC_REPORT = "view_public_report"  # the transparency page, when switched on
    VIEW_PARTNERSHIP_AGREEMENT = "view_partnership_agreement"  # whether an MOU is on file
    EDIT_PARTNERSHIP_AGREEMENT = "edit_partnership_agreement"  # ... and the coordinators' note


def _signed_in(user: Viewer | None) -> User | None:
    if isinstance(user, User) and user.is_active:
        return user
    return None


def is_member_of(user: Viewer | None, organization: Organization) -> bool:
    member = _signed_in(user)
    return member is not None and member.membership_in(organization.id) is not None


def is_admin_of(user: Viewer | None, organization: Organization) -> bool:
    member = _signed_in(user)
    membership = member.membership_in(organization.id) if member else None
    return membership is not None and membership.role == MemberRole.ADMIN


def organizations_revealing_confidential(user: Viewer | None) -> frozenset[int]:
    """The organizations whose confidential locations ``user`` may see: their own, and only
    theirs (outside the organization nobody, coordinators included, sees a safe house's
    address). Permission.VIEW_CONFIDENTIAL_LOCATIONS for a whole page of results at once."""
    member = _signed_in(user)
    if member is None:
        return frozenset()
    return frozenset(membership.organization_id for membership in member.memberships)


def is_vetted(user: Viewer | None) -> bool:
    """A coordinator, or a member of an active organization: someone the network has vetted."""
    member = _signed_in(user)
    if member is None:
        return False
    return member.is_coordinator or any(
        m.organization.status == MembershipStatus.ACTIVE for m in member.memberships
    )


def referral_side(user: Viewer | None, referral: Referral) -> Side | None:
    """Which side of the hand-off ``user`` acts for, if any: only members of an active sending
    or receiving organization take part (a receiver knows of a referral once it is sent)."""
    member = _signed_in(user)
    if member is None:
        return None
    if referral.sender.is_active and is_member_of(member, referral.sender):
        return Side.SENDER
    if (referral.status != ReferralStatus.DRAFT and referral.receiver.is_active
            and is_member_of(member, referral.receiver)):
        return Side.RECEIVER
    return None


def two_factor_required(user: User) -> bool:
    """Coordinators and organization admins must sign in with a second factor, unless the
    deployment switched the rule off (DIRECTORY_REQUIRE_2FA; off in demo mode)."""
    return bool(current_app.config["REQUIRE_2FA"]) and (
        user.is_coordinator or user.is_organization_admin)


def can(user: Viewer | None, permission: Permission, target: Any = None) -> bool:
    member = _signed_in(user)
    coordinator = member is not None and member.is_coordinator
    match permission:
        case Permission.VIEW_DIRECTORY:
            return is_vetted(user) or bool(current_app.config["PUBLIC_LISTINGS"])
        case Permission.READ_HSDS_API:
            return is_vetted(user) or bool(current_app.config["PUBLIC_HSDS_API"])
        case Permission.VIEW_ORGANIZATION:
            organization: Organization = target
            if coordinator or is_member_of(member, organization):
                return True
            return organization.is_active and can(user, Permission.VIEW_DIRECTORY)
        case Permission.VIEW_CONFIDENTIAL_LOCATIONS:
            return target.id in organizations_revealing_confidential(user)
        case Permission.EDIT_LISTING:
            return coordinator or is_admin_of(member, target)
        case Permission.RENAME_ORGANIZATION:
            return coordinator
        case Permission.CONFIRM_LISTING:
            # The organization's own word, apart from the network's verification.
            return is_admin_of(member, target)
        case Permission.MANAGE_NETWORK | Permission.VIEW_AUDIT_LOG:
            return coordinator
        case Permission.MANAGE_OWN_ACCOUNT:
            return member is not None
        case Permission.VIEW_MEMBERS:
            return coordinator or (target.is_active and is_member_of(member, target))
        case Permission.MANAGE_MEMBERS:
            # A suspended or not yet approved organization cannot bring new people in.
            return coordinator or (target.is_active and is_admin_of(member, target))
        case Permission.VIEW_APPLICATION:
            application: MembershipApplication = target
            return coordinator or is_admin_of(member, application.organization)
        case Permission.ANSWER_APPLICATION:
            return is_admin_of(member, target.organization)
        case Permission.SEND_REFERRALS:
            # ``target``: the sending organization. Suspended organizations neither send...
            return target.is_active and is_member_of(member, target)
        case Permission.RECEIVE_REFERRALS:
            # ... nor receive (``target``: the receiving organization).
            return target.is_active and target.accepting_referrals and is_vetted(member)
        case Permission.USE_REFERRALS:
            return member is not None and any(
                m.organization.is_active for m in member.memberships)
        case Permission.REFER_TO:
            # ``target``: a partner that takes referrals, from one of the user's other
            # organizations that may send.
            return member is not None and can(member, Permission.RECEIVE_REFERRALS, target) and any(
                m.organization_id != target.id and can(member, Permission.SEND_REFERRALS,
                                                       m.organization)
                for m in member.memberships)
        case Permission.VIEW_REFERRAL:
            # Coordinators are no side of a hand-off: they see counts, never a referral.
            return referral_side(member, target) is not None
        case Permission.VIEW_CLIENT_DETAILS:
            side = referral_side(member, target)
            consent = target.consent
            return side == Side.SENDER or (
                side == Side.RECEIVER and consent is not None and consent.in_force())
        case Permission.ADD_REFERRAL_NOTE:
            # The thread is client data: a receiver without consent in force neither reads
            # nor writes it.
            return (target.status != ReferralStatus.DRAFT and target.purged_at is None
                    and can(member, Permission.VIEW_CLIENT_DETAILS, target))
        case Permission.REVOKE_CONSENT:
            consent = target.consent
            return (referral_side(member, target) == Side.SENDER and consent is not None
                    and consent.revoked_at is None)
        case Permission.SHARE_IDENTIFYING:
            return (referral_side(member, target) == Side.SENDER and target.purged_at is None
                    and target.status in (ReferralStatus.SENT, ReferralStatus.ACCEPTED))
        case Permission.VIEW_REFERRAL_REPORT:
            return coordinator
        case Permission.VIEW_ORGANIZATION_REPORT:
            return coordinator or (target.is_active and is_admin_of(member, target))
        case Permission.VIEW_PUBLIC_REPORT:
            return bool(current_app.config["PUBLIC_REPORT"])
        case Permission.VIEW_REPORTS:
            return coordinator or (member is not None and any(
                m.organization.is_active and m.role == MemberRole.ADMIN
                for m in member.memberships))
        case Permission.VIEW_PARTNERSHIP_AGREEMENT:
            # The flag and its date: the network's and the organization's own business, not
            # its referrers' nor other members'.
            return coordinator or is_admin_of(member, target)
        case Permission.EDIT_PARTNERSHIP_AGREEMENT:
            return coordinator
    raise ValueError(f"no rule for {permission!r}")


def require(user: Viewer | None, permission: Permission, target: Any = None,
            *, visible: bool = True) -> None:
    """Abort unless ``user`` has ``permission``: a visitor is sent to sign in; a member gets
    403 for what they may know exists (``visible``) and 404 for what they may not, and the
    refusal goes to the audit log."""
    if can(user, permission, target):
        return
    member = _signed_in(user)
    if member is None:
        abort(current_app.login_manager.unauthorized())  # type: ignore[attr-defined]
    record_denial(member, _refusal_details(permission))
    abort(403 if visible else 404)


def may_open_referral(user: Viewer | None, referral: Referral | None, asked: str) -> bool:
    """Permission.VIEW_REFERRAL for the referral asked for by its public id (``referral`` is
    None when no referral has it). A refusal answers as if the id did not exist (404), and is
    audited alike whether it exists or not: probing ids leaves a trace and learns nothing."""
    if referral is not None and can(user, Permission.VIEW_REFERRAL, referral):
        return True
    member = _signed_in(user)
    if member is not None:
        record_denial(member, _refusal_details(Permission.VIEW_REFERRAL, referral=asked[:32]))
    return False


def _refusal_details(permission: Permission, **more: str) -> dict[str, Any]:
    return {"permission": permission.value,
            "path": request.path[:200] if has_request_context() else None, **more}
