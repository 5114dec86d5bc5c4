"""Reading the outbox in tests: what was mailed to whom, and the links in it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.mail.models import OutboxMessage

_LINK = re.compile(r"https?://\S+")


def mail_to(db: Session, address: str) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)
                           .order_by(OutboxMessage.id)))


def last_mail_to(db: Session, address: str) -> OutboxMessage:
    messages = mail_to(db, address)
    assert messages, f"no mail to {address}"
    return messages[-1]


def link_path(message: OutboxMessage) -> str:
    """The path of the (first) link in a message, to request with the test client."""
    match = _LINK.search(message.text_body)
    assert match, message.text_body
    return urlsplit(match.group(0)).path
