"""Factories: build valid objects through the same operations the application uses."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from directory.accounts.membership import add_membership
from directory.accounts.models import MemberRole, User
from directory.accounts.operations import create_user
from directory.orgs.models import MembershipStatus, Organization, OrganizationKind
from directory.orgs.operations import create_organization
from directory.orgs.schemas import ListingSchema
from directory.referrals.models import Referral
from directory.referrals.operations import create_referral
from directory.referrals.schemas import ReferralSchema

_numbers = itertools.count(1)


class Factory:
    def __init__(self, session: Session) -> None:
        self.session = session

    def organization(self, *, status: MembershipStatus = MembershipStatus.ACTIVE,
                     **listing: Any) -> Organization:
        number = next(_numbers)
        data: dict[str, Any] = {
            "name": f"Test Organization {number}",
            "kind": OrganizationKind.NONPROFIT,
            "description": "A test listing.",
            "languages": ["en"],
            "populations": [],
            "services": ["case_management"],
            "contacts": [],
            "locations": [{"name": "Office", "address": "1 Main St", "city": "Houston",
                           "state": "TX", "postal_code": "77002", "hours": []}],
        }
        data.update(listing)
        if isinstance(data["kind"], OrganizationKind):
            data["kind"] = data["kind"].value
        return create_organization(ListingSchema().load(data), status=status)

    def user(self, *, organization: Organization | None = None,
             role: MemberRole = MemberRole.REFERRER, coordinator: bool = False,
             password: str = "correct horse battery staple", email: str | None = None,
             email_verified: bool = True) -> User:
        number = next(_numbers)
        user = create_user(email or f"user{number}@test.example", f"Test User {number}",
                           password, is_coordinator=coordinator, email_verified=email_verified)
        if organization is not None:
            add_membership(user, organization, role)
        return user

    @staticmethod
    def referral_data(receiver: Organization, **changes: Any) -> dict[str, Any]:
        """Form data of a valid, de-identified referral with its consent record."""
        data: dict[str, Any] = {
            "to": receiver.slug, "service": "case_management", "urgency": "urgent",
            "age_range": "18-24", "alias": "J.D.", "language": "Spanish",
            "needs": "Safe housing and legal advice.", "safety_concerns": "",
            "contact_instructions": "Text first, weekdays after 5pm.",
            "contact_person": "Case manager on duty", "handoff_time": "Tomorrow 10am",
            "consent": {"items": [], "purpose": "Housing referral", "method": "written",
                        "expires_on": (dt.date.today() + dt.timedelta(days=30)).isoformat()},
        }
        consent = changes.pop("consent", {})
        data.update(changes)
        data["consent"] = {**data["consent"], **consent}
        return data

    def referral(self, sender_user: User, receiver: Organization, **changes: Any) -> Referral:
        """A sent referral from ``sender_user``'s organization to ``receiver``."""
        return create_referral(sender_user,
                               ReferralSchema().load(self.referral_data(receiver, **changes)))
