"""The migrations and the models describe the same schema, on SQLite and on PostgreSQL."""

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

import directory.models  # noqa: F401
from directory.db import (
    Base,
    Database,
    alembic_config,
    current_revision,
    get_database,
    include_in_schema_comparison,
    upgrade,
)


def test_models_and_migrations_agree(app: Flask) -> None:
    with get_database(app).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_name": include_in_schema_comparison})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_downgrade_upgrade_on_a_fresh_database(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(database)
    head = current_revision(database)
    assert head is not None
    command.downgrade(alembic_config(database), "base")
    assert current_revision(database) is None
    upgrade(database)
    assert current_revision(database) == head
    database.engine.dispose()
