"""Request ids, and logs as one JSON object per line (``DIRECTORY_LOG_FORMAT=json``).

Every request gets an id: the caller's ``X-Request-ID`` when it is a sane one (a proxy's, so
that its log and ours can be joined), else a new one; the response carries it back. In JSON
mode each request also ends with one line naming its route's URL rule (never the raw path or
the query string: those carry searched places and referral ids), status and duration.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

from directory.config import ConfigError

LOG_FORMATS = ("text", "json")
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
requests_log = logging.getLogger("directory.requests")


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, request id."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            document["request_id"] = request_id
        document.update(getattr(record, "fields", {}))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def _assign_request_id() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _answer_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _log_request(response: Response) -> Response:
    started = g.get("request_started")
    if started is not None:
        rule = request.url_rule
        requests_log.info("request", extra={"fields": {
            "method": request.method, "route": rule.rule if rule else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1)}})
    return response


def use_json_logs(formatter: logging.Formatter | None = None) -> None:
    """Give every handler of the root logger the JSON formatter."""
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setFormatter(formatter or JsonFormatter())


def gunicorn_log_config() -> dict[str, Any]:
    """gunicorn's own messages in the same format (its access log stays off)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {"gunicorn.error": {"level": "WARNING", "handlers": ["stderr"],
                                       "propagate": False}},
    }


def init_app(app: Flask) -> None:
    log_format = str(app.config.get("LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"DIRECTORY_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}; "
                          f"got {log_format!r}.")
    app.config["LOG_FORMAT"] = log_format
    app.before_request(_assign_request_id)
    app.after_request(_answer_request_id)
    if log_format == "json":
        use_json_logs()
        app.after_request(_log_request)
