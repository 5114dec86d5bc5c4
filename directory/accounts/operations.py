"""Account operations: they check the rules, change state and flush; the caller commits.

Users and their credentials (passwords, mailed links, two-factor sign-in), server-side
sessions, and membership: applications to join the network, invitations, roles, removals.
Coordinators' decisions about organizations and users are in directory/admin/operations.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context, render_template, request
from marshmallow import ValidationError
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from directory.accounts import totp
from directory.accounts.models import (
    AccountToken,
    ApplicationStatus,
    Invitation,
    MemberRole,
    Membership,
    MembershipApplication,
    RecoveryCode,
    TokenPurpose,
    User,
    UserSession,
)
from directory.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from directory.audit.models import AuditAction
from directory.audit.operations import record, record_refusal
from directory.db import db_session, delete_where, utcnow, write_apart
from directory.mail.operations import external_url, queue_mail
from directory.orgs.models import MembershipStatus, Organization
from directory.orgs.operations import ListingError, create_organization
from directory.orgs.schemas import ListingSchema
from directory.text import MARKS

log = logging.getLogger(__name__)

RESET_LINK_LIFETIME = dt.timedelta(hours=1)
VERIFY_LINK_LIFETIME = dt.timedelta(days=2)
INVITATION_LIFETIME = dt.timedelta(days=7)
# last_seen_at is written at most this often, not on every request.
SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)
NAME_MAX = 200
MESSAGE_MAX = 2000
EXPIRED_LINK = "This link has expired or was already used. Ask for a new one."
# Zero-width (non-)joiners are part of how some scripts write names; other format characters
# (bidirectional overrides, invisible separators) only disguise text.
_ALLOWED_FORMAT_CHARACTERS = {"\u200c", "\u200d"}


class AccountError(ValueError):
    """A rule about accounts was broken; the message is for the user, ``field`` names the
    form field it is about, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- input rules ---------------------------------------------------------------------------

def normalize_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str, field: str = "email") -> str:
    """The address in its canonical form (ASCII, lower case), or AccountError."""
    candidate = email.strip()
    if len(candidate) > 254:
        raise AccountError("An email address has at most 254 characters.", field)
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AccountError(f"Enter a valid email address. {exc}", field) from exc
    return result.ascii_email.lower()


def clean_text(value: str, *, label: str, max_length: int, field: str | None = None,
               required: bool = True, multiline: bool = False) -> str:
    """Text as people typed it, trimmed, refused if too long or hiding control characters."""
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise AccountError(f"{label} is required.", field)
    if len(text) > max_length:
        raise AccountError(f"{label} has at most {max_length} characters.", field)
    # Free text keeps the bidirectional marks right-to-left writing uses (directory/text.py).
    allowed = {"\n", "\r", "\t", *MARKS} if multiline else set()
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "C" and char not in allowed and char not in _ALLOWED_FORMAT_CHARACTERS:
            raise AccountError(f"{label} contains invisible or control characters.", field)
    return text


def clean_name(value: str, *, label: str = "Name", field: str | None = "name") -> str:
    """A person's or organization's name: any script, but no markup."""
    text = clean_text(value, label=label, max_length=NAME_MAX, field=field)
    if "<" in text or ">" in text:
        raise AccountError(f"{label} cannot contain < or >.", field)
    return text


def check_password(password: str, *, email: str = "", name: str = "",
                   field: str = "password") -> None:
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise AccountError(problem, field)


# --- users ---------------------------------------------------------------------------------

def find_user_by_email(email: str) -> User | None:
    return db_session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def create_user(email: str, name: str, password: str | None = None, *,
                is_coordinator: bool = False, email_verified: bool = False) -> User:
    email = valid_email(email)
    if find_user_by_email(email) is not None:
        raise AccountError(f"A user with the email {email} already exists.", "email")
    name = clean_name(name) if name.strip() else email
    if password is not None:
        check_password(password, email=email, name=name)
    user = User(email=email, name=name, is_coordinator=is_coordinator,
                password_hash=hash_password(password) if password is not None else None,
                email_verified_at=utcnow() if email_verified else None)
    db_session.add(user)
    db_session.flush()
    return user


