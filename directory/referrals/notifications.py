"""Tell the people of an organization that something happened to one of its referrals.

Each member gets an in-app notification and an email through the mail outbox. Neither ever
carries client details: only the referral's link, its urgency and what happened.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from directory.accounts.models import Membership, User
from directory.db import db_session, utcnow
from directory.mail.operations import MailError, external_url, queue_mail
from directory.orgs.models import Organization
from directory.referrals.models import Notification, Referral

SUBJECTS = {
    "new_referral": "New referral for {receiver}",
    "accepted": "Referral accepted by {receiver}",
    "declined": "Referral declined by {receiver}",
    "withdrawn": "Referral withdrawn by {sender}",
    "completed": "Referral completed by {receiver}",
    "closed": "Referral closed",
    "expired": "Referral expired without an answer",
    "due_soon": "A referral's response deadline is near",
    "note_added": "New note on a referral",
    "consent_revoked": "Consent revoked for a referral",
}


def notify(referral: Referral, organization: Organization, kind: str,
           exclude: User | None = None) -> int:
    """Notify every active member of ``organization``; returns how many were told. The
    members of a suspended (or not yet approved) organization are told nothing: a referral's
    names, service and urgency are not theirs to know while it is not an active member."""
    if not organization.is_active:
        return 0
    subject = SUBJECTS[kind].format(sender=referral.sender.name, receiver=referral.receiver.name)
    message = f"{subject} ({referral.urgency.label.lower()}, {referral.service_name})."
    link = _link(referral)
    members = db_session.scalars(
        select(User).join(Membership).where(Membership.organization_id == organization.id,
                                            User.active.is_(True))).all()
    told = 0
    for user in members:
        if exclude is not None and user.id == exclude.id:
            continue
        db_session.add(Notification(user_id=user.id, referral_id=referral.id, kind=kind,
                                    message=message[:300]))
        body = f"{message}\n\nOpen it in the directory (sign-in required):\n{link}\n"
        queue_mail(user.email, subject, body)
        told += 1
    db_session.flush()
    return told


def _link(referral: Referral) -> str:
    """An absolute link where one can be built (a request, or DIRECTORY_BASE_URL for sweep)."""
    try:
        return external_url("referrals.detail", public_id=referral.public_id)
    except MailError:
        return f"/referrals/{referral.public_id}"


def unread_count(user: User) -> int:
    return db_session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def recent(user: User, limit: int = 50) -> list[Notification]:
    return list(db_session.scalars(select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id.desc()).limit(limit)))


def unread(user: User, limit: int = 5) -> list[Notification]:
    """The user's newest unread notifications."""
    return list(db_session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))
        .order_by(Notification.id.desc()).limit(limit)))


def mark_read(user: User, referral: Referral | None = None) -> None:
    """Mark the user's notifications read (those of one referral, when given)."""
    query = update(Notification).where(Notification.user_id == user.id,
                                       Notification.read_at.is_(None))
    if referral is not None:
        query = query.where(Notification.referral_id == referral.id)
    db_session.execute(query.values(read_at=utcnow()))
