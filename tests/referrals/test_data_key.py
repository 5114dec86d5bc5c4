"""The data key: rotation re-encrypts every column it encrypts (two-factor secrets included),
and a key that cannot open stored data is said at once and clearly."""

from __future__ import annotations

import click
import pytest
from cryptography.fernet import Fernet
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from directory.accounts import totp
from directory.accounts.models import User
from directory.accounts.two_factor import begin_two_factor_setup
from directory.datakey import DataKeyError, check_data_key, encrypted_columns, rotate_data_key
from directory.referrals import disclosure
from directory.referrals import operations as ops
from tests.conftest import PASSWORD, AuthActions
from tests.factories import Factory
from tests.referrals.conftest import Partners


@pytest.fixture()
def stored(partners: Partners, factory: Factory, db: Session) -> User:
    referral = factory.referral(partners.referrer, partners.receiver, name="Maria Example",
                                consent={"items": ["name"]})
    disclosure.add_note(partners.referrer, referral, {"body": "Call after 5."})
    ops.transition(partners.receiver_user, referral, {"to": "declined", "version": 2,
                                                      "reason": "no_capacity",
                                                      "note": "Full tonight."})
    begin_two_factor_setup(partners.receiver_admin, PASSWORD)
    db.flush()
    return partners.receiver_admin


def _ciphertexts(db: Session) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for model, name in encrypted_columns():
        table = model.__tablename__
        values[f"{table}.{name}"] = [value for (value,) in db.execute(text(
            f"SELECT {name} FROM {table} WHERE {name} IS NOT NULL AND {name} != ''"))]
    return values


def test_rotation_re_encrypts_every_column_the_key_encrypts(
        stored: User, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = totp.decrypt_secret(stored.totp_secret or "")
    assert secret
    old = current_app.config["DATA_KEY"]
    new = Fernet.generate_key().decode()
    before = _ciphertexts(db)
    assert before["users.totp_secret"] and before["referral_notes.body"]
    monkeypatch.setitem(current_app.config, "DATA_KEY", f"{new},{old}")
    assert rotate_data_key() == sum(len(values) for values in before.values())
    monkeypatch.setitem(current_app.config, "DATA_KEY", new)  # the old key dropped
    after = _ciphertexts(db)
    newest = Fernet(new.encode())
    for column, values in after.items():
        for value in values:
            newest.decrypt(value.encode())  # every value opens with the new key alone
        assert not set(values) & set(before[column]), column
    db.expire_all()
    user = db.get(User, stored.id)
    assert user is not None and totp.decrypt_secret(user.totp_secret or "") == secret
    assert check_data_key() > 0


def test_a_key_that_cannot_open_stored_data_is_refused_loudly(
        stored: User, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(current_app.config, "DATA_KEY", Fernet.generate_key().decode())
    with pytest.raises(DataKeyError) as refused:
        check_data_key()
    assert "DIRECTORY_DATA_KEY cannot open" in str(refused.value)
    before = _ciphertexts(db)
    with pytest.raises(DataKeyError):
        rotate_data_key()
    assert _ciphertexts(db) == before  # nothing rewritten on the way


def test_a_second_factor_secret_the_key_cannot_open_is_an_error_not_a_wrong_code(
        stored: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(current_app.config, "DATA_KEY", Fernet.generate_key().decode())
    with pytest.raises(DataKeyError):
        totp.decrypt_secret(stored.totp_secret or "")


def test_serve_refuses_a_key_that_cannot_open_stored_data(
        stored: User, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from directory.cli import _check_data_key

    _check_data_key(app)  # the right key: no complaint
    monkeypatch.setitem(app.config, "DATA_KEY", Fernet.generate_key().decode())
    with pytest.raises(click.ClickException) as refused:
        _check_data_key(app)
    assert "DIRECTORY_DATA_KEY cannot open" in refused.value.message


def test_a_page_that_meets_unreadable_data_answers_503_not_500(
        stored: User, partners: Partners, auth: AuthActions, client: FlaskClient, db: Session,
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from directory.referrals.models import Referral

    referral = db.scalars(select(Referral).where(
        Referral.receiver_org_id == partners.receiver.id)).first()
    assert referral is not None
    auth.login(partners.referrer.email)
    monkeypatch.setitem(app.config, "DATA_KEY", Fernet.generate_key().decode())
    page = client.get(f"/referrals/{referral.public_id}")
    assert page.status_code == 503 and "data key" in page.get_data(as_text=True)
    api = client.get(f"/api/v1/referrals/{referral.public_id}")
    assert api.status_code == 503 and api.get_json()["error"]["message"]
