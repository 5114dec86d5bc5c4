"""The outbox: every message the application sends, kept until it is delivered (and deleted
by `directory sweep` 30 days after that)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from directory.db import Base, UTCDateTime, created_at, int_pk


class OutboxMessage(Base):
    __tablename__ = "mail_outbox"

    id: Mapped[int_pk]
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    # A worker that is delivering the message holds it until then, so no other sends it twice.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Set when the mail server refused the recipient for good: retrying would not help.
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def status(self) -> str:
        if self.sent_at is not None:
            return "sent"
        return "failed" if self.failed_at is not None else "pending"
