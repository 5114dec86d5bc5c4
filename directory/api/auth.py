"""Who calls the API: the signed-in session, or a personal token sent as
``Authorization: Bearer <token>``.

A request that carries a token is judged by the token alone (a cookie sent with it is
ignored), and is exempt from CSRF checks: a browser never adds that header to a forged
cross-site request, so the token itself proves the request is meant.
"""

from __future__ import annotations

from flask import Flask, Request, g, request

from directory.accounts.models import User
from directory.api.errors import is_api_request
from directory.api.models import ApiToken
from directory.api.operations import authenticate
from directory.extensions import login_manager


def bearer_secret() -> str | None:
    """The token of an API request that sends one."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not is_api_request():
        return None
    return secret.strip()


def current_api_token() -> ApiToken | None:
    return g.get("api_token")


def _load_user_from_token(_: Request) -> User | None:
    secret = bearer_secret()
    token = authenticate(secret) if secret is not None else None
    if token is None:
        return None
    g.api_token = token
    return token.user


def init_app(app: Flask) -> None:
    login_manager.request_loader(_load_user_from_token)
