"""Imports every domain's models so that Base.metadata is complete (Alembic, tests)."""

from directory.accounts.models import (
    AccountToken,
    Invitation,
    Membership,
    MembershipApplication,
    RecoveryCode,
    User,
    UserSession,
)
from directory.api.models import ApiToken
from directory.audit.models import AuditEvent
from directory.mail.models import OutboxMessage
from directory.orgs.models import (
    Contact,
    CoverageArea,
    Location,
    OpeningHours,
    Organization,
    OrganizationLanguage,
    OrganizationPopulation,
    PartnershipAgreement,
    Service,
    ServiceCategory,
)
from directory.referrals.models import (
    Consent,
    Notification,
    Referral,
    ReferralEvent,
    ReferralNote,
)

__all__ = [
    "AccountToken",
    "ApiToken",
    "AuditEvent",
    "Consent",
    "Contact",
    "CoverageArea",
    "Invitation",
    "Location",
    "Membership",
    "MembershipApplication",
    "Notification",
    "OpeningHours",
    "Organization",
    "OrganizationLanguage",
    "OrganizationPopulation",
    "OutboxMessage",
    "PartnershipAgreement",
    "RecoveryCode",
    "Referral",
    "ReferralEvent",
    "ReferralNote",
    "Service",
    "ServiceCategory",
    "User",
    "UserSession",
]
