"""Outgoing mail: an outbox table, delivered after the request commits and by `send-mail`.

Nothing is sent from inside a transaction: a message is first stored (so it is never lost
when the mail server is down, nor sent for a change that was rolled back), then delivered.
"""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy import event
from sqlalchemy.orm import Session


def init_app(app: Flask) -> None:
    from directory.mail.operations import deliver_committed, on_commit, on_rollback

    if not event.contains(Session, "after_commit", on_commit):
        event.listen(Session, "after_commit", on_commit)
        event.listen(Session, "after_soft_rollback", on_rollback)

    @app.teardown_request
    def deliver_after_request(_exc: BaseException | None) -> None:
        session: Session | None = g.get("db_session")
        if session is not None:
            deliver_committed(session)
