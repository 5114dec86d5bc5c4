"""Referral operations: the only code that changes a referral.

Plain functions taking the acting user and validated data (see ``schemas.py``), callable from
the web, the API and the CLI alike. They check the rule, change state, append the timeline
event, notify and flush; the caller commits. Failures are typed ``ReferralError``s
(``errors.py``) carrying an HTTP status and a field map. What a side may read of the client
is ``disclosure.py``; inboxes are ``boxes.py``; deadlines and retention ``sweep.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from directory.accounts.models import User
from directory.accounts.permissions import Permission, can, may_open_referral, referral_side
from directory.audit.models import AuditAction
from directory.audit.operations import record
from directory.db import db_session, lost_race, utcnow
from directory.orgs.models import MembershipStatus, Organization, ServiceCategory
from directory.orgs.operations import offers_service, referable_services, within_service
from directory.referrals import crypto, eligibility, states
from directory.referrals.disclosure import end_consents, reporting_view, user_side_organization
from directory.referrals.errors import (
    InvalidReferral,
    MismatchWarning,
    ReferralConflict,
    ReferralForbidden,
    ReferralNotFound,
)
from directory.referrals.models import (
    CLIENT_ITEMS,
    CONSENT_TEXTS,
    FINAL_STATUSES,
    HANDOFF_ITEMS,
    IDENTIFYING_ITEMS,
    MINOR_AGE_RANGES,
    REPORTING_ITEMS,
    CloseOutcome,
    Consent,
    DeclineReason,
    Gender,
    MinorBasis,
    Nationality,
    PlacementRequest,
    Referral,
    ReferralEvent,
    ReferralStatus,
    TraffickingType,
    Urgency,
    consent_item_labels,
)
from directory.referrals.notifications import notify
from directory.referrals.states import Side

log = logging.getLogger(__name__)


AUTOMATIC = "the directory (automatic)"  # the actor of the sweep and of placement withdrawals
CONFLICT_MESSAGE = _l("Someone else changed this referral a moment ago; nothing was changed. "
                      "Reload the page to see its current state.")
NO_SUCH_REFERRAL = _l("There is no such referral.")
UNKNOWN_ORGANIZATION = _l("Unknown organization.")
THIRD_ORGANIZATION = _l("Choose a third organization that takes referrals.")


# --- loading --------------------------------------------------------------------------------

def get_referral(user: User, public_id: str) -> Referral:
    """Load, then authorize: a referral one is no side of does not exist (404); the refusal is
    audited (permissions.may_open_referral)."""
    referral = db_session.scalar(select(Referral).where(Referral.public_id == public_id[:32]))
    if not may_open_referral(user, referral, public_id):
        raise ReferralNotFound(NO_SUCH_REFERRAL)
    return referral


def _organization(slug: str | None, field_name: str) -> Organization:
    organization = db_session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        raise InvalidReferral(UNKNOWN_ORGANIZATION, {field_name: UNKNOWN_ORGANIZATION})
    return organization


def sending_organizations(user: User) -> list[Organization]:
    return [m.organization for m in user.memberships
            if can(user, Permission.SEND_REFERRALS, m.organization)]


def services_of(organization: Organization) -> list[ServiceCategory]:
    """What ``organization`` may be referred for: what search finds it for (sub-services
    count), by name."""
    return referable_services(organization)


def referable_partners(user: User, text: str = "", limit: int = 200) -> list[Organization]:
    """Active organizations taking referrals, by name (those whose name contains ``text``),
    less the user's own: the choices of the partner picker."""
    own = [m.organization_id for m in user.memberships]
    query = select(Organization).where(Organization.status == MembershipStatus.ACTIVE,
                                       Organization.accepting_referrals.is_(True),
                                       Organization.id.not_in(own))
    if text:
        query = query.where(func.lower(Organization.name).contains(text.lower(),
                                                                   autoescape=True))
    return list(db_session.scalars(query.order_by(Organization.name).limit(limit)))


def partner_names(slugs: Collection[str]) -> list[str]:
    """The names the picker shows for the partners ``slugs`` (a search's ticked results), in
    order; an address the directory does not know stays as it is."""
    names = dict(db_session.execute(select(Organization.slug, Organization.name).where(
        Organization.slug.in_(list(slugs)), Organization.status == MembershipStatus.ACTIVE))
        .tuples().all())
    return [names.get(slug, slug) for slug in slugs]


