"""The permission rules themselves, for the decisions the pages do not show directly."""

from __future__ import annotations

import pytest
from flask_login import AnonymousUserMixin

from directory.accounts.models import MemberRole
from directory.accounts.permissions import Permission, can
from directory.orgs.models import MembershipStatus
from tests.factories import Factory


def test_suspended_organizations_neither_send_nor_receive_referrals(factory: Factory) -> None:
    active = factory.organization()
    suspended = factory.organization(status=MembershipStatus.SUSPENDED)
    closed = factory.organization(accepting_referrals=False)
    sender = factory.user(organization=active)
    suspended_member = factory.user(organization=suspended)
    coordinator = factory.user(coordinator=True)

    assert can(sender, Permission.SEND_REFERRALS, active)
    assert not can(sender, Permission.SEND_REFERRALS, suspended)  # not theirs
    assert not can(suspended_member, Permission.SEND_REFERRALS, suspended)
    assert not can(coordinator, Permission.SEND_REFERRALS, active)  # counts, not clients

    assert can(sender, Permission.RECEIVE_REFERRALS, active)
    assert not can(sender, Permission.RECEIVE_REFERRALS, suspended)
    assert not can(sender, Permission.RECEIVE_REFERRALS, closed)
    assert not can(suspended_member, Permission.RECEIVE_REFERRALS, active)  # not vetted
    assert not can(AnonymousUserMixin(), Permission.RECEIVE_REFERRALS, active)


def test_managing_members(factory: Factory) -> None:
    active = factory.organization()
    suspended = factory.organization(status=MembershipStatus.SUSPENDED)
    admin = factory.user(organization=active, role=MemberRole.ADMIN)
    referrer = factory.user(organization=active)
    suspended_admin = factory.user(organization=suspended, role=MemberRole.ADMIN)
    coordinator = factory.user(coordinator=True)
    assert can(admin, Permission.MANAGE_MEMBERS, active)
    assert not can(referrer, Permission.MANAGE_MEMBERS, active)
    assert can(referrer, Permission.VIEW_MEMBERS, active)
    assert not can(admin, Permission.MANAGE_MEMBERS, suspended)
    assert not can(suspended_admin, Permission.MANAGE_MEMBERS, suspended)
    assert not can(suspended_admin, Permission.VIEW_MEMBERS, suspended)
    assert can(coordinator, Permission.MANAGE_MEMBERS, suspended)


def test_suspended_accounts_can_do_nothing(factory: Factory) -> None:
    organization = factory.organization()
    admin = factory.user(organization=organization, role=MemberRole.ADMIN)
    admin.active = False
    for permission in (Permission.VIEW_DIRECTORY, Permission.MANAGE_MEMBERS,
                       Permission.MANAGE_OWN_ACCOUNT, Permission.SEND_REFERRALS,
                       Permission.EDIT_LISTING):
        assert not can(admin, permission, organization), permission


def test_only_coordinators_read_the_audit_log(factory: Factory) -> None:
    admin = factory.user(organization=factory.organization(), role=MemberRole.ADMIN)
    assert not can(admin, Permission.VIEW_AUDIT_LOG)
    assert can(factory.user(coordinator=True), Permission.VIEW_AUDIT_LOG)


def test_an_unknown_permission_is_an_error(factory: Factory) -> None:
    with pytest.raises(ValueError, match="no rule"):
        can(factory.user(), "fly")  # type: ignore[arg-type]
