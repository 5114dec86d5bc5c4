"""Queue mail in the request's transaction; deliver it once that transaction has committed."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context, url_for
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from directory.db import db_session, delete_where, utcnow
from directory.mail.models import OutboxMessage
from directory.mail.sender import PermanentMailError, build_message, build_sender

log = logging.getLogger(__name__)

PENDING_KEY = "mail.pending"
COMMITTED_KEY = "mail.committed"
CLAIM_FOR = dt.timedelta(minutes=5)


class MailError(ValueError):
    """A message that cannot be queued (no recipient, a header with a line break)."""


def queue_mail(to: str, subject: str, text_body: str, html_body: str | None = None
               ) -> OutboxMessage:
    """Store a message in the outbox; it is sent after the current transaction commits."""
    to, subject = to.strip(), subject.strip()
    if not to or "@" not in to or len(to) > 254:
        raise MailError(f"Cannot send mail to {to!r}.")
    if any(char in to + subject for char in "\r\n"):
        raise MailError("Mail headers cannot contain line breaks.")
    message = OutboxMessage(to_address=to, subject=subject[:300], text_body=text_body,
                            html_body=html_body)
    db_session.add(message)
    db_session.flush()
    db_session.info.setdefault(PENDING_KEY, []).append(message.id)
    return message


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for a message: under DIRECTORY_BASE_URL (the public address of the
    application's root) when set, so that a forged Host header never reaches a password-reset
    link; else on the current request's host."""
    base_url = current_app.config.get("BASE_URL")
    if base_url:
        with current_app.test_request_context():
            return base_url.rstrip("/") + url_for(endpoint, **values)
    if not has_request_context():
        raise MailError("Set DIRECTORY_BASE_URL to send links from the command line.")
    return url_for(endpoint, _external=True, **values)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retry_later: int = 0
    busy: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "retry_later": self.retry_later,
                "busy": self.busy}


def deliver(ids: Iterable[int]) -> DeliveryReport:
    """Send the given outbox messages; each outcome is committed as soon as it is known."""
    sender = build_sender(current_app.config, current_app.instance_path)
    report = DeliveryReport()
    for message_id in ids:
        if not _claim(message_id):
            report.busy += 1
            continue
        db_session.commit()
        message = db_session.get(OutboxMessage, message_id, populate_existing=True)
        if message is None:
            continue
        try:
            sender.send(build_message(message, current_app.config["MAIL_DEFAULT_SENDER"]))
        except PermanentMailError as exc:
            message.failed_at, message.last_error = utcnow(), str(exc)[:500]
            report.failed += 1
            log.error("mail %s to %s refused for good: %s", message.id, message.to_address, exc)
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:500]
            report.retry_later += 1
            log.warning("mail %s not sent, kept in the outbox: %s", message.id, exc)
        else:
            message.sent_at, message.last_error = utcnow(), None
            report.sent += 1
        message.claimed_until = None
        db_session.commit()
    return report


def deliver_outbox() -> DeliveryReport:
    """Send every message that is neither sent nor refused for good (`directory send-mail`)."""
    ids = db_session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
        .order_by(OutboxMessage.id)
    ).all()
    return deliver(ids)


def purge_sent(before: dt.datetime) -> int:
    """Delete messages delivered before ``before`` (`directory sweep`): their bodies can name
    people. Mail not yet sent, or refused for good, stays for `directory send-mail` and for
    whoever looks into why."""
    return delete_where(OutboxMessage, OutboxMessage.sent_at < before)


def _claim(message_id: int) -> bool:
    now = utcnow()
    result = db_session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None),
               OutboxMessage.failed_at.is_(None),
               or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
        .values(claimed_until=now + CLAIM_FOR, attempts=OutboxMessage.attempts + 1,
                last_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def on_commit(session: Session) -> None:
    """Messages queued in a committed transaction may now be sent."""
    pending = session.info.pop(PENDING_KEY, None)
    if pending:
        session.info.setdefault(COMMITTED_KEY, []).extend(pending)


def on_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(PENDING_KEY, None)


def deliver_committed(session: Session) -> None:
    """After the request: send what it queued and committed. A failure is logged and the
    message stays in the outbox for `directory send-mail`; the response is already decided."""
    ids = session.info.pop(COMMITTED_KEY, None)
    if not ids:
        return
    try:
        deliver(ids)
    except Exception:
        log.exception("delivering mail after the request failed; `directory send-mail` retries")
        session.rollback()
