"""A suspended account's API tokens are revoked, not just held back: reinstating the account
brings none of them (nor its browser sessions) back."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.models import User, UserSession
from directory.api.models import ApiToken
from directory.api.operations import create_token
from directory.audit.models import AuditEvent
from directory.db import utcnow
from tests.factories import Factory
from tests.security.conftest import sign_in


def _events(db: Session, action: str, subject: User) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.subject_user_id == subject.id)
        .order_by(AuditEvent.id)))


def _me(client: FlaskClient, secret: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def test_suspension_revokes_the_tokens_and_reinstatement_does_not_revive_them(
        app: Flask, client: FlaskClient, factory: Factory, db: Session) -> None:
    user = factory.user(organization=factory.organization())
    coordinator = factory.user(coordinator=True)
    script, secret = create_token(user, "nightly script", None)
    yearly, yearly_secret = create_token(user, "yearly report", 365)
    old, _ = create_token(user, "old", None)
    old.revoked_at = utcnow() - dt.timedelta(days=3)
    gone, _ = create_token(user, "expired", 30)
    gone.expires_at = utcnow() - dt.timedelta(days=1)
    db.flush()
    browser = app.test_client()
    sign_in(browser, user)
    assert _me(client, secret) == _me(client, yearly_secret) == 200
    assert browser.get("/account").status_code == 200

    sign_in(client, coordinator)
    status = f"/admin/users/{user.id}/status"
    assert client.post(status, data={"action": "suspend", "reason": "Left the agency."}
                       ).status_code == 302
    assert _me(client, secret) == _me(client, yearly_secret) == 401
    assert browser.get("/account").status_code == 302  # to the sign-in page

    db.expire_all()
    assert script.revoked_at is not None and yearly.revoked_at is not None
    assert old.revoked_at < script.revoked_at, "an already revoked token keeps its time"
    assert gone.revoked_at is None, "an expired token is left as it is"
    sessions = db.scalars(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert sessions and all(session.ended_at is not None for session in sessions)
    revoked = _events(db, "api_token_revoked", user)
    assert [(event.actor_id, event.details["token_id"], event.details["name"],
             event.details["reason"]) for event in revoked] == [
        (coordinator.id, script.id, "nightly script", "account suspended"),
        (coordinator.id, yearly.id, "yearly report", "account suspended")]
    assert all(secret not in str(event.details) for event in revoked)
    (suspended,) = _events(db, "user_suspended", user)
    assert suspended.details == {"reason": "Left the agency.", "api_tokens_revoked": 2}

    assert client.post(status, data={"action": "reinstate"}).status_code == 302
    assert _me(client, secret) == _me(client, yearly_secret) == 401
    assert browser.get("/account").status_code == 302
    db.expire_all()
    assert db.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                             ApiToken.revoked_at.is_(None))).all() == [gone]

    # The reinstated user makes new tokens, which work.
    _, fresh = create_token(user, "new script", None)
    db.flush()
    assert _me(client, fresh) == 200
