"""`directory backup` and `directory restore`: one file holding a consistent copy of the
database and a manifest saying what it is.

The file is a tar archive of ``manifest.json`` (format, database kind, schema revision,
application version, time) and the copy itself: on SQLite a database file made with SQLite's
online backup API (one consistent snapshot, taken while the server goes on writing); on
PostgreSQL a ``pg_dump`` archive in its custom format (also one snapshot). The copy is what
the database holds, so client details stay Fernet tokens under ``DIRECTORY_DATA_KEY``: the
key is not in the backup and must be kept apart from it.

Restore refuses a backup of a schema newer than this code knows and a target that already
holds data (unless forced), restores, upgrades an older schema to the head, and refreshes the
planner's statistics.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess  # nosec B404
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL, make_url

from directory.db import (
    SPATIAL_INDEX_TABLES,
    Database,
    alembic_config,
    analyze,
    current_revision,
    upgrade,
)

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
POSTGRES_MEMBER = "database.pgdump"
_IGNORED_TABLES = ("sqlite_", "spatial_ref_sys")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    format: int
    database: str  # "sqlite" or "postgresql"
    schema_revision: str | None
    application_version: str
    created_at: str

    @classmethod
    def read(cls, document: dict[str, Any]) -> Manifest:
        try:
            manifest = cls(**{name: document[name] for name in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise BackupError("The backup's manifest is incomplete.") from exc
        if manifest.format != FORMAT:
            raise BackupError(f"The backup is in format {manifest.format}; this version of the "
                              f"directory reads format {FORMAT}.")
        return manifest


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    restored_revision: str | None
    upgraded_to: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"manifest": asdict(self.manifest), "restored_revision": self.restored_revision,
                "upgraded_to": self.upgraded_to}


def application_version() -> str:
    return package_version("directory")


# --- backup -----------------------------------------------------------------------------------

def backup(database: Database, out: Path) -> Manifest:
    """Write a backup of ``database`` to ``out`` (written whole, then moved into place)."""
    out = Path(out)
    if out.is_dir():
        raise BackupError(f"{out} is a folder: give the name of the backup file to write.")
    with tempfile.TemporaryDirectory(prefix="directory-backup-") as work:
        workdir = Path(work)
        if database.is_sqlite:
            member = workdir / SQLITE_MEMBER
            _sqlite_copy(_sqlite_path(database), member)
            revision = _sqlite_revision(member)
        else:
            member = workdir / POSTGRES_MEMBER
            revision = current_revision(database)
            _pg_dump(database, member)
        manifest = Manifest(format=FORMAT, database=database.engine.dialect.name,
                            schema_revision=revision, application_version=application_version(),
                            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        partial = out.with_name(f".{out.name}.partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(partial, "w") as archive:
            _add_bytes(archive, MANIFEST, json.dumps(asdict(manifest), indent=2).encode())
            archive.add(member, arcname=member.name)
        partial.chmod(0o600)
        partial.replace(out)
    return manifest


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def _sqlite_path(database: Database) -> Path:
    name = make_url(database.url).database
    if not name or name == ":memory:":
        raise BackupError("An in-memory database cannot be backed up or restored.")
    return Path(name)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while other connections write (each write
    during the copy makes it start again, and one step copies everything under one read
    lock, so it finishes)."""
    if not source.is_file():
        raise BackupError(f"There is no database at {source}.")
    origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        origin.backup(copy)
    finally:
        copy.close()
        origin.close()


def _sqlite_revision(path: Path) -> str | None:
    connection = sqlite3.connect(path)
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        connection.close()
    return row[0] if row else None


# --- PostgreSQL's own tools ---------------------------------------------------------------

