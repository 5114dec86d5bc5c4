"""Audit events. The action is a plain string so other domains (referrals, the API) can add
their own without a schema change; the known ones are listed in AuditAction."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.accounts.models import User
from directory.db import Base, UTCDateTime, int_pk, utcnow
from directory.orgs.models import Organization

# Labels that the value, capitalized, would spell wrong.
_LABELS = {"api_token_created": "API token created", "api_token_revoked": "API token revoked",
           "access_denied_repeated": "Access denied (further refusals, counted)",
           "partnership_agreement_updated": "Partnership agreement (MOU) updated",
           "referral_client_details_viewed": "Referral: client details viewed",
           "referral_identifying_shared": "Referral: identifying details shared",
           "referral_consent_revoked": "Referral: consent revoked",
           "referral_mismatch_acknowledged": "Referral: sent despite the age warning"}


def action_label(action: str) -> str:
    """An action in words; one recorded by another domain without a member here too."""
    if action in _LABELS:
        return _LABELS[action]
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
