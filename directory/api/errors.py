"""The API's one error shape: ``{"error": {"code", "message", "fields"}}`` for every 4xx/5xx.

The application's error handlers ask ``is_api_request()`` and answer through ``error_response``
so that nothing under /api/ ever gets an HTML page or a redirect.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"
# Everything that answers as an API: ours, and the standard HSDS API (directory/hsds/api.py).
API_PREFIXES = (API_PREFIX, "/hsds/")

# Codes by status, for errors raised without one of their own (abort(404), werkzeug's 405...).
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
         415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
         500: "server_error", 503: "unavailable"}


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
    return response


def http_error_response(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, ApiError):
        response = error_response(status, error.description or "", code=error.error_code,
                                  fields=error.fields)
    else:
        # Any HTTPException may name its own code (accounts.auth.TwoFactorEnrolmentRequired).
        response = error_response(status, str(error.description or error.name),
                                  code=getattr(error, "error_code", None))
    allowed = getattr(error, "valid_methods", None)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response
