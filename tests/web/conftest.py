"""Browser-test fixtures: a live server on its own seeded SQLite database, and Chromium.

The live server never uses DIRECTORY_DATABASE_URL: the main fixtures drop and rebuild that
database's schema, so the browser tests keep to a SQLite file of their own.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from waitress.server import create_server

import directory
import directory.db
import directory.seeding
from directory.db import get_database, get_session
from tests.conftest import PASSWORD

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEFAULT_TIMEOUT_MS = 15_000
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"


@contextmanager
def serve_demo_network(tmp: Path, **settings: Any) -> Iterator[tuple[str, Flask]]:
    """The seeded demo network served by waitress on a free local port: (base URL, app).

    CSRF protection stays on, so the tests go through the real forms and their tokens.
    """
    app = directory.create_app({
        "ENV": "testing",
        "INSTANCE_PATH": str(tmp / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp / 'live.db'}",
        "PUBLIC_LISTINGS": False,
        "PAGE_SIZE": 25,
        # A tile server that cannot answer: every page must stay usable without tiles.
        "MAP_TILES": UNREACHABLE_TILES,
        **settings,
    })
    database = get_database(app)
    directory.db.upgrade(database)
    with app.app_context():
        directory.seeding.seed_demo_network()
        directory.seeding.ensure_demo_users(PASSWORD)
        get_session().commit()

    server: Any = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", app
    finally:
        server.close()
        thread.join(timeout=5)
        database.engine.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo network for browsing, without two-factor sign-in; yields the base URL."""
    with serve_demo_network(tmp_path_factory.mktemp("live-server"), REQUIRE_2FA=False) as served:
        yield served[0]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Chromium not found: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def desktop_tab(browser: Any, **context_options: Any) -> Iterator[Any]:
    """A tab in a fresh browser context (no cookies), desktop-sized, closed afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test, desktop-sized."""
    with desktop_tab(browser) as tab:
        yield tab
