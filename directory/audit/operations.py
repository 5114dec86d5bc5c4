"""Writing and reading the audit log.

``record`` adds an event to the request's transaction, so it stands or falls with the change
it describes. ``record_refusal`` is for refused attempts (a wrong password, a wrong code):
the request answers with an error and rolls back, yet the attempt must stay on record, so
the event is written after the request, in a transaction of its own. ``record_denial`` is the
refusal of an access (403, or 404 for what one may not know exists), kept the same way but
throttled per user (``DENIALS_LISTED_PER_HOUR``) so that probing cannot flood the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from directory.accounts.models import User
from directory.audit.models import AuditAction, AuditEvent, action_label
from directory.db import db_session, get_session, insert_rows, utcnow
from directory.orgs.models import Organization
from directory.paging import Page

log = logging.getLogger(__name__)


def _event(action: AuditAction | str, actor: User | None, organization: Organization | None,
           subject: User | None, details: dict[str, Any] | None) -> AuditEvent:
    return AuditEvent(
        occurred_at=utcnow(),  # when it happened, not when a refusal is written after the request
        action=str(action),
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        ip_address=(request.remote_addr or None) if has_request_context() else None,
        organization_id=organization.id if organization else None,
        subject_user_id=subject.id if subject else None,
        details=details or {},
    )


def record(action: AuditAction | str, *, actor: User | None = None,
           organization: Organization | None = None, subject: User | None = None,
           details: dict[str, Any] | None = None) -> AuditEvent:
    """Append an event to the current transaction."""
    event = _event(action, actor, organization, subject, details)
    db_session.add(event)
    db_session.flush()
    log.info("audit: %s by %s", event.action, event.actor_email or "-")
    return event


def record_many(action: AuditAction | str, *, actor: User | None,
                events: list[tuple[int, dict[str, Any]]]) -> None:
    """Append one event per organization (its id, with the event's details) in one multi-row
    INSERT: an import's audit of the thousands of listings it creates, which ``record`` would
    write one flush at a time."""
    if not events:
        return
    ip_address = (request.remote_addr or None) if has_request_context() else None
    now = utcnow()
    insert_rows(AuditEvent.__table__, [
        {"occurred_at": now, "action": str(action), "actor_id": actor.id if actor else None,
         "actor_email": actor.email if actor else None, "ip_address": ip_address,
         "organization_id": organization_id, "subject_user_id": None, "details": details}
        for organization_id, details in events])
    log.debug("audit: %d × %s by %s", len(events), action, actor.email if actor else "-")


def record_refusal(action: AuditAction | str, *, actor: User | None = None,
                   organization: Organization | None = None, subject: User | None = None,
                   details: dict[str, Any] | None = None) -> None:
    """Keep a refused attempt on record even though the request rolls back."""
    event = _event(action, actor, organization, subject, details)
    log.info("audit: %s (%s)", event.action, event.ip_address or "-")
    if has_request_context():
        g.setdefault("audit_refusals", []).append(event)
    else:
        db_session.add(event)


DENIALS_LISTED_PER_HOUR = 20
"""Refused accesses listed one by one per user and clock hour (UTC); the hour's further ones
are counted in one ``access_denied_repeated`` event."""
_HOUR = dt.timedelta(hours=1)


def record_denial(actor: User, details: dict[str, Any]) -> None:
    """Keep a refused access on record even though the request answers 403 or 404: one
    ``access_denied`` event each for the first ``DENIALS_LISTED_PER_HOUR`` of the actor's
    refusals in a clock hour, then one ``access_denied_repeated`` event that counts the rest
    of that hour and keeps the last one's details (time, address, path)."""
    event = _event(AuditAction.ACCESS_DENIED, actor, None, None, details)
    log.info("audit: %s by %s (%s)", event.action, event.actor_email, event.ip_address or "-")
    if has_request_context():
        g.setdefault("audit_denials", []).append(event)
    else:
        _add_denial(db_session, event)


def _add_denial(session: Session, event: AuditEvent) -> None:
    hour = event.occurred_at.replace(minute=0, second=0, microsecond=0)

    def this_hour(action: AuditAction) -> Select[tuple[AuditEvent]]:
        return select(AuditEvent).where(
            AuditEvent.action == action.value, AuditEvent.actor_id == event.actor_id,
            AuditEvent.occurred_at >= hour, AuditEvent.occurred_at < hour + _HOUR)

    listed = session.scalar(select(func.count()).select_from(
        this_hour(AuditAction.ACCESS_DENIED).subquery())) or 0
    if listed < DENIALS_LISTED_PER_HOUR:
        session.add(event)
        return
    # The counter row is locked (PostgreSQL) so that concurrent refusals all count.
    summary = session.scalar(this_hour(AuditAction.ACCESS_DENIED_REPEATED)
                             .order_by(AuditEvent.id).limit(1).with_for_update())
    last = {"last_at": event.occurred_at.isoformat(), "last_address": event.ip_address,
            **{f"last_{key}": value for key, value in event.details.items()}}
    if summary is None:
        session.add(AuditEvent(
            occurred_at=event.occurred_at, action=AuditAction.ACCESS_DENIED_REPEATED.value,
            actor_id=event.actor_id, actor_email=event.actor_email, ip_address=event.ip_address,
            details={"hour": hour.isoformat(), "count": 1, **last}))
    else:
        summary.details = {**summary.details, "count": summary.details.get("count", 0) + 1,
                           **last}


def store_refusals(_exc: BaseException | None) -> None:
    events: list[AuditEvent] = g.pop("audit_refusals", [])
    denials: list[AuditEvent] = g.pop("audit_denials", [])
    if not events and not denials:
        return
    session = get_session()  # a request refused early (rate limit) may not have opened one
    try:
        session.rollback()  # whatever the request left uncommitted is not ours to keep
        session.add_all(events)
        for denial in denials:
            _add_denial(session, denial)
        session.commit()
    except Exception:
        log.exception("could not store %d audit event(s) of a refused request",
                      len(events) + len(denials))
        session.rollback()


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    actor: str = ""
    organization: str = ""
    address: str = ""
    since: dt.date | None = None
    until: dt.date | None = None


def _filtered(filters: AuditFilters) -> Select[tuple[AuditEvent]]:
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor:
        query = query.where(func.lower(AuditEvent.actor_email).contains(
            filters.actor.lower(), autoescape=True))
    if filters.organization:
        text = filters.organization.lower()
        query = query.where(AuditEvent.organization.has(or_(
            func.lower(Organization.name).contains(text, autoescape=True),
            Organization.slug == text)))
    if filters.address:
        query = query.where(AuditEvent.ip_address.startswith(filters.address, autoescape=True))
    if filters.since:
        query = query.where(AuditEvent.occurred_at >= _start_of(filters.since))
    if filters.until:
        day_after = filters.until + dt.timedelta(days=1)
        query = query.where(AuditEvent.occurred_at < _start_of(day_after))
    return query


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def action_choices() -> list[tuple[str, str]]:
    """Every action one may filter by, as (value, label) sorted by label: the known ones and
    any other a domain has recorded."""
    recorded = set(db_session.scalars(select(AuditEvent.action).distinct()))
    actions = {action.value for action in AuditAction} | recorded
    return sorted(((action, action_label(action)) for action in actions),
                  key=lambda choice: choice[1].lower())


def search_events(filters: AuditFilters, page: int, per_page: int) -> Page:
    """Events matching ``filters``, newest first, one page at a time."""
    query = _filtered(filters)
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    items = list(db_session.scalars(
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(AuditEvent.organization), selectinload(AuditEvent.subject_user))
    ))
    return Page(items=items, page=page, per_page=per_page, total=total)
