"""Tests on committed data, outside the rolled-back test transaction: concurrent transitions
from real threads with their own connections, and the database file at rest.

On SQLite each test uses a database file of its own; on PostgreSQL the suite's database, with
the rows the test committed deleted afterwards.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask
from sqlalchemy import delete, func, or_, select

from directory import create_app
from directory.accounts.models import User
from directory.audit.models import AuditEvent
from directory.db import forget_old_pages, get_database, get_session, upgrade, utcnow
from directory.mail.models import OutboxMessage
from directory.orgs.models import Organization
from directory.referrals import disclosure
from directory.referrals import operations as ops
from directory.referrals.errors import ReferralConflict, ReferralForbidden
from directory.referrals.models import PlacementRequest, Referral, ReferralEvent
from directory.referrals.schemas import PlacementSchema
from directory.referrals.sweep import sweep
from directory.seeding import SeedReport, load_taxonomy
from tests.factories import Factory

THREADS = 20
PARTNERS = 10  # the most a placement request goes to


@dataclass
class Committed:
    app: Flask
    public_id: str
    sender_id: int
    receiver_ids: list[int]
    path: Path | None  # the SQLite file, if any


@pytest.fixture()
def committed(app: Flask, settings: dict[str, Any], tmp_path: Path) -> Iterator[Committed]:
    """A sent referral, committed, in a database the test's threads reach on their own."""
    sqlite = settings["DATABASE_URL"].startswith("sqlite")
    path = tmp_path / "committed.db" if sqlite else None
    url = f"sqlite:///{path}" if sqlite else settings["DATABASE_URL"]
    application = create_app({**settings, "DATABASE_URL": url,
                              "INSTANCE_PATH": str(tmp_path / "instance")})
    database = get_database(application)
    with application.app_context():
        if sqlite:
            upgrade(database)
            load_taxonomy(SeedReport())
        session = get_session()
        factory = Factory(session)
        sender, receiver = factory.organization(), factory.organization()
        referrer = factory.user(organization=sender)
        receivers = [factory.user(organization=receiver) for _ in range(THREADS)]
        referral = factory.referral(referrer, receiver, name="Maria Quillfeather",
                                    phone="555-0199", alias="Zephyrine-Q",
                                    consent={"items": ["name", "phone"]})
        disclosure.add_note(referrer, referral, {"body": "Quillfeather arrives Tuesday."})
        session.commit()
        result = Committed(application, referral.public_id, referrer.id,
                           [user.id for user in receivers], path)
        org_ids, user_ids = [sender.id, receiver.id], [referrer.id, *result.receiver_ids]
        emails = [referrer.email, *(user.email for user in receivers)]
    try:
        yield result
    finally:
        if not sqlite:
            _clean_up(application, org_ids, user_ids, emails)
        database.engine.dispose()


def _clean_up(application: Flask, org_ids: list[int], user_ids: list[int],
              emails: list[str]) -> None:
    with application.app_context():
        session = get_session()
        for referral in session.scalars(select(Referral).where(
                Referral.sender_org_id.in_(org_ids))):
            session.delete(referral)
        session.execute(delete(PlacementRequest).where(
            PlacementRequest.sender_org_id.in_(org_ids)))
        session.execute(delete(OutboxMessage).where(OutboxMessage.to_address.in_(emails)))
        session.execute(delete(AuditEvent).where(or_(AuditEvent.actor_id.in_(user_ids),
                                                     AuditEvent.subject_user_id.in_(user_ids))))
        for user in session.scalars(select(User).where(User.id.in_(user_ids))):
            session.delete(user)
        for organization in session.scalars(select(Organization).where(
                Organization.id.in_(org_ids))):
            session.delete(organization)
        session.commit()


def test_concurrent_answers_have_exactly_one_winner(committed: Committed) -> None:
    barrier = threading.Barrier(THREADS)

    def answer(index: int) -> str:
        with committed.app.app_context():
            session = get_session()
            user = session.get(User, committed.receiver_ids[index])
            referral = ops.get_referral(user, committed.public_id)
            data = {"to": "accepted" if index % 2 else "declined", "version": referral.version,
                    "reason": "no_capacity", "note": "No bed tonight."}
            # Like a page read in one request and answered in the next: the connection goes
            # back to the pool (smaller than 20) while everyone holds the same version.
            session.commit()
            barrier.wait(timeout=60)
            try:
                ops.transition(user, referral, data)
                session.commit()
            except ReferralConflict:
                session.rollback()
                return "conflict"
            return "won"

    with committed.app.app_context():
        session = get_session()
        referral_id = session.scalar(select(Referral.id).where(
            Referral.public_id == committed.public_id))
        before = session.scalar(select(func.count()).where(ReferralEvent.referral_id
                                                           == referral_id))
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(answer, range(THREADS)))
    assert outcomes.count("won") == 1, outcomes
    assert outcomes.count("conflict") == THREADS - 1
    with committed.app.app_context():
        session = get_session()
        referral = session.get(Referral, referral_id)
        assert referral.status.value in {"accepted", "declined"}
        assert referral.version == 3
        assert session.scalar(select(func.count()).where(
            ReferralEvent.referral_id == referral_id)) == before + 1


