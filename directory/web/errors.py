"""Error pages: a clear message and the right status, never a stack trace.

Every 503 is answered here: a database that is busy past its wait, or that refuses writes
(read-only, full, unreachable), gets ``Retry-After`` and a page or JSON error that says
nothing was changed, never a 500.
"""

from __future__ import annotations

import logging

from cryptography.fernet import InvalidToken
from flask import Flask, current_app, g, make_response, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.wrappers import Response

from directory.api.errors import error_response, http_error_response, is_api_request
from directory.datakey import DataKeyError
from directory.db import unavailability
from directory.i18n import DATABASE_FAILED

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGES = {
    "busy": _l("The directory is busy for a moment, so this was not saved and nothing "
               "changed. Try again in a few seconds."),
    "refusing": _l("The directory cannot save changes right now (its database is read-only "
                   "or unavailable), so nothing changed. Reading still works; try again later."),
}
# The title and the usual explanation of each status, in the reader's language (werkzeug's
# own are English); an error raised with a description of its own keeps that one.
ERROR_TITLES = {
    400: _l("Bad request"), 401: _l("Sign-in needed"), 403: _l("Not allowed"),
    404: _l("Not found"), 405: _l("Method not allowed"), 409: _l("Conflict"),
    410: _l("Gone"), 413: _l("Too large"), 415: _l("Unsupported type"),
    422: _l("Cannot be processed"), 429: _l("Too many requests"),
    500: _l("Something went wrong"), 503: _l("Unavailable for a moment"),
}
ERROR_MESSAGES = {
    400: _l("The request could not be understood. Go back, check what you sent and try again."),
    401: _l("Sign in to see this page."),
    403: _l("Your account may not do this."),
    404: _l("There is no page at this address, or it is not yours to see. Check the address, "
            "or start again from the start page."),
    405: _l("This page cannot be used that way."),
    409: _l("Someone changed this at the same time: reload the page and try again."),
    410: _l("This page is no longer available."),
    413: _l("What you sent is too large."),
    415: _l("What you sent is not in a form this page accepts."),
    422: _l("What you sent could not be processed."),
    429: _l("Too many attempts. Wait a few minutes, then try again."),
    500: _l("Something went wrong on our side; it has been logged. Try again in a moment."),
    503: _l("The directory is unavailable for a moment. Try again later."),
}


def error_title(error: HTTPException) -> str:
    code = error.code or 500
    return str(ERROR_TITLES[code]) if code in ERROR_TITLES else error.name


def error_message(error: HTTPException) -> str:
    """The error's own description, else the usual one for its status, translated."""
    code = error.code or 500
    if error.description != type(error).description or code not in ERROR_MESSAGES:
        return str(error.description or "")
    return str(ERROR_MESSAGES[code])


def _error_page(error: HTTPException, message: str | None = None) -> str:
    return render_template("errors/error.html", error=error, title=error_title(error),
                           message=message or error_message(error))


def _http_error(error: HTTPException) -> tuple[str, int] | Response:
    if is_api_request():
        return http_error_response(error)
    if error.response is not None:
        return error.response  # an error that is answered by a redirect (two-factor set-up)
    return _error_page(error), error.code or 500


def _csrf_error(error: CSRFError) -> tuple[str, int] | Response:
    if is_api_request():
        return error_response(400, _("The CSRF token is missing or invalid: send X-CSRFToken "
                                     "with a session, or use an API token."), code="csrf_failed")
    return _error_page(error, _("The form expired or was not sent from this site. "
                                "Reload the page and try again.")), 400


def _database_error(error: DBAPIError) -> tuple[str, int] | Response:
    g.setdefault(DATABASE_FAILED, True)
    unavailable = unavailability(error)
    if unavailable is None:
        return _unexpected_error(error)
    log.warning("database %s, answered 503: %s", unavailable.reason, str(error.orig).strip())
    message = str(UNAVAILABLE_MESSAGES[unavailable.reason])
    if is_api_request():
        response = error_response(503, message)
    else:
        response = make_response(_unavailable_page(message), 503)
    response.headers["Retry-After"] = str(unavailable.retry_after)
    return response


def _unavailable_page(message: str) -> str:
    """A page that asks nothing of the database: rendered without the context processors,
    whose ``current_user`` would load the user again (the query that may have just failed),
    and without the navigation that depends on the user."""
    template = current_app.jinja_env.get_template("errors/unavailable.html")
    error = ServiceUnavailable()
    return template.render(error=error, title=error_title(error), message=message,
                           config=current_app.config)


def _data_key_error(error: Exception) -> tuple[str, int] | Response:
    """Stored client data that the configured DIRECTORY_DATA_KEY cannot open: a deployment
    fault, said as such (and logged for the administrators), never a wrong-code message."""
    log.error("the data key cannot open stored data: %s", error)
    message = _("The directory cannot open its stored client data right now (its data key is "
                "misconfigured). Nothing was changed; the administrators have been told.")
    if is_api_request():
        return error_response(503, message)
    return _unavailable_page(message), 503


def _unexpected_error(error: Exception) -> tuple[str, int] | Response:
    log.exception("unhandled error", exc_info=error)
    if is_api_request():
        return error_response(500, _("Something went wrong on our side; it has been logged."))
    return _error_page(InternalServerError()), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(DataKeyError, _data_key_error)
    app.register_error_handler(InvalidToken, _data_key_error)
    app.register_error_handler(Exception, _unexpected_error)
