"""DIRECTORY_DATA_KEY: the Fernet keys that encrypt client data and second-factor secrets.

The setting lists keys newest first: the newest encrypts, every listed key decrypts. Every
column the key encrypts is named once, here, so that rotation re-encrypts all of them and the
start-up check samples all of them: a key that cannot open what is stored is said at once,
clearly, instead of as a failure on every referral page or a two-factor code refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import select, update

from directory.db import db_session


class DataKeyError(RuntimeError):
    """The configured data key cannot open data the database holds."""


def fernet_of(setting: str) -> MultiFernet:
    """The Fernet of a DIRECTORY_DATA_KEY setting: its keys newest first."""
    keys = [key.strip() for key in setting.split(",") if key.strip()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return fernet_of(current_app.config["DATA_KEY"])


def encrypted_columns() -> Iterator[tuple[Any, str]]:
    """(model, column name) of every value the data key encrypts."""
    from directory.accounts.models import User
    from directory.referrals.models import Consent, Referral, ReferralEvent, ReferralNote

    yield from ((Referral, "client_data"), (Referral, "identifying_data"),
                (ReferralNote, "body"), (ReferralEvent, "note"), (Consent, "purpose"),
                (Consent, "verbal_reason"), (Consent, "legal_basis"), (User, "totp_secret"))


def _stored(model: Any, name: str, limit: int | None = None) -> list[tuple[int, str]]:
    column = getattr(model, name)
    query = (select(model.id, column).where(column.is_not(None), column != "")
             .order_by(model.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    return [(row_id, value) for row_id, value in db_session.execute(query)]


def _unreadable(model: Any, name: str, row_id: int) -> DataKeyError:
    return DataKeyError(
        f"DIRECTORY_DATA_KEY cannot open {model.__tablename__}.{name} of row {row_id}: the key "
        "that encrypted it is not in the setting. Put the old key back (after the new one, "
        "separated by a comma) and run `directory rotate-data-key` before dropping it.")


def check_data_key(sample: int = 5) -> int:
    """Open the newest ``sample`` values of every encrypted column; returns how many were
    opened, and raises DataKeyError naming the first that cannot be."""
    keys = fernet()
    opened = 0
    for model, name in encrypted_columns():
        for row_id, value in _stored(model, name, sample):
            try:
                keys.decrypt(value.encode())
            except InvalidToken as exc:
                raise _unreadable(model, name, row_id) from exc
            opened += 1
    return opened


def rotate_data_key() -> int:
    """Re-encrypt every stored ciphertext with the newest key; returns how many values were
    rewritten. Nothing is written when one value cannot be opened (DataKeyError): the caller's
    transaction rolls back."""
    keys = fernet()
    count = 0
    for model, name in encrypted_columns():
        for row_id, value in _stored(model, name):
            try:
                rotated = keys.rotate(value.encode()).decode()
            except InvalidToken as exc:
                raise _unreadable(model, name, row_id) from exc
            db_session.execute(update(model).where(model.id == row_id).values({name: rotated})
                               .execution_options(synchronize_session=False))
            count += 1
    db_session.flush()
    db_session.expire_all()
    return count
