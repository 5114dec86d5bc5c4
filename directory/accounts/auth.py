"""flask-login wiring and the cookie side of sessions.

The signed cookie carries the user id with the user's session version, and the token of a
server-side session record (accounts.models.UserSession). A request is signed in only while
both hold: bumping the version ends every session of a user (sign-out, password change,
suspension, removal), ending a record ends one session, and idle and absolute timeouts end it
on the server whatever the cookie says.

Other credentials plug in beside this one without it knowing them: the API's bearer tokens
(api/auth.py) keep the cookie out of a token request and load the user themselves.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import Forbidden

from directory.accounts import sessions
from directory.accounts.models import User, UserSession
from directory.accounts.permissions import two_factor_required
from directory.db import db_session
from directory.extensions import login_manager

SESSION_TOKEN_KEY = "session_token"
PENDING_KEY = "pending_sign_in"
PENDING_MAX_AGE = 600  # seconds between the password and the second factor
# Where a user who must set up two-factor sign-in may still go before doing so.
ENROLMENT_ENDPOINTS = {"accounts.two_factor", "accounts.two_factor_setup",
                       "accounts.two_factor_confirm", "accounts.logout", "static",
                       "ops.healthz", "ops.readyz", "ops.metrics"}


class TwoFactorEnrolmentRequired(Forbidden):
    """A signed-in user who must set up two-factor sign-in first: a page redirects to the
    set-up, the API answers 403 with this code (web/errors.py)."""

    error_code = "two_factor_required"
    description = _l("Set up two-factor sign-in first, at /account/two-factor.")


def load_user(session_id: str) -> User | None:
    user_id, _sep, version = session_id.partition(":")
    token = session.get(SESSION_TOKEN_KEY)
    if not user_id.isdigit() or not version.isdigit() or not isinstance(token, str):
        return None
    found = sessions.session_user(int(user_id), token)
    if (found is None or found[0].session_version != int(version) or not found[0].is_active
            or not sessions.resume_session(found[1])):
        session.clear()
        flash(_("Your session has ended. Please sign in again."), "info")
        return None
    g.browser_session = found[1]
    return found[0]


def browser_session() -> UserSession | None:
    """The server-side session this request is signed in by; None for any other credential."""
    return g.get("browser_session")


def begin_session(user: User, *, remember: bool, second_factor: str | None = None,
                  renewal: bool = False) -> None:
    """Sign in: a new server session and a fresh cookie (no value of the old one survives)."""
    token = sessions.sign_in(user, remember=remember, second_factor=second_factor,
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
        sessions.sign_out(current_user)
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


def _require_two_factor_enrolment() -> None:
    if request.endpoint is None or request.endpoint in ENROLMENT_ENDPOINTS:
        return
    user = current_user
    # Only a browser session: an API token was made by a user who passed the sign-in policy.
    if (user.is_authenticated and browser_session() is not None and isinstance(user, User)
            and not user.two_factor_enabled and two_factor_required(user)):
        # The page says why.
        raise TwoFactorEnrolmentRequired(response=redirect(url_for("accounts.two_factor")))


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    app.before_request(_require_two_factor_enrolment)