def create_account(email: str, name: str, password: str, *, coordinator: bool = False,
                   organization: Organization | None = None,
                   role: MemberRole | None = None) -> User:
    """A user made by an operator (`directory create-user`), who vouches for the address."""
    user = create_user(email, name, password, is_coordinator=coordinator, email_verified=True)
    if organization is not None and role is not None:
        add_membership(user, organization, role)
    record(AuditAction.USER_CREATED, subject=user, organization=organization,
           details={"via": "command line", "coordinator": coordinator,
                    "role": role.value if role else None})
    return user


def set_password(user: User, password: str) -> None:
    """Change the password and end every session of the user."""
    check_password(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)
    end_all_sessions(user)


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
    db_session.flush()
    return user


def refuse_sign_in(email: str) -> None:
    """Keep a failed sign-in on record: the address, and the account if there is one."""
    user = find_user_by_email(email) if email else None
    record_refusal(AuditAction.SIGN_IN_FAILED, subject=user,
                   details={"email": normalize_email(email)[:254]})


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password):
        raise AccountError("Your current password is not right.", "current_password")
    set_password(user, new_password)
    record(AuditAction.PASSWORD_CHANGED, actor=user, subject=user)
    _mail(user.email, "Your Partner Directory password was changed", "password_changed", user=user)


# --- sessions ------------------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def _request_address() -> str | None:
    return (request.remote_addr or None) if has_request_context() else None


def sign_in(user: User, *, remember: bool, second_factor: str | None,
            renewal: bool = False) -> str:
    """Open a server-side session for ``user``; returns the token the cookie will carry.
    ``renewal``: the new session replaces one a password change has just ended."""
    now = utcnow()
    config = current_app.config
    lifetime = (dt.timedelta(days=config["REMEMBER_DAYS"]) if remember
                else dt.timedelta(hours=config["SESSION_MAX_HOURS"]))
    token, token_hash = _new_token()
    agent = request.user_agent.string[:200] if has_request_context() else ""
    db_session.add(UserSession(user_id=user.id, token_hash=token_hash, last_seen_at=now,
                               expires_at=now + lifetime, remember=remember,
                               ip_address=_request_address(), user_agent=agent))
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
    _reauthenticate(user, password)
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


# --- mailed links --------------------------------------------------------------------------

def _mail(to: str, subject: str, template: str, **context: Any) -> None:
    queue_mail(to, subject, render_template(f"accounts/mail/{template}.txt", **context))


def _issue_token(user: User, purpose: TokenPurpose, lifetime: dt.timedelta) -> str:
    """A new link; earlier unused links of the same purpose stop working."""
    now = utcnow()
    db_session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.purpose == purpose,
               AccountToken.used_at.is_(None))
        .values(used_at=now)
    )
    token, token_hash = _new_token()
    db_session.add(AccountToken(user_id=user.id, purpose=purpose, token_hash=token_hash,
                                expires_at=now + lifetime))
    db_session.flush()
    return token


def find_token(token: str, purpose: TokenPurpose) -> AccountToken | None:
    """The unused, unexpired link ``token`` stands for, if any."""
    if not token or len(token) > 128:
        return None
    found = db_session.scalar(select(AccountToken).where(
        AccountToken.token_hash == hash_token(token), AccountToken.purpose == purpose))
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        return None
    return found


