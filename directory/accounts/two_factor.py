"""Two-factor sign-in: TOTP set-up and confirmation, recovery codes, resets by a coordinator."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from directory.accounts import totp
from directory.accounts.errors import AccountError
from directory.accounts.models import (
    RecoveryCode,
    User,
)
from directory.accounts.operations import send_account_mail
from directory.accounts.passwords import (
    hash_password,
    verify_password,
)
from directory.accounts.sessions import end_all_sessions, reauthenticate
from directory.audit.models import AuditAction
from directory.audit.operations import record, record_refusal
from directory.db import db_session, utcnow


def begin_two_factor_setup(user: User, password: str) -> None:
    """Give ``user`` a new, not yet confirmed TOTP secret to scan."""
    if user.two_factor_enabled:
        raise AccountError(_("Two-factor sign-in is already on."))
    reauthenticate(user, password)
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
        raise AccountError(_("Start the set-up again: there is no code to confirm."))
    step = totp.matching_step(secret, code, utcnow(), None)
    if step is None:
        raise AccountError(_("That code is not right. Check the time on your phone and try "
                             "the newest code."), "code")
    user.totp_enabled_at, user.totp_last_step = utcnow(), step
    codes = _replace_recovery_codes(user)
    record(AuditAction.TWO_FACTOR_ENABLED, actor=user, subject=user)
    send_account_mail(user.email, _l("Two-factor sign-in is on"), "two_factor_enabled",
                      recipient=user, user=user)
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
    raise AccountError(_("That code is not right."), "code")


def renew_recovery_codes(user: User, code: str) -> list[str]:
    if not user.two_factor_enabled or not _check_totp(user, code):
        raise AccountError(_("Enter a current code from your authenticator app."), "code")
    codes = _replace_recovery_codes(user)
    record(AuditAction.RECOVERY_CODES_RENEWED, actor=user, subject=user)
    return codes


def disable_two_factor(user: User, password: str, *, required: bool) -> None:
    if required:
        raise AccountError(_("Your role requires two-factor sign-in: it cannot be switched off."))
    reauthenticate(user, password)
    _clear_two_factor(user)
    record(AuditAction.TWO_FACTOR_DISABLED, actor=user, subject=user)
    send_account_mail(user.email, _l("Two-factor sign-in is off"), "two_factor_disabled",
                      recipient=user, user=user)


def _clear_two_factor(user: User) -> None:
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    db_session.execute(update(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)).values(used_at=utcnow()))
    db_session.flush()


def reset_two_factor(coordinator: User, user: User) -> None:
    """A coordinator's help for a user who lost both authenticator and recovery codes."""
    if not user.two_factor_enabled:
        raise AccountError(_("%(email)s has no two-factor sign-in to reset.", email=user.email))
    _clear_two_factor(user)
    end_all_sessions(user)
    record(AuditAction.TWO_FACTOR_RESET, actor=coordinator, subject=user)
    send_account_mail(user.email, _l("Your two-factor sign-in was reset"), "two_factor_reset",
                      recipient=user, user=user)
