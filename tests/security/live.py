"""`directory serve` (gunicorn, several worker processes) on an SQLite file, and a real race
against it: concurrent accepts sent with bearer tokens. Used by test_concurrency.py and by
bench/race.py, which prints the figures.

Standard library on the client side: each request of a race has its own connection, opened
before a barrier, so that all of them are sent at the same moment.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
STARTUP_S = 60.0
REQUEST_TIMEOUT_S = 60.0
REQUESTS = 20
PARTNERS = 10  # the most a placement request goes to: two accepts race per partner


@dataclass(frozen=True)
class Shot:
    """One request of a race: an accept of ``public_id`` with the token of ``who``."""

    who: str
    public_id: str
    token: str
    version: int


@dataclass(frozen=True)
class Outcome:
    shot: Shot
    status: int
    code: str  # the JSON error code, empty for a success

    @property
    def won(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Site:
    """A database ready for the two races, and the environment that serves it."""

    env: dict[str, str]
    database: Path
    receiver_email: str  # signs in with tests.conftest.PASSWORD
    single: list[Shot]  # 20 accepts of one referral, by one receiver's token
    placement: list[Shot]  # 20 accepts of one placement request's copies, two per partner


def prepare(folder: Path) -> Site:
    """Create the database in ``folder``: a referral sent to one partner, a placement request
    sent to ten, and an API token for a receiving member of each partner."""
    from directory import create_app
    from directory.api.operations import create_token
    from directory.db import get_database, get_session, upgrade
    from directory.referrals import operations as ops
    from directory.referrals.schemas import PlacementSchema
    from directory.seeding import SeedReport, load_taxonomy
    from tests.factories import Factory

    database = folder / "race.db"
    env = {**os.environ, "DIRECTORY_ENV": "testing", "DIRECTORY_INSTANCE_PATH": str(folder),
           "DIRECTORY_DATABASE_URL": f"sqlite:///{database}"}
    env.pop("DIRECTORY_RATELIMIT_STORAGE", None)
    app = create_app({"ENV": "testing", "INSTANCE_PATH": str(folder),
                      "DATABASE_URL": f"sqlite:///{database}"})
    with app.app_context():
        upgrade(get_database(app))
        session = get_session()
        load_taxonomy(SeedReport())
        factory = Factory(session)
        sender = factory.organization(name="Race Sender")
        referrer = factory.user(organization=sender)
        receiver = factory.organization(name="Race Receiver")
        receiver_user = factory.user(organization=receiver)
        referral = factory.referral(referrer, receiver)
        receiver_email = receiver_user.email
        _, secret = create_token(receiver_user, "race", None)
        single = [Shot("receiver", referral.public_id, secret, referral.version)
                  for _ in range(REQUESTS)]
        partners = [factory.organization(name=f"Race Partner {n:02d}")
                    for n in range(1, PARTNERS + 1)]
        secrets = [create_token(factory.user(organization=partner), "race", None)[1]
                   for partner in partners]
        data = Factory.referral_data(partners[0])
        data["to"] = [partner.slug for partner in partners]
        request = ops.create_placement_request(referrer, PlacementSchema().load(data))
        copies = sorted(request.referrals, key=lambda r: r.receiver.name)
        placement = [Shot(copy.receiver.name, copy.public_id, secret, copy.version)
                     for copy, secret in zip(copies, secrets, strict=True)] * 2
        session.commit()
    get_database(app).engine.dispose()
    return Site(env, database, receiver_email, single, placement)


def directory_command() -> str:
    return str(Path(sys.executable).with_name("directory"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _worker_count(pid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            count += stat[1] == str(pid)
    return count


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection(HOST, port, timeout=5)
        connection.request("GET", "/login")
        return connection.getresponse().status == 200
    except OSError:
        return False


@contextmanager
def served(env: dict[str, str], log: Path, workers: int = 2,
           threads: int = 1) -> Iterator[int]:
    """`directory serve` on a free port, until every worker is up; yields the port. The
    server's output goes to ``log``."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [directory_command(), "serve", "--host", HOST, "--port", str(port),
             "--workers", str(workers), "--threads", str(threads)],
            env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + STARTUP_S
        while not (_answers(port) and (not Path("/proc").is_dir()
                                       or _worker_count(process.pid) >= workers)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def fetch(port: int, method: str, path: str, *, headers: dict[str, str] | None = None,
          body: str | bytes | None = None,
          barrier: threading.Barrier | None = None) -> Answer:
    """One request on a connection of its own (sent once ``barrier`` lets everyone go)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.connect()
        if barrier is not None:
            barrier.wait(timeout=REQUEST_TIMEOUT_S)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def accept(port: int, shot: Shot, barrier: threading.Barrier | None = None) -> Answer:
    """POST the accept of ``shot`` through the JSON API."""
    return fetch(port, "POST", f"/api/v1/referrals/{shot.public_id}/transitions",
                 headers={"Authorization": f"Bearer {shot.token}",
                          "Content-Type": "application/json"},
                 body=json.dumps({"to": "accepted", "version": shot.version}), barrier=barrier)


def _accept(port: int, shot: Shot, barrier: threading.Barrier) -> Outcome:
    answer = accept(port, shot, barrier)
    return Outcome(shot, answer.status, error_code(answer.body))


def error_code(payload: bytes) -> str:
    """The code of a JSON error answer; empty for a success, a note for a body not JSON."""
    try:
        document: Any = json.loads(payload)
    except ValueError:
        return "(not JSON)"
    error = document.get("error") if isinstance(document, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def race(port: int, shots: list[Shot]) -> list[Outcome]:
    """Send every shot at once; the outcomes in the order of ``shots``."""
    barrier = threading.Barrier(len(shots))
    results: list[Outcome | BaseException | None] = [None] * len(shots)

    def run(index: int) -> None:
        try:
            results[index] = _accept(port, shots[index], barrier)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(shots))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [r for r in results if not isinstance(r, Outcome)]
    if failures:
        raise RuntimeError(f"{len(failures)} request(s) failed: {failures[0]!r}")
    return [r for r in results if isinstance(r, Outcome)]


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """The figures of a race: how many of each status (with its error code), and who won."""
    codes = Counter(f"{o.status} {o.code}".strip() for o in outcomes)
    return {"requests": len(outcomes), "codes": dict(sorted(codes.items())),
            "winners": [o.shot.who for o in outcomes if o.won]}
