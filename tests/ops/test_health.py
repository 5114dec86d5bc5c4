"""/healthz and /readyz: up, ready, not ready while the database is away, ready again after,
all without a restart; and no detail for the visitor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from directory import create_app
from directory.db import get_database, upgrade
from tests.ops.tcp_proxy import TcpProxy


def _app(settings: dict[str, Any], **overrides: Any) -> Flask:
    return create_app(settings | overrides)


@pytest.fixture()
def sqlite_app(settings: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    app = _app(settings, DATABASE_URL=f"sqlite:///{tmp_path / 'ready.db'}",
               INSTANCE_PATH=str(tmp_path / "instance"))
    upgrade(get_database(app))
    yield app
    get_database(app).engine.dispose()


def test_healthz_answers_without_sign_in_or_database(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_at_the_head(client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ready\n"


def test_readyz_refuses_while_the_embedded_file_is_away_and_recovers(
        sqlite_app: Flask, tmp_path: Path) -> None:
    client = sqlite_app.test_client()
    assert client.get("/readyz").status_code == 200
    database, hidden = tmp_path / "ready.db", tmp_path / "moved-away.db"
    database.rename(hidden)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == "unavailable\n"  # no reason for the visitor
    assert response.headers["Retry-After"]
    assert client.get("/healthz").status_code == 200  # the process itself is fine
    hidden.rename(database)
    assert client.get("/readyz").status_code == 200


def test_readyz_refuses_a_schema_behind_the_code(settings: dict[str, Any],
                                                 tmp_path: Path) -> None:
    app = _app(settings, DATABASE_URL=f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(get_database(app), "0001")
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    upgrade(get_database(app))
    assert client.get("/readyz").status_code == 200
    get_database(app).engine.dispose()


def test_readyz_follows_a_postgresql_server_that_goes_away_and_comes_back(
        settings: dict[str, Any]) -> None:
    url = make_url(settings["DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only (DIRECTORY_DATABASE_URL)")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    through_proxy = url.set(host="127.0.0.1", port=proxy.port)
    app = _app(settings, DATABASE_URL=through_proxy.render_as_string(hide_password=False))
    client = app.test_client()
    try:
        assert client.get("/readyz").status_code == 200
        proxy.stop()
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
        proxy.start()  # the same port again
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.stop()
        get_database(app).engine.dispose()
