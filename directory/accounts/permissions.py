"""Every access decision of the application, in one place.

Views, API handlers and templates ask ``can(user, Permission.X, target)``; nothing else decides.
"""

from __future__ import annotations

import enum
from typing import Any

from flask import abort, current_app
from flask_login import AnonymousUserMixin

from directory.accounts.models import MemberRole, User
from directory.orgs.models import MembershipStatus, Organization

Viewer = User | AnonymousUserMixin


class Permission(enum.StrEnum):
    VIEW_DIRECTORY = "view_directory"
    VIEW_ORGANIZATION = "view_organization"
    VIEW_CONFIDENTIAL_LOCATIONS = "view_confidential_locations"
    EDIT_LISTING = "edit_listing"
    MANAGE_NETWORK = "manage_network"


def _signed_in(user: Viewer | None) -> User | None:
    if isinstance(user, User) and user.is_active:
        return user
    return None


def is_member_of(user: Viewer | None, organization: Organization) -> bool:
    member = _signed_in(user)
    return member is not None and member.membership_in(organization.id) is not None


def is_vetted(user: Viewer | None) -> bool:
    """A coordinator, or a member of an active organization: someone the network has vetted."""
    member = _signed_in(user)
    if member is None:
        return False
    return member.is_coordinator or any(
        m.organization.status == MembershipStatus.ACTIVE for m in member.memberships
    )


def can(user: Viewer | None, permission: Permission, target: Any = None) -> bool:
    member = _signed_in(user)
    match permission:
        case Permission.VIEW_DIRECTORY:
            return is_vetted(user) or bool(current_app.config["PUBLIC_LISTINGS"])
        case Permission.VIEW_ORGANIZATION:
            organization: Organization = target
            if member is not None and (member.is_coordinator or is_member_of(member, organization)):
                return True
            return organization.is_active and can(user, Permission.VIEW_DIRECTORY)
        case Permission.VIEW_CONFIDENTIAL_LOCATIONS:
            # Outside the organization nobody, coordinators included, sees a safe house's address.
            return is_member_of(user, target)
        case Permission.EDIT_LISTING:
            if member is None:
                return False
            if member.is_coordinator:
                return True
            membership = member.membership_in(target.id)
            return membership is not None and membership.role == MemberRole.ADMIN
        case Permission.MANAGE_NETWORK:
            return member is not None and member.is_coordinator
    raise ValueError(f"no rule for {permission!r}")


def require(user: Viewer | None, permission: Permission, target: Any = None,
            *, visible: bool = True) -> None:
    """Abort unless ``user`` has ``permission``: a visitor is sent to sign in; a member gets
    403 for what they may know exists (``visible``) and 404 for what they may not."""
    if can(user, permission, target):
        return
    if _signed_in(user) is None:
        abort(current_app.login_manager.unauthorized())  # type: ignore[attr-defined]
    abort(403 if visible else 404)