def test_a_copied_database_file_does_not_reveal_client_details(committed: Committed,
                                                               tmp_path: Path) -> None:
    if committed.path is None:
        pytest.skip("SQLite only: the test reads the database file")
    with sqlite3.connect(committed.path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = tmp_path / "stolen.db"
    shutil.copyfile(committed.path, copy)
    raw = copy.read_bytes()
    assert b"Test Organization" in raw  # the copy holds the data...
    for secret in (b"Maria Quillfeather", b"Quillfeather", b"555-0199", b"Zephyrine-Q"):
        assert secret not in raw  # ...but no client detail in the clear
    with sqlite3.connect(copy) as connection:
        (stored,) = connection.execute("SELECT identifying_data FROM referrals").fetchone()
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(stored.encode())
    key = committed.app.config["DATA_KEY"]
    keys = MultiFernet([Fernet(k.encode()) for k in key.split(",")])
    assert b"555-0199" in keys.decrypt(stored.encode())


def test_concurrent_accepts_of_a_placement_have_exactly_one_winner(
        app: Flask, settings: dict[str, Any], tmp_path: Path) -> None:
    """Every partner of a placement request (10, the most) accepts at once: one gets the client."""
    sqlite = settings["DATABASE_URL"].startswith("sqlite")
    url = f"sqlite:///{tmp_path / 'placement.db'}" if sqlite else settings["DATABASE_URL"]
    application = create_app({**settings, "DATABASE_URL": url,
                              "INSTANCE_PATH": str(tmp_path / "instance")})
    with application.app_context():
        if sqlite:
            upgrade(get_database(application))
            load_taxonomy(SeedReport())
        session = get_session()
        factory = Factory(session)
        sender = factory.organization()
        referrer = factory.user(organization=sender)
        partners = [factory.organization() for _ in range(PARTNERS)]
        users = [factory.user(organization=partner) for partner in partners]
        data = Factory.referral_data(partners[0])
        data["to"] = [partner.slug for partner in partners]
        placement = ops.create_placement_request(referrer, PlacementSchema().load(data))
        session.commit()
        pairs = [(user.id, referral.public_id)
                 for user, referral in zip(users, placement.referrals, strict=True)]
        org_ids = [sender.id, *(partner.id for partner in partners)]
        user_ids = [referrer.id, *(user.id for user in users)]
        emails = [referrer.email, *(user.email for user in users)]
    barrier = threading.Barrier(PARTNERS)

    def accept(index: int) -> str:
        user_id, public_id = pairs[index]
        with application.app_context():
            session = get_session()
            user = session.get(User, user_id)
            referral = ops.get_referral(user, public_id)
            version = referral.version
            session.commit()
            barrier.wait(timeout=60)
            try:
                ops.transition(user, referral, {"to": "accepted", "version": version})
                session.commit()
            except (ReferralConflict, ReferralForbidden):
                session.rollback()
                return "refused"
            return "won"

    try:
        with ThreadPoolExecutor(max_workers=PARTNERS) as pool:
            outcomes = list(pool.map(accept, range(PARTNERS)))
        assert outcomes.count("won") == 1, outcomes
        with application.app_context():
            statuses = get_session().scalars(select(Referral.status).where(
                Referral.sender_org_id == org_ids[0])).all()
            assert sorted(s.value for s in statuses) == (
                ["accepted"] + ["withdrawn"] * (PARTNERS - 1))
    finally:
        if not sqlite:
            _clean_up(application, org_ids, user_ids, emails)
        get_database(application).engine.dispose()


def _openable_secrets(raw: bytes, keys: MultiFernet) -> list[bytes]:
    """Every Fernet token in ``raw`` that the keys open, opened."""
    opened = []
    for token in re.findall(rb"gAAAAA[A-Za-z0-9_\-]+=*", raw):
        try:
            opened.append(keys.decrypt(token))
        except InvalidToken:
            continue
    return opened


def test_a_copy_of_the_files_after_a_purge_holds_nothing_purged(committed: Committed,
                                                                tmp_path: Path) -> None:
    """The database file and its write-ahead log, copied right after the sweep purged a
    referral, hold none of its values: not in the clear, not as a ciphertext the keys open."""
    if committed.path is None:
        pytest.skip("SQLite only: the test reads the database files")
    purged = (b"Zephyrine-Q", b"Quillfeather", b"555-0199", b"Housed at the Quillfeather inn")
    with committed.app.app_context():
        session = get_session()
        referral = session.scalar(select(Referral).where(
            Referral.public_id == committed.public_id))
        receiver = session.get(User, committed.receiver_ids[0])
        ops.transition(receiver, referral, {"to": "accepted", "version": referral.version})
        ops.transition(receiver, referral, {"to": "completed", "version": referral.version,
                                            "note": purged[-1].decode()})
        session.commit()
        later = utcnow() + dt.timedelta(
            days=committed.app.config["CLIENT_DATA_RETENTION_DAYS"] + 1)
        assert sweep(later).purged == [committed.public_id]
        session.commit()
        assert forget_old_pages(get_database(committed.app).engine)
    keys = MultiFernet([Fernet(k.encode()) for k in committed.app.config["DATA_KEY"].split(",")])
    wal = Path(f"{committed.path}-wal")
    raw = committed.path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"Test Organization" in raw  # the copy holds the data...
    opened = b"".join(_openable_secrets(raw, keys))
    for secret in purged:
        assert secret not in raw and secret not in opened  # ...but nothing purged
