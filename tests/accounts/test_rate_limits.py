"""Sign-in is rate-limited per account and per address; only failures count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from directory import create_app
from directory.db import get_database
from directory.extensions import limiter
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory


@pytest.fixture()
def small_address_limit(app: Flask) -> Iterator[None]:
    original = app.config["LOGIN_LIMIT_PER_ADDRESS"]
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per minute"
    try:
        yield
    finally:
        app.config["LOGIN_LIMIT_PER_ADDRESS"] = original


def test_an_account_is_locked_for_a_while_after_five_failures(
        client: FlaskClient, auth: AuthActions, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    for _ in range(5):
        assert auth.login(user.email, "wrong password, again").status_code == 401
    blocked = auth.login(user.email)  # even the right password waits now
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) > 0
    assert client.get("/organizations").status_code == 302


def test_unknown_emails_are_limited_the_same_way(auth: AuthActions) -> None:
    statuses = [auth.login("nobody@test.example", "wrong password, again").status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_the_account_limit_ignores_the_case_of_the_email(auth: AuthActions,
                                                         factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    for variant in (user.email, user.email.upper(), user.email.title(), user.email.capitalize(),
                    user.email):
        assert auth.login(variant, "wrong password, again").status_code == 401
    assert auth.login(user.email).status_code == 429


def test_an_address_is_limited_across_accounts(small_address_limit: None,
                                               auth: AuthActions) -> None:
    statuses = [auth.login(f"someone{n}@test.example", "wrong password").status_code
                for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_successful_sign_ins_do_not_count(auth: AuthActions, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    for _ in range(8):
        assert auth.login(user.email).status_code == 302
        auth.logout()


def test_malformed_forms_do_not_count(client: FlaskClient, factory: Factory) -> None:
    user = factory.user(organization=factory.organization())
    for _ in range(8):
        assert client.post("/login", data={"email": user.email}).status_code == 400
    assert client.post("/login", data={"email": user.email,
                                       "password": PASSWORD}).status_code == 302


def test_failures_of_other_accounts_do_not_lock_an_account(auth: AuthActions,
                                                           factory: Factory) -> None:
    organization = factory.organization()
    victim, other = factory.user(organization=organization), factory.user(organization=organization)
    for _ in range(5):
        auth.login(other.email, "wrong password, again")
    assert auth.login(victim.email).status_code == 302


def test_password_reset_requests_are_limited(client: FlaskClient) -> None:
    statuses = [client.post("/password/forgot", data={"email": "a@test.example"}).status_code
                for _ in range(6)]
    assert statuses == [302] * 5 + [429]


def test_limits_are_kept_in_redis_where_configured(app: Flask, settings: dict, db: Session,
                                                   factory: Factory) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    user = factory.user(organization=factory.organization())
    shared = create_app({**settings, "RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0"})
    get_database(shared).engine.dispose()
    shared.extensions["directory.db"] = get_database(app)
    try:
        limiter.reset()
        assert type(limiter.storage).__name__ == "RedisStorage"
        client = shared.test_client()
        statuses = [client.post("/login", data={"email": user.email, "password": "nope, wrong"})
                    .status_code for _ in range(6)]
        assert statuses == [401] * 5 + [429]
    finally:
        limiter.reset()
        limiter.init_app(app)  # the one limiter instance goes back to the suite's storage
