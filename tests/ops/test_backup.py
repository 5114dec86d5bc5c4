"""`directory backup` under a write load, `directory restore` into an empty database: every
table's rows come back identical (counts and a checksum per table), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Engine, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url

from directory import create_app
from directory.audit.models import AuditEvent
from directory.cli import main
from directory.db import current_revision, get_database, get_session, upgrade
from directory.mail.models import OutboxMessage
from directory.ops.backup import MANIFEST
from directory.orgs.synthetic import generate_synthetic_network
from directory.seeding import SeedReport, load_taxonomy
from tests.factories import Factory

WRITTEN_DURING_BACKUP = ("mail_outbox", "audit_events")
CLIENT_SECRET = "Needs a bed tonight near Elm Street"


@dataclass
class Side:
    url: str
    app: Flask

    @property
    def engine(self) -> Engine:
        return get_database(self.app).engine


def _database_url(settings: dict[str, Any], tmp_path: Path, name: str) -> str:
    url = make_url(settings["DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        return f"sqlite:///{tmp_path / (name + '.db')}"
    # A database of its own beside the suite's (the suite's is in use by the other tests).
    database = f"{url.database}_{name}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return url.set(database=database).render_as_string(hide_password=False)


def _drop(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def sides(settings: dict[str, Any], tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    made = []
    for name in ("backup_source", "backup_target"):
        url = _database_url(settings, tmp_path, name)
        made.append(Side(url, create_app(settings | {"DATABASE_URL": url,
                                                     "INSTANCE_PATH": str(tmp_path / name)})))
    yield made[0], made[1]
    for side in made:
        side.engine.dispose()
        _drop(side.url)


def _fill(side: Side) -> None:
    upgrade(get_database(side.app))
    with side.app.app_context(), side.app.test_request_context():
        session = get_session()
        load_taxonomy(SeedReport())
        generate_synthetic_network(60, 7)
        factory = Factory(session)
        sender, receiver = factory.organization(), factory.organization()
        referrer = factory.user(organization=sender)
        for _ in range(3):
            factory.referral(referrer, receiver, needs=CLIENT_SECRET)
        session.commit()


def _cli(side: Side, *arguments: str) -> Any:
    env = {"DIRECTORY_ENV": "testing", "DIRECTORY_DATABASE_URL": side.url,
           "DIRECTORY_INSTANCE_PATH": side.app.instance_path}
    return CliRunner().invoke(main, list(arguments), env=env)


def _tables(engine: Engine) -> list[str]:
    return sorted(name for name in inspect(engine).get_table_names()
                  if not name.startswith("sqlite_") and name != "spatial_ref_sys")


def _rows(engine: Engine, table: str, up_to_id: int | None = None) -> list[str]:
    query = f'SELECT * FROM "{table}"' + ("" if up_to_id is None else f" WHERE id <= {up_to_id}")
    with engine.connect() as connection:
        return sorted(repr(tuple(row)) for row in connection.execute(text(query)))


def fingerprint(rows: list[str]) -> tuple[int, str]:
    """A table's row count and a checksum of its rows."""
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()


