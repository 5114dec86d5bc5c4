"""Test fixtures: one migrated database per test session, one rolled-back transaction per test.

Set DIRECTORY_DATABASE_URL to run the suite on PostgreSQL; its schema is dropped and rebuilt
at the start of the session, so point it at a database kept for tests. Under pytest-xdist each
worker gets a database of its own beside it (`test_gw0`, `test_gw1`...), created when missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from directory import create_app
from directory.db import get_database, get_session, upgrade
from directory.extensions import limiter
from directory.seeding import SeedReport, load_taxonomy
from tests.factories import Factory

PASSWORD = "correct horse battery staple"


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _worker_database(url: str) -> str:
    """The PostgreSQL database of this pytest-xdist worker, so that workers never drop each
    other's schema."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _test_settings(tmp: Path) -> dict[str, Any]:
    url = os.environ.get("DIRECTORY_DATABASE_URL") or f"sqlite:///{tmp / 'test.db'}"
    if url.startswith("postgresql"):
        url = _worker_database(url)
    # Two-factor sign-in is off by default in the suite so any test can sign in as an admin or
    # a coordinator with a password; tests/accounts turn it on where it is the subject.
    return {"ENV": "testing", "INSTANCE_PATH": str(tmp / "instance"), "DATABASE_URL": url,
            "WTF_CSRF_ENABLED": False, "SERVER_NAME": "directory.test", "REQUIRE_2FA": False}


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Argon2 with its smallest cost: the suite hashes hundreds of passwords."""
    from argon2 import PasswordHasher

    from directory.accounts import passwords

    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    passwords._hasher = original


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _test_settings(tmp_path_factory.mktemp("directory"))


@pytest.fixture(scope="session")
def app(settings: dict[str, Any]) -> Iterator[Flask]:
    """The application that serves the test client's requests."""
    if settings["DATABASE_URL"].startswith("postgresql"):
        _reset_postgres(settings["DATABASE_URL"])
    application = create_app(settings)
    database = get_database(application)
    upgrade(database)
    with application.app_context():
        session = get_session()
        load_taxonomy(SeedReport())
        session.commit()
    yield application
    database.engine.dispose()


@pytest.fixture(scope="session")
def test_side_app(app: Flask, settings: dict[str, Any]) -> Flask:
    """A second app on the same database, whose context the test code runs in.

    Flask reuses an app context that is already pushed for the same app, so if tests ran in
    ``app``'s context every request would share the test's ``g`` (and its signed-in user).
    """
    application = create_app(settings)
    get_database(application).engine.dispose()
    application.extensions["directory.db"] = get_database(app)
    return application


@pytest.fixture()
def db(app: Flask, test_side_app: Flask) -> Iterator[Session]:
    """The test's session; everything it and the requests of the test do is rolled back."""
    database = get_database(app)
    connection = database.engine.connect()
    outer = connection.begin()
    database.bind_to(connection)
    try:
        with test_side_app.test_request_context():
            yield get_session()
    finally:
        database.unbind()
        outer.rollback()
        connection.close()


@pytest.fixture()
def client(app: Flask, db: Session) -> FlaskClient:
    limiter.reset()  # rate-limit counts start afresh in every test
    return app.test_client()


@pytest.fixture()
def factory(db: Session) -> Factory:
    return Factory(db)


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD) -> Any:
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self) -> Any:
        return self.client.post("/logout")


@pytest.fixture()
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
