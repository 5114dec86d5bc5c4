"""The API's one error shape: ``{"error": {"code", "message", "fields"}}`` for every 4xx/5xx.

The application's error handlers ask ``is_api_request()`` and answer through ``error_response``
so that nothing under /api/ ever gets an HTML page or a redirect. Messages are in the
caller's language (``directory.i18n``: a token's owner's setting counts as a signed-in
user's), said in ``Content-Language``; codes and field names never change with it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, TooManyRequests

from directory.i18n import current_language

API_PREFIX = "/api/"
# Everything that answers as an API: ours, and the standard HSDS API (directory/hsds/api.py).
API_PREFIXES = (API_PREFIX, "/hsds/")

# Codes by status, for errors raised without one of their own (abort(404), werkzeug's 405...).
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
         415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
         500: "server_error", 503: "unavailable"}
# The usual message of each status, for errors raised without one of their own (werkzeug's
# are English and speak of pages).
MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Sign in, or send an API token as 'Authorization: Bearer <token>'."),
    403: _l("You are signed in, but not allowed to do this."),
    404: _l("There is no such thing, or not one you may know of."),
    405: _l("This address does not take that method: the Allow header lists those it takes."),
    409: _l("Someone else changed it first; nothing was changed."),
    413: _l("The request is too large."),
    415: _l("This address does not take that type of content."),
    422: _l("The request could not be processed."),
    429: _l("Too many requests: wait a moment, then try again."),
    500: _l("Something went wrong on our side; it has been logged."),
    503: _l("The directory is unavailable for a moment. Try again later."),
}


class ApiError(HTTPException):
    """An error with its own code and, for bad input, the message of each field at fault."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 fields: dict[str, Any] | None = None) -> None:
        super().__init__(description=message)
        self.code = status
        self.error_code = code or CODES.get(status, "error")
        self.fields = fields or {}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIXES)


def error_response(status: int, message: str, *, code: str | None = None,
                   fields: dict[str, Any] | None = None) -> Response:
    response = jsonify({"error": {"code": code or CODES.get(status, "error"),
                                  "message": message, "fields": fields or {}}})
    response.status_code = status
    response.headers["Content-Language"] = current_language()
    return response


def usual_message(error: HTTPException) -> str:
    """The error's own description, else its status's usual message. A rate limit's
    description is the limit (flask-limiter's "100 per 1 minute"), not a sentence."""
    status = error.code or 500
    own = error.description != type(error).description and not isinstance(error, TooManyRequests)
    if own or status not in MESSAGES:
        return str(error.description or error.name)
    return str(MESSAGES[status])


def http_error_response(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, ApiError):
        response = error_response(status, error.description or "", code=error.error_code,
                                  fields=error.fields)
    else:
        # Any HTTPException may name its own code (accounts.auth.TwoFactorEnrolmentRequired).
        response = error_response(status, usual_message(error),
                                  code=getattr(error, "error_code", None))
    allowed = getattr(error, "valid_methods", None)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response
