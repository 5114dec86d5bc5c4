"""Engine, per-request session, declarative base and the glue to Alembic migrations."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, Response, current_app, g
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    TypeDecorator,
    create_engine,
    delete,
    event,
    func,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from werkzeug.local import LocalProxy

log = logging.getLogger(__name__)

MIGRATIONS_PATH = Path(__file__).resolve().parent / "migrations"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


int_pk = Annotated[int, mapped_column(primary_key=True)]
created_at = Annotated[
    dt.datetime, mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
]
updated_at = Annotated[
    dt.datetime,
    mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()),
]
str_short = Annotated[str, mapped_column(String(200))]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def build_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and defers BEGIN oddly; take it over
    # (the recipe from SQLAlchemy's SQLite dialect documentation).
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Read the file through the OS page cache (shared by every connection) rather than
        # each connection's small private cache: searches touch pages all over the indexes.
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


class Database:
    """One application's engine and session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = build_engine(url)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def bind_to(self, connection: Connection) -> None:
        """Make every new session join ``connection``'s transaction (used by the test suite)."""
        self.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")

    def unbind(self) -> None:
        self.session_factory.configure(bind=self.engine,
                                       join_transaction_mode="conservative_savepoint")


def init_app(app: Flask) -> None:
    app.extensions["directory.db"] = Database(app.config["DATABASE_URL"])
    app.after_request(_commit_successful_request)
    app.teardown_appcontext(_close_session)


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["directory.db"]


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = get_database().session_factory()
    return g.db_session


db_session: Session = LocalProxy(get_session)  # type: ignore[assignment]


def delete_where(model: type[Any], *conditions: ColumnElement[bool]) -> int:
    """Delete the rows of ``model`` that meet ``conditions`` in one statement; how many went."""
    result = db_session.execute(
        delete(model).where(*conditions).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
"""The session of the current application context; operations flush, the request commits."""


def _commit_successful_request(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is not None:
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
    return response


def _close_session(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


@contextmanager
def transaction() -> Iterator[Session]:
    """The commit point of a CLI command: commit on success, roll back on any error."""
    session = get_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


# Spatial index objects created by migrations in backend-specific SQL, not described by models.
SPATIAL_INDEX_TABLES = ("location_index", "coverage_index", "polygon_index")
SPATIAL_INDEX_NAMES = (
    "ix_locations_point",
    "ix_coverage_areas_box",
    "ix_locations_geography",
    "ix_coverage_areas_envelope",
)


def include_in_schema_comparison(name: str | None, type_: str, _parent: Any) -> bool:
    """Alembic `include_name` hook: leave the R*Tree tables and GiST expression indexes out."""
    if name is None:
        return True
    if type_ == "table":
        # PostGIS's own tables (spatial_ref_sys) are not ours either.
        return not name.startswith(SPATIAL_INDEX_TABLES) and name != "spatial_ref_sys"
    if type_ == "index":
        return name not in SPATIAL_INDEX_NAMES
    return True


def alembic_config(database: Database) -> AlembicConfig:
    cfg = AlembicConfig(str(MIGRATIONS_PATH / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_PATH))
    cfg.attributes["engine"] = database.engine
    return cfg


def upgrade(database: Database, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database), revision)


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
