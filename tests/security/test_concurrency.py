"""Concurrency, and a database that refuses writes: never a 500, never half a change.

- A real race (tests/security/live.py; bench/race.py prints its figures): 20 accepts at once
  against `directory serve` with 2 workers on an SQLite file. One winner; 409 for the others.
- A database that refuses writes (``PRAGMA query_only`` on SQLite, a read-only transaction on
  PostgreSQL; a read-only file for the real server): reads work, writes and sign-in answer
  503 with Retry-After, and nothing is stored.
- A write that cannot get SQLite's lock in time answers 503, not 500.
- A credential's last use is written at most once a minute, apart from the request.

Each case checks the answer and the stored data.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from directory import db as database_module
from directory.accounts import sessions as account_sessions
from directory.accounts.models import User, UserSession
from directory.api import operations as token_ops
from directory.api.models import ApiToken
from directory.db import get_database, utcnow
from directory.referrals.models import Referral, ReferralStatus
from tests.conftest import PASSWORD
from tests.own_database import OwnDatabase, sent_referral_in_own_file
from tests.security.conftest import CSRF_INPUT, Network, StoredData, bearer, sign_in
from tests.security.live import (
    REQUESTS,
    Answer,
    Site,
    accept,
    error_code,
    fetch,
    prepare,
    race,
    served,
    summary,
)

# --- a real race against `directory serve` ----------------------------------------------------


@dataclass(frozen=True)
class Live:
    site: Site
    port: int
    log: Path


@pytest.fixture(scope="module", params=[1, 4], ids=["2x1-threads", "2x4-threads"])
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Two workers of one or of four threads, on a fresh SQLite file."""
    folder = tmp_path_factory.mktemp("race")
    site = prepare(folder)
    log = folder / "server.log"
    with served(site.env, log, workers=2, threads=request.param) as port:
        yield Live(site, port, log)
    assert "Traceback" not in log.read_text(), log.read_text()


