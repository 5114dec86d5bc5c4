"""Request ids and JSON logs: one object per line, never a query string or a searched place."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory import create_app
from directory.config import ConfigError
from directory.ops.logs import JsonFormatter


def test_a_request_id_is_made_and_echoed(client: FlaskClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize(("incoming", "kept"), [
    ("proxy-4f1c2a7b-0001", True),
    ("a" * 128, True),
    ("short", False),
    ("a" * 129, False),
    ("bad id with spaces", False),
    ("<script>alert(1)</script>", False),
])
def test_a_sane_incoming_request_id_is_kept(client: FlaskClient, incoming: str,
                                            kept: bool) -> None:
    answered = client.get("/healthz", headers={"X-Request-ID": incoming}).headers["X-Request-ID"]
    assert (answered == incoming) is kept


@pytest.fixture()
def json_lines(settings: dict[str, Any]) -> Iterator[tuple[Flask, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    formatters = {existing: existing.formatter for existing in root.handlers}
    try:
        app = create_app(settings | {"LOG_FORMAT": "json"})
        yield app, stream
    finally:
        root.removeHandler(handler)
        for existing, formatter in formatters.items():
            existing.setFormatter(formatter)


def test_json_logs_carry_the_request_id_and_the_route_rule_only(
        json_lines: tuple[Flask, io.StringIO], db: Any) -> None:
    app, stream = json_lines
    client = app.test_client()
    response = client.get("/search?near=Houston%2C+TX&service=shelter",
                          headers={"X-Request-ID": "trace-1234567890"})
    assert response.headers["X-Request-ID"] == "trace-1234567890"
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    request_line = next(line for line in lines if line["logger"] == "directory.requests")
    assert request_line["request_id"] == "trace-1234567890"
    assert request_line["route"] == "/search" and request_line["status"] == 302
    assert request_line["method"] == "GET" and request_line["duration_ms"] >= 0
    assert "Houston" not in stream.getvalue() and "shelter" not in stream.getvalue()


def test_the_formatter_writes_one_object_per_line_with_the_exception() -> None:
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        record = logging.LogRecord("directory.x", logging.ERROR, __file__, 1, "failed %s",
                                   ("here",), exc_info=sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    document = json.loads(line)
    assert document["message"] == "failed here" and document["level"] == "ERROR"
    assert "ValueError" in document["exception"]


def test_an_unknown_log_format_stops_the_start(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        create_app(settings | {"LOG_FORMAT": "xml"})
