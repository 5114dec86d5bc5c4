"""Browser security headers on pages, error pages and API answers; cookie flags in the test and
production settings; and forwarding headers a client sends to pass for someone else."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from directory.audit.models import AuditEvent
from directory.web.security import content_security_policy
from tests.conftest import PASSWORD
from tests.security.conftest import Network, StoredData, bearer, share_database, sign_in

HTTPS = "https://directory.test"
CSP = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
    "img-src": "'self' data:", "connect-src": "'self'", "font-src": "'self'",
    "object-src": "'none'", "base-uri": "'none'", "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HSTS = "max-age=31536000; includeSubDomains"


def directives(policy: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {name: value for name, value in parts}


def assert_browser_headers(response: TestResponse, *, cached: bool = False) -> None:
    headers = response.headers
    policy = directives(headers["Content-Security-Policy"])
    assert policy == CSP
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    if not cached:
        assert headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in headers


# (who, path, status): pages of each kind, redirects and error pages included.
PAGES: list[tuple[str | None, str, int]] = [
    (None, "/", 200), (None, "/login", 200), (None, "/apply", 200),
    (None, "/organizations", 302), (None, "/no-such-page", 404),
    ("b_referrer", "/organizations", 200), ("b_referrer", "/referrals/{referral}", 200),
    ("b_referrer", "/account", 200), ("b_referrer", "/account/tokens", 200),
    ("b_referrer", "/search?near=77002", 200), ("b_referrer", "/admin/", 403),
    ("a_referrer", "/referrals/{referral}", 404),
    ("coordinator", "/admin/audit", 200), ("coordinator", "/reports/", 200),
]


@pytest.mark.parametrize(("who", "path", "status"), PAGES)
def test_every_kind_of_page_carries_the_headers(client: FlaskClient, network: Network,
                                                who: str | None, path: str,
                                                status: int) -> None:
    if who is not None:
        sign_in(client, getattr(network, who))
    response = client.get(path.format(referral=network.b_to_c.public_id))
    assert response.status_code == status
    assert_browser_headers(response)
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS


def _api_answers(client: FlaskClient, network: Network) -> list[tuple[TestResponse, int]]:
    token = bearer(network.b_admin)
    slug = network.b.slug
    return [
        (client.get("/api/v1/openapi.json"), 200),
        (client.get("/api/v1/me", headers=token), 200),
        (client.get("/api/v1/me"), 401),
        (client.get("/api/v1/me", headers={"Authorization": "Bearer dir_forged"}), 401),
        (client.get("/api/v1/referrals/no-such-referral", headers=token), 404),
        (client.get("/api/v1/search", headers=token), 400),
        (client.delete(f"/api/v1/organizations/{slug}", headers=token), 405),
        (client.patch(f"/api/v1/organizations/{slug}", headers=token, data="x"), 415),
        (client.patch(f"/api/v1/organizations/{slug}", headers=token,
                      data="{", content_type="application/json"), 400),
        (client.get("/api/v1/no-such-endpoint", headers=token), 404),
    ]


def test_api_answers_carry_the_headers_and_are_json(client: FlaskClient,
                                                    network: Network) -> None:
    answers = _api_answers(client, network)
    for response, status in answers:
        assert response.status_code == status, response.request.path
        assert response.mimetype == "application/json", response.request.path
        assert_browser_headers(response)
        if status >= 400:
            assert set(response.get_json()["error"]) >= {"code", "message"}


def test_https_answers_carry_hsts(client: FlaskClient, network: Network) -> None:
    for path in ("/login", "/api/v1/openapi.json", "/no-such-page"):
        response = client.get(path, base_url=HTTPS)
        assert response.headers["Strict-Transport-Security"] == HSTS, path
        assert_browser_headers(response)


@pytest.mark.parametrize("path", ["/static/js/map.js", "/static/css/app.css"])
def test_static_files_may_be_cached_but_are_not_sniffed(client: FlaskClient,
                                                        path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert_browser_headers(response, cached=True)
    assert response.headers.get("Cache-Control") != "no-store"
    response.close()


@pytest.mark.parametrize(("tiles", "images"), [
    ("", "'self' data:"),
    ("https://tile.example.org/{z}/{x}/{y}.png", "'self' data: https://tile.example.org"),
    ("https://{s}.tile.example.org/{z}/{x}/{y}.png",
     "'self' data: https://*.tile.example.org"),
    ("javascript:alert(1)//{z}", "'self' data:"),
    ("data:text/html,x", "'self' data:"),
    ("//tile.example.org/{z}/{x}/{y}.png", "'self' data:"),
])
def test_the_map_tile_setting_opens_only_images_to_one_http_host(tiles: str,
                                                                 images: str) -> None:
    policy = directives(content_security_policy(tiles))
    assert policy["img-src"] == images
    assert {name: value for name, value in policy.items() if name != "img-src"} == {
        name: value for name, value in CSP.items() if name != "img-src"}


# --- cookies --------------------------------------------------------------------------------

def _cookie_attributes(header: str) -> dict[str, str]:
    name_value, *attributes = (part.strip() for part in header.split(";"))
    found = {"name": name_value.split("=", 1)[0]}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        found[key.lower()] = value
    return found


def test_the_session_cookie_is_http_only_and_same_site(client: FlaskClient,
                                                      network: Network) -> None:
    response = client.post("/login", data={"email": network.b_referrer.email,
                                           "password": PASSWORD})
    cookie = _cookie_attributes(response.headers["Set-Cookie"])
    assert cookie["name"] == "session" and "httponly" in cookie
    assert cookie["samesite"] == "Lax" and cookie.get("path") == "/"
    assert "expires" not in cookie  # a browser-session cookie without "keep me signed in"


@pytest.fixture(scope="module")
def production_settings() -> dict[str, Any]:
    return {"ENV": "production", "SECRET_KEY": "attack-suite-production-secret-key-0123",
            "DATA_KEY": Fernet.generate_key().decode(), "BASE_URL": HTTPS}


@pytest.mark.parametrize("remember", [False, True])
def test_in_production_the_cookie_is_secure_and_host_only(
        app: Flask, settings: dict[str, Any], production_settings: dict[str, Any],
        network: Network, remember: bool) -> None:
    production = share_database(app, settings, **production_settings)
    client = production.test_client()
    data = {"email": network.b_referrer.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", base_url=HTTPS, data=data)
    assert response.status_code == 302
    cookie = _cookie_attributes(response.headers["Set-Cookie"])
    assert cookie["name"] == "__Host-session"
    assert {"secure", "httponly"} <= set(cookie) and cookie["samesite"] == "Lax"
    assert cookie.get("path") == "/" and "domain" not in cookie
    assert ("expires" in cookie) is remember
    assert response.headers["Strict-Transport-Security"] == HSTS
    assert client.get("/organizations", base_url=HTTPS).status_code == 200


# --- forwarding headers ---------------------------------------------------------------------

SPOOFED = {"X-Forwarded-For": "203.0.113.66", "X-Real-IP": "203.0.113.66",
           "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
           "Forwarded": "for=203.0.113.66;proto=https;host=evil.example"}


def test_without_a_proxy_forwarding_headers_are_not_believed(
        client: FlaskClient, network: Network, db: Session, stored: StoredData) -> None:
    """With DIRECTORY_PROXY_COUNT=0 a client cannot pick the address the audit log keeps (or
    the rate limits count), nor pass plain HTTP off as HTTPS, nor choose the host."""
    before = stored.snapshot()
    response = client.post("/login", headers=SPOOFED, data={
        "email": network.b_referrer.email, "password": PASSWORD})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert "Strict-Transport-Security" not in response.headers
    events = [row for row in stored.added(before, "audit_events") if row["action"] == "sign_in"]
    assert [event["ip_address"] for event in events] == ["127.0.0.1"]
    db.expire_all()
    addresses = set(db.scalars(select(AuditEvent.ip_address)))
    assert "203.0.113.66" not in addresses
