"""Faults the directory recovers from without a restart. (A database refusing writes and a
mail server that is down are in tests/security/test_concurrency.py and tests/mail.)"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from directory import create_app
from directory.db import get_database


def test_connections_killed_by_the_server_are_replaced_on_the_next_request(
        settings: dict[str, Any]) -> None:
    url = make_url(settings["DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only (DIRECTORY_DATABASE_URL)")
    app = create_app(settings | {"API_RATE_LIMIT": "1000 per minute"})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/services").status_code in {200, 401}
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = list(connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name = '' AND state = 'idle'")))
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(:pids) AS pid"),
                           {"pids": killed})
        # A terminated server process takes a moment to go: a request in that moment fails
        # (cleanly, a 503); the point here is the requests after it.
        deadline = time.monotonic() + 10
        while connection.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE pid = ANY(:pids)"), {"pids": killed}):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    admin.dispose()
    assert killed  # the app's pooled connection, idle between requests
    # The pool notices the dead connection (pre-ping) and opens a new one: no error, no restart.
    for _ in range(3):
        assert client.get("/readyz").status_code == 200
        assert client.get("/api/v1/services").status_code in {200, 401}
    get_database(app).engine.dispose()
