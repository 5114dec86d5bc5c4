"""Tell the people of an organization that something happened to one of its referrals.

Each member gets an in-app notification and an email through the mail outbox. The mail is in
the member's language (their setting, else English), whoever's request causes it; the notice
is written in its reader's language when shown (``notice_text``). Neither ever
carries client details: only the referral's link, its urgency and what happened.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from directory.accounts.models import Membership, User
from directory.db import db_session, utcnow
from directory.i18n import recipient_language
from directory.mail.operations import MailError, external_url, queue_mail
from directory.orgs.models import Organization
from directory.referrals.models import Notification, Referral

# What happened, by kind: a mail's subject and the start of the in-app notice.
SUBJECTS = {
    "new_referral": _l("New referral for %(receiver)s"),
    "accepted": _l("Referral accepted by %(receiver)s"),
    "declined": _l("Referral declined by %(receiver)s"),
    "withdrawn": _l("Referral withdrawn by %(sender)s"),
    "completed": _l("Referral completed by %(receiver)s"),
    "closed": _l("Referral closed"),
    "expired": _l("Referral expired without an answer"),
    "due_soon": _l("A referral's response deadline is near"),
    "note_added": _l("New note on a referral"),
    "consent_revoked": _l("Consent revoked for a referral"),
}


def notify(referral: Referral, organization: Organization, kind: str,
           exclude: User | None = None) -> int:
    """Notify every active member of ``organization``, each in their own language; returns
    how many were told. The members of a suspended (or not yet approved) organization are
    told nothing: a referral's names, service and urgency are not theirs to know while it is
    not an active member."""
    if not organization.is_active:
        return 0
    link = _link(referral)
    members = db_session.scalars(
        select(User).join(Membership).where(Membership.organization_id == organization.id,
                                            User.active.is_(True))).all()
    told = 0
    for user in members:
        if exclude is not None and user.id == exclude.id:
            continue
        with recipient_language(user):
            subject, message = _texts(referral, kind)
            body = render_template("referrals/mail/notification.txt", message=message,
                                   link=link)
        db_session.add(Notification(user_id=user.id, referral_id=referral.id, kind=kind,
                                    message=message[:300]))
        queue_mail(user.email, subject, body)
        told += 1
    db_session.flush()
    return told


def _texts(referral: Referral, kind: str) -> tuple[str, str]:
    """The subject and the notice of ``kind``, in the current language."""
    subject = str(SUBJECTS[kind]) % {"sender": referral.sender.name,
                                     "receiver": referral.receiver.name}
    return subject, gettext("%(what)s (%(urgency)s, %(service)s).", what=subject,
                            urgency=referral.urgency.label.lower(),
                            service=referral.service_name)


def notice_text(notification: Notification) -> str:
    """A notice in the reader's language, written from its kind and referral when read (the
    stored text is in the language its recipient had set when it came, English without one)."""
    if notification.referral is None or notification.kind not in SUBJECTS:
        return notification.message
    return _texts(notification.referral, notification.kind)[1]


def _link(referral: Referral) -> str:
    """An absolute link where one can be built (a request, or DIRECTORY_BASE_URL for sweep)."""
    try:
        return external_url("referrals.detail", public_id=referral.public_id)
    except MailError:
        return f"/referrals/{referral.public_id}"


def unread_count(user: User) -> int:
    return db_session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


# What a notice's text is written from, loaded with it (see notice_text).
_WITH_REFERRAL = (selectinload(Notification.referral).options(
    selectinload(Referral.sender), selectinload(Referral.receiver),
    selectinload(Referral.service_category)),)


def recent(user: User, limit: int = 50) -> list[Notification]:
    return list(db_session.scalars(select(Notification).where(Notification.user_id == user.id)
                                   .options(*_WITH_REFERRAL)
                                   .order_by(Notification.id.desc()).limit(limit)))


def unread(user: User, limit: int = 5) -> list[Notification]:
    """The user's newest unread notifications."""
    return list(db_session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))
        .options(*_WITH_REFERRAL).order_by(Notification.id.desc()).limit(limit)))


def mark_read(user: User, referral: Referral | None = None) -> None:
    """Mark the user's notifications read (those of one referral, when given)."""
    query = update(Notification).where(Notification.user_id == user.id,
                                       Notification.read_at.is_(None))
    if referral is not None:
        query = query.where(Notification.referral_id == referral.id)
    db_session.execute(query.values(read_at=utcnow()))
