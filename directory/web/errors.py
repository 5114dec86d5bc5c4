"""Error pages: a clear message and the right status, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from directory.api.errors import error_response, http_error_response, is_api_request

log = logging.getLogger(__name__)


def _http_error(error: HTTPException) -> tuple[str, int] | Response:
    if is_api_request():
        return http_error_response(error)
    return render_template("errors/error.html", error=error), error.code or 500


def _csrf_error(error: CSRFError) -> tuple[str, int] | Response:
    if is_api_request():
        return error_response(400, "The CSRF token is missing or invalid: send X-CSRFToken "
                                   "with a session, or use an API token.", code="csrf_failed")
    return render_template("errors/error.html", error=error,
                           message="The form expired or was not sent from this site. "
                                   "Reload the page and try again."), 400


def _unexpected_error(error: Exception) -> tuple[str, int] | Response:
    log.exception("unhandled error", exc_info=error)
    if is_api_request():
        return error_response(500, "Something went wrong on our side; it has been logged.")
    return render_template("errors/error.html", error=InternalServerError()), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