def partner_slug(entry: str) -> str:
    """The directory address of the partner ``entry`` names: its address itself, or its
    exact name as the picker offers it (the first by address when two share a name)."""
    entry = entry.strip()[:200]
    slug = db_session.scalar(select(Organization.slug).where(
        or_(Organization.slug == entry, (func.lower(Organization.name) == entry.lower())
            & (Organization.status == MembershipStatus.ACTIVE)))
        .order_by((Organization.slug == entry).desc(), Organization.slug).limit(1))
    return slug or entry


def service_mismatch(receiver: Organization, code: str) -> str | None:
    """Why ``receiver`` cannot be referred for the service ``code``, or None when it can (in
    the request's language)."""
    if offers_service(receiver, code):
        return None
    category = db_session.scalar(select(ServiceCategory).where(ServiceCategory.code == code))
    if category is None:
        return _("Choose a service from the list.")
    return _("%(name)s does not offer %(service)s.", name=receiver.name, service=category.name)


def mismatches(receivers: Collection[Organization], age_range: str,
               population: str | None = None) -> dict[str, str]:
    """By slug, the partners whose listing the client's age range or population is outside
    (a warning)."""
    found = {receiver.slug: eligibility.warnings(receiver, age_range, population)
             for receiver in receivers}
    return {slug: message for slug, message in found.items() if message}


