"""`directory sweep` deletes sessions, links, invitations, API tokens and sent mail 30 days
after they stopped working, keeps what is recent or still in use, and is idempotent."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts.models import (
    AccountToken,
    Invitation,
    MemberRole,
    TokenPurpose,
    User,
    UserSession,
)
from directory.accounts.sessions import open_sessions
from directory.api.models import ApiToken
from directory.cli import main
from directory.db import utcnow
from directory.mail.models import OutboxMessage
from directory.maintenance import sweep
from directory.orgs.models import Organization
from tests.conftest import AuthActions
from tests.factories import Factory

NOTHING = {"sessions": 0, "account_tokens": 0, "invitations": 0, "api_tokens": 0,
           "sent_mail": 0}
DUE = {"sessions": 2, "account_tokens": 2, "invitations": 3, "api_tokens": 2, "sent_mail": 1}


def _ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


@dataclass
class Records:
    """The ids of the rows a sweep must delete, and of those it must keep, by model."""

    due: dict[type[Any], list[int]]
    kept: dict[type[Any], list[int]]


class _Builder:
    def __init__(self, db: Session, user: User, organization: Organization) -> None:
        self.db, self.user, self.organization = db, user, organization
        self.count = 0

    def _add(self, row: Any) -> int:
        self.db.add(row)
        self.db.flush()
        return int(row.id)

    def _hash(self) -> str:
        self.count += 1
        return f"{self.count:064x}"

    def session(self, *, expires: float, ended: float | None = None) -> int:
        """A browser session that expires (or expired) ``expires`` days ago (negative: ahead)."""
        return self._add(UserSession(
            user_id=self.user.id, token_hash=self._hash(), created_at=_ago(expires + 0.5),
            last_seen_at=_ago(expires + 0.4), expires_at=_ago(expires),
            ended_at=None if ended is None else _ago(ended)))

    def link(self, *, expires: float, used: float | None = None) -> int:
        return self._add(AccountToken(
            user_id=self.user.id, purpose=TokenPurpose.RESET_PASSWORD, token_hash=self._hash(),
            expires_at=_ago(expires), used_at=None if used is None else _ago(used)))

    def invitation(self, *, expires: float, accepted: float | None = None,
                   revoked: float | None = None) -> int:
        self.count += 1
        return self._add(Invitation(
            organization_id=self.organization.id, email=f"invitee{self.count}@test.example",
            role=MemberRole.REFERRER, token_hash=self._hash(), expires_at=_ago(expires),
            accepted_at=None if accepted is None else _ago(accepted),
            revoked_at=None if revoked is None else _ago(revoked)))

    def api_token(self, *, expires: float | None, revoked: float | None = None) -> int:
        return self._add(ApiToken(
            user_id=self.user.id, name=f"token {self.count}", token_hash=self._hash(),
            expires_at=None if expires is None else _ago(expires),
            revoked_at=None if revoked is None else _ago(revoked)))

    def mail(self, *, created: float, sent: float | None = None,
             failed: float | None = None) -> int:
        return self._add(OutboxMessage(
            to_address="someone@test.example", subject="Hello", text_body="Dear Ana",
            created_at=_ago(created), sent_at=None if sent is None else _ago(sent),
            failed_at=None if failed is None else _ago(failed)))


@pytest.fixture()
def records(db: Session, factory: Factory) -> Records:
    organization = factory.organization()
    build = _Builder(db, factory.user(organization=organization, role=MemberRole.ADMIN),
                     organization)
    return Records(
        due={
            UserSession: [build.session(expires=30.6, ended=31),  # ended, then expired
                          build.session(expires=31)],  # expired, never signed out
            AccountToken: [build.link(expires=29, used=31),  # used long ago
                           build.link(expires=31)],  # expired unused
            Invitation: [build.invitation(expires=25, accepted=31),
                         build.invitation(expires=25, revoked=31),
                         build.invitation(expires=31)],
            ApiToken: [build.api_token(expires=31),
                       build.api_token(expires=None, revoked=31)],
            OutboxMessage: [build.mail(created=32, sent=31)],
        },
        kept={
            UserSession: [build.session(expires=28.6, ended=29),  # ended recently
                          build.session(expires=-0.2),  # open
                          build.session(expires=-13, ended=None)],  # a remembered one
            AccountToken: [build.link(expires=28, used=29), build.link(expires=-0.04)],
            Invitation: [build.invitation(expires=29), build.invitation(expires=-7),
                         build.invitation(expires=-3, accepted=29)],
            ApiToken: [build.api_token(expires=29),  # still on its owner's page
                       build.api_token(expires=None, revoked=29),
                       build.api_token(expires=None),
                       build.api_token(expires=-90)],
            OutboxMessage: [build.mail(created=29, sent=29),
                            build.mail(created=60),  # never delivered: retried
                            build.mail(created=60, failed=59)],  # refused for good
        },
    )


def _remaining(db: Session, model: type[Any], ids: list[int]) -> list[int]:
    db.expire_all()
    return sorted(db.scalars(select(model.id).where(model.id.in_(ids))))


def _assert_swept(db: Session, records: Records) -> None:
    for model, ids in records.due.items():
        assert _remaining(db, model, ids) == [], model.__name__
    for model, ids in records.kept.items():
        assert _remaining(db, model, ids) == sorted(ids), model.__name__


def test_sweep_deletes_what_stopped_working_thirty_days_ago(db: Session,
                                                            records: Records) -> None:
    report = sweep()
    assert report.deleted == DUE
    _assert_swept(db, records)
    assert sweep().deleted == NOTHING
    _assert_swept(db, records)


def test_a_later_sweep_deletes_the_recent_ones_in_their_turn(db: Session,
                                                             records: Records) -> None:
    sweep()
    report = sweep(utcnow() + dt.timedelta(days=2))
    assert report.deleted == {"sessions": 1, "account_tokens": 1, "invitations": 2,
                              "api_tokens": 2, "sent_mail": 1}


def test_a_signed_in_browser_stays_signed_in(client: FlaskClient, auth: AuthActions,
                                             db: Session, factory: Factory) -> None:
    user = factory.user()
    auth.login(user.email)
    sweep()
    assert len(open_sessions(user)) == 1
    assert client.get("/account").status_code == 200


def _run_cli(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """The command in this process, on the test's database and inside its transaction."""
    monkeypatch.setattr("directory.cli.build_app", lambda overrides=None: app)
    result = CliRunner().invoke(main, ["sweep", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_command_reports_what_it_deleted(app: Flask, db: Session, records: Records,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    first = json.loads(_run_cli(app, monkeypatch, "--json"))
    assert first == {"expired": [], "due_soon": [], "identifying_purged": [], "purged": [],
                     "deleted": DUE, "listing_reminders": {"stale": 0, "first": 0,
                                                           "second": 0, "without_admin": 0}}
    _assert_swept(db, records)
    second = json.loads(_run_cli(app, monkeypatch, "--json"))
    assert second["deleted"] == NOTHING
    _assert_swept(db, records)


def test_the_command_prints_the_counts(app: Flask, db: Session, records: Records,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    output = _run_cli(app, monkeypatch)
    assert "Expired 0;" in output
    assert ("Deleted 2 browser session(s), 2 password-reset or confirmation link(s), "
            "3 invitation(s), 2 API token(s) and 1 sent message(s)") in output
    assert "Deleted 0 browser session(s)" in _run_cli(app, monkeypatch)
