"""Factories: build valid objects through the same operations the application uses."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.accounts.operations import add_membership, create_user
from directory.orgs.models import MembershipStatus, Organization, OrganizationKind
from directory.orgs.operations import create_organization
from directory.orgs.schemas import ListingSchema

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
