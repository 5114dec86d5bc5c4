"""/healthz, /readyz and /metrics: for proxies, orchestrators and scrapers, not for people.

None needs a sign-in, none is rate-limited, and the health answers say nothing about why
(the reason goes to the log, once, when readiness changes).
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.wrappers import Response

from directory.db import get_database
from directory.extensions import limiter
from directory.ops.access import may_read_metrics, metrics_enabled
from directory.ops.health import readiness_problem
from directory.ops.metrics import exposition

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)
limiter.exempt(bp)
_last_problem: dict[str, str | None] = {"problem": None}


def _plain(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


@bp.route("/healthz")
def healthz() -> Response:
    return _plain("ok", 200)


@bp.route("/readyz")
def readyz() -> Response:
    problem = readiness_problem(get_database())
    if problem != _last_problem["problem"]:
        if problem:
            log.warning("not ready: %s", problem)
        else:
            log.info("ready again")
        _last_problem["problem"] = problem
    response = _plain("unavailable", 503) if problem else _plain("ready", 200)
    if problem:
        response.headers["Retry-After"] = "5"
    return response


@bp.route("/metrics")
def metrics() -> Response:
    if not metrics_enabled(current_app):
        abort(404)
    if not may_read_metrics(current_app):
        abort(403)
    return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)
