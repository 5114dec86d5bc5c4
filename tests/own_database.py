"""A sent referral committed to an SQLite file of its own, for tests that do things to the
file itself (hold its write lock, fill the disk under it) that the shared test database must
not suffer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from directory import create_app
from directory.api import operations as token_ops
from directory.db import get_database, get_session, upgrade
from directory.seeding import SeedReport, load_taxonomy
from tests.factories import Factory


@dataclass(frozen=True)
class OwnDatabase:
    app: Flask
    path: Path
    public_id: str
    version: int
    receiver_email: str
    secret: str  # an API token of the receiving organization's user


def sent_referral_in_own_file(settings: dict[str, Any], path: Path, instance_path: Path,
                              **overrides: Any) -> OwnDatabase:
    """An application on a new SQLite file at `path`, migrated, with the taxonomy and one
    referral sent between two organizations; its pooled connections closed again."""
    app = create_app({**settings, "DATABASE_URL": f"sqlite:///{path}",
                      "INSTANCE_PATH": str(instance_path), **overrides})
    with app.app_context():
        upgrade(get_database(app))
        load_taxonomy(SeedReport())
        session = get_session()
        factory = Factory(session)
        sender, receiver = factory.organization(), factory.organization()
        receiver_user = factory.user(organization=receiver)
        referral = factory.referral(factory.user(organization=sender), receiver)
        _, secret = token_ops.create_token(receiver_user, "own database", None)
        session.commit()
        own = OwnDatabase(app, path, referral.public_id, referral.version, receiver_user.email,
                          secret)
    get_database(app).engine.dispose()
    return own
