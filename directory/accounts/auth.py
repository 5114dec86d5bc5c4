"""flask-login wiring: a session identifies a user *and* the user's session version, so bumping
the version (password change, suspension, removal) ends every session at its next request."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import selectinload

from directory.accounts.models import Membership, User
from directory.db import db_session
from directory.extensions import login_manager


def load_user(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db_session.get(
        User, int(user_id),
        options=[selectinload(User.memberships).joinedload(Membership.organization)],
    )
    if user is None or user.session_version != int(version) or not user.is_active:
        return None
    return user


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
