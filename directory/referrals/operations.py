"""Referral operations: the only code that changes a referral.

Plain functions taking the acting user and validated data (see ``schemas.py``), callable from
the web, the API and the CLI alike. They check the rule, change state, append the timeline
event, notify and flush; the caller commits. Failures are typed ``ReferralError``s carrying
an HTTP status and a field map.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from directory.accounts.models import User
from directory.accounts.permissions import Permission, can, may_open_referral, referral_side
from directory.audit.operations import record
from directory.db import db_session, lost_race, utcnow
from directory.orgs.models import Organization, Service, ServiceCategory
from directory.referrals import crypto, states
from directory.referrals.models import (
    CLIENT_ITEMS,
    CONSENT_TEXTS,
    FINAL_STATUSES,
    HANDOFF_ITEMS,
    IDENTIFYING_ITEMS,
    MINOR_AGE_RANGES,
    CloseOutcome,
    Consent,
    DeclineReason,
    MinorBasis,
    PlacementRequest,
    Referral,
    ReferralEvent,
    ReferralNote,
    ReferralStatus,
    Urgency,
)
from directory.referrals.notifications import notify
from directory.referrals.states import Side

log = logging.getLogger(__name__)


class ReferralError(Exception):
    """A refused operation: ``status`` for HTTP, ``fields`` for messages next to inputs."""

    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidReferral(ReferralError):
    status = 400


class ReferralForbidden(ReferralError):
    status = 403


class ReferralNotFound(ReferralError):
    status = 404


class ReferralConflict(ReferralError):
    """Someone else changed the referral first; nothing was changed."""

    status = 409


AUTOMATIC = "the directory (automatic)"  # the actor of the sweep and of placement withdrawals
CONFLICT_MESSAGE = ("Someone else changed this referral a moment ago; nothing was changed. "
                    "Reload the page to see its current state.")


# --- loading --------------------------------------------------------------------------------

def get_referral(user: User, public_id: str) -> Referral:
    """Load, then authorize: a referral one is no side of does not exist (404); the refusal is
    audited (permissions.may_open_referral)."""
    referral = db_session.scalar(select(Referral).where(Referral.public_id == public_id[:32]))
    if not may_open_referral(user, referral, public_id):
        raise ReferralNotFound("There is no such referral.")
    return referral


def _organization(slug: str | None, field_name: str) -> Organization:
    organization = db_session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        raise InvalidReferral("Unknown organization.", {field_name: "Unknown organization."})
    return organization


def sending_organizations(user: User) -> list[Organization]:
    return [m.organization for m in user.memberships
            if can(user, Permission.SEND_REFERRALS, m.organization)]


def services_of(organization: Organization) -> list[ServiceCategory]:
    return list(db_session.scalars(
        select(ServiceCategory).join(Service, Service.category_id == ServiceCategory.id)
        .where(Service.organization_id == organization.id).order_by(ServiceCategory.name)))


def services_in_use(organization: Organization, codes: Collection[str]) -> dict[str, int]:
    """How many referrals in progress (not yet final) to ``organization`` are for each of
    ``codes``: a service they name must not disappear from under them."""
    if not codes:
        return {}
    return dict(db_session.execute(
        select(Referral.service, func.count())
        .where(Referral.receiver_org_id == organization.id,
               Referral.service.in_(sorted(codes)), Referral.status.not_in(FINAL_STATUSES))
        .group_by(Referral.service)).tuples().all())


# --- creating and sending -------------------------------------------------------------------

def _response_due(urgency: Urgency, start: dt.datetime) -> dt.datetime:
    hours = current_app.config[f"RESPONSE_HOURS_{urgency.value.upper()}"]
    return start + dt.timedelta(hours=int(hours))


def _event(referral: Referral, kind: str, actor: User | None, source: ReferralStatus | None,
           target: ReferralStatus | None, note: str = "") -> ReferralEvent:
    event = ReferralEvent(kind=kind, actor_id=actor.id if actor else None,
                          actor_name=actor.name if actor else AUTOMATIC,
                          from_status=source.value if source else None,
                          to_status=target.value if target else None,
                          note=crypto.encrypt_text(note) if note else None)
    referral.events.append(event)
    return event


def _check_consent(referral: Referral, data: dict[str, Any], identifying: dict[str, str],
                   sender: Organization) -> None:
    """The rules of a consent record that depend on the referral, not only on the form. Its
    end date is a day in the zone of ``sender``, the organization that records it."""
    errors: dict[str, str] = {}
    with db_session.no_autoflush:  # the referral being built is not ready to be written
        today = sender.local_date()
    if data["expires_on"] <= today:
        errors["consent.expires_on"] = "The consent must end after today."
    if referral.age_range in MINOR_AGE_RANGES and not data.get("minor_basis"):
        errors["consent.minor_basis"] = ("For a minor, record the guardian's consent or the "
                                         "legal basis for the minor consenting alone.")
    not_named = sorted(set(identifying) - set(data.get("items") or ()))
    if not_named:
        errors["consent.items"] = ("Identifying details are shared only when the consent names "
                                   f"them: add {', '.join(not_named)} or leave them out.")
    if errors:
        raise InvalidReferral("The consent record is not complete.", errors)


def _add_consent(user: User, referral: Referral, data: dict[str, Any]) -> Consent:
    texts = {name: crypto.encrypt_text(data[name]) if data.get(name) else ""
             for name in CONSENT_TEXTS}
    consent = Consent(receiver_org_id=referral.receiver_org_id, items=list(data.get("items", [])),
                      method=data["method"], expires_on=data["expires_on"],
                      minor_basis=MinorBasis(data["minor_basis"]) if data.get("minor_basis")
                      else None, recorded_by_id=user.id, **texts)
    referral.consents.append(consent)
    return consent


def _sender_of(user: User, data: dict[str, Any]) -> Organization:
    senders = sending_organizations(user)
    if data.get("from_organization"):
        sender = _organization(data["from_organization"], "from_organization")
        if sender not in senders:
            raise ReferralForbidden("You cannot send referrals for that organization.")
        return sender
    if senders:
        return senders[0]
    raise ReferralForbidden("Only members of an active organization send referrals.")


def _send_new(user: User, sender: Organization, slug: str, data: dict[str, Any],
              placement: PlacementRequest | None = None) -> Referral:
    """Build, check and send one referral to the partner ``slug``."""
    receiver = _organization(slug, "to")
    if receiver.id == sender.id or not can(user, Permission.RECEIVE_REFERRALS, receiver):
        message = f"{receiver.name} does not take referrals now."
        raise InvalidReferral(message, {"to": message})
    if data["service"] not in {category.code for category in services_of(receiver)}:
        message = ("Choose a service the partner offers." if placement is None
                   else f"{receiver.name} does not offer this service.")
        raise InvalidReferral(message, {"service": message})
    identifying = {item: data[item] for item in IDENTIFYING_ITEMS if data.get(item)}
    referral = Referral(sender_org_id=sender.id, receiver_org_id=receiver.id,
                        created_by_id=user.id, service=data["service"],
                        urgency=Urgency(data["urgency"]), age_range=data["age_range"],
                        client_data=crypto.encrypt_json(
                            {item: data.get(item, "") for item in (*CLIENT_ITEMS,
                                                                   *HANDOFF_ITEMS)}),
                        identifying_data=crypto.encrypt_json(identifying) if identifying
                        else None, placement=placement)
    _check_consent(referral, data["consent"], identifying, sender)
    referral.sender, referral.receiver = sender, receiver
    db_session.add(referral)
    _event(referral, "created", user, None, ReferralStatus.DRAFT)
    _add_consent(user, referral, data["consent"])
    db_session.flush()
    _send(user, referral)
    return referral


def create_referral(user: User, data: dict[str, Any]) -> Referral:
    """Create a referral from ``ReferralSchema`` data and send it at once (consent included)."""
    return _send_new(user, _sender_of(user, data), data["to"], data)


def create_placement_request(user: User, data: dict[str, Any]) -> PlacementRequest:
    """Send one de-identified request (``PlacementSchema`` data) to several partners at once.

    Each partner gets its own referral under its own consent record; the first to accept gets
    the client, the others are withdrawn and told. Identifying details are never part of the
    request: the sender shares them afterwards with the one that accepted (``share_identifying``).
    """
    sender = _sender_of(user, data)
    placement = PlacementRequest(sender_org_id=sender.id, created_by_id=user.id)
    db_session.add(placement)
    errors: dict[str, str] = {}
    for slug in dict.fromkeys(data["to"]):
        try:
            _send_new(user, sender, slug, data, placement)
        except InvalidReferral as exc:
            # A partner that cannot take the request is named in the message on the list.
            errors.setdefault("to", exc.message)
            errors.update({k: v for k, v in exc.fields.items() if k not in ("to", "service")})
    if errors:
        raise InvalidReferral("Some partners cannot take this request.", errors)
    return placement


def _fill_placement(referral: Referral) -> None:
    """Claim the placement for ``referral``: of concurrent accepts by different partners,
    only the first UPDATE finds it open."""
    with _conflicts():
        claimed = db_session.execute(
            update(PlacementRequest).where(PlacementRequest.id == referral.placement_id,
                                           PlacementRequest.filled_referral_id.is_(None))
            .values(filled_referral_id=referral.id, filled_at=utcnow())
            .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise ReferralConflict("Another partner accepted this placement request first; "
                               "nothing was changed.")


def _withdraw_siblings(referral: Referral) -> None:
    siblings = db_session.scalars(select(Referral).where(
        Referral.placement_id == referral.placement_id, Referral.id != referral.id,
        Referral.status == ReferralStatus.SENT)).all()
    for sibling in siblings:
        transition(None, sibling, {"to": ReferralStatus.WITHDRAWN, "version": sibling.version,
                                   "note": "Placed with another partner."})


def share_identifying(user: User, referral: Referral, data: dict[str, Any]) -> None:
    """Share identifying details (``IdentifyingSchema`` data) with the receiver, under a new
    consent record that names them."""
    if not can(user, Permission.SHARE_IDENTIFYING, referral):
        raise ReferralForbidden("Identifying details are shared by the referrer while the "
                                "referral is open.")
    identifying = {item: data[item] for item in IDENTIFYING_ITEMS if data.get(item)}
    if not identifying:
        raise InvalidReferral("Give at least one identifying detail.",
                              {"name": "Give at least one identifying detail."})
    _check_consent(referral, data["consent"], identifying, referral.sender)
    # Against the version the sharer saw: a revocation since then makes this a conflict, not
    # a new consent quietly in force next to the one just revoked.
    shared = db_session.execute(
        update(Referral).where(Referral.id == referral.id,
                               Referral.version == int(data.get("version") or referral.version))
        .values(identifying_data=crypto.encrypt_json(identifying), version=Referral.version + 1)
        .execution_options(synchronize_session=False))
    if shared.rowcount != 1:
        raise ReferralConflict(CONFLICT_MESSAGE)
    _add_consent(user, referral, data["consent"])
    db_session.add(ReferralEvent(referral_id=referral.id, kind="identifying_shared",
                                 actor_id=user.id, actor_name=user.name))
    db_session.flush()
    db_session.refresh(referral, ["identifying_data", "version", "events", "consents"])


def _send(user: User, referral: Referral) -> None:
    now = utcnow()
    with db_session.no_autoflush:
        referral.status = ReferralStatus.SENT
        referral.sent_at = now
        referral.response_due_at = _response_due(referral.urgency, now)
        _event(referral, "transition", user, ReferralStatus.DRAFT, ReferralStatus.SENT)
    _flush_or_conflict()
    notify(referral, referral.receiver, "new_referral")


def send_draft(user: User, referral: Referral, version: int, consent: dict[str, Any]) -> None:
    """Send a draft (a redirected referral) under its own, new consent record."""
    _check_move(user, referral, ReferralStatus.SENT, version)
    if referral.purged_at is not None:
        raise ReferralForbidden("This draft was purged unsent after the retention period: "
                                "start a new referral.")
    identifying = crypto.decrypt_json(referral.identifying_data)
    _check_consent(referral, consent, identifying, referral.sender)
    _add_consent(user, referral, consent)
    _send(user, referral)


# --- transitions ----------------------------------------------------------------------------

def _check_move(user: User | None, referral: Referral, target: ReferralStatus,
                version: int) -> states.Transition:
    side = Side.SYSTEM if user is None else referral_side(user, referral)
    if side is None:
        raise ReferralNotFound("There is no such referral.")
    # The version first: a move asked of a state someone else has just left is a conflict
    # (the loser of a race), whatever the state it is in now would allow.
    if version != referral.version:
        raise ReferralConflict(CONFLICT_MESSAGE)
    move = states.find(referral.status, target)
    if move is None or side not in move.sides:
        raise ReferralForbidden(
            f"A referral that is {referral.status.label.lower()} cannot be marked "
            f"{target.label.lower()} by the {side.value}.")
    return move


@contextmanager
def _conflicts() -> Iterator[None]:
    """A concurrent winner turns the write into a conflict. The caller rolls back, so the
    loser changes nothing. A database merely busy past its wait is no conflict: that error
    goes on (a 503, web/errors.py)."""
    try:
        yield
    except StaleDataError as exc:
        raise ReferralConflict(CONFLICT_MESSAGE) from exc
    except DBAPIError as exc:
        # SQLite refuses a reading transaction's first write while another one writes (only
        # outside a request, which takes the write lock first); PostgreSQL picks a deadlock
        # victim (db.lost_race).
        if not lost_race(exc):
            raise
        raise ReferralConflict(CONFLICT_MESSAGE) from exc


def _flush_or_conflict() -> None:
    with _conflicts():
        db_session.flush()


def transition(user: User | None, referral: Referral, data: dict[str, Any]) -> Referral | None:
    """Make one move of the state machine (``TransitionSchema`` data); ``user`` None is the
    sweep. Returns the linked draft when a referral is closed as redirected."""
    target = ReferralStatus(data["to"])
    if target == ReferralStatus.SENT:
        raise ReferralForbidden("Send a draft with its consent record.")
    move = _check_move(user, referral, target, int(data["version"]))
    missing = {name: "This field is required." for name in move.required
               if not data.get(name)}
    if missing:
        raise InvalidReferral("Some required information is missing.", missing)
    redirect_to = None
    if target == ReferralStatus.CLOSED and data["outcome"] == CloseOutcome.REDIRECTED:
        redirect_to = _organization(data.get("redirect_to"), "redirect_to")
        if (redirect_to.id in (referral.sender_org_id, referral.receiver_org_id)
                or not can(user, Permission.RECEIVE_REFERRALS, redirect_to)):
            raise InvalidReferral("Choose a third organization that takes referrals.",
                                  {"redirect_to": "Choose a third organization that takes "
                                                  "referrals."})
    now = utcnow()
    if target == ReferralStatus.ACCEPTED and referral.is_overdue(now):
        raise ReferralConflict("The answer deadline passed: this referral can no longer be "
                               "accepted. The next sweep marks it expired and tells both "
                               "sides.")
    # A redirect carries the client's details only while the closing side may see them.
    carried = (can(user, Permission.VIEW_CLIENT_DETAILS, referral)
               if redirect_to is not None else False)
    if target == ReferralStatus.ACCEPTED and referral.placement_id is not None:
        _fill_placement(referral)  # first: concurrent accepts of a placement queue up here
    source = referral.status
    with db_session.no_autoflush:  # one flush, the guarded UPDATE, in _flush_or_conflict
        referral.status = target
        if target in (ReferralStatus.ACCEPTED, ReferralStatus.DECLINED):
            referral.responded_at = now
        if target in FINAL_STATUSES:
            referral.finished_at = now
        if target == ReferralStatus.DECLINED:
            referral.decline_reason = DeclineReason(data["reason"])
        if target == ReferralStatus.CLOSED:
            referral.outcome = CloseOutcome(data["outcome"])
        _event(referral, "transition", user, source, target, data.get("note") or "")
    _flush_or_conflict()
    if target == ReferralStatus.WITHDRAWN:
        # The receiver no longer needs the details (a placement's other partners included).
        _end_consents(referral, None, now, new_version=False)
    if target == ReferralStatus.ACCEPTED and referral.placement_id is not None:
        _withdraw_siblings(referral)
    _notify_transition(user, referral, target)
    if redirect_to is not None and user is not None:
        return _redirected_draft(user, referral, redirect_to, carried)
    return None


def _notify_transition(user: User | None, referral: Referral, target: ReferralStatus) -> None:
    if target == ReferralStatus.EXPIRED:
        notify(referral, referral.sender, "expired")
        notify(referral, referral.receiver, "expired")
        return
    other = referral.sender if referral_side(user, referral) == Side.RECEIVER \
        else referral.receiver
    if target != ReferralStatus.WITHDRAWN or referral.sent_at is not None:
        notify(referral, other, target.value, exclude=user)


def _redirected_draft(user: User, referral: Referral, organization: Organization,
                      carried: bool) -> Referral:
    """A linked draft to a third organization: no consent, no identifying details, and the
    de-identified details only when ``carried`` (the closing side could see them)."""
    sender = referral.sender if referral_side(user, referral) == Side.SENDER \
        else referral.receiver
    draft = Referral(sender_org_id=sender.id, receiver_org_id=organization.id,
                     created_by_id=user.id, redirected_from_id=referral.id,
                     service=referral.service, urgency=referral.urgency,
                     age_range=referral.age_range,
                     client_data=crypto.encrypt_json(
                         {**crypto.decrypt_json(referral.client_data), "contact_person": user.name})
                     if carried and referral.client_data else None)
    db_session.add(draft)
    _event(draft, "created", user, None, ReferralStatus.DRAFT, "")
    db_session.flush()
    return draft


def redirects_of(referral: Referral) -> list[Referral]:
    """The drafts (and referrals) a closing as redirected started from ``referral``: both of
    its sides see where the client went, though only the new sender opens them."""
    return list(db_session.scalars(select(Referral).where(
        Referral.redirected_from_id == referral.id).order_by(Referral.id)))


def mark_viewed(user: User, referral: Referral) -> bool:
    """Record the receiver's first opening (shown to the sender as "viewed").

    A plain conditional UPDATE that leaves the version alone: opening the page must never
    make someone's accept or decline a conflict."""
    if referral.viewed_at is not None or referral_side(user, referral) != Side.RECEIVER:
        return False
    now = utcnow()
    result = db_session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.viewed_at.is_(None))
        .values(viewed_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    db_session.add(ReferralEvent(referral_id=referral.id, kind="viewed", actor_id=user.id,
                                 actor_name=user.name))
    db_session.flush()
    db_session.refresh(referral, ["viewed_at", "events"])
    return True


# --- client details, notes, consent -------------------------------------------------------

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
        view.event_notes = {event.id: crypto.decrypt_text(event.note)
                            for event in referral.events if event.note}
    if view.shown or view.notes or view.event_notes:
        record("referral_client_details_viewed", actor=user,
               organization=user_side_organization(user, referral),
               details={"referral": referral.public_id,
                        "items": sorted([*view.details, *view.identifying]),
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
        raise ReferralForbidden("Notes can be added once a referral is sent, until it is purged.")
    organization = user_side_organization(user, referral)
    note = ReferralNote(author_id=user.id, author_org_id=organization.id if organization else None,
                        body=crypto.encrypt_text(data["body"]))
    referral.notes.append(note)
    db_session.flush()
    other = referral.receiver if organization is referral.sender else referral.sender
    notify(referral, other, "note_added", exclude=user)
    return note


def _end_consents(referral: Referral, user: User | None, now: dt.datetime,
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
        raise ReferralForbidden("Only the referring organization revokes a consent in force.")
    _end_consents(referral, user, utcnow())
    db_session.add(ReferralEvent(referral_id=referral.id, kind="consent_revoked",
                                 actor_id=user.id, actor_name=user.name))
    db_session.flush()
    db_session.refresh(referral, ["events", "consents", "version"])
    if referral.status != ReferralStatus.DRAFT:
        notify(referral, referral.receiver, "consent_revoked")


# --- lists and reports ----------------------------------------------------------------------

@dataclass(frozen=True)
class BoxFilters:
    status: str = ""
    urgency: str = ""
    partner: str = ""
    max_age_days: int | None = None


def box(user: User, which: str, filters: BoxFilters, *, offset: int = 0,
        limit: int = 200) -> list[Referral]:
    """The user's inbox (received) or outbox (sent), newest first, ``limit`` from ``offset``."""
    org_ids = [m.organization_id for m in user.memberships if m.organization.is_active]
    own = Referral.receiver_org_id if which == "inbox" else Referral.sender_org_id
    partner_column = Referral.sender_org_id if which == "inbox" else Referral.receiver_org_id
    query = select(Referral).where(own.in_(org_ids))
    if which == "inbox":
        query = query.where(Referral.status != ReferralStatus.DRAFT)
    if filters.status in ReferralStatus._value2member_map_:
        query = query.where(Referral.status == filters.status)
    if filters.urgency in Urgency._value2member_map_:
        query = query.where(Referral.urgency == filters.urgency)
    if filters.partner:
        query = query.where(partner_column.in_(select(Organization.id).where(or_(
            Organization.slug == filters.partner,
            func.lower(Organization.name).contains(filters.partner.lower(), autoescape=True)))))
    if filters.max_age_days is not None:
        query = query.where(
            Referral.created_at >= utcnow() - dt.timedelta(days=filters.max_age_days))
    return list(db_session.scalars(
        query.order_by(Referral.created_at.desc(), Referral.id.desc()).offset(offset).limit(limit)
        .options(selectinload(Referral.sender), selectinload(Referral.receiver))))


@dataclass
class ReferralReport:
    """Counts and timings for coordinators: no client detail can appear here."""

    by_status: dict[str, int]
    by_urgency: dict[str, int]
    median_hours_to_response: float | None
    overdue: int


def report() -> ReferralReport:
    rows = db_session.execute(select(Referral.status, func.count()).group_by(Referral.status))
    by_status = {status.value: 0 for status in ReferralStatus}
    by_status.update({status.value: count for status, count in rows})
    urgency_rows = db_session.execute(
        select(Referral.urgency, func.count()).group_by(Referral.urgency))
    by_urgency = {urgency.value: 0 for urgency in Urgency}
    by_urgency.update({urgency.value: count for urgency, count in urgency_rows})
    pairs = db_session.execute(select(Referral.sent_at, Referral.responded_at).where(
        Referral.responded_at.is_not(None), Referral.sent_at.is_not(None))).all()
    hours = sorted((responded - sent).total_seconds() / 3600 for sent, responded in pairs)
    median = hours[len(hours) // 2] if hours else None
    overdue = db_session.scalar(select(func.count()).select_from(Referral).where(
        Referral.status == ReferralStatus.SENT, Referral.response_due_at < utcnow())) or 0
    return ReferralReport(by_status, by_urgency, median, overdue)


# --- sweep: deadlines and retention ---------------------------------------------------------

@dataclass
class SweepReport:
    expired: list[str] = field(default_factory=list)
    due_soon: list[str] = field(default_factory=list)
    identifying_purged: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"expired": self.expired, "due_soon": self.due_soon,
                "identifying_purged": self.identifying_purged, "purged": self.purged}


def sweep(now: dt.datetime | None = None) -> SweepReport:
    """Expire overdue referrals, warn of near deadlines, purge client data past its purpose.

    Idempotent: each step selects only what it has not done yet, so running it again (or from
    two crons at once: the expiry is an optimistic-locked transition) changes nothing."""
    now = now or utcnow()
    result = SweepReport()
    overdue = db_session.scalars(select(Referral).where(
        Referral.status == ReferralStatus.SENT, Referral.response_due_at < now))
    for referral in overdue.all():
        try:
            with db_session.begin_nested():
                transition(None, referral, {"to": ReferralStatus.EXPIRED,
                                            "version": referral.version})
            result.expired.append(referral.public_id)
        except ReferralConflict:
            log.info("referral %s changed while expiring it; left alone", referral.public_id)
    _warn_due_soon(now, result)
    _purge_identifying(now, result)
    _purge_closed(now, result)
    return result


def _warn_due_soon(now: dt.datetime, result: SweepReport) -> None:
    """One warning per referral to its receiver, in the last quarter of its response window."""
    candidates = db_session.scalars(select(Referral).where(
        Referral.status == ReferralStatus.SENT, Referral.due_soon_notified_at.is_(None),
        Referral.response_due_at >= now)).all()
    for referral in candidates:
        assert referral.sent_at is not None and referral.response_due_at is not None
        window = referral.response_due_at - referral.sent_at
        if referral.response_due_at - now > window / 4:
            continue
        claimed = db_session.execute(
            update(Referral).where(Referral.id == referral.id,
                                   Referral.due_soon_notified_at.is_(None))
            .values(due_soon_notified_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount == 1:
            notify(referral, referral.receiver, "due_soon")
            result.due_soon.append(referral.public_id)


def _purge_identifying(now: dt.datetime, result: SweepReport) -> None:
    """Identifying details never outlive the consent that named them."""
    candidates = db_session.scalars(select(Referral).where(
        Referral.identifying_data.is_not(None))).all()
    for referral in candidates:
        consent = referral.consent
        if consent is None or consent.in_force(now):
            continue
        db_session.execute(update(Referral).where(Referral.id == referral.id)
                           .values(identifying_data=None)
                           .execution_options(synchronize_session=False))
        db_session.expire(referral, ["identifying_data"])
        db_session.add(ReferralEvent(referral_id=referral.id, kind="identifying_purged",
                                     actor_name=AUTOMATIC))
        result.identifying_purged.append(referral.public_id)
    db_session.flush()


def _purge_closed(now: dt.datetime, result: SweepReport) -> None:
    """Past the retention period after a referral ends (or after a draft was left unsent for
    DRAFT_RETENTION_DAYS), only the de-identified record stays: organizations, service,
    urgency, age range, states and times."""
    days = int(current_app.config["CLIENT_DATA_RETENTION_DAYS"])
    cutoff = now - dt.timedelta(days=days)
    # A draft (a redirect never sent) holds a copy of the client's details too.
    draft_cutoff = now - dt.timedelta(days=int(current_app.config["DRAFT_RETENTION_DAYS"]))
    ids = db_session.scalars(select(Referral.id).where(
        Referral.purged_at.is_(None),
        or_(and_(Referral.status.in_(FINAL_STATUSES), Referral.finished_at < cutoff),
            and_(Referral.status == ReferralStatus.DRAFT, Referral.created_at < draft_cutoff)))
    ).all()
    for referral_id in ids:
        db_session.execute(update(Referral).where(Referral.id == referral_id).values(
            client_data=None, identifying_data=None, purged_at=now)
            .execution_options(synchronize_session=False))
        # The consent's free text can name the client's circumstances ("Minor is pregnant").
        db_session.execute(update(Consent).where(Consent.referral_id == referral_id)
                           .values(purpose="", verbal_reason="", legal_basis="")
                           .execution_options(synchronize_session=False))
        db_session.execute(update(ReferralNote).where(ReferralNote.referral_id == referral_id)
                           .values(body=None).execution_options(synchronize_session=False))
        db_session.execute(update(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
                           .values(note=None).execution_options(synchronize_session=False))
        db_session.add(ReferralEvent(referral_id=referral_id, kind="purged",
                                     actor_name=AUTOMATIC))
        result.purged.append(db_session.scalar(
            select(Referral.public_id).where(Referral.id == referral_id)) or "")
    db_session.flush()
    if ids:
        db_session.expire_all()
