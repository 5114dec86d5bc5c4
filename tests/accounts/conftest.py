"""Fixtures for the account tests: two-factor sign-in switched on, and TOTP helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory.accounts.models import User
from directory.accounts.two_factor import (
    begin_two_factor_setup,
    confirm_two_factor,
    pending_two_factor_secret,
)
from directory.db import utcnow
from tests.conftest import PASSWORD


@pytest.fixture()
def require_2fa(app: Flask) -> Iterator[None]:
    """DIRECTORY_REQUIRE_2FA on, as in production (the suite's default is off)."""
    app.config["REQUIRE_2FA"] = True
    try:
        yield
    finally:
        app.config["REQUIRE_2FA"] = False


def code_at(secret: str, steps_from_now: int = 0) -> str:
    moment = utcnow() + dt.timedelta(seconds=30 * steps_from_now)
    return pyotp.TOTP(secret).at(moment)


def enable_two_factor(user: User) -> tuple[str, list[str]]:
    """Turn TOTP on for ``user`` (confirmed with the previous step's code, so the current
    code is still fresh for a sign-in); returns the secret and the recovery codes."""
    begin_two_factor_setup(user, PASSWORD)
    secret = pending_two_factor_secret(user)
    assert secret is not None
    return secret, confirm_two_factor(user, code_at(secret, -1))


def sign_in_with_code(client: FlaskClient, email: str, code: str,
                      password: str = PASSWORD) -> tuple[int, int]:
    """Both steps of a two-factor sign-in; the two status codes."""
    first = client.post("/login", data={"email": email, "password": password})
    second = client.post("/login/two-factor", data={"code": code})
    return first.status_code, second.status_code
