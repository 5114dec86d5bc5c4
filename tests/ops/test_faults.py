"""Faults the directory recovers from without a restart. (A database refusing writes and a
mail server that is down are in tests/security/test_concurrency.py and tests/mail.)

- A PostgreSQL connection killed by the server: the next requests succeed.
- A full disk under the embedded database: the SQLite file on a tiny tmpfs filesystem that is
  then filled to the last byte (a real ENOSPC, so SQLITE_FULL from SQLite itself). Writes
  answer 503 with Retry-After and keep nothing, reads keep working (but client details, which
  are shown only with the audit record of their viewing), and once space is freed writes
  succeed again, without a restart. Needs root to mount the filesystem (Linux).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from directory import create_app
from directory.db import get_database
from tests.own_database import sent_referral_in_own_file

FILESYSTEM_MB = 8


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


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of FILESYSTEM_MB mounted for the test, unmounted after."""
    if os.geteuid() != 0 or not Path("/proc/mounts").exists():
        pytest.skip("mounting a small filesystem needs root on Linux")
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FILESYSTEM_MB}m", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the filesystem has not a byte left."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError:
            pass
        try:
            while True:
                handle.write(b"\0")
        except OSError:
            pass
    return filler


def _notes(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM referral_notes").fetchone()[0])


def test_a_full_disk_under_sqlite_answers_503_keeps_nothing_and_reads_go_on(
        settings: dict[str, Any], small_disk: Path) -> None:
    if not settings["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("the embedded database (SQLite)")
    database = small_disk / "directory.db"
    own = sent_referral_in_own_file(settings, database, small_disk / "instance",
                                    API_RATE_LIMIT="1000 per minute")
    app, secret, public_id = own.app, own.secret, own.public_id
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    note = {"body": "Intake booked for tomorrow morning. " * 100}
    api = f"/api/v1/referrals/{public_id}"
    assert client.get(api, headers=headers).status_code == 200  # connections open, warm

    filler = _fill(small_disk)
    refused = [client.post(f"{api}/notes", headers=headers, json=note) for _ in range(3)]
    for response in refused:
        assert response.status_code == 503, response.get_data(as_text=True)
        assert int(response.headers["Retry-After"]) > 0
        assert response.get_json()["error"]["code"] == "unavailable"
    for path in ("/api/v1/me", "/api/v1/services", "/api/v1/referrals?box=inbox",
                 "/api/v1/search?near=77002&radius=50"):
        assert client.get(path, headers=headers).status_code == 200, path
    # Client details are shown only with their audit record: no record, no details.
    assert client.get(api, headers=headers).status_code == 503

    filler.unlink()  # space again: the same application writes, no restart
    written = client.post(f"{api}/notes", headers=headers, json=note)
    assert written.status_code == 201, written.get_data(as_text=True)
    assert len(client.get(api, headers=headers).get_json()["notes"]) == 1
    get_database(app).engine.dispose()
    assert _notes(database) == 1
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