def reporting_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The coded grant-reporting fields of ``ReferralSchema`` data, as the columns take them
    (None: not recorded)."""
    return {"trafficking_type": TraffickingType(data["trafficking_type"])
            if data.get("trafficking_type") else None,
            "gender": Gender(data["gender"]) if data.get("gender") else None,
            "nationality": Nationality(data["nationality"]) if data.get("nationality") else None,
            "population": data.get("population") or None}


def services_in_use(organization: Organization, dropped: Collection[str],
                    kept: Collection[str] = ()) -> dict[str, int]:
    """How many referrals in progress (not yet final) to ``organization`` lose their service
    if it stops offering the categories ``dropped`` and keeps ``kept``, by the referral's
    service. A referral for a service is held by every category within it (``within_service``:
    a referral for "shelter" by "shelter.youth"), so it loses its service when a dropped
    category was within it and no kept one is."""
    if not dropped:
        return {}
    in_progress = db_session.execute(
        select(Referral.service, func.count())
        .where(Referral.receiver_org_id == organization.id,
               Referral.status.not_in(FINAL_STATUSES))
        .group_by(Referral.service)).tuples().all()
    return {service: count for service, count in in_progress
            if any(within_service(code, service) for code in dropped)
            and not any(within_service(code, service) for code in kept)}


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
        errors["consent.expires_on"] = _l("The consent must end after today.")
    if referral.age_range in MINOR_AGE_RANGES and not data.get("minor_basis"):
        errors["consent.minor_basis"] = _l("For a minor, record the guardian's consent or the "
                                           "legal basis for the minor consenting alone.")
    not_named = sorted(set(identifying) - set(data.get("items") or ()))
    if not_named:
        errors["consent.items"] = _l(
            "Identifying details are shared only when the consent names them: add %(items)s "
            "or leave them out.", items=", ".join(consent_item_labels(not_named)).lower())
    if errors:
        raise InvalidReferral(_l("The consent record is not complete."), errors)


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
            raise ReferralForbidden(_l("You cannot send referrals for that organization."))
        return sender
    if senders:
        return senders[0]
    raise ReferralForbidden(_l("Only members of an active organization send referrals."))


def _send_new(user: User, sender: Organization, slug: str, data: dict[str, Any],
              placement: PlacementRequest | None = None) -> Referral:
    """Build, check and send one referral to the partner ``slug``."""
    receiver = _organization(slug, "to")
    if receiver.id == sender.id or not can(user, Permission.RECEIVE_REFERRALS, receiver):
        message = _l("%(name)s does not take referrals now.", name=receiver.name)
        raise InvalidReferral(message, {"to": message})
    unfit = service_mismatch(receiver, data["service"])
    if unfit is not None:
        raise InvalidReferral(unfit, {"service": unfit})
    identifying = {item: data[item] for item in IDENTIFYING_ITEMS if data.get(item)}
    referral = Referral(sender_org_id=sender.id, receiver_org_id=receiver.id,
                        created_by_id=user.id, service=data["service"],
                        urgency=Urgency(data["urgency"]), age_range=data["age_range"],
                        client_data=crypto.encrypt_json(
                            {item: data.get(item, "") for item in (*CLIENT_ITEMS,
                                                                   *HANDOFF_ITEMS)}),
                        identifying_data=crypto.encrypt_json(identifying) if identifying
                        else None, **reporting_fields(data))
    _check_consent(referral, data["consent"], identifying, sender)
    # Last, so the warning comes once everything else is right.
    warning = eligibility.find_mismatch(receiver, data["age_range"], data.get("population"))
    if warning is not None and not data.get("acknowledge_mismatch"):
        raise MismatchWarning(warning.text(), {"acknowledge_mismatch": warning.text()})
    # Attached only now: a referral tied to a placement in the session would be flushed with it
    # by the checks' queries, before they have passed.
    referral.sender, referral.receiver, referral.placement = sender, receiver, placement
    db_session.add(referral)
    _event(referral, "created", user, None, ReferralStatus.DRAFT)
    _add_consent(user, referral, data["consent"])
    if warning is not None:
        # The timeline keeps that the sender was warned and went ahead.
        _event(referral, "mismatch_acknowledged", user, None, None, warning.stored())
    db_session.flush()
    if warning is not None:
        record(AuditAction.REFERRAL_MISMATCH_ACKNOWLEDGED, actor=user, organization=sender,
               details={"referral": referral.public_id, "receiver": receiver.slug,
                        "age_range": referral.age_range,
                        **({"population": referral.population} if referral.population
                           else {})})
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
    warnings: list[str] = []
    for slug in dict.fromkeys(data["to"]):
        try:
            _send_new(user, sender, slug, data, placement)
        except MismatchWarning as exc:
            warnings.append(exc.message)
        except InvalidReferral as exc:
            # A partner that cannot take the request is named in the message on the list.
            errors.setdefault("to", exc.message)
            errors.update({k: v for k, v in exc.fields.items() if k not in ("to", "service")})
    if errors:
        raise InvalidReferral(_l("Some partners cannot take this request."), errors)
    if warnings:
        message = " ".join(warnings)
        raise MismatchWarning(message, {"acknowledge_mismatch": message})
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
        raise ReferralConflict(_l("Another partner accepted this placement request first; "
                                  "nothing was changed."))


def _withdraw_siblings(referral: Referral) -> None:
    siblings = db_session.scalars(select(Referral).where(
        Referral.placement_id == referral.placement_id, Referral.id != referral.id,
        Referral.status == ReferralStatus.SENT)).all()
    for sibling in siblings:
        transition(None, sibling, {"to": ReferralStatus.WITHDRAWN, "version": sibling.version,
                                   "note": _("Placed with another partner.")})


def share_identifying(user: User, referral: Referral, data: dict[str, Any]) -> None:
    """Share identifying details (``IdentifyingSchema`` data) with the receiver, under a new
    consent record that names them."""
    if not can(user, Permission.SHARE_IDENTIFYING, referral):
        raise ReferralForbidden(_l("Identifying details are shared by the referrer while the "
                                   "referral is open."))
    identifying = {item: data[item] for item in IDENTIFYING_ITEMS if data.get(item)}
    if not identifying:
        message = _l("Give at least one identifying detail.")
        raise InvalidReferral(message, {"name": message})
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
    record(AuditAction.REFERRAL_IDENTIFYING_SHARED, actor=user, organization=referral.sender,
           details={"referral": referral.public_id, "items": sorted(identifying)})
    db_session.refresh(referral, ["identifying_data", "version", "events", "consents"])


def _send(user: User, referral: Referral) -> None:
    now = utcnow()
    with db_session.no_autoflush:
        referral.status = ReferralStatus.SENT
        referral.sent_at = now
        referral.response_due_at = _response_due(referral.urgency, now)
        _event(referral, "transition", user, ReferralStatus.DRAFT, ReferralStatus.SENT)
    _flush_or_conflict()
    record(AuditAction.REFERRAL_SENT, actor=user, organization=referral.sender,
           details={"referral": referral.public_id, "receiver": referral.receiver.slug})
    notify(referral, referral.receiver, "new_referral")


def send_draft(user: User, referral: Referral, version: int, consent: dict[str, Any]) -> None:
    """Send a draft (a redirected referral) under its own, new consent record."""
    _check_move(user, referral, ReferralStatus.SENT, version)
    if referral.purged_at is not None:
        raise ReferralForbidden(_l("This draft was purged unsent after the retention period: "
                                   "start a new referral."))
    identifying = crypto.decrypt_json(referral.identifying_data)
    _check_consent(referral, consent, identifying, referral.sender)
    _add_consent(user, referral, consent)
    _send(user, referral)


# --- transitions ----------------------------------------------------------------------------

def _check_move(user: User | None, referral: Referral, target: ReferralStatus,
                version: int) -> states.Transition:
    side = Side.SYSTEM if user is None else referral_side(user, referral)
    if side is None:
        raise ReferralNotFound(NO_SUCH_REFERRAL)
    # The version first: a move asked of a state someone else has just left is a conflict
    # (the loser of a race), whatever the state it is in now would allow.
    if version != referral.version:
        raise ReferralConflict(CONFLICT_MESSAGE)
    move = states.find(referral.status, target)
    if move is None or side not in move.sides:
        raise ReferralForbidden(_move_refused(side, referral.status, target))
    return move


def _move_refused(side: Side, status: ReferralStatus, target: ReferralStatus) -> LazyString:
    names = {"status": status.label.lower(), "target": target.label.lower()}
    if side == Side.SENDER:
        return _l("A referral that is %(status)s cannot be marked %(target)s by the referring "
                  "organization.", **names)
    if side == Side.RECEIVER:
        return _l("A referral that is %(status)s cannot be marked %(target)s by the receiving "
                  "organization.", **names)
    return _l("A referral that is %(status)s cannot be marked %(target)s by the directory.",
              **names)


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
        raise ReferralForbidden(_l("Send a draft with its consent record."))
    move = _check_move(user, referral, target, int(data["version"]))
    missing = {name: _l("This field is required.") for name in move.required
               if not data.get(name)}
    if missing:
        raise InvalidReferral(_l("Some required information is missing."), missing)
    redirect_to = None
    if target == ReferralStatus.CLOSED and data["outcome"] == CloseOutcome.REDIRECTED:
        redirect_to = _organization(data.get("redirect_to"), "redirect_to")
        if (redirect_to.id in (referral.sender_org_id, referral.receiver_org_id)
                or not can(user, Permission.RECEIVE_REFERRALS, redirect_to)):
            raise InvalidReferral(THIRD_ORGANIZATION, {"redirect_to": THIRD_ORGANIZATION})
    now = utcnow()
    if target == ReferralStatus.ACCEPTED and referral.is_overdue(now):
        raise ReferralConflict(_l("The answer deadline passed: this referral can no longer be "
                                  "accepted. The next sweep marks it expired and tells both "
                                  "sides."))
    # A redirect carries the client's details only while the closing side may see them.
    carried = (can(user, Permission.VIEW_CLIENT_DETAILS, referral)
               if redirect_to is not None else False)
    reporting = reporting_view(user, referral) if redirect_to is not None and user else {}
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
    record(f"referral_{target.value}", actor=user,
           organization=user_side_organization(user, referral) if user else None,
           details={"referral": referral.public_id, "from": source.value})
    if target == ReferralStatus.WITHDRAWN:
        # The receiver no longer needs the details (a placement's other partners included).
        end_consents(referral, None, now, new_version=False)
    if target == ReferralStatus.ACCEPTED and referral.placement_id is not None:
        _withdraw_siblings(referral)
    _notify_transition(user, referral, target)
    if redirect_to is not None and user is not None:
        return _redirected_draft(user, referral, redirect_to, carried, reporting)
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
                      carried: bool, reporting: dict[str, str]) -> Referral:
    """A linked draft to a third organization: no consent, no identifying details, the
    de-identified details only when ``carried`` (the closing side could see them), and the
    reporting fields the closing side could read (``reporting``)."""
    sender = referral.sender if referral_side(user, referral) == Side.SENDER \
        else referral.receiver
    draft = Referral(sender_org_id=sender.id, receiver_org_id=organization.id,
                     created_by_id=user.id, redirected_from_id=referral.id,
                     service=referral.service, urgency=referral.urgency,
                     age_range=referral.age_range,
                     **{item: getattr(referral, item) for item in REPORTING_ITEMS
                        if item in reporting},
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
    db_session.refresh(referral, ["viewed_at", "viewed_after_us", "events"])
    return True
