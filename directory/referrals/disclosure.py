"""What each side of a hand-off may read of the client, and the consent that decides it.

Client details and notes are decrypted only here, for a viewer the permission module allows,
and every view is audited; a revoked or lapsed consent cuts the receiver off at once.

The coded grant-reporting fields (``REPORTING_ITEMS``: type of trafficking, gender,
nationality, population) follow the minimum-necessary rule of identifying details: the sender
recorded them and sees them; the receiver sees each one only while the consent in force names
it in its items; coordinators never see them per referral, only counted in the period reports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from directory.accounts.models import User
from directory.accounts.permissions import Permission, can, referral_side
from directory.audit.models import AuditAction
from directory.audit.operations import record
from directory.db import db_session, utcnow
from directory.orgs.models import Organization
from directory.referrals import crypto
from directory.referrals.eligibility import stored_warning_text
from directory.referrals.errors import ReferralForbidden
from directory.referrals.models import (
    CONSENT_TEXTS,
    REPORTING_ITEMS,
    Consent,
    Referral,
    ReferralEvent,
    ReferralNote,
    ReferralStatus,
)
from directory.referrals.notifications import notify
from directory.referrals.states import Side


@dataclass
class ClientView:
    """What a side of the hand-off may read, decrypted for one page view."""

    details: dict[str, str] = field(default_factory=dict)
    identifying: dict[str, str] = field(default_factory=dict)
    notes: list[tuple[ReferralNote, str]] = field(default_factory=list)
    event_notes: dict[int, str] = field(default_factory=dict)
    shown: bool = False
    notes_hidden: bool = False  # there are notes, but not for this viewer now
    consents: dict[int, dict[str, str]] = field(default_factory=dict)  # id -> free text
    reporting: dict[str, str] = field(default_factory=dict)  # reporting item -> code


def reporting_view(user: User, referral: Referral) -> dict[str, str]:
    """The reporting fields ``user`` may read on ``referral``, by item: all of those recorded
    for the sender; for the receiver, those the consent in force names."""
    if not can(user, Permission.VIEW_CLIENT_DETAILS, referral):
        return {}
    recorded = {item: str(value) for item in REPORTING_ITEMS
                if (value := getattr(referral, item)) is not None}
    if referral_side(user, referral) == Side.SENDER:
        return recorded
    consent = referral.consent
    allowed = set(consent.items) if consent is not None and consent.in_force() else set()
    return {item: code for item, code in recorded.items() if item in allowed}


def client_view(user: User, referral: Referral) -> ClientView:
    """Decrypt client details and notes for ``user``, writing one audit event for the view."""
    view = ClientView()
    if can(user, Permission.VIEW_CLIENT_DETAILS, referral):
        view.details = crypto.decrypt_json(referral.client_data)
        identifying = crypto.decrypt_json(referral.identifying_data)
        consent = referral.consent
        allowed = set(consent.items) if consent is not None and consent.in_force() else set()
        view.identifying = {k: v for k, v in identifying.items()
                            if referral_side(user, referral) == Side.SENDER or k in allowed}
        view.reporting = reporting_view(user, referral)
        view.shown = True
    # Notes are where the most sensitive things get written: they go dark with the details.
    view.notes_hidden = not view.shown and bool(referral.notes)
    if view.shown:
        view.consents = {consent.id: {name: crypto.decrypt_text(value) if value else ""
                                      for name in CONSENT_TEXTS
                                      if (value := getattr(consent, name)) is not None}
                         for consent in referral.consents}
        view.notes = [(note, crypto.decrypt_text(note.body) if note.body else "")
                      for note in referral.notes]
        view.event_notes = {event.id: _event_note(event) for event in referral.events
                            if event.note}
    if view.shown or view.notes or view.event_notes:
        record(AuditAction.REFERRAL_CLIENT_DETAILS_VIEWED, actor=user,
               organization=user_side_organization(user, referral),
               details={"referral": referral.public_id,
                        "items": sorted([*view.details, *view.identifying,
                                         *view.reporting]),
                        "notes": len(view.notes)})
    return view


def user_side_organization(user: User, referral: Referral) -> Organization | None:
    match referral_side(user, referral):
        case Side.SENDER:
            return referral.sender
        case Side.RECEIVER:
            return referral.receiver
    return None


def add_note(user: User, referral: Referral, data: dict[str, Any]) -> ReferralNote:
    if not can(user, Permission.ADD_REFERRAL_NOTE, referral):
        raise ReferralForbidden(_l("Notes can be added once a referral is sent, until it is "
                                   "purged."))
    organization = user_side_organization(user, referral)
    note = ReferralNote(author_id=user.id, author_org_id=organization.id if organization else None,
                        body=crypto.encrypt_text(data["body"]))
    referral.notes.append(note)
    db_session.flush()
    other = referral.receiver if organization is referral.sender else referral.sender
    notify(referral, other, "note_added", exclude=user)
    return note


def end_consents(referral: Referral, user: User | None, now: dt.datetime,
                  new_version: bool = True) -> None:
    """Revoke every consent of the referral still in force, in one statement (also one
    recorded a moment ago by another request), and give the referral a new version (unless
    the caller's own change just did) so that a form filled before it is a conflict."""
    db_session.execute(update(Consent).where(Consent.referral_id == referral.id,
                                             Consent.revoked_at.is_(None))
                       .values(revoked_at=now, revoked_by_id=user.id if user else None)
                       .execution_options(synchronize_session=False))
    if new_version:
        db_session.execute(update(Referral).where(Referral.id == referral.id)
                           .values(version=Referral.version + 1)
                           .execution_options(synchronize_session=False))
    db_session.expire(referral, ["consents", "version"])


def revoke_consent(user: User, referral: Referral) -> None:
    """Revocation takes effect at once: the receiver no longer sees client details."""
    if not can(user, Permission.REVOKE_CONSENT, referral):
        raise ReferralForbidden(_l("Only the referring organization revokes a consent in "
                                   "force."))
    end_consents(referral, user, utcnow())
    db_session.add(ReferralEvent(referral_id=referral.id, kind="consent_revoked",
                                 actor_id=user.id, actor_name=user.name))
    db_session.flush()
    record(AuditAction.REFERRAL_CONSENT_REVOKED, actor=user, organization=referral.sender,
           details={"referral": referral.public_id})
    db_session.refresh(referral, ["events", "consents", "version"])
    if referral.status != ReferralStatus.DRAFT:
        notify(referral, referral.receiver, "consent_revoked")


def _event_note(event: ReferralEvent) -> str:
    note = crypto.decrypt_text(event.note)
    return stored_warning_text(note) if event.kind == "mismatch_acknowledged" else note
