"""Who calls the API: the signed-in session, or a personal token sent as
``Authorization: Bearer <token>``.

A request that carries a token is judged by the token alone: its session cookie is neither
read nor written (``TokenRequestSessions``), so flask-login finds no session user and asks
the token. Such a request is exempt from CSRF checks: a browser never adds that header to a
forged cross-site request, so the token itself proves the request is meant.
"""

from __future__ import annotations

from flask import Flask, Request, g, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.wrappers import Response

from directory.accounts.models import User
from directory.api.errors import API_PREFIXES
from directory.api.models import ApiToken
from directory.api.operations import authenticate
from directory.extensions import login_manager


def _bearer_secret_of(incoming: Request) -> str | None:
    scheme, _, secret = incoming.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not incoming.path.startswith(API_PREFIXES):
        return None
    return secret.strip()


def bearer_secret() -> str | None:
    """The token of an API request that sends one."""
    return _bearer_secret_of(request)


def current_api_token() -> ApiToken | None:
    return g.get("api_token")


class TokenRequestSessions(SecureCookieSessionInterface):
    """Signed-cookie sessions, except that a token request gets an empty session of its own
    and never a Set-Cookie: the browser's session is not what it is judged by."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if _bearer_secret_of(request) is not None:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if _bearer_secret_of(request) is None:
            super().save_session(app, session, response)


def _load_user_from_token(_: Request) -> User | None:
    secret = bearer_secret()
    token = authenticate(secret) if secret is not None else None
    if token is None:
        return None
    g.api_token = token
    return token.user


def init_app(app: Flask) -> None:
    app.session_interface = TokenRequestSessions()
    login_manager.request_loader(_load_user_from_token)
