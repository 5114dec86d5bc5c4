"""Personal API tokens: made on the account page, shown once, stored hashed, acting as their
user and no more, and dead once revoked, expired or suspended."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.models import MemberRole, User
from directory.admin.operations import suspend_organization, suspend_user
from directory.api.models import ApiToken
from directory.api.operations import TokenError, create_token, revoke_token
from directory.audit.models import AuditEvent
from directory.orgs.models import Organization
from tests.conftest import AuthActions
from tests.factories import Factory


@pytest.fixture()
def partner(factory: Factory) -> Organization:
    return factory.organization(name="Token Partner")


@pytest.fixture()
def user(factory: Factory, partner: Organization) -> User:
    return factory.user(organization=partner, role=MemberRole.ADMIN)


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_token_is_shown_once_and_stored_as_a_hash(client: FlaskClient, auth: AuthActions,
                                                    user: User, db: Session) -> None:
    auth.login(user.email)
    page = client.post("/account/tokens", data={"name": "Intake script",
                                                "expires_in_days": "30"})
    assert page.status_code == 200
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page.get_data(as_text=True))[1]
    stored = db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.expires_at is not None and stored.name == "Intake script"
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Intake script" in listing and secret not in listing


def test_a_bad_token_form_is_refused_and_stores_nothing(client: FlaskClient, auth: AuthActions,
                                                        user: User, db: Session) -> None:
    auth.login(user.email)
    for data in [{"name": ""}, {"name": "x" * 101}, {"name": "ok", "expires_in_days": "7"}]:
        assert client.post("/account/tokens", data=data).status_code == 400
    assert db.scalars(select(ApiToken)).all() == []


def test_a_token_acts_as_its_user_without_a_session(client: FlaskClient, user: User,
                                                    partner: Organization, db: Session) -> None:
    token, secret = create_token(user, "script", None)
    response = client.get("/api/v1/me", headers=_bearer(secret))
    assert response.status_code == 200 and response.get_json()["id"] == user.id
    db.refresh(token)
    assert token.last_used_at is not None
    assert "Set-Cookie" not in response.headers
    body = client.get(f"/api/v1/organizations/{partner.slug}", headers=_bearer(secret))
    assert body.status_code == 200


def test_a_token_request_ignores_the_session_cookie(client: FlaskClient, auth: AuthActions,
                                                    user: User) -> None:
    auth.login(user.email)
    response = client.get("/api/v1/me", headers=_bearer("dir_not-a-real-token"))
    assert response.status_code == 401
    assert "token" in response.get_json()["error"]["message"]


def test_revoked_and_expired_tokens_stop_working(client: FlaskClient, user: User,
                                                 db: Session) -> None:
    revoked, revoked_secret = create_token(user, "old", None)
    revoke_token(user, revoked.id)
    expired, expired_secret = create_token(user, "short", 1)
    expired.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.flush()
    for secret in [revoked_secret, expired_secret, "garbage", ""]:
        response = client.get("/api/v1/me", headers=_bearer(secret))
        assert response.status_code == 401 and response.get_json()["error"]["code"] == (
            "unauthorized")


def test_suspension_ends_a_users_tokens(client: FlaskClient, factory: Factory, user: User,
                                        db: Session) -> None:
    _, secret = create_token(user, "script", None)
    suspend_user(factory.user(coordinator=True), user, "Left the agency.")
    db.flush()
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 401


def test_suspending_the_organization_ends_its_members_tokens(
        client: FlaskClient, factory: Factory, user: User, partner: Organization,
        db: Session) -> None:
    _, secret = create_token(user, "script", None)
    suspend_organization(factory.user(coordinator=True), partner, "Under review.")
    db.flush()
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 401


def test_a_token_carries_the_users_permissions_and_no_more(
        client: FlaskClient, factory: Factory, user: User) -> None:
    hidden = factory.organization(name="Token Safe House", locations=[{
        "name": "Residence", "address": "1 Hidden Way", "city": "Houston", "state": "TX",
        "postal_code": "77002", "confidential": True}])
    _, secret = create_token(user, "script", None)
    location = client.get(f"/api/v1/organizations/{hidden.slug}",
                          headers=_bearer(secret)).get_json()["locations"][0]
    assert location["address"] is None and location["lat"] is None


@pytest.fixture()
def require_2fa(app: Flask) -> Iterator[None]:
    app.config["REQUIRE_2FA"] = True
    try:
        yield
    finally:
        app.config["REQUIRE_2FA"] = False


@pytest.mark.usefixtures("require_2fa")
def test_two_factor_set_up_is_asked_of_sessions_not_tokens(
        client: FlaskClient, auth: AuthActions, user: User) -> None:
    _, secret = create_token(user, "script", None)
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
    auth.login(user.email)
    response = client.get("/api/v1/me")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "two_factor_required"


def test_only_the_owner_revokes_a_token(client: FlaskClient, auth: AuthActions, user: User,
                                        factory: Factory) -> None:
    token, secret = create_token(user, "script", None)
    auth.login(factory.user().email)
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
    auth.logout()
    auth.login(user.email)
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 401


def test_each_token_has_its_own_rate_limit(client: FlaskClient, app: Flask, user: User,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "2 per minute")
    _, first = create_token(user, "first", None)
    _, second = create_token(user, "second", None)
    for _ in range(2):
        assert client.get("/api/v1/me", headers=_bearer(first)).status_code == 200
    refused = client.get("/api/v1/me", headers=_bearer(first))
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 200


def _audit(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_creating_and_revoking_a_token_are_audited_without_the_secret(
        client: FlaskClient, auth: AuthActions, user: User, db: Session) -> None:
    auth.login(user.email)
    page = client.post("/account/tokens", data={"name": "Intake script",
                                                "expires_in_days": "30"})
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page.get_data(as_text=True))[1]
    token = db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    described = {"token_id": token.id, "name": "Intake script",
                 "expires_at": token.expires_at.isoformat()}
    for action in ("api_token_created", "api_token_revoked"):
        (event,) = _audit(db, action)
        assert (event.actor_id, event.subject_user_id, event.organization_id) == (
            user.id, user.id, None)
        assert event.ip_address == "127.0.0.1" and event.details == described
    every_row = json.dumps([[e.action, e.actor_email, e.details]
                            for e in db.scalars(select(AuditEvent))])
    assert secret not in every_row and token.token_hash not in every_row
    assert secret.removeprefix("dir_") not in every_row


def test_a_token_without_expiry_and_a_refused_revocation(user: User, factory: Factory,
                                                         db: Session) -> None:
    token, _ = create_token(user, "cron", None)
    (created,) = _audit(db, "api_token_created")
    assert created.details == {"token_id": token.id, "name": "cron", "expires_at": None}
    with pytest.raises(TokenError):
        revoke_token(factory.user(), token.id)  # not theirs
    revoke_token(user, token.id)
    with pytest.raises(TokenError):
        revoke_token(user, token.id)  # already revoked
    assert len(_audit(db, "api_token_revoked")) == 1
