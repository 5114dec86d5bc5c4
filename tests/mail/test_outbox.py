"""The outbox: mail is stored first and sent only after its transaction commits; the embedded
sender writes files, SMTP failures keep the message for `directory send-mail`."""

from __future__ import annotations

import datetime as dt
import email
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.db import utcnow
from directory.mail.models import OutboxMessage
from directory.mail.operations import (
    MailError,
    deliver,
    deliver_committed,
    deliver_outbox,
    external_url,
    queue_mail,
)
from tests.factories import Factory
from tests.mail.helpers import last_mail_to


class FakeSMTP:
    """Stands in for smtplib.SMTP: records what it is given, or fails as told."""

    sent: ClassVar[list[EmailMessage]] = []
    down: ClassVar[bool] = False
    refuse: ClassVar[bool] = False

    def __init__(self, host: str, port: int, timeout: float) -> None:
        if FakeSMTP.down:
            raise ConnectionRefusedError(111, "Connection refused")

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *_: Any) -> None:
        pass

    def starttls(self) -> None:
        pass

    def login(self, username: str, password: str) -> None:
        pass

    def send_message(self, message: EmailMessage) -> None:
        if FakeSMTP.refuse:
            raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"no such user")})
        FakeSMTP.sent.append(message)


@pytest.fixture()
def smtp(monkeypatch: pytest.MonkeyPatch, db: Session) -> type[FakeSMTP]:
    FakeSMTP.sent, FakeSMTP.down, FakeSMTP.refuse = [], False, False
    monkeypatch.setattr("directory.mail.sender.smtplib.SMTP", FakeSMTP)
    monkeypatch.setitem(current_app.config, "MAIL_SERVER", "smtp.test.example")
    return FakeSMTP


def mail_files() -> list[Path]:
    return sorted((Path(current_app.instance_path) / "mail").glob("*.eml"))


def test_mail_of_a_request_is_sent_once_it_committed(client: FlaskClient, factory: Factory,
                                                     db: Session) -> None:
    user = factory.user()
    # By modification time too: test transactions roll back, so an earlier test's message may
    # have had the same id in the same second, and the same file name.
    before = {path: path.stat().st_mtime_ns for path in mail_files()}
    client.post("/password/forgot", data={"email": user.email})
    message = last_mail_to(db, user.email)
    assert message.sent_at is not None and message.attempts == 1
    (new_file,) = [path for path in mail_files() if before.get(path) != path.stat().st_mtime_ns]
    parsed = email.message_from_bytes(new_file.read_bytes())
    assert parsed["To"] == user.email and parsed["Subject"] == message.subject
    assert "/password/reset/" in parsed.get_payload(decode=True).decode()


def test_nothing_is_sent_for_a_rolled_back_transaction(db: Session) -> None:
    queue_mail("someone@test.example", "Never", "This change was rolled back.")
    db.rollback()
    deliver_committed(db)
    assert db.scalars(select(OutboxMessage)).all() == []


def test_committed_mail_is_delivered_after_the_commit(db: Session) -> None:
    message = queue_mail("someone@test.example", "Hello", "Body")
    assert message.sent_at is None
    db.commit()
    deliver_committed(db)
    db.refresh(message)
    assert message.sent_at is not None


@pytest.mark.parametrize(("to", "subject"), [
    ("", "Subject"), ("no-at-sign", "Subject"), ("a@test.example\nBcc: b@test.example", "S"),
    ("a@test.example", "Subject\r\nBcc: b@test.example"), ("a" * 250 + "@test.example", "S"),
])
def test_malformed_messages_are_refused(db: Session, to: str, subject: str) -> None:
    with pytest.raises(MailError):
        queue_mail(to, subject, "Body")
    assert db.scalars(select(OutboxMessage)).all() == []


def test_smtp_delivery(smtp: type[FakeSMTP], db: Session) -> None:
    message = queue_mail("someone@test.example", "Über café", "Grüße", "<p>Grüße</p>")
    report = deliver([message.id])
    assert report.sent == 1
    (sent,) = smtp.sent
    assert sent["Subject"] == "Über café" and sent["Auto-Submitted"] == "auto-generated"
    assert sent.get_body(("html",)).get_content().strip() == "<p>Grüße</p>"


def test_mail_waits_in_the_outbox_while_smtp_is_down(smtp: type[FakeSMTP], db: Session) -> None:
    message = queue_mail("someone@test.example", "Important", "Please read")
    smtp.down = True
    report = deliver_outbox()
    assert report.retry_later == 1 and report.sent == 0
    db.refresh(message)
    assert message.status == "pending" and "Connection refused" in message.last_error
    assert message.claimed_until is None and message.attempts == 1

    smtp.down = False
    assert deliver_outbox().sent == 1
    db.refresh(message)
    assert message.status == "sent" and message.last_error is None and message.attempts == 2
    assert deliver_outbox().sent == 0  # nothing is sent twice


def test_a_refused_recipient_is_not_retried(smtp: type[FakeSMTP], db: Session) -> None:
    message = queue_mail("gone@test.example", "Hello", "Body")
    smtp.refuse = True
    assert deliver_outbox().failed == 1
    db.refresh(message)
    assert message.status == "failed" and "recipient refused" in message.last_error
    smtp.refuse = False
    assert deliver_outbox().as_dict() == {"sent": 0, "failed": 0, "retry_later": 0, "busy": 0}


def test_a_message_another_worker_is_sending_is_left_alone(smtp: type[FakeSMTP],
                                                           db: Session) -> None:
    message = queue_mail("someone@test.example", "Hello", "Body")
    message.claimed_until = utcnow() + dt.timedelta(minutes=3)
    db.flush()
    assert deliver_outbox().busy == 1 and smtp.sent == []
    message.claimed_until = utcnow() - dt.timedelta(minutes=1)  # that worker died
    db.flush()
    assert deliver_outbox().sent == 1


def test_links_need_a_base_url_outside_requests(test_side_app: Flask,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    app = test_side_app
    with app.app_context():
        with pytest.raises(MailError, match="DIRECTORY_BASE_URL"):
            external_url("accounts.login")
        monkeypatch.setitem(app.config, "BASE_URL", "https://partners.example.org/directory/")
        assert external_url("accounts.login") == "https://partners.example.org/directory/login"
