"""flask-login wiring and the cookie side of sessions.

The signed cookie carries the user id with the user's session version, and the token of a
server-side session record (accounts.models.UserSession). A request is signed in only while
both hold: bumping the version ends every session of a user (sign-out, password change,
suspension, removal), ending a record ends one session, and idle and absolute timeouts end it
on the server whatever the cookie says.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from directory.accounts import operations
from directory.accounts.models import User
from directory.accounts.permissions import two_factor_required
from directory.api.auth import bearer_secret, current_api_token
from directory.api.errors import error_response, is_api_request
from directory.db import db_session
from directory.extensions import login_manager

SESSION_TOKEN_KEY = "session_token"
PENDING_KEY = "pending_sign_in"
PENDING_MAX_AGE = 600  # seconds between the password and the second factor
# Where a user who must set up two-factor sign-in may still go before doing so.
ENROLMENT_ENDPOINTS = {"accounts.two_factor", "accounts.two_factor_setup",
                       "accounts.two_factor_confirm", "accounts.logout", "static"}


def load_user(session_id: str) -> User | None:
    if bearer_secret() is not None:
        return None  # a token request is judged by its token alone (api/auth.py)
    user_id, _, version = session_id.partition(":")
    token = session.get(SESSION_TOKEN_KEY)
    if not user_id.isdigit() or not version.isdigit() or not isinstance(token, str):
        return None
    found = operations.session_user(int(user_id), token)
    if (found is None or found[0].session_version != int(version) or not found[0].is_active
            or not operations.resume_session(found[1])):
        session.clear()
        flash("Your session has ended. Please sign in again.", "info")
        return None
    return found[0]


def begin_session(user: User, *, remember: bool, second_factor: str | None = None,
                  renewal: bool = False) -> None:
    """Sign in: a new server session and a fresh cookie (no value of the old one survives)."""
    token = operations.sign_in(user, remember=remember, second_factor=second_factor,
                               renewal=renewal)
    session.clear()
    session[SESSION_TOKEN_KEY] = token
    session.permanent = remember
    login_user(user, remember=False, fresh=True)


def renew_session(user: User) -> None:
    """After a password change: every old session has ended; this browser gets a new one."""
    begin_session(user, remember=session.permanent, renewal=True)


def end_session() -> None:
    if current_user.is_authenticated:
        operations.sign_out(current_user)
    logout_user()
    session.clear()


def current_token() -> str | None:
    token = session.get(SESSION_TOKEN_KEY)
    return token if isinstance(token, str) else None


def await_second_factor(user: User, *, remember: bool, next_url: str | None) -> None:
    """The password was right; the session starts once the second factor is too."""
    session.clear()
    session[PENDING_KEY] = {"user": user.id, "remember": remember, "next": next_url,
                            "since": int(time.time())}


def pending_sign_in() -> tuple[User, dict[str, Any]] | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("since", 0) > PENDING_MAX_AGE:
        return None
    user = db_session.get(User, pending.get("user"))
    if user is None or not user.is_active or not user.two_factor_enabled:
        return None
    return user, pending


def _require_two_factor_enrolment() -> Response | None:
    if request.endpoint is None or request.endpoint in ENROLMENT_ENDPOINTS:
        return None
    user = current_user
    if user.is_authenticated and current_api_token() is not None:
        return None  # the token was made by a user who passed the sign-in policy
    if (user.is_authenticated and isinstance(user, User) and not user.two_factor_enabled
            and two_factor_required(user)):
        if is_api_request():
            return error_response(403, "Set up two-factor sign-in first, at /account/two-factor.",
                                  code="two_factor_required")
        return redirect(url_for("accounts.two_factor"))  # the page says why
    return None


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    app.before_request(_require_two_factor_enrolment)