class Writer(threading.Thread):
    """Commits, as fast as it can, a message to the outbox and an audit event that share a
    number: a consistent copy holds both or neither."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine, self.stop, self.committed = engine, threading.Event(), 0

    def run(self) -> None:
        while not self.stop.is_set():
            number = self.committed + 1
            with self.engine.begin() as connection:
                connection.execute(insert(OutboxMessage).values(
                    to_address=f"load{number}@test.example", subject=f"load {number}",
                    text_body="body"))
                connection.execute(insert(AuditEvent).values(action="backup_load",
                                                             details={"number": number}))
            self.committed = number


def test_backup_under_writes_restores_every_row(sides: tuple[Side, Side],
                                                tmp_path: Path) -> None:
    source, target = sides
    _fill(source)
    upgrade(get_database(target.app))  # an empty, migrated target (as after `directory init`)
    writer = Writer(source.engine)
    writer.start()
    while writer.committed < 20:
        time.sleep(0.01)
    archive = tmp_path / "directory.backup"
    result = _cli(source, "backup", str(archive))
    during = writer.committed
    writer.stop.set()
    writer.join()
    assert result.exit_code == 0, result.output
    assert writer.committed > 20 and during > 20

    with tarfile.open(archive) as opened:
        manifest = json.loads(opened.extractfile(MANIFEST).read())
    assert manifest["schema_revision"] == current_revision(get_database(source.app))
    assert manifest["application_version"] and manifest["database"] == source.engine.dialect.name
    assert CLIENT_SECRET.encode() not in archive.read_bytes()  # still ciphertexts

    result = _cli(target, "restore", str(archive))
    assert result.exit_code == 0, result.output

    assert _tables(target.engine) == _tables(source.engine)
    restored_numbers = {details["number"] for details in _column(
        target.engine, AuditEvent.details, AuditEvent.action == "backup_load")}
    subjects = {int(subject.split()[1]) for subject in _column(
        target.engine, OutboxMessage.subject, OutboxMessage.subject.startswith("load "))}
    assert restored_numbers == subjects == set(range(1, len(subjects) + 1))  # one snapshot
    assert 20 <= len(subjects) <= writer.committed
    for table in _tables(source.engine):
        restored = _rows(target.engine, table)
        if table in WRITTEN_DURING_BACKUP:
            last = _max_id(target.engine, table)
            assert fingerprint(restored) == fingerprint(_rows(source.engine, table, last)), table
        else:
            assert fingerprint(restored) == fingerprint(_rows(source.engine, table)), table


def _column(engine: Engine, column: Any, condition: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.scalars(select(column).where(condition)))


def _max_id(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text(f'SELECT max(id) FROM "{table}"')) or 0)


def test_restore_refuses_a_target_with_data_unless_forced(sides: tuple[Side, Side],
                                                          tmp_path: Path) -> None:
    source, target = sides
    _fill(source)
    _fill(target)
    archive = tmp_path / "directory.backup"
    assert _cli(source, "backup", str(archive)).exit_code == 0
    refused = _cli(target, "restore", str(archive))
    assert refused.exit_code == 1 and "already holds data" in refused.output
    assert "--force" in refused.output
    forced = _cli(target, "restore", "--force", str(archive))
    assert forced.exit_code == 0, forced.output
    for table in ("organizations", "referrals", "users"):
        assert fingerprint(_rows(target.engine, table)) == fingerprint(
            _rows(source.engine, table))


def test_an_older_backup_is_upgraded_on_restore(sides: tuple[Side, Side],
                                                tmp_path: Path) -> None:
    source, target = sides
    upgrade(get_database(source.app), "0005")
    archive = tmp_path / "old.backup"
    assert _cli(source, "backup", str(archive)).exit_code == 0
    result = _cli(target, "restore", "--json", str(archive))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["restored_revision"] == "0005" and report["manifest"]["schema_revision"] == "0005"
    assert report["upgraded_to"] == current_revision(get_database(target.app)) != "0005"


def _rewrite_manifest(archive: Path, changes: dict[str, Any]) -> None:
    with tarfile.open(archive) as original:
        members = {member.name: original.extractfile(member).read()
                   for member in original.getmembers()}
    manifest = json.loads(members[MANIFEST]) | changes
    members[MANIFEST] = json.dumps(manifest).encode()
    with tarfile.open(archive, "w") as rewritten:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            rewritten.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(("changes", "message"), [
    ({"schema_revision": "9999"}, "newer than this version"),
    ({"database": "oracle"}, "backup of a oracle database"),
    ({"format": 99}, "format 99"),
])
def test_restore_refuses_what_it_cannot_restore(sides: tuple[Side, Side], tmp_path: Path,
                                                changes: dict[str, Any], message: str) -> None:
    source, target = sides
    upgrade(get_database(source.app))
    archive = tmp_path / "directory.backup"
    assert _cli(source, "backup", str(archive)).exit_code == 0
    _rewrite_manifest(archive, changes)
    result = _cli(target, "restore", str(archive))
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_restore_refuses_a_file_that_is_no_backup(sides: tuple[Side, Side],
                                                  tmp_path: Path) -> None:
    _, target = sides
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a tar archive at all")
    result = _cli(target, "restore", str(junk))
    assert result.exit_code == 1 and "cannot be read as a directory backup" in result.output
