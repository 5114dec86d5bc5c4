"""Error pages: a clear message and the right status, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def _http_error(error: HTTPException) -> tuple[str, int]:
    return render_template("errors/error.html", error=error), error.code or 500


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_template("errors/error.html", error=error,
                           message="The form expired or was not sent from this site. "
                                   "Reload the page and try again."), 400


def _unexpected_error(error: Exception) -> tuple[str, int]:
    log.exception("unhandled error", exc_info=error)
    return render_template("errors/error.html", error=InternalServerError()), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
