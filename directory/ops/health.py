"""Is the process up, and can it serve: the answers a proxy or an orchestrator asks for.

Readiness opens its own connection from the engine's pool (never the request's session) and
asks two things: that the database answers, and that its schema is at the migrations' head.
A pooled connection that died with the server is replaced (``pool_pre_ping``), so the answer
turns back to ready as soon as the database is back, without a restart.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from directory.db import MIGRATIONS_PATH, Database


@functools.cache
def migration_heads() -> frozenset[str]:
    """The revisions this code expects the schema to be at (fixed for a release)."""
    config = AlembicConfig(str(MIGRATIONS_PATH / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _sqlite_file_missing(database: Database) -> bool:
    """An embedded database whose file was moved or made inaccessible: an open connection
    would go on reading the old file, so readiness looks at the file itself."""
    url = make_url(database.url)
    name = url.database
    if not database.is_sqlite or not name or name == ":memory:" or url.query.get("uri"):
        return False
    path = Path(name)
    return not (path.is_file() and os.access(path, os.R_OK | os.W_OK))


def readiness_problem(database: Database) -> str | None:
    """Why the application cannot serve now (for the log, never for the visitor), or None."""
    if _sqlite_file_missing(database):
        return "the database file is missing or not readable and writable"
    try:
        with database.engine.connect() as connection:
            heads = frozenset(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        return f"the database cannot be reached: {type(exc).__name__}"
    if heads != migration_heads():
        return (f"the schema is at {', '.join(sorted(heads)) or 'nothing'}, not at "
                f"{', '.join(sorted(migration_heads()))}: run `directory init`")
    return None