def _stored(database: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(query, args).fetchall()


def test_concurrent_accepts_of_a_referral_have_one_winner_and_409s(live: Live) -> None:
    shot = live.site.single[0]
    outcomes = race(live.port, live.site.single)
    figures = summary(outcomes)
    assert figures["codes"] == {"200": 1, "409 conflict": REQUESTS - 1}, figures
    assert figures["winners"] == ["receiver"]
    (status, version), = _stored(live.site.database,
                                 "SELECT status, version FROM referrals WHERE public_id = ?",
                                 shot.public_id)
    assert (status, version) == ("accepted", shot.version + 1)  # one move, once
    assert _stored(live.site.database,
                   "SELECT count(*) FROM referral_events e JOIN referrals r "
                   "ON r.id = e.referral_id WHERE r.public_id = ? AND e.to_status = 'accepted'",
                   shot.public_id) == [(1,)]


def test_concurrent_accepts_of_a_placement_have_one_winner_and_409s(live: Live) -> None:
    outcomes = race(live.port, live.site.placement)
    figures = summary(outcomes)
    assert figures["codes"] == {"200": 1, "409 conflict": REQUESTS - 1}, figures
    (winner,) = [outcome.shot for outcome in outcomes if outcome.won]
    ids = sorted({shot.public_id for shot in live.site.placement})
    marks = ",".join("?" * len(ids))
    statuses = dict(_stored(live.site.database,
                            f"SELECT public_id, status FROM referrals WHERE public_id IN ({marks})",
                            *ids))
    assert statuses.pop(winner.public_id) == "accepted"
    assert set(statuses.values()) == {"withdrawn"} and len(statuses) == len(ids) - 1
    assert _stored(live.site.database,
                   "SELECT r.public_id FROM placement_requests p JOIN referrals r "
                   "ON r.id = p.filled_referral_id") == [(winner.public_id,)]


# --- a database that refuses writes ---------------------------------------------------------


@pytest.fixture()
def refuse_writes(db: Session) -> Iterator[Callable[[], None]]:
    """Call it to make the test's database refuse every write from then on, as a read-only
    database does; until then the test sets up what it needs."""
    connection = db.connection()
    sqlite = connection.dialect.name == "sqlite"

    def refuse() -> None:
        db.flush()
        connection.exec_driver_sql("PRAGMA query_only = ON" if sqlite
                                   else "SET TRANSACTION READ ONLY")

    yield refuse
    if sqlite:
        connection.exec_driver_sql("PRAGMA query_only = OFF")


def _assert_unavailable(response: TestResponse, *, api: bool) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    if api:
        assert response.get_json()["error"]["code"] == "unavailable"
    else:
        assert response.mimetype == "text/html"
        assert "nothing changed" in response.get_data(as_text=True)


def _age_credentials(db: Session, user: User) -> dt.datetime:
    """Make every credential of ``user`` due for its last-use write; returns the old time."""
    long_ago = utcnow() - dt.timedelta(minutes=10)
    for token in db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        token.last_used_at = long_ago
    for record in db.scalars(select(UserSession).where(UserSession.user_id == user.id)):
        record.last_seen_at = long_ago
    db.flush()
    return long_ago


def test_reads_work_when_the_database_refuses_writes(
        client: FlaskClient, network: Network, db: Session, stored: StoredData,
        refuse_writes: Callable[[], None]) -> None:
    user = network.b_referrer
    headers = bearer(user)
    sign_in(client, user)
    long_ago = _age_credentials(db, user)
    before = stored.snapshot()
    refuse_writes()
    for path in ("/api/v1/search?near=77002&radius=50", "/api/v1/me", "/api/v1/services",
                 "/api/v1/referrals?box=inbox", f"/api/v1/organizations/{network.c.slug}"):
        assert client.get(path, headers=headers).status_code == 200, path
    search = client.get("/api/v1/search?near=77002&radius=50", headers=headers).get_json()
    assert network.c.name in json.dumps(search)
    for path in ("/search?near=77002", "/organizations", f"/organizations/{network.c.slug}",
                 "/referrals/inbox", "/account"):
        assert client.get(path).status_code == 200, path  # the browser session still works
    stored.assert_unchanged(before)
    db.expire_all()
    assert {token.last_used_at for token in db.scalars(select(ApiToken))} == {long_ago}
    assert {record.last_seen_at for record in db.scalars(select(UserSession))} == {long_ago}


def test_writes_answer_503_with_retry_after_and_store_nothing(
        client: FlaskClient, network: Network, db: Session, stored: StoredData,
        refuse_writes: Callable[[], None]) -> None:
    referral = network.a_to_b
    headers = bearer(network.b_referrer)
    sign_in(client, network.b_referrer)
    before = stored.snapshot()
    refuse_writes()
    api = f"/api/v1/referrals/{referral.public_id}"
    _assert_unavailable(client.post(f"{api}/transitions", headers=headers,
                                    json={"to": "accepted", "version": referral.version}),
                        api=True)
    _assert_unavailable(client.post(f"{api}/notes", headers=headers, json={"body": "Hello."}),
                        api=True)
    web = f"/referrals/{referral.public_id}"
    _assert_unavailable(client.post(f"{web}/transitions",
                                    data={"to": "accepted", "version": referral.version}),
                        api=False)
    _assert_unavailable(client.post(f"{web}/notes", data={"body": "Hello."}), api=False)
    stored.assert_unchanged(before)
    db.expire_all()
    assert db.get(Referral, referral.id).status == ReferralStatus.SENT


def test_sign_in_answers_503_when_its_session_cannot_be_stored(
        client: FlaskClient, network: Network, stored: StoredData,
        refuse_writes: Callable[[], None]) -> None:
    user = network.b_admin
    before = stored.snapshot()
    refuse_writes()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    _assert_unavailable(response, api=False)
    assert "Set-Cookie" not in response.headers  # no cookie for a session that does not exist
    account = client.get("/account")
    assert account.status_code == 302 and account.headers["Location"].startswith("/login")
    stored.assert_unchanged(before)  # no session row, no sign-in in the audit log


def test_a_read_only_database_file_served_for_real(tmp_path: Path) -> None:
    """`directory serve` on an SQLite file opened read-only: the whole stack, from BEGIN
    IMMEDIATE (which such a file refuses) to the answers."""
    site = prepare(tmp_path)
    with sqlite3.connect(site.database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = list(connection.iterdump())
    env = {**site.env,
           "DIRECTORY_DATABASE_URL": f"sqlite:///file:{site.database}?mode=ro&uri=true"}
    log = tmp_path / "server.log"
    shot = site.single[0]
    with served(env, log, workers=2) as port:
        token = {"Authorization": f"Bearer {shot.token}"}
        found = fetch(port, "GET", "/api/v1/search?near=77002&radius=50", headers=token)
        assert found.status == 200 and "Race Receiver" in found.text
        assert fetch(port, "GET", "/api/v1/me", headers=token).status == 200
        refused = accept(port, shot)
        assert refused.status == 503 and error_code(refused.body) == "unavailable"
        assert int(refused.headers["Retry-After"]) > 0
        signed = _sign_in_for_real(port, site.receiver_email)
        assert signed.status == 503 and int(signed.headers["Retry-After"]) > 0
        assert "nothing changed" in signed.text
        cookie = _cookie(signed) or ""
        account = fetch(port, "GET", "/account", headers={"Cookie": cookie})
        assert account.status == 302 and "/login" in account.headers["Location"]
    with sqlite3.connect(site.database) as connection:
        assert list(connection.iterdump()) == before
    assert "Traceback" not in log.read_text()


def _cookie(answer: Answer) -> str | None:
    found = answer.headers.get("Set-Cookie")
    return found.split(";", 1)[0] if found else None


def _sign_in_for_real(port: int, email: str) -> Answer:
    """The sign-in form as a browser sends it: the page's CSRF token and cookie."""
    page = fetch(port, "GET", "/login")
    token = CSRF_INPUT.search(page.text)
    assert page.status == 200 and token is not None
    return fetch(port, "POST", "/login", body=urlencode(
        {"email": email, "password": PASSWORD, "csrf_token": token.group(1)}),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Cookie": _cookie(page) or ""})


# --- a lock held too long -------------------------------------------------------------------


@pytest.fixture()
def own_database(settings: dict[str, Any], tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnDatabase]:
    """A sent referral committed to an SQLite file of its own, served by an application that
    waits only a moment for a lock."""
    if not settings["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(database_module, "WRITE_APART_TIMEOUT_S", 0.1)
    own = sent_referral_in_own_file(settings, tmp_path / "locked.db", tmp_path / "instance")
    yield own
    get_database(own.app).engine.dispose()


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another process's write transaction on the file, held until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_write_that_cannot_get_the_lock_answers_503(own_database: OwnDatabase) -> None:
    client = own_database.app.test_client()
    assert client.post("/login", data={"email": own_database.receiver_email,
                                       "password": PASSWORD}).status_code == 302
    headers = {"Authorization": f"Bearer {own_database.secret}"}
    api = f"/api/v1/referrals/{own_database.public_id}/transitions"
    move = {"to": "accepted", "version": own_database.version}
    status = "SELECT status FROM referrals WHERE public_id = ?"
    with write_lock(own_database.path):
        assert client.get("/api/v1/me", headers=headers).status_code == 200  # reads go on
        _assert_unavailable(client.post(api, headers=headers, json=move), api=True)
        _assert_unavailable(client.post(f"/referrals/{own_database.public_id}/transitions",
                                        data=move), api=False)
        assert client.get("/account").status_code == 200
    assert _stored(own_database.path, status, own_database.public_id) == [("sent",)]
    assert client.post(api, headers=headers, json=move).status_code == 200  # lock released
    assert _stored(own_database.path, status, own_database.public_id) == [("accepted",)]


# --- a credential's last use ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@contextmanager
def statements(app: Flask, prefix: str) -> Iterator[list[str]]:
    """The SQL statements starting with ``prefix`` the database runs inside the block."""
    seen: list[str] = []
    engine = get_database(app).engine

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(prefix.upper()):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_token_use_is_written_at_most_once_a_minute_apart_from_the_request(
        app: Flask, client: FlaskClient, network: Network, db: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token, secret = token_ops.create_token(network.b_referrer, "clock", None)
    headers = {"Authorization": f"Bearer {secret}"}
    clock = Clock()
    monkeypatch.setattr(token_ops, "utcnow", clock)
    first = clock.now
    with statements(app, "UPDATE api_tokens") as writes:
        # Refused (404), the request rolls back; the use is recorded all the same.
        assert client.get("/api/v1/referrals/no-such-referral", headers=headers
                          ).status_code == 404
        db.refresh(token)
        assert token.last_used_at == first and len(writes) == 1
        for seconds in (1, 29, 29):  # 59 seconds in all
            clock.advance(seconds)
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        db.refresh(token)
        assert token.last_used_at == first and len(writes) == 1  # not even attempted
        later = clock.advance(2)
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        db.refresh(token)
        assert token.last_used_at == later and len(writes) == 2


def test_a_browser_session_use_is_written_at_most_once_a_minute(
        app: Flask, client: FlaskClient, network: Network, db: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(account_sessions, "utcnow", clock)
    user = network.b_referrer
    sign_in(client, user)
    (record,) = db.scalars(select(UserSession).where(UserSession.user_id == user.id))
    first = record.last_seen_at
    with statements(app, "UPDATE user_sessions") as writes:
        for seconds in (10, 20, 29):
            clock.advance(seconds)
            assert client.get("/organizations").status_code == 200
        db.refresh(record)
        assert record.last_seen_at == first and writes == []
        later = clock.advance(2)
        # A page that is not found rolls its request back; the activity is kept all the same.
        assert client.get("/organizations/no-such-organization").status_code == 404
        db.refresh(record)
        assert record.last_seen_at == later and len(writes) == 1
        clock.advance(30)
        assert client.get("/account").status_code == 200
        db.refresh(record)
        assert record.last_seen_at == later and len(writes) == 1


def test_the_two_factor_set_up_is_still_required_of_sessions_only(
        app: Flask, settings: dict[str, Any], network: Network) -> None:
    """accounts/auth.py no longer asks the API whether a request used a token: it knows the
    browser session it resumed. A page redirects to the set-up, the API answers with the
    code, a token goes on."""
    from tests.security.conftest import share_database

    strict = share_database(app, settings, REQUIRE_2FA=True)
    client = strict.test_client()
    user = network.b_admin
    sign_in(client, user)
    page = client.get("/organizations")
    assert page.status_code == 302 and page.headers["Location"].endswith("/account/two-factor")
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "two_factor_required"
    assert client.get("/api/v1/me", headers=bearer(user)).status_code == 200
