"""Account operations: they check the rules, change state and flush; the caller commits."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from directory.accounts.models import Membership, MemberRole, User
from directory.accounts.passwords import hash_password, needs_rehash, verify_password
from directory.db import db_session, utcnow
from directory.orgs.models import Organization

log = logging.getLogger(__name__)


class AccountError(ValueError):
    """A rule about accounts was broken; the message is for the user."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db_session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def create_user(email: str, name: str, password: str | None = None, *,
                is_coordinator: bool = False) -> User:
    email = normalize_email(email)
    if find_user_by_email(email) is not None:
        raise AccountError(f"A user with the email {email} already exists.")
    user = User(email=email, name=name.strip() or email, is_coordinator=is_coordinator,
                password_hash=hash_password(password) if password else None)
    db_session.add(user)
    db_session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Change the password and end every other session of the user."""
    user.password_hash = hash_password(password)
    user.session_version += 1
    db_session.flush()


def add_membership(user: User, organization: Organization, role: MemberRole) -> Membership:
    membership = user.membership_in(organization.id)
    if membership is None:
        membership = Membership(user=user, organization=organization, role=role)
        db_session.add(membership)
    else:
        membership.role = role
    db_session.flush()
    return membership


def authenticate(email: str, password: str) -> User | None:
    """The user these credentials belong to, or None; unknown emails and wrong passwords take
    the same path (and the same time) so neither is revealed."""
    user = find_user_by_email(email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None
    if not user.is_active:
        return None
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db_session.flush()
    return user
