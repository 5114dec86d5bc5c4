"""Browser security headers on every response, and the proxy settings they depend on."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request
from flask_babel import gettext
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response


def content_security_policy(tile_url: str) -> str:
    """No inline script or style anywhere; images also from the map tile server, if any."""
    images = "'self' data:"
    parts = urlsplit(tile_url.replace("{s}", "a")) if tile_url else None
    if parts and parts.scheme in {"http", "https"} and parts.netloc:
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tile_url else parts.netloc
        images += f" {parts.scheme}://{host}"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {images}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _add_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy",
                                content_security_policy(current_app.config["MAP_TILES"]))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security",
                                    "max-age=31536000; includeSubDomains")
    if request.endpoint != "static" and not (g.get("publicly_cacheable")
                                             and "Set-Cookie" not in response.headers):
        # Pages carry members' data and form tokens: no browser or shared cache keeps them.
        # Only a page that holds neither (the public report, to a visitor) may say otherwise.
        response.headers["Cache-Control"] = "no-store"
    return response


def _inputs() -> Iterator[str]:
    yield request.path
    for source in (request.args, request.form):
        for key, values in source.lists():
            yield key
            yield from values


def _refuse_nul_characters() -> None:
    """No field accepts a NUL character, and PostgreSQL cannot even compare text holding one:
    refuse such a request before it reaches a query (400, not a database error)."""
    if any("\x00" in text for text in _inputs()):
        abort(400, description=gettext("The request contains a NUL character, which no field "
                                       "accepts."))


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul_characters)
    app.after_request(_add_headers)
    proxies = int(app.config.get("PROXY_COUNT", 0))
    if proxies:
        # Behind a reverse proxy: the client's address (rate limits, audit log) and scheme
        # (HSTS) come from the proxy's X-Forwarded-For and -Proto headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies,  # type: ignore[method-assign]
                                x_proto=proxies)
