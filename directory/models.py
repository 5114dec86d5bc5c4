"""Imports every domain's models so that Base.metadata is complete (Alembic, tests)."""

from directory.accounts.models import Membership, User
from directory.orgs.models import (
    Contact,
    CoverageArea,
    Location,
    OpeningHours,
    Organization,
    OrganizationLanguage,
    OrganizationPopulation,
    Service,
    ServiceCategory,
)

__all__ = [
    "Contact",
    "CoverageArea",
    "Location",
    "Membership",
    "OpeningHours",
    "Organization",
    "OrganizationLanguage",
    "OrganizationPopulation",
    "Service",
    "ServiceCategory",
    "User",
]
