"""Senders: SMTP where configured, otherwise files in ``instance/mail/`` plus a log line."""

from __future__ import annotations

import logging
import re
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from directory.mail.models import OutboxMessage

log = logging.getLogger(__name__)


class PermanentMailError(Exception):
    """The mail server refused the message for good (e.g. an unknown recipient)."""


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def build_message(outbox: OutboxMessage, sender_address: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender_address
    message["To"] = outbox.to_address
    message["Subject"] = outbox.subject
    message["Date"] = format_datetime(outbox.created_at)
    domain = sender_address.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{outbox.created_at:%Y%m%dT%H%M%S}.{outbox.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(outbox.text_body)
    if outbox.html_body:
        message.add_alternative(outbox.html_body, subtype="html")
    return message


class SmtpSender:
    def __init__(self, config: dict[str, Any]) -> None:
        self.host = config["MAIL_SERVER"]
        self.port = int(config["MAIL_PORT"])
        self.use_tls = bool(config["MAIL_USE_TLS"])
        self.username = config["MAIL_USERNAME"]
        self.password = config["MAIL_PASSWORD"]

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=15) as smtp:
            if self.use_tls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                raise PermanentMailError(f"recipient refused: {exc.recipients}") from exc
        log.info("mail sent to %s: %s", message["To"], message["Subject"])


class FileSender:
    """The embedded default: each message becomes an .eml file that any mail program opens."""

    def __init__(self, directory: Path, log_body: bool) -> None:
        self.directory = directory
        self.log_body = log_body

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # The Message-ID starts with the time it was queued: the files sort by time.
        stem = re.sub(r"[^A-Za-z0-9]+", "-", str(message["Message-ID"])).strip("-")
        path = self.directory / f"{stem}.eml"
        path.write_bytes(message.as_bytes())
        log.info("mail to %s: %s (saved as %s)", message["To"], message["Subject"], path)
        if self.log_body:
            body = message.get_body(preferencelist=("plain",))
            log.info("mail body:\n%s", body.get_content() if body else "")


def build_sender(config: dict[str, Any], instance_path: str) -> Sender:
    if config.get("MAIL_SERVER"):
        return SmtpSender(config)
    # Links in mail are credentials (password reset, invitations): in production they stay
    # out of the log, which is shipped and kept more widely than the instance folder.
    return FileSender(Path(instance_path) / "mail", log_body=config["ENV"] != "production")