def _libpq_environment(url: URL) -> dict[str, str]:
    """The connection for pg_dump/pg_restore, in their environment variables: a password is
    never on a command line that any user of the machine can read."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for variable, value in (("PGHOST", url.host), ("PGPORT", url.port),
                            ("PGUSER", url.username), ("PGPASSWORD", url.password),
                            ("PGDATABASE", url.database)):
        if value is not None:
            environment[variable] = str(value)
    return environment


def _tool(name: str, database: Database) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client tools of the "
                          "server's version (e.g. the postgresql-client package).")
    output = subprocess.run([path, "--version"], capture_output=True, text=True,  # nosec B603
                            check=True).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", output)
    with database.engine.connect() as connection:
        server = int(connection.scalar(text("SHOW server_version_num"))) // 10000
    if found is None or int(found.group(1)) != server:
        raise BackupError(f"{name} is version {found.group(1) if found else '?'} but the "
                          f"server is PostgreSQL {server}: use the client tools of version "
                          f"{server}.")
    return path


def _run(command: list[str], database: Database) -> None:
    result = subprocess.run(command, capture_output=True, text=True,  # nosec B603
                            env=_libpq_environment(make_url(database.url)))
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()[-2000:]}")


def _pg_dump(database: Database, target: Path) -> None:
    _run([_tool("pg_dump", database), "--format=custom", "--no-owner", "--no-privileges",
          f"--file={target}"], database)


def _pg_restore(database: Database, source: Path) -> None:
    tool = _tool("pg_restore", database)
    with database.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.engine.dispose()
    _run([tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={make_url(database.url).database}", str(source)], database)


# --- restore ---------------------------------------------------------------------------------

def read_manifest(archive: tarfile.TarFile) -> Manifest:
    member = archive.extractfile(MANIFEST) if MANIFEST in archive.getnames() else None
    if member is None:
        raise BackupError("This file is not a directory backup (it has no manifest).")
    try:
        return Manifest.read(json.loads(member.read()))
    except ValueError as exc:
        raise BackupError("The backup's manifest is not valid JSON.") from exc


def holds_data(engine: Engine) -> bool:
    """Whether any table of the database has a row (a migrated, empty schema has none; the
    spatial indexes' own tables always hold their root)."""
    names = [name for name in inspect(engine).get_table_names()
             if not name.startswith(_IGNORED_TABLES + SPATIAL_INDEX_TABLES)
             and name != "alembic_version"]
    with engine.connect() as connection:
        return any(connection.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first()
                   for name in names)


def _check_revision(database: Database, revision: str | None) -> None:
    if revision is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config(database))
    known = {script.revision for script in scripts.walk_revisions()}
    if revision not in known:
        raise BackupError(f"The backup's schema (revision {revision}) is newer than this "
                          "version of the directory knows: upgrade the directory first.")


def restore(database: Database, source: Path, force: bool = False) -> RestoreReport:
    """Replace the content of ``database`` with the backup in ``source``."""
    source = Path(source)
    try:
        archive = tarfile.open(source, "r")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{source} cannot be read as a directory backup: {exc}") from exc
    with archive, tempfile.TemporaryDirectory(prefix="directory-restore-") as work:
        manifest = read_manifest(archive)
        kind = database.engine.dialect.name
        if manifest.database != kind:
            raise BackupError(f"This is a backup of a {manifest.database} database; the "
                              f"directory is configured for {kind}.")
        _check_revision(database, manifest.schema_revision)
        if not force and holds_data(database.engine):
            raise BackupError("The target database already holds data: restore into an empty "
                              "database, or give --force to replace everything in it.")
        member = SQLITE_MEMBER if kind == "sqlite" else POSTGRES_MEMBER
        if member not in archive.getnames():
            raise BackupError(f"The backup has no {member}.")
        archive.extract(member, work, filter="data")
        copy = Path(work) / member
        if kind == "sqlite":
            _sqlite_restore(database, copy)
        else:
            _pg_restore(database, copy)
    restored = current_revision(database)
    upgrade(database)
    head = current_revision(database)
    analyze(database.engine)
    return RestoreReport(manifest=manifest, restored_revision=restored,
                         upgraded_to=head if head != restored else None)


def _sqlite_restore(database: Database, copy: Path) -> None:
    """Copy the backup into the live file page by page (the same online backup API): the
    write-ahead log and any open connection see the new content, never a half-replaced file."""
    database.engine.dispose()
    target_path = _sqlite_path(database)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    origin = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        origin.backup(target)
    finally:
        target.close()
        origin.close()
