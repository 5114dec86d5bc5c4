"""Server-side sessions: signing in and out, the session behind each request, ending them."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import joinedload

from directory.accounts.errors import AccountError
from directory.accounts.models import (
    User,
    UserSession,
)
from directory.accounts.passwords import (
    verify_password,
)
from directory.audit.models import AuditAction
from directory.audit.operations import record
from directory.db import db_session, delete_where, utcnow, write_apart

# last_seen_at is written at most this often, not on every request.
SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def request_address() -> str | None:
    return (request.remote_addr or None) if has_request_context() else None


def sign_in(user: User, *, remember: bool, second_factor: str | None,
            renewal: bool = False) -> str:
    """Open a server-side session for ``user``; returns the token the cookie will carry.
    ``renewal``: the new session replaces one a password change has just ended."""
    now = utcnow()
    config = current_app.config
    lifetime = (dt.timedelta(days=config["REMEMBER_DAYS"]) if remember
                else dt.timedelta(hours=config["SESSION_MAX_HOURS"]))
    token, token_hash = new_token()
    agent = request.user_agent.string[:200] if has_request_context() else ""
    db_session.add(UserSession(user_id=user.id, token_hash=token_hash, last_seen_at=now,
                               expires_at=now + lifetime, remember=remember,
                               ip_address=request_address(), user_agent=agent))
    user.last_login_at = now
    details: dict[str, Any] = {"remember": remember, "second_factor": second_factor}
    if renewal:
        details["renewal"] = True
    # Flushed here: a database that refuses the session row fails the sign-in before any
    # cookie is set (auth.begin_session).
    record(AuditAction.SIGN_IN, actor=user, details=details)
    return token


# Every signed-in request asks it: built once, one query for the user, their memberships
# (with their organizations, Membership.organization being lazy="joined") and the session.
_SESSION_USER = (
    select(User, UserSession)
    .join(UserSession, UserSession.user_id == User.id)
    .options(joinedload(User.memberships))
    .where(User.id == bindparam("user_id"), UserSession.token_hash == bindparam("token_hash"))
)


def session_user(user_id: int, token: str) -> tuple[User, UserSession] | None:
    """The user whose browser session has ``token``, with that session, if both exist."""
    row = db_session.execute(_SESSION_USER, {"user_id": user_id,
                                             "token_hash": hash_token(token)}).unique().first()
    return None if row is None else (row[0], row[1])


def resume_session(current: UserSession) -> bool:
    """Whether a session is still open. Its end on a timeout, and its activity (at most once
    every ``SESSION_TOUCH_INTERVAL``), are recorded apart from the request: reading a page
    writes nothing in the request's transaction, and works on a database that refuses
    writes."""
    if current.ended_at is not None:
        return False
    now = utcnow()
    config = current_app.config
    idle_limit = (dt.timedelta(days=config["REMEMBER_DAYS"]) if current.remember
                  else dt.timedelta(minutes=config["SESSION_IDLE_MINUTES"]))
    if now >= current.expires_at or now - current.last_seen_at >= idle_limit:
        # Refused now whether or not this is stored: the same timeout holds at every request.
        write_apart(update(UserSession)
                    .where(UserSession.id == current.id, UserSession.ended_at.is_(None))
                    .values(ended_at=now), "the end of a timed-out session")
        return False
    if now - current.last_seen_at >= SESSION_TOUCH_INTERVAL:
        write_apart(update(UserSession)
                    .where(UserSession.id == current.id,
                           UserSession.last_seen_at <= now - SESSION_TOUCH_INTERVAL)
                    .values(last_seen_at=now), "a session's last activity")
    return True


def sign_out(user: User) -> None:
    """Signing out ends every session of the user, on every device, as the issue asks: on a
    shared computer at a shelter, "sign out" must leave nothing open anywhere."""
    end_all_sessions(user)
    record(AuditAction.SIGN_OUT, actor=user)


def end_all_sessions(user: User) -> None:
    """End every session of ``user`` at its next request (the loader checks both)."""
    user.session_version += 1
    db_session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    db_session.flush()


def end_sessions_of(coordinator: User, user: User) -> None:
    """A coordinator signs a user out everywhere (a lost laptop, a shared password)."""
    end_all_sessions(user)
    record(AuditAction.SESSIONS_ENDED, actor=coordinator, subject=user)


def end_other_sessions(user: User, current_token: str, password: str) -> int:
    reauthenticate(user, password)
    result = db_session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None),
               UserSession.token_hash != hash_token(current_token))
        .values(ended_at=utcnow())
    )
    ended = int(result.rowcount or 0)  # type: ignore[attr-defined]
    record(AuditAction.SESSIONS_ENDED, actor=user, subject=user, details={"sessions": ended})
    return ended


def open_sessions(user: User) -> list[UserSession]:
    return list(db_session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None),
               UserSession.expires_at > utcnow())
        .order_by(UserSession.last_seen_at.desc())
    ))


def is_current_session(user_session: UserSession, token: str | None) -> bool:
    return token is not None and user_session.token_hash == hash_token(token)


def reauthenticate(user: User, password: str) -> None:
    """Changes to how a user signs in, or to their sessions, take the password again: a
    session left open on a shared computer is not enough."""
    if not verify_password(user.password_hash, password):
        raise AccountError(_("Your password is not right."), "password")


# Rows past their use say who signed in from where, and to whom links were mailed: kept a
# while after they stop working, for questions about them, then deleted.

def purge_sessions(before: dt.datetime) -> int:
    """Delete browser sessions that ended, or expired, before ``before``. The account page
    lists open sessions only, so nothing it shows goes."""
    return delete_where(UserSession,
                        or_(UserSession.ended_at < before, UserSession.expires_at < before))