def _consume(token: str, purpose: TokenPurpose) -> AccountToken:
    found = find_token(token, purpose)
    if found is None:
        raise AccountError(EXPIRED_LINK)
    # Conditional, so that of two simultaneous uses of one link exactly one succeeds.
    result = db_session.execute(
        update(AccountToken)
        .where(AccountToken.id == found.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AccountError(EXPIRED_LINK)
    return found


def request_password_reset(email: str) -> None:
    """Mail a reset link if the address belongs to an active account; say nothing either way."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        log.info("password reset asked for an address without an active account")
        return
    token = _issue_token(user, TokenPurpose.RESET_PASSWORD, RESET_LINK_LIFETIME)
    _mail(user.email, "Reset your Partner Directory password", "reset_password", user=user,
          link=external_url("accounts.reset_password", token=token),
          minutes=int(RESET_LINK_LIFETIME.total_seconds() // 60))
    record(AuditAction.PASSWORD_RESET_REQUESTED, subject=user)


def reset_password(token: str, password: str) -> User:
    found = find_token(token, TokenPurpose.RESET_PASSWORD)
    if found is None:
        raise AccountError(EXPIRED_LINK)
    user = found.user
    check_password(password, email=user.email, name=user.name)
    _consume(token, TokenPurpose.RESET_PASSWORD)
    set_password(user, password)
    user.email_verified_at = user.email_verified_at or utcnow()  # the link proved the address
    record(AuditAction.PASSWORD_RESET, actor=user, subject=user)
    _mail(user.email, "Your Partner Directory password was changed", "password_changed", user=user)
    return user


def send_email_verification(user: User) -> None:
    if user.email_verified:
        raise AccountError("Your email address is already confirmed.")
    token = _issue_token(user, TokenPurpose.VERIFY_EMAIL, VERIFY_LINK_LIFETIME)
    _mail(user.email, "Confirm your email address for the Partner Directory", "verify_email",
          user=user, link=external_url("accounts.verify_email", token=token))


def verify_email(token: str) -> User:
    user = _consume(token, TokenPurpose.VERIFY_EMAIL).user
    user.email_verified_at = user.email_verified_at or utcnow()
    record(AuditAction.EMAIL_VERIFIED, actor=user, subject=user)
    return user


# --- two-factor sign-in --------------------------------------------------------------------

def _reauthenticate(user: User, password: str) -> None:
    """Changes to how a user signs in, or to their sessions, take the password again: a
    session left open on a shared computer is not enough."""
    if not verify_password(user.password_hash, password):
        raise AccountError("Your password is not right.", "password")


def begin_two_factor_setup(user: User, password: str) -> None:
    """Give ``user`` a new, not yet confirmed TOTP secret to scan."""
    if user.two_factor_enabled:
        raise AccountError("Two-factor sign-in is already on.")
    _reauthenticate(user, password)
    user.totp_secret = totp.encrypt_secret(totp.new_secret())
    db_session.flush()


def pending_two_factor_secret(user: User) -> str | None:
    if user.two_factor_enabled or not user.totp_secret:
        return None
    return totp.decrypt_secret(user.totp_secret)


def confirm_two_factor(user: User, code: str) -> list[str]:
    """Turn two-factor sign-in on once a code proves the app has the secret; returns the
    recovery codes, shown to the user this once."""
    secret = pending_two_factor_secret(user)
    if secret is None:
        raise AccountError("Start the set-up again: there is no code to confirm.")
    step = totp.matching_step(secret, code, utcnow(), None)
    if step is None:
        raise AccountError("That code is not right. Check the time on your phone and try the "
                           "newest code.", "code")
    user.totp_enabled_at, user.totp_last_step = utcnow(), step
    codes = _replace_recovery_codes(user)
    record(AuditAction.TWO_FACTOR_ENABLED, actor=user, subject=user)
    _mail(user.email, "Two-factor sign-in is on", "two_factor_enabled", user=user)
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db_session.execute(update(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)).values(used_at=utcnow()))
    codes = totp.new_recovery_codes()
    db_session.add_all(
        RecoveryCode(user_id=user.id, code_hash=hash_password(totp.normalize_recovery_code(code)))
        for code in codes)
    db_session.flush()
    return codes


def _use_recovery_code(user: User, code: str) -> bool:
    normalized = totp.normalize_recovery_code(code)
    if normalized is None:
        return False
    unused = db_session.scalars(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))
    match = next((c for c in unused if verify_password(c.code_hash, normalized)), None)
    if match is None:
        return False
    # Conditional, so that of two simultaneous uses of one code exactly one succeeds.
    used = db_session.execute(
        update(RecoveryCode).where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False))
    return used.rowcount == 1  # type: ignore[attr-defined]


def remaining_recovery_codes(user: User) -> int:
    return db_session.scalar(select(func.count()).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def _check_totp(user: User, code: str) -> bool:
    secret = totp.decrypt_secret(user.totp_secret) if user.totp_secret else None
    if secret is None:
        return False
    step = totp.matching_step(secret, code, utcnow(), user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def verify_second_factor(user: User, code: str) -> str:
    """Check a TOTP code or a recovery code; returns which one was used."""
    if user.two_factor_enabled and _check_totp(user, code):
        db_session.flush()
        return "totp"
    if user.two_factor_enabled and _use_recovery_code(user, code):
        record(AuditAction.RECOVERY_CODE_USED, actor=user, subject=user,
               details={"remaining": remaining_recovery_codes(user)})
        return "recovery_code"
    record_refusal(AuditAction.TWO_FACTOR_FAILED, subject=user)
    raise AccountError("That code is not right.", "code")


def renew_recovery_codes(user: User, code: str) -> list[str]:
    if not user.two_factor_enabled or not _check_totp(user, code):
        raise AccountError("Enter a current code from your authenticator app.", "code")
    codes = _replace_recovery_codes(user)
    record(AuditAction.RECOVERY_CODES_RENEWED, actor=user, subject=user)
    return codes


def disable_two_factor(user: User, password: str, *, required: bool) -> None:
    if required:
        raise AccountError("Your role requires two-factor sign-in: it cannot be switched off.")
    _reauthenticate(user, password)
    _clear_two_factor(user)
    record(AuditAction.TWO_FACTOR_DISABLED, actor=user, subject=user)
    _mail(user.email, "Two-factor sign-in is off", "two_factor_disabled", user=user)


def _clear_two_factor(user: User) -> None:
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    db_session.execute(update(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)).values(used_at=utcnow()))
    db_session.flush()


def reset_two_factor(coordinator: User, user: User) -> None:
    """A coordinator's help for a user who lost both authenticator and recovery codes."""
    if not user.two_factor_enabled:
        raise AccountError(f"{user.email} has no two-factor sign-in to reset.")
    _clear_two_factor(user)
    end_all_sessions(user)
    record(AuditAction.TWO_FACTOR_RESET, actor=coordinator, subject=user)
    _mail(user.email, "Your two-factor sign-in was reset", "two_factor_reset", user=user)


# --- membership ----------------------------------------------------------------------------

def add_membership(user: User, organization: Organization, role: MemberRole) -> Membership:
    membership = user.membership_in(organization.id)
    if membership is None:
        membership = Membership(user=user, organization=organization, role=role)
        db_session.add(membership)
    else:
        membership.role = role
    db_session.flush()
    return membership


def active_coordinators() -> list[User]:
    return list(db_session.scalars(
        select(User).where(User.is_coordinator, User.active).order_by(User.id)))


@dataclass(frozen=True)
class ApplicationRequest:
    """What the public application form collects: the listing and the first admin."""

    listing: dict[str, Any]
    admin_name: str
    admin_email: str
    password: str
    statement: str


def apply_for_membership(request_data: ApplicationRequest) -> MembershipApplication:
    """A pending organization, its first admin (unconfirmed email) and the application."""
    email = valid_email(request_data.admin_email, "admin_email")
    if find_user_by_email(email) is not None:
        raise AccountError("An account with this email address already exists. Sign in, or "
                           "ask a coordinator to add your organization.", "admin_email")
    admin_name = clean_name(request_data.admin_name, label="Your name", field="admin_name")
    check_password(request_data.password, email=email, name=admin_name)
    statement = clean_text(request_data.statement, label="About your work", field="statement",
                           max_length=MESSAGE_MAX, required=False, multiline=True)
    listing = dict(request_data.listing)
    listing["name"] = clean_name(listing.get("name", ""), label="Organization name")
    listing["description"] = clean_text(listing.get("description", ""), label="Description",
                                        field="description", max_length=5000, multiline=True)
    listing["locations"] = [
        {**location, "city": clean_text(location.get("city", ""), label="City", field="city",
                                        max_length=120)}
        for location in listing.get("locations", [])]
    try:
        organization = create_organization(ListingSchema().load(listing),
                                           status=MembershipStatus.PENDING)
    except ValidationError as exc:
        field, messages = next(iter(exc.normalized_messages().items()))
        raise AccountError(f"{field}: {_first_message(messages)}", str(field)) from exc
    except ListingError as exc:
        raise AccountError(str(exc), next(iter(exc.fields), None)) from exc
    user = create_user(email, admin_name, request_data.password)
    add_membership(user, organization, MemberRole.ADMIN)
    application = MembershipApplication(organization=organization, applicant=user,
                                        statement=statement)
    db_session.add(application)
    db_session.flush()
    record(AuditAction.APPLICATION_SUBMITTED, actor=user, organization=organization)
    send_email_verification(user)
    for coordinator in active_coordinators():
        _mail(coordinator.email, f"New application: {organization.name}", "new_application",
              organization=organization, applicant=user,
              link=external_url("admin.application", application_id=application.id))
    return application


def _first_message(messages: Any) -> str:
    while isinstance(messages, dict | list):
        messages = next(iter(messages.values() if isinstance(messages, dict) else messages), "")
    return str(messages)


def applications_of(user: User) -> list[MembershipApplication]:
    """The applications of the organizations ``user`` administers, newest first."""
    organization_ids = [m.organization_id for m in user.memberships if m.role == MemberRole.ADMIN]
    if not organization_ids:
        return []
    return list(db_session.scalars(
        select(MembershipApplication)
        .where(MembershipApplication.organization_id.in_(organization_ids))
        .order_by(MembershipApplication.created_at.desc())
        .options(selectinload(MembershipApplication.organization))
    ))


def answer_application(user: User, application: MembershipApplication, reply: str) -> None:
    if application.status != ApplicationStatus.INFO_REQUESTED:
        raise AccountError("The coordinators have not asked a question about this application.")
    application.applicant_reply = clean_text(reply, label="Your answer", field="reply",
                                             max_length=MESSAGE_MAX, multiline=True)
    application.status = ApplicationStatus.SUBMITTED
    db_session.flush()
    record(AuditAction.APPLICATION_ANSWERED, actor=user, organization=application.organization)
    if application.decided_by is not None and application.decided_by.active:
        _mail(application.decided_by.email,
              f"{application.organization.name} answered your question", "application_answered",
              application=application,
              link=external_url("admin.application", application_id=application.id))


def members_of(organization: Organization) -> list[Membership]:
    return list(db_session.scalars(
        select(Membership).where(Membership.organization_id == organization.id)
        .join(Membership.user).order_by(func.lower(User.name), User.id)
        .options(selectinload(Membership.user))
    ))


def open_invitations(organization: Organization) -> list[Invitation]:
    return list(db_session.scalars(
        select(Invitation)
        .where(Invitation.organization_id == organization.id, Invitation.accepted_at.is_(None),
               Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow())
        .order_by(Invitation.created_at.desc())
    ))


def invite_member(actor: User, organization: Organization, email: str,
                  role: MemberRole) -> Invitation:
    """Mail a single-use invitation; an earlier open one to the same address stops working."""
    if not organization.is_active:
        raise AccountError("Only active member organizations can invite people.")
    email = valid_email(email)
    existing = find_user_by_email(email)
    if existing is not None and existing.membership_in(organization.id) is not None:
        raise AccountError(f"{email} is already a member of {organization.name}.", "email")
    now = utcnow()
    db_session.execute(
        update(Invitation)
        .where(Invitation.organization_id == organization.id, Invitation.email == email,
               Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token, token_hash = _new_token()
    invitation = Invitation(organization=organization, email=email, role=role,
                            token_hash=token_hash, invited_by_id=actor.id,
                            expires_at=now + INVITATION_LIFETIME)
    db_session.add(invitation)
    db_session.flush()
    record(AuditAction.INVITATION_SENT, actor=actor, organization=organization,
           subject=existing, details={"email": email, "role": role.value})
    _mail(email, f"{actor.name} invites you to the Partner Directory", "invitation",
          invitation=invitation, inviter=actor, days=INVITATION_LIFETIME.days,
          link=external_url("accounts.invitation", token=token))
    return invitation


def revoke_invitation(actor: User, invitation: Invitation) -> None:
    if not invitation.is_open(utcnow()):
        raise AccountError("This invitation is no longer open.")
    invitation.revoked_at = utcnow()
    db_session.flush()
    record(AuditAction.INVITATION_REVOKED, actor=actor, organization=invitation.organization,
           details={"email": invitation.email})


def find_invitation(token: str) -> Invitation | None:
    """The open invitation ``token`` stands for, if any."""
    if not token or len(token) > 128:
        return None
    invitation = db_session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None or not invitation.is_open(utcnow()):
        return None
    return invitation


def addressed_to(invitation: Invitation, user: Any) -> bool:
    """Whether ``user`` (signed in, or not) is the one ``invitation`` was sent to."""
    return isinstance(user, User) and user.email == invitation.email


def _invited_by_an_admin(invitation: Invitation) -> bool:
    inviter = invitation.invited_by
    membership = inviter.membership_in(invitation.organization_id) if inviter else None
    return membership is not None and membership.role == MemberRole.ADMIN


def accept_invitation(token: str, *, user: User | None = None, name: str = "",
                      password: str = "") -> User:
    """Join the inviting organization: as ``user`` (signed in), or as a new account."""
    invitation = find_invitation(token)
    if invitation is None:
        raise AccountError("This invitation has expired, was withdrawn or was already used. "
                           "Ask your organization's admin for a new one.")
    if not invitation.organization.is_active:
        raise AccountError(f"{invitation.organization.name} cannot take in new members now.")
    if user is not None:
        if not addressed_to(invitation, user):
            raise AccountError(f"This invitation was sent to {invitation.email}: sign out and "
                               "open the link again.")
        if user.is_coordinator and not _invited_by_an_admin(invitation):
            # Coordinators see no client details: one who could invite themselves (or a
            # fellow coordinator) into any organization would read its referrals.
            raise AccountError("A coordinator joins an organization only when one of its own "
                               "admins invites them.")
    else:
        if find_user_by_email(invitation.email) is not None:
            raise AccountError(f"An account for {invitation.email} already exists: sign in, "
                               "then open the link again.")
        user = create_user(invitation.email, name, password, email_verified=True)
    result = db_session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None),
               Invitation.revoked_at.is_(None))
        .values(accepted_at=utcnow(), accepted_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AccountError("This invitation was already used.")
    user.email_verified_at = user.email_verified_at or utcnow()  # the link proved the address
    if user.membership_in(invitation.organization_id) is None:  # a member keeps their role
        add_membership(user, invitation.organization, invitation.role)
    record(AuditAction.INVITATION_ACCEPTED, actor=user, organization=invitation.organization,
           details={"role": invitation.role.value})
    return user


def _admin_count(organization: Organization) -> int:
    return db_session.scalar(select(func.count()).where(
        Membership.organization_id == organization.id, Membership.role == MemberRole.ADMIN)) or 0


def _keep_an_admin(membership: Membership) -> None:
    if membership.role == MemberRole.ADMIN and _admin_count(membership.organization) <= 1:
        raise AccountError(f"{membership.user.name} is the only admin of "
                           f"{membership.organization.name}: make someone else admin first.")


def change_member_role(actor: User, membership: Membership, role: MemberRole) -> None:
    if membership.role == role:
        return
    if role != MemberRole.ADMIN:
        _keep_an_admin(membership)
    previous, membership.role = membership.role, role
    db_session.flush()
    record(AuditAction.ROLE_CHANGED, actor=actor, organization=membership.organization,
           subject=membership.user, details={"from": previous.value, "to": role.value})


def remove_member(actor: User, membership: Membership) -> None:
    """Remove a member; every session of theirs ends at its next request."""
    _keep_an_admin(membership)
    member, organization = membership.user, membership.organization
    db_session.delete(membership)
    db_session.flush()
    db_session.expire(member, ["memberships"])
    end_all_sessions(member)
    record(AuditAction.MEMBER_REMOVED, actor=actor, organization=organization, subject=member)


# --- retention (`directory sweep`) -------------------------------------------------------
# Rows past their use say who signed in from where, and to whom links were mailed: kept a
# while after they stop working, for questions about them, then deleted.

def purge_sessions(before: dt.datetime) -> int:
    """Delete browser sessions that ended, or expired, before ``before``. The account page
    lists open sessions only, so nothing it shows goes."""
    return delete_where(UserSession,
                        or_(UserSession.ended_at < before, UserSession.expires_at < before))


def purge_account_tokens(before: dt.datetime) -> int:
    """Delete password-reset and email-verification links used or expired before ``before``."""
    return delete_where(AccountToken,
                        or_(AccountToken.used_at < before, AccountToken.expires_at < before))


def purge_invitations(before: dt.datetime) -> int:
    """Delete invitations accepted, revoked or expired before ``before`` (the audit log keeps
    who invited whom)."""
    return delete_where(Invitation, or_(Invitation.accepted_at < before,
                                        Invitation.revoked_at < before,
                                        Invitation.expires_at < before))
