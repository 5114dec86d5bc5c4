"""Audit events. The action is a plain string so other domains (referrals, the API) can add
their own without a schema change; the known ones are listed in AuditAction."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.accounts.models import User
from directory.db import Base, UTCDateTime, int_pk, utcnow
from directory.orgs.models import Organization

# Each known action in words; an action another domain records without a member here reads
# as its code in words (it has no translation to offer).
_LABELS = {
    "sign_in_failed": _l("Sign in failed"),
    "rate_limited": _l("Rate limited"),
    "access_denied": _l("Access denied"),
    "access_denied_repeated": _l("Access denied (further refusals, counted)"),
    "two_factor_failed": _l("Two factor failed"),
    "two_factor_enabled": _l("Two factor enabled"),
    "two_factor_disabled": _l("Two factor disabled"),
    "two_factor_reset": _l("Two factor reset"),
    "recovery_code_used": _l("Recovery code used"),
    "recovery_codes_renewed": _l("Recovery codes renewed"),
    "password_changed": _l("Password changed"),
    "password_reset_requested": _l("Password reset requested"),
    "password_reset": _l("Password reset"),
    "email_verified": _l("Email verified"),
    "email_change_requested": _l("Email change requested"),
    "email_changed": _l("Email changed"),
    "name_changed": _l("Name changed"),
    "sessions_ended": _l("Sessions ended"),
    "user_created": _l("User created"),
    "user_suspended": _l("User suspended"),
    "user_reinstated": _l("User reinstated"),
    "role_changed": _l("Role changed"),
    "member_removed": _l("Member removed"),
    "invitation_sent": _l("Invitation sent"),
    "invitation_revoked": _l("Invitation revoked"),
    "invitation_accepted": _l("Invitation accepted"),
    "application_submitted": _l("Application submitted"),
    "application_info_requested": _l("Application info requested"),
    "application_answered": _l("Application answered"),
    "organization_approved": _l("Organization approved"),
    "organization_declined": _l("Organization declined"),
    "organization_suspended": _l("Organization suspended"),
    "organization_reinstated": _l("Organization reinstated"),
    "listing_verified": _l("Listing verified"),
    "listing_created": _l("Listing created"),
    "listing_updated": _l("Listing updated"),
    "listing_confirmed": _l("Listing confirmed"),
    "listing_reminder_sent": _l("Listing reminder sent"),
    "listings_imported": _l("Listings imported"),
    "partnership_agreement_updated": _l("Partnership agreement (MOU) updated"),
    "api_token_created": _l("API token created"),
    "api_token_revoked": _l("API token revoked"),
    "referral_sent": _l("Referral sent"),
    "referral_accepted": _l("Referral accepted"),
    "referral_declined": _l("Referral declined"),
    "referral_completed": _l("Referral completed"),
    "referral_closed": _l("Referral closed"),
    "referral_withdrawn": _l("Referral withdrawn"),
    "referral_expired": _l("Referral expired"),
    "referral_client_details_viewed": _l("Referral: client details viewed"),
    "referral_identifying_shared": _l("Referral: identifying details shared"),
    "referral_consent_revoked": _l("Referral: consent revoked"),
    "referral_mismatch_acknowledged": _l("Referral: sent despite the age warning"),
}


def action_label(action: str) -> str:
    """An action in the reader's words; one recorded by another domain without a label here
    reads as its code."""
    # The same English as the buttons, but an event, not a command, in Spanish.
    if action == "sign_in":
        return pgettext("audit event", "Sign in")
    if action == "sign_out":
        return pgettext("audit event", "Sign out")
    if action in _LABELS:
        return str(_LABELS[action])
    if action.startswith("referral_"):
        return "Referral " + action.removeprefix("referral_").replace("_", " ")
    return action.replace("_", " ").capitalize()


class AuditAction(enum.StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    RATE_LIMITED = "rate_limited"
    ACCESS_DENIED = "access_denied"
    ACCESS_DENIED_REPEATED = "access_denied_repeated"
    SIGN_OUT = "sign_out"
    TWO_FACTOR_FAILED = "two_factor_failed"
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    TWO_FACTOR_RESET = "two_factor_reset"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFIED = "email_verified"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGED = "email_changed"
    NAME_CHANGED = "name_changed"
    SESSIONS_ENDED = "sessions_ended"
    USER_CREATED = "user_created"
    USER_SUSPENDED = "user_suspended"
    USER_REINSTATED = "user_reinstated"
    ROLE_CHANGED = "role_changed"
    MEMBER_REMOVED = "member_removed"
    INVITATION_SENT = "invitation_sent"
    INVITATION_REVOKED = "invitation_revoked"
    INVITATION_ACCEPTED = "invitation_accepted"
    APPLICATION_SUBMITTED = "application_submitted"
    APPLICATION_INFO_REQUESTED = "application_info_requested"
    APPLICATION_ANSWERED = "application_answered"
    ORGANIZATION_APPROVED = "organization_approved"
    ORGANIZATION_DECLINED = "organization_declined"
    ORGANIZATION_SUSPENDED = "organization_suspended"
    ORGANIZATION_REINSTATED = "organization_reinstated"
    LISTING_VERIFIED = "listing_verified"
    LISTING_CREATED = "listing_created"
    LISTING_UPDATED = "listing_updated"
    LISTING_CONFIRMED = "listing_confirmed"
    LISTING_REMINDER_SENT = "listing_reminder_sent"
    PARTNERSHIP_AGREEMENT_UPDATED = "partnership_agreement_updated"
    API_TOKEN_CREATED = "api_token_created"
    API_TOKEN_REVOKED = "api_token_revoked"
    REFERRAL_SENT = "referral_sent"
    REFERRAL_ACCEPTED = "referral_accepted"
    REFERRAL_DECLINED = "referral_declined"
    REFERRAL_COMPLETED = "referral_completed"
    REFERRAL_CLOSED = "referral_closed"
    REFERRAL_WITHDRAWN = "referral_withdrawn"
    REFERRAL_EXPIRED = "referral_expired"
    REFERRAL_CLIENT_DETAILS_VIEWED = "referral_client_details_viewed"
    REFERRAL_IDENTIFYING_SHARED = "referral_identifying_shared"
    REFERRAL_CONSENT_REVOKED = "referral_consent_revoked"
    REFERRAL_MISMATCH_ACKNOWLEDGED = "referral_mismatch_acknowledged"

    @property
    def label(self) -> str:
        return action_label(self.value)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_action_occurred_at", "action", "occurred_at"),)

    id: Mapped[int_pk]
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The actor's email as it was, so the record still reads right if the account goes.
    actor_email: Mapped[str | None] = mapped_column(String(254))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    subject_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    subject_user: Mapped[User | None] = relationship(foreign_keys=[subject_user_id])
    organization: Mapped[Organization | None] = relationship()

    @property
    def label(self) -> str:
        return action_label(self.action)
