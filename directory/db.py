"""Engine, per-request session, declarative base and the glue to Alembic migrations."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import (
    Flask,
    Response,
    after_this_request,
    current_app,
    g,
    has_request_context,
    request,
)
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Executable,
    MetaData,
    String,
    Table,
    TypeDecorator,
    create_engine,
    delete,
    event,
    func,
    insert,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
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


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How long an SQLite connection waits for another one's write lock before the request gives
# up with a 503: long enough for a queue of short writes, short enough for a person waiting.
SQLITE_BUSY_TIMEOUT_S = 10.0
# A write apart (see ``write_apart``) is bookkeeping the response waits for: it waits less.
WRITE_APART_TIMEOUT_S = 1.0
_writing_apart: ContextVar[bool] = ContextVar("writing_apart", default=False)


def build_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        is_uri = parsed.query.get("uri") == "true"  # file:...?mode=ro&uri=true
        if parsed.database and parsed.database != ":memory:" and not is_uri:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S,
                                                  "check_same_thread": False})
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
        # Deleted and overwritten content is zeroed, not left in free space where a copy of
        # the file would still hold purged ciphertexts.
        cursor.execute("PRAGMA secure_delete=ON")
        # Read the file through the OS page cache (shared by every connection) rather than
        # each connection's small private cache: searches touch pages all over the indexes.
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()
        # What PostgreSQL has built in and the reports use (directory.reports.sql).
        from directory.reports.sql import NearestRanks

        dbapi_connection.create_aggregate("median_and_p90", 1, NearestRanks)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        _set_busy_timeout(connection, WRITE_APART_TIMEOUT_S if _writing_apart.get()
                          else SQLITE_BUSY_TIMEOUT_S)
        if not _request_may_write():
            connection.exec_driver_sql("BEGIN")
            return
        # A request that may write takes the write lock as it begins (waiting for it up to the
        # busy timeout), so everything it reads is current: a concurrent winner shows as a
        # stale version (a 409), never as a "locked" first write that no wait can cure.
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except DBAPIError as exc:
            if _sqlite_error(exc.orig) != "SQLITE_READONLY":
                raise
            connection.exec_driver_sql("BEGIN")  # reads still work; a write will be refused


def _set_busy_timeout(connection: Connection, seconds: float) -> None:
    milliseconds = int(seconds * 1000)
    if connection.info.get("busy_timeout_ms") != milliseconds:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {milliseconds}")
        connection.info["busy_timeout_ms"] = milliseconds


def writes_when_read(view: Any) -> Any:
    """Mark a GET view that writes (a first viewing, a notification read, an audit event): on
    SQLite its transaction takes the write lock as it begins, as a POST's does, so that its
    write waits its turn behind the others instead of being refused at once (a 503)."""
    view.writes_when_read = True
    return view


def _request_may_write() -> bool:
    if not has_request_context():
        return False
    if request.method not in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "writes_when_read", False))


# --- a database that cannot serve a request now --------------------------------------------

@dataclass(frozen=True)
class Unavailable:
    """Why the database cannot serve a request now, and how many seconds to wait before
    asking again (the 503's Retry-After)."""

    reason: str  # "busy": others hold the lock; "refusing": read-only, full or unreachable
    retry_after: int


BUSY = Unavailable("busy", 5)
REFUSING = Unavailable("refusing", 60)

# By SQLite result code (an extended code, e.g. SQLITE_BUSY_SNAPSHOT, counts as its base).
_SQLITE_UNAVAILABLE = {"SQLITE_BUSY": BUSY, "SQLITE_LOCKED": BUSY, "SQLITE_READONLY": REFUSING,
                       "SQLITE_FULL": REFUSING, "SQLITE_CANTOPEN": REFUSING}
# By PostgreSQL SQLSTATE, then by its class (the first two characters).
_POSTGRES_UNAVAILABLE = {"55P03": BUSY, "40001": BUSY, "40P01": BUSY, "53300": BUSY,
                         "25006": REFUSING, "42501": REFUSING, "57P01": REFUSING,
                         "57P02": REFUSING, "57P03": REFUSING}
_POSTGRES_UNAVAILABLE_CLASSES = {"08": REFUSING, "53": REFUSING}


def _sqlite_error(error: BaseException | None) -> str:
    """The base result code of an SQLite error, e.g. SQLITE_BUSY; empty for anything else."""
    if not isinstance(error, sqlite3.Error):
        return ""
    name = str(getattr(error, "sqlite_errorname", "") or "")
    return "_".join(name.split("_")[:2])


def _sqlstate(error: BaseException | None) -> str:
    return str(getattr(error, "sqlstate", None) or getattr(error, "pgcode", None) or "")


def unavailability(error: BaseException) -> Unavailable | None:
    """Whether ``error`` says the database cannot serve the request now (locked, read-only,
    full, unreachable) rather than that the request or the code is wrong; and why."""
    if not isinstance(error, DBAPIError):
        return None
    if error.connection_invalidated:
        return REFUSING
    if isinstance(error.orig, sqlite3.Error):
        return _SQLITE_UNAVAILABLE.get(_sqlite_error(error.orig))
    state = _sqlstate(error.orig)
    if not state:
        # A PostgreSQL driver error without a SQLSTATE: the server could not be reached.
        return REFUSING if isinstance(error, OperationalError) else None
    return _POSTGRES_UNAVAILABLE.get(state) or _POSTGRES_UNAVAILABLE_CLASSES.get(state[:2])


def lost_race(error: BaseException) -> bool:
    """Whether the first write of a transaction that had read failed because a concurrent one
    writes (or wrote) the same database: PostgreSQL's serialization failure or deadlock victim;
    on SQLite, a read transaction's upgrade to a writer, which SQLite refuses at once (waiting
    could deadlock) while another holds the write lock or after it changed what was read. A
    request that may write takes the lock as it begins (``on_begin``), so there this cannot
    happen; a busy timeout it meets there is no race."""
    if not isinstance(error, DBAPIError):
        return False
    if isinstance(error.orig, sqlite3.Error):
        return _sqlite_error(error.orig) == "SQLITE_BUSY"
    return _sqlstate(error.orig) in {"40001", "40P01"}


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
    app.before_request(_commit_after_the_view)
    # Registered first, so run last: after the request's commit and every other teardown.
    app.teardown_request(_write_apart_after_request)
    app.teardown_appcontext(_close_session)


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["directory.db"]


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = get_database().session_factory()
    return g.db_session


db_session: Session = LocalProxy(get_session)  # type: ignore[assignment]
"""The session of the current application context; operations flush, the request commits."""


def delete_where(model: type[Any], *conditions: ColumnElement[bool]) -> int:
    """Delete the rows of ``model`` that meet ``conditions`` in one statement; how many went."""
    result = db_session.execute(
        delete(model).where(*conditions).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _commit_after_the_view() -> None:
    # A request's own after-request functions run before the application's: the commit comes
    # first, so that a refused commit becomes the response the others then finish (security
    # headers, cookies).
    after_this_request(_commit_successful_request)


def _commit_successful_request(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is None:
        return response
    if response.status_code >= 400:
        session.rollback()
        return response
    try:
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        # Answered like the same error raised by the view: a 503 when the database is busy
        # or refuses writes (web/errors.py), nothing of the request kept.
        return current_app.make_response(current_app.handle_user_exception(exc))
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


def forget_old_pages(engine: Engine) -> bool:
    """After a purge is committed, on SQLite: copy the write-ahead log into the database file
    and truncate it, so that neither file keeps the page images from before the purge (the
    log holds old versions of every page written). Returns False where readers still use an
    older snapshot and the log could not be emptied (the next sweep tries again)."""
    if engine.dialect.name != "sqlite":
        return True
    raw = engine.raw_connection()
    try:  # outside any transaction: a checkpoint cannot run inside one
        busy, _, _ = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    return not busy


def write_apart(statement: Executable, what: str) -> None:
    """Run ``statement`` after the request, in a short transaction of its own.

    For bookkeeping such as when a credential was last used: it must not make a read write,
    nor hold up, fail or be rolled back with the request's own transaction. A failure (the
    database busy or read-only) is logged and forgotten."""
    g.setdefault("writes_apart", []).append((statement, what))


def _write_apart_after_request(_exc: BaseException | None) -> None:
    writes: list[tuple[Executable, str]] = g.pop("writes_apart", [])
    if not writes:
        return
    request_session: Session | None = g.get("db_session")
    if request_session is not None and request_session.in_transaction():
        request_session.rollback()  # committed already; never wait for our own lock
    database = get_database()
    token = _writing_apart.set(True)
    try:
        with database.session_factory() as session, session.begin():
            if not database.is_sqlite:
                session.execute(text(f"SET LOCAL lock_timeout = "
                                     f"'{int(WRITE_APART_TIMEOUT_S * 1000)}ms'"))
            for statement, _ in writes:
                session.execute(statement)
    except DBAPIError as exc:
        log.warning("could not record %s: %s", ", ".join(what for _, what in writes),
                    str(exc.orig).strip())
    finally:
        _writing_apart.reset(token)


# Spatial index objects created by migrations in backend-specific SQL, not described by models.
SPATIAL_INDEX_TABLES = ("location_index", "coverage_index", "polygon_index")
SPATIAL_INDEX_NAMES = (
    "ix_locations_point",
    "ix_coverage_areas_box",
    "ix_locations_geography",
    "ix_coverage_areas_envelope",
    *(f"ix_coverage_areas_{kind}_{index}" for kind in ("radius", "polygon")
      for index in ("box", "envelope")),
)

# Indexes migration 0019 creates on SQLite only (led by a dimension the reports group by, for
# SQLite's skip-scan; PostgreSQL hashes its groups), not described by models.
SQLITE_ONLY_INDEX_NAMES = tuple(f"ix_referrals_by_{name}" for name in (
    "kind", "service", "urgency", "grant_fields"))


def include_in_schema_comparison(name: str | None, type_: str, _parent: Any) -> bool:
    """Alembic `include_name` hook: leave the R*Tree tables and GiST expression indexes out."""
    if name is None:
        return True
    if type_ == "table":
        # PostGIS's own tables (spatial_ref_sys) are not ours either.
        return not name.startswith(SPATIAL_INDEX_TABLES) and name != "spatial_ref_sys"
    if type_ == "index":
        return name not in SPATIAL_INDEX_NAMES and name not in SQLITE_ONLY_INDEX_NAMES
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


def analyze(engine: Engine) -> None:
    """Bring the query planner's statistics up to date after a bulk load (seed, import,
    restore): without them PostgreSQL plans a search over many new rows as if the tables were
    still empty (a scan instead of the spatial index), and SQLite guesses at index costs."""
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def insert_rows(table: Table, rows: list[dict[str, Any]]) -> None:
    """``db_session.execute(insert(table), rows)``: one executemany (every row sets the same
    columns, those of the first), faster on SQLite."""
    if not rows:
        return
    connection = db_session.connection()
    if connection.dialect.paramstyle != "qmark":
        db_session.execute(insert(table), rows)
        return
    # SQLite: SQLAlchemy's executemany prepares each row's parameters one by one (a fifth of
    # the writing); the same column defaults and type conversions are applied here, a column
    # at a time, and the rows handed to the driver as they are.
    keys = list(rows[0])
    columns = [table.c[key] for key in keys]
    defaults = [column for column in table.columns
                if column.key not in keys and column.default is not None]
    if any(not (column.default.is_scalar or column.default.is_callable)  # type: ignore[union-attr]
           for column in defaults):
        db_session.execute(insert(table), rows)
        return
    values = [[row[key] for row in rows] for key in keys]
    for column in defaults:
        default: Any = column.default
        if default.is_scalar:
            values.append([default.arg] * len(rows))
        else:  # called once a row, with no execution context (the defaults take none)
            values.append([default.arg(None) for _ in rows])
        columns.append(column)
    dialect = connection.dialect
    for index, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            values[index] = [process(value) for value in values[index]]
    by_key = {column.key: column_values for column, column_values in zip(columns, values,
                                                                          strict=True)}
    statement = insert(table).compile(dialect=dialect, column_keys=list(by_key))
    order = statement.positiontup or []
    assert sorted(order) == sorted(by_key) and not statement.insert_prefetch, order
    connection.exec_driver_sql(statement.string,
                               list(zip(*(by_key[key] for key in order), strict=True)))
