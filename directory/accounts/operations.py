"""Account operations: they check the rules, change state and flush; the caller commits.

Users and their credentials: the input rules for names, emails and passwords, passwords and
the mailed links (password reset, email verification). Beside it: `sessions.py` (server-side
sessions), `two_factor.py` (two-factor sign-in) and `membership.py` (applications to join the
network, invitations, roles, removals). Coordinators' decisions about organizations and users
are in directory/admin/operations.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from contextlib import nullcontext
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from directory.accounts.errors import AccountError
from directory.accounts.models import (
    AccountToken,
    TokenPurpose,
    User,
)
from directory.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from directory.accounts.sessions import end_all_sessions, hash_token, new_token
from directory.audit.models import AuditAction
from directory.audit.operations import record, record_refusal
from directory.db import db_session, delete_where, utcnow
from directory.i18n import known_language, recipient_language, valid_time_zone
from directory.mail.operations import external_url, queue_mail
from directory.text import MARKS

log = logging.getLogger(__name__)

RESET_LINK_LIFETIME = dt.timedelta(hours=1)
VERIFY_LINK_LIFETIME = dt.timedelta(days=2)
EMAIL_CHANGE_LINK_LIFETIME = dt.timedelta(hours=24)
NAME_MAX = 200
EXPIRED_LINK = _l("This link has expired or was already used. Ask for a new one.")
# Zero-width (non-)joiners are part of how some scripts write names; other format characters
# (bidirectional overrides, invisible separators) only disguise text.
_ALLOWED_FORMAT_CHARACTERS = {"\u200c", "\u200d"}


# --- input rules ---------------------------------------------------------------------------

def normalize_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str, field: str = "email") -> str:
    """The address in its canonical form (ASCII, lower case), or AccountError."""
    candidate = email.strip()
    if len(candidate) > 254:
        raise AccountError(_("An email address has at most 254 characters."), field)
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AccountError(_("Enter a valid email address. %(reason)s", reason=exc), field) from exc
    return result.ascii_email.lower()


def clean_text(value: str, *, label: str, max_length: int, field: str | None = None,
               required: bool = True, multiline: bool = False) -> str:
    """Text as people typed it, trimmed, refused if too long or hiding control characters."""
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise AccountError(_("%(label)s is required.", label=label), field)
    if len(text) > max_length:
        raise AccountError(_("%(label)s has at most %(count)s characters.", label=label,
                             count=max_length), field)
    # Free text keeps the bidirectional marks right-to-left writing uses (directory/text.py).
    allowed = {"\n", "\r", "\t", *MARKS} if multiline else set()
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "C" and char not in allowed and char not in _ALLOWED_FORMAT_CHARACTERS:
            raise AccountError(_("%(label)s contains invisible or control characters.",
                             label=label), field)
    return text


def clean_name(value: str, *, label: str | None = None, field: str | None = "name") -> str:
    """A person's or organization's name: any script, but no markup."""
    label = label or _("Name")
    text = clean_text(value, label=label, max_length=NAME_MAX, field=field)
    if "<" in text or ">" in text:
        raise AccountError(_("%(label)s cannot contain < or >.", label=label), field)
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
        raise AccountError(_("A user with the email %(email)s already exists.", email=email),
                           "email")
    name = clean_name(name) if name.strip() else email
    if password is not None:
        check_password(password, email=email, name=name)
    user = User(email=email, name=name, is_coordinator=is_coordinator,
                password_hash=hash_password(password) if password is not None else None,
                email_verified_at=utcnow() if email_verified else None)
    db_session.add(user)
    db_session.flush()
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
        raise AccountError(_("Your current password is not right."), "current_password")
    set_password(user, new_password)
    record(AuditAction.PASSWORD_CHANGED, actor=user, subject=user)
    send_account_mail(user.email, _l("Your Partner Directory password was changed"),
                      "password_changed", recipient=user, user=user)


# --- name and address ----------------------------------------------------------------------

def change_name(user: User, name: str) -> bool:
    """Rename the user; False when the name is the same already."""
    new_name = clean_name(name)
    if new_name == user.name:
        return False
    old_name, user.name = user.name, new_name
    db_session.flush()
    record(AuditAction.NAME_CHANGED, actor=user, subject=user,
           details={"old_name": old_name, "new_name": new_name})
    return True


def change_preferences(user: User, language: str | None, time_zone: str | None) -> bool:
    """Set the language and time zone the user reads in (empty: chosen for them, see
    ``directory.i18n``); False when both are as they were."""
    language = language or None
    time_zone = time_zone or None
    if language is not None and known_language(language) is None:
        raise AccountError(_("Choose English or Spanish."), "language")
    if time_zone is not None and valid_time_zone(time_zone) is None:
        raise AccountError(_("Choose a time zone from the list."), "time_zone")
    if (user.language, user.time_zone) == (language, time_zone):
        return False
    user.language, user.time_zone = language, time_zone
    db_session.flush()
    return True


def request_email_change(user: User, new_email: str, current_password: str) -> str:
    """Mail a confirmation link to ``new_email`` and a notice to the present address; the
    address changes only when the link is followed (``confirm_email_change``). Returns the
    new address in its canonical form."""
    if not verify_password(user.password_hash, current_password):
        raise AccountError(_("Your current password is not right."), "current_password")
    address = valid_email(new_email, "new_email")
    if address == user.email:
        raise AccountError(_("That is your address already."), "new_email")
    if find_user_by_email(address) is not None:
        raise AccountError(_("Another account uses that address."), "new_email")
    token = _issue_token(user, TokenPurpose.CHANGE_EMAIL, EMAIL_CHANGE_LINK_LIFETIME,
                         new_email=address)
    hours = int(EMAIL_CHANGE_LINK_LIFETIME.total_seconds() // 3600)
    send_account_mail(address, _l("Confirm your new email address for the Partner Directory"),
                      "confirm_email_change", recipient=user, user=user, new_email=address,
                      hours=hours,
                      link=external_url("accounts.confirm_email_change", token=token))
    send_account_mail(user.email,
                      _l("A change of your Partner Directory email address was asked"),
                      "email_change_requested", recipient=user, user=user, new_email=address,
                      hours=hours)
    record(AuditAction.EMAIL_CHANGE_REQUESTED, actor=user, subject=user,
           details={"old_email": user.email, "new_email": address})
    return address


def confirm_email_change(token: str) -> User:
    """Follow a change link: the account moves to the address the link was mailed to."""
    found = find_token(token, TokenPurpose.CHANGE_EMAIL)
    if found is None:
        raise AccountError(str(EXPIRED_LINK))
    user, address = found.user, found.new_email or ""
    if find_user_by_email(address) is not None:  # taken since the link was mailed
        raise AccountError(_("Another account uses that address now: nothing was changed."),
                           "new_email")
    _consume(token, TokenPurpose.CHANGE_EMAIL)
    old_email = user.email
    user.email, user.email_verified_at = address, utcnow()  # the link proved the address
    db_session.flush()
    record(AuditAction.EMAIL_CHANGED, actor=user, subject=user,
           details={"old_email": old_email, "new_email": address})
    send_account_mail(old_email, _l("Your Partner Directory email address was changed"),
                      "email_changed", recipient=user, user=user, old_email=old_email)
    return user


# --- mailed links --------------------------------------------------------------------------

def send_account_mail(to: str, subject: str, template: str, *, recipient: User | None,
                      **context: Any) -> None:
    """Queue an account mail in its recipient's language: ``recipient``'s setting (English
    when they have none). ``recipient`` None: an address with no account yet (an invitation),
    written in the language of the request that sends it. ``subject`` is a lazy message,
    translated here."""
    with recipient_language(recipient) if recipient is not None else nullcontext():
        queue_mail(to, str(subject), render_template(f"accounts/mail/{template}.txt", **context))


def _issue_token(user: User, purpose: TokenPurpose, lifetime: dt.timedelta, *,
                 new_email: str | None = None) -> str:
    """A new link; earlier unused links of the same purpose stop working."""
    now = utcnow()
    db_session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.purpose == purpose,
               AccountToken.used_at.is_(None))
        .values(used_at=now)
    )
    token, token_hash = new_token()
    db_session.add(AccountToken(user_id=user.id, purpose=purpose, token_hash=token_hash,
                                expires_at=now + lifetime, new_email=new_email))
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
        raise AccountError(str(EXPIRED_LINK))
    # Conditional, so that of two simultaneous uses of one link exactly one succeeds.
    result = db_session.execute(
        update(AccountToken)
        .where(AccountToken.id == found.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AccountError(str(EXPIRED_LINK))
    return found


def request_password_reset(email: str) -> None:
    """Mail a reset link if the address belongs to an active account; say nothing either way."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        log.info("password reset asked for an address without an active account")
        return
    token = _issue_token(user, TokenPurpose.RESET_PASSWORD, RESET_LINK_LIFETIME)
    send_account_mail(user.email, _l("Reset your Partner Directory password"), "reset_password",
                      recipient=user, user=user,
                      link=external_url("accounts.reset_password", token=token),
                      minutes=int(RESET_LINK_LIFETIME.total_seconds() // 60))
    record(AuditAction.PASSWORD_RESET_REQUESTED, subject=user)


def reset_password(token: str, password: str) -> User:
    found = find_token(token, TokenPurpose.RESET_PASSWORD)
    if found is None:
        raise AccountError(str(EXPIRED_LINK))
    user = found.user
    check_password(password, email=user.email, name=user.name)
    _consume(token, TokenPurpose.RESET_PASSWORD)
    set_password(user, password)
    user.email_verified_at = user.email_verified_at or utcnow()  # the link proved the address
    record(AuditAction.PASSWORD_RESET, actor=user, subject=user)
    send_account_mail(user.email, _l("Your Partner Directory password was changed"),
                      "password_changed", recipient=user, user=user)
    return user


def send_email_verification(user: User) -> None:
    if user.email_verified:
        raise AccountError(_("Your email address is already confirmed."))
    token = _issue_token(user, TokenPurpose.VERIFY_EMAIL, VERIFY_LINK_LIFETIME)
    send_account_mail(user.email, _l("Confirm your email address for the Partner Directory"),
                      "verify_email", recipient=user, user=user,
                      link=external_url("accounts.verify_email", token=token))


def verify_email(token: str) -> User:
    user = _consume(token, TokenPurpose.VERIFY_EMAIL).user
    user.email_verified_at = user.email_verified_at or utcnow()
    record(AuditAction.EMAIL_VERIFIED, actor=user, subject=user)
    return user


# --- retention (`directory sweep`) -------------------------------------------------------

def purge_account_tokens(before: dt.datetime) -> int:
    """Delete mailed account links (password reset, email verification and change) used or
    expired before ``before``."""
    return delete_where(AccountToken,
                        or_(AccountToken.used_at < before, AccountToken.expires_at < before))
