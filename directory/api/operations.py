"""Personal API tokens: create, list, revoke, and authenticate a request by one.

A token is 256 random bits shown once; only its SHA-256 is stored (a fast hash is enough for a
secret of that strength). It acts as its user, with the user's permissions and no more, and
stops working when revoked, expired, or when the user or all their organizations are suspended.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from directory.accounts.models import User
from directory.accounts.sessions import hash_token
from directory.api.models import ApiToken
from directory.audit.models import AuditAction
from directory.audit.operations import record
from directory.db import db_session, delete_where, utcnow, write_apart
from directory.orgs.models import MembershipStatus

TOKEN_PREFIX = "dir_"
MAX_TOKENS_PER_USER = 20
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # how often a token's last use is written


class TokenError(ValueError):
    pass


def list_tokens(user: User) -> list[ApiToken]:
    return list(db_session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)))


def create_token(user: User, name: str, expires_in_days: int | None) -> tuple[ApiToken, str]:
    """A new token for ``user``; the secret is returned once and never kept."""
    if len(list_tokens(user)) >= MAX_TOKENS_PER_USER:
        raise TokenError(_("You have %(count)s tokens: revoke one first.",
                           count=MAX_TOKENS_PER_USER))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken(user=user, name=name, token_hash=hash_token(secret), expires_at=expires_at)
    db_session.add(token)
    db_session.flush()
    record(AuditAction.API_TOKEN_CREATED, actor=user, subject=user, details=_described(token))
    return token, secret


def revoke_token(user: User, token_id: int) -> ApiToken:
    token = db_session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise TokenError(_("No such token."))
    token.revoked_at = utcnow()
    db_session.flush()
    record(AuditAction.API_TOKEN_REVOKED, actor=user, subject=user, details=_described(token))
    return token


def revoke_all_tokens(actor: User, user: User, reason: str) -> int:
    """Revoke every live token of ``user``, each revocation in the audit log by ``actor``;
    how many. A suspended account's tokens would otherwise work again on reinstatement."""
    now = utcnow()
    tokens = list(db_session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)).order_by(ApiToken.id)))
    for token in tokens:
        token.revoked_at = now
    db_session.flush()
    for token in tokens:
        record(AuditAction.API_TOKEN_REVOKED, actor=actor, subject=user,
               details={**_described(token), "reason": reason})
    return len(tokens)


def _described(token: ApiToken) -> dict[str, Any]:
    """What the audit log keeps of a token: never the secret, nor its hash."""
    return {"token_id": token.id, "name": token.name,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None}


def _may_act(user: User) -> bool:
    if not user.is_active:
        return False
    return user.is_coordinator or not user.memberships or any(
        m.organization.status != MembershipStatus.SUSPENDED for m in user.memberships)


def authenticate(secret: str) -> ApiToken | None:
    """The live token with this secret, its use noted; None for anything else."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = db_session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    now = utcnow()
    if (token is None or token.revoked_at is not None
            or (token.expires_at is not None and token.expires_at <= now)
            or not _may_act(token.user)):
        return None
    _note_use(token, now)
    return token


def _note_use(token: ApiToken, now: dt.datetime) -> None:
    """Record the use at most once every ``LAST_USED_RESOLUTION``, apart from the request: a
    read stays a read, and concurrent requests never queue for the token's row."""
    cutoff = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > cutoff:
        return
    write_apart(update(ApiToken)
                .where(ApiToken.id == token.id,
                       or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= cutoff))
                .values(last_used_at=now), "an API token's last use")


def purge_tokens(before: dt.datetime) -> int:
    """Delete tokens that expired or were revoked before ``before`` (`directory sweep`); until
    then an expired token still shows on its owner's token page."""
    return delete_where(ApiToken, or_(ApiToken.expires_at < before, ApiToken.revoked_at < before))
