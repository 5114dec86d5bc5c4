"""`directory sweep` and `directory rotate-data-key` on a database of their own."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import update

from directory import create_app
from directory.cli import main
from directory.db import get_database, get_session, upgrade
from directory.referrals import crypto
from directory.referrals.models import Referral, ReferralStatus
from directory.seeding import SeedReport, load_taxonomy
from tests.factories import Factory

KEY = Fernet.generate_key().decode()


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return {"DIRECTORY_ENV": "testing", "DIRECTORY_INSTANCE_PATH": str(tmp_path),
            "DIRECTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "DIRECTORY_DATA_KEY": KEY}


def _app(env: dict[str, str], key: str = KEY) -> Flask:
    return create_app({"ENV": "testing", "INSTANCE_PATH": env["DIRECTORY_INSTANCE_PATH"],
                       "DATABASE_URL": env["DIRECTORY_DATABASE_URL"], "DATA_KEY": key})


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture()
def overdue(env: dict[str, str]) -> str:
    """A committed emergency referral whose deadline passed an hour ago."""
    app = _app(env)
    upgrade(get_database(app))
    with app.app_context():
        session = get_session()
        load_taxonomy(SeedReport())
        factory = Factory(session)
        sender, receiver = factory.organization(), factory.organization()
        referrer = factory.user(organization=sender)
        factory.user(organization=receiver)
        referral = factory.referral(referrer, receiver, urgency="emergency", phone="555-0177",
                                    consent={"items": ["phone"]})
        session.execute(update(Referral).values(
            response_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
        session.commit()
        return referral.public_id


def test_sweep_expires_once_and_prints_one_json_document(env: dict[str, str],
                                                        overdue: str) -> None:
    first = run(env, "sweep", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["expired"] == [overdue]
    second = run(env, "sweep", "--json")
    assert json.loads(second.output) == {
        "expired": [], "due_soon": [], "identifying_purged": [], "purged": [],
        "listing_reminders": {"stale": 0, "first": 0, "second": 0, "without_admin": 0},
        "deleted": {"sessions": 0, "account_tokens": 0, "invitations": 0, "api_tokens": 0,
                    "sent_mail": 0}}
    assert "Expired 0" in run(env, "sweep").output
    with _app(env).app_context():
        referral = get_session().query(Referral).one()
        assert referral.status == ReferralStatus.EXPIRED
        assert [e.kind for e in referral.events].count("transition") == 2  # sent, expired


def test_rotate_data_key_lets_the_old_key_go(env: dict[str, str], overdue: str) -> None:
    new = Fernet.generate_key().decode()
    result = run({**env, "DIRECTORY_DATA_KEY": f"{new},{KEY}"}, "rotate-data-key", "--json")
    # client data, identifying data and the consent's purpose
    assert json.loads(result.output) == {"rotated": 3}
    app = _app(env, key=new)
    with app.app_context():
        referral = get_session().query(Referral).one()
        assert crypto.decrypt_json(referral.identifying_data) == {"phone": "555-0177"}
