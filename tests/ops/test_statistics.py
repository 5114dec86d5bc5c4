"""Every bulk load leaves the query planner's statistics current: `directory seed
--synthetic`, `directory import-hsds` and `directory restore`, each into a database of its own.

On PostgreSQL, ``pg_stat_user_tables.last_analyze`` is set only by an explicit ANALYZE (the
autovacuum daemon's sets ``last_autoanalyze``), so the check cannot pass by autovacuum's
doing, and pg_restore brings no statistics. On SQLite, ANALYZE writes the tables' rows in
``sqlite_stat1`` (which a restore copies from the backup: there the restore case proves less).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from directory.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "hsds" / "fixtures"
LOADED_TABLES = ("organizations", "locations", "services")
STATISTICS_WAIT_S = 10.0  # a server process reports its counters when its session ends


@pytest.fixture()
def fresh_url(settings: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """Makes empty databases beside the suite's (SQLite files, or PostgreSQL databases)."""
    base = make_url(settings["DATABASE_URL"])
    made: list[str] = []

    def make(name: str) -> str:
        if base.get_backend_name() != "postgresql":
            return f"sqlite:///{tmp_path / (name + '.db')}"
        database = f"{base.database}_{name}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        made.append(database)
        return base.set(database=database).render_as_string(hide_password=False)

    yield make
    if made:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for database in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _cli(url: str, tmp_path: Path, *arguments: str) -> None:
    env = {"DIRECTORY_ENV": "testing", "DIRECTORY_DATABASE_URL": url,
           "DIRECTORY_INSTANCE_PATH": str(tmp_path / "instance")}
    result = CliRunner().invoke(main, list(arguments), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _analyzed(url: str) -> set[str]:
    """The loaded tables whose statistics an explicit ANALYZE wrote."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                if not connection.scalar(text(
                        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")):
                    return set()  # made by the first ANALYZE
                return set(connection.scalars(text("SELECT DISTINCT tbl FROM sqlite_stat1")))
            deadline = time.monotonic() + STATISTICS_WAIT_S
            while True:
                connection.execute(text("SELECT pg_stat_clear_snapshot()"))
                found = set(connection.scalars(text(
                    "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")))
                if set(LOADED_TABLES) <= found or time.monotonic() > deadline:
                    return found
                time.sleep(0.2)
    finally:
        engine.dispose()


def _never_analyzed(url: str) -> None:
    assert not set(LOADED_TABLES) & _analyzed(url)


def test_a_synthetic_seed_analyzes_what_it_loaded(fresh_url: Any, tmp_path: Path) -> None:
    url = fresh_url("stats_seed")
    _cli(url, tmp_path, "init")
    _never_analyzed(url)
    _cli(url, tmp_path, "seed", "--synthetic", "40")
    assert set(LOADED_TABLES) <= _analyzed(url)


def test_an_hsds_import_analyzes_what_it_loaded(fresh_url: Any, tmp_path: Path) -> None:
    url = fresh_url("stats_import")
    _cli(url, tmp_path, "init")
    _never_analyzed(url)
    _cli(url, tmp_path, "import-hsds", str(FIXTURES / "hsds-1.1"))
    assert set(LOADED_TABLES) <= _analyzed(url)


def test_a_restore_analyzes_what_it_loaded(fresh_url: Any, tmp_path: Path) -> None:
    source, target = fresh_url("stats_source"), fresh_url("stats_target")
    _cli(source, tmp_path, "seed", "--synthetic", "40")
    archive = tmp_path / "backup.tar"
    _cli(source, tmp_path, "backup", str(archive))
    _cli(target, tmp_path, "init")
    _never_analyzed(target)
    _cli(target, tmp_path, "restore", str(archive), "--force")
    assert set(LOADED_TABLES) <= _analyzed(target)
