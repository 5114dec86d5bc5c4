"""The HSDS download: the directory as an Open Referral package, for vetted members only.

It answers like the JSON API it belongs to: errors are JSON, and a visitor who is not signed
in gets 401 rather than a redirect to the sign-in page.
"""

from __future__ import annotations

import io
import logging
import tempfile

from flask import Blueprint, Response, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import Forbidden

from directory.accounts.permissions import Permission, require
from directory.api.errors import error_response
from directory.api.openapi import errors
from directory.hsds.operations import EXPORT_FORMATS, export_json, export_zip

log = logging.getLogger(__name__)

bp = Blueprint("hsds", __name__, url_prefix="/api/v1/hsds")
SPOOL_BYTES = 32 * 2**20


def _error(status: int, code: str, message: str, field: str | None = None) -> Response:
    return error_response(status, message, code=code,
                          fields={field: [message]} if field else None)


@bp.get("/export")
@errors(400, 401, 403)
def export() -> Response:
    """The active listings as HSDS 3.0: a zip of the tabular package, or ?format=json.
    ---
    get:
      summary: The directory as Open Referral HSDS 3.0
      parameters:
      - in: query
        name: format
        schema: {type: string, enum: [csv, json], default: csv}
      responses:
        200:
          description: A zip of the tabular package, or the JSON form.
          content:
            application/zip: {schema: {type: string, contentMediaType: application/zip}}
            application/json: {schema: {type: object}}
    """
    if not current_user.is_authenticated:
        return _error(401, "unauthorized", _("Sign in to download the directory."))
    try:
        require(current_user, Permission.VIEW_DIRECTORY)
    except Forbidden:
        return _error(403, "forbidden",
                      _("Only members of vetted organizations may download the directory."))
    fmt = request.args.get("format", "csv")
    if fmt not in EXPORT_FORMATS:
        return _error(400, "validation_error", _("format must be csv or json."), "format")
    # send_file closes the spool once the response is sent.
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    if fmt == "json":
        text = io.TextIOWrapper(spool, encoding="utf-8", write_through=True)
        report = export_json(text)
        text.detach()
        mimetype, name = "application/json", "hsds-3.0-directory.json"
    else:
        report = export_zip(spool)
        mimetype, name = "application/zip", "hsds-3.0-directory.zip"
    spool.seek(0)
    log.info("HSDS %s export of %d organizations downloaded by user %s", fmt,
             report.organizations, current_user.id)
    response = send_file(spool, mimetype=mimetype, as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response
