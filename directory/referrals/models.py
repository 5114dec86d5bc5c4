"""Referrals, their consent records, timeline events, secure notes and in-app notifications.

Client details and note bodies are stored only as Fernet ciphertexts (see ``crypto.py``); the
plain columns are what reports may use: organizations, service, urgency, age range, timings.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, BigInteger, Date, FetchedValue, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.accounts.models import User
from directory.db import Base, UTCDateTime, created_at, int_pk, utcnow
from directory.orgs.models import Organization, Population, ServiceCategory
from directory.types import str_enum


class ReferralStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CLOSED = "closed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return str(_STATUS_LABELS[self])

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({ReferralStatus.COMPLETED, ReferralStatus.CLOSED,
                            ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN,
                            ReferralStatus.EXPIRED})


class Urgency(enum.StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    EMERGENCY = "emergency"

    @property
    def label(self) -> str:
        return str(_URGENCY_LABELS[self])


# Labels are translated when read; the stored values stay the codes.
_STATUS_LABELS = {
    ReferralStatus.DRAFT: _l("Draft"),
    ReferralStatus.SENT: _l("Sent"),
    ReferralStatus.ACCEPTED: _l("Accepted"),
    ReferralStatus.COMPLETED: _l("Completed"),
    ReferralStatus.CLOSED: _l("Closed"),
    ReferralStatus.DECLINED: _l("Declined"),
    ReferralStatus.WITHDRAWN: _l("Withdrawn"),
    ReferralStatus.EXPIRED: _l("Expired"),
}
_URGENCY_LABELS = {
    Urgency.ROUTINE: _l("Routine"),
    Urgency.URGENT: _l("Urgent"),
    Urgency.EMERGENCY: _l("Emergency"),
}

# What the single-referral and the placement forms propose until the sender chooses.
DEFAULT_URGENCY = Urgency.ROUTINE


class DeclineReason(enum.StrEnum):
    NO_CAPACITY = "no_capacity"
    NOT_ELIGIBLE = "not_eligible"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    OTHER = "other"

    @property
    def label(self) -> str:
        return str(_REASON_LABELS[self])


class CloseOutcome(enum.StrEnum):
    COULD_NOT_CONTACT = "could_not_contact"
    CLIENT_DECLINED = "client_declined"
    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    REDIRECTED = "redirected"

    @property
    def label(self) -> str:
        return str(_OUTCOME_LABELS[self])


_REASON_LABELS = {
    DeclineReason.NO_CAPACITY: _l("No capacity"),
    DeclineReason.NOT_ELIGIBLE: _l("Not eligible"),
    DeclineReason.OUTSIDE_SERVICE_AREA: _l("Outside service area"),
    DeclineReason.OTHER: _l("Another reason"),
}
_OUTCOME_LABELS = {
    CloseOutcome.COULD_NOT_CONTACT: _l("Could not contact"),
    CloseOutcome.CLIENT_DECLINED: _l("Client declined"),
    CloseOutcome.NOT_ELIGIBLE: _l("Not eligible"),
    CloseOutcome.NO_CAPACITY: _l("No capacity"),
    CloseOutcome.REDIRECTED: _l("Redirected"),
}


class ConsentMethod(enum.StrEnum):
    WRITTEN = "written"
    ELECTRONIC = "electronic"
    VERBAL = "verbal"

    @property
    def label(self) -> str:
        return str({"written": _l("Written"), "electronic": _l("Electronic"),
                    "verbal": _l("Verbal")}[self.value])


class MinorBasis(enum.StrEnum):
    """For a client under 18: who consented."""

    GUARDIAN = "guardian"
    MINOR_ALONE = "minor_alone"  # the law lets the minor consent alone; the basis is named

    @property
    def label(self) -> str:
        return str({"guardian": _l("The guardian consented"),
                    "minor_alone": _l("The minor consented alone (name the legal basis)")
                    }[self.value])


# --- grant reporting: coded, non-identifying, optional; never free text ------------------------
# "Not asked" and "declined" are answers every coded field accepts. The sender records them;
# the reports count them (directory/reports/grants.py); the receiver reads one only while the
# consent in force names it (REPORTING_ITEMS, disclosure.py). They are plain columns, kept
# when the client details are purged, since period reports count them afterwards.
NOT_ASKED = "not_asked"
DECLINED_TO_ANSWER = "declined"
UNANSWERED_LABELS = {NOT_ASKED: _l("Not asked"), DECLINED_TO_ANSWER: _l("Declined to answer")}


class TraffickingType(enum.StrEnum):
    SEX = "sex"
    LABOR = "labor"
    BOTH = "both"
    UNKNOWN = "unknown"
    NOT_ASKED = NOT_ASKED
    DECLINED = DECLINED_TO_ANSWER

    @property
    def label(self) -> str:
        return str({"sex": _l("Sex trafficking"), "labor": _l("Labor trafficking"),
                    "both": _l("Sex and labor trafficking"), "unknown": _l("Unknown"),
                    **UNANSWERED_LABELS}[self.value])


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    TRANSGENDER = "transgender"
    NONBINARY = "nonbinary"
    OTHER = "other"
    NOT_ASKED = NOT_ASKED
    DECLINED = DECLINED_TO_ANSWER

    @property
    def label(self) -> str:
        return str({"female": _l("Female"), "male": _l("Male"),
                    "transgender": _l("Transgender"), "nonbinary": _l("Non-binary"),
                    "other": _l("Another gender"), **UNANSWERED_LABELS}[self.value])


class Nationality(enum.StrEnum):
    US = "us"
    FOREIGN = "foreign"
    NOT_ASKED = NOT_ASKED
    DECLINED = DECLINED_TO_ANSWER

    @property
    def label(self) -> str:
        return str({"us": _l("US citizen or lawful permanent resident"),
                    "foreign": _l("Foreign national"), **UNANSWERED_LABELS}[self.value])


# The populations of a listing that are age groups (the referral's age range speaks to them).
AGE_GROUPS = frozenset({Population.CHILDREN, Population.ADOLESCENTS, Population.YOUNG_ADULTS,
                        Population.ADULTS})
# The client's population, from the list organizations use in their listing; the age groups
# are left out, as the referral's age range says the client's age.
CLIENT_POPULATIONS: tuple[str, ...] = (
    *(population.value for population in Population if population not in AGE_GROUPS),
    NOT_ASKED, DECLINED_TO_ANSWER)


def client_population_label(code: str) -> str:
    unanswered = UNANSWERED_LABELS.get(code)
    return str(unanswered) if unanswered is not None else Population(code).label


# The reporting fields, by the name a consent record's items use for them.
REPORTING_ITEMS = ("trafficking_type", "gender", "nationality", "population")
REPORTING_ITEM_LABELS = {"trafficking_type": _l("Type of trafficking"), "gender": _l("Gender"),
                         "nationality": _l("Nationality"), "population": _l("Population")}


def reporting_choices() -> dict[str, list[tuple[str, str]]]:
    """Each reporting field's codes and their labels, in the order forms and reports list
    them."""
    return {"trafficking_type": [(v.value, v.label) for v in TraffickingType],
            "gender": [(v.value, v.label) for v in Gender],
            "nationality": [(v.value, v.label) for v in Nationality],
            "population": [(code, client_population_label(code))
                           for code in CLIENT_POPULATIONS]}


def reporting_label(item: str, code: str) -> str:
    return dict(reporting_choices()[item]).get(code, code)

AGE_RANGES = ("0-11", "12-17", "18-24", "25-39", "40-59", "60+")
MINOR_AGE_RANGES = frozenset({"0-11", "12-17"})
# Identifying details: optional, and shared only when the consent record names them.
IDENTIFYING_ITEMS = ("name", "phone", "address")
IDENTIFYING_ITEM_LABELS = {"name": _l("Name"), "phone": _l("Phone"), "address": _l("Address")}
# What a consent record's items may name: identifying details and reporting fields.
CONSENT_ITEMS = (*IDENTIFYING_ITEMS, *REPORTING_ITEMS)
CONSENT_ITEM_LABELS = {**IDENTIFYING_ITEM_LABELS, **REPORTING_ITEM_LABELS}


def consent_item_labels(items: list[str]) -> list[str]:
    """A consent record's items as the reader reads them (an unknown item stays its code)."""
    return [str(CONSENT_ITEM_LABELS.get(item, item)) for item in items]
# De-identified client details, encrypted too: shown to the receiver while consent is in force.
CLIENT_ITEMS = ("alias", "language", "needs", "safety_concerns", "contact_instructions")
# The hand-off plan, kept, shown and purged with the client details.
HANDOFF_ITEMS = ("contact_person", "handoff_time")
# A consent record's free text: encrypted, shown with the client details, purged with them.
CONSENT_TEXTS = ("purpose", "verbal_reason", "legal_basis")


def new_public_id() -> str:
    """Random, non-sequential: a URL says nothing about how many referrals exist."""
    return secrets.token_urlsafe(12)


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_status_response_due_at", "status", "response_due_at"),
        # The reports select by the time a referral was sent, network-wide or for one side;
        # network-wide, this index holds every column they read (no lookup in the table).
        Index("ix_referrals_report", "sent_at", "status", "receiver_org_id", "sender_org_id",
              "receiver_kind", "sender_kind", "service", "urgency", "viewed_after_us",
              "answered_after_us", "accepted_after_us", "response_due_at", "decline_reason",
              "outcome"),
        # The coded grant fields, for the grant report's counts (migrations 0018, 0019).
        Index("ix_referrals_grant", "sent_at", "age_range", "trafficking_type", "gender",
              "nationality", "accepted_after_us"),
        Index("ix_referrals_sender_org_id_sent_at", "sender_org_id", "sent_at"),
        # One receiver's counts and times, and the busiest receivers' (migration 0019).
        Index("ix_referrals_received", "receiver_org_id", "sent_at", "status", "service",
              "accepted_after_us", "response_due_at", "answered_after_us", "viewed_after_us"),
        # On SQLite only, migration 0019 adds ix_referrals_by_kind, _by_service, _by_urgency
        # and _by_grant_fields (see db.SQLITE_ONLY_INDEX_NAMES).
    )

    id: Mapped[int_pk]
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    # Optimistic locking: every state change is an UPDATE ... WHERE version = <read version>.
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[ReferralStatus] = mapped_column(
        str_enum(ReferralStatus), default=ReferralStatus.DRAFT, index=True)
    sender_org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    receiver_org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    # Copies of the two organizations' kinds for the reports, kept by database triggers on
    # every insert and on any change of an organization's kind (migration 0014).
    sender_kind: Mapped[str | None] = mapped_column(
        String(32), server_default=FetchedValue(), server_onupdate=FetchedValue())
    receiver_kind: Mapped[str | None] = mapped_column(
        String(32), server_default=FetchedValue(), server_onupdate=FetchedValue())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    redirected_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="SET NULL"))
    placement_id: Mapped[int | None] = mapped_column(
        ForeignKey("placement_requests.id", ondelete="SET NULL"), index=True)
    service: Mapped[str] = mapped_column(String(100))
    urgency: Mapped[Urgency] = mapped_column(str_enum(Urgency))
    age_range: Mapped[str] = mapped_column(String(8))
    # Encrypted JSON: alias, language, needs, safety concerns, how and when to make contact,
    # and the hand-off plan (the referrer's contact person and the time for the warm call).
    client_data: Mapped[str | None] = mapped_column(Text)
    # Encrypted JSON: name, phone, address, as far as the consent names them.
    identifying_data: Mapped[str | None] = mapped_column(Text)
    # Grant reporting (coded, optional; None: not recorded). See REPORTING_ITEMS.
    trafficking_type: Mapped[TraffickingType | None] = mapped_column(str_enum(TraffickingType))
    gender: Mapped[Gender | None] = mapped_column(str_enum(Gender))
    nationality: Mapped[Nationality | None] = mapped_column(str_enum(Nationality))
    # One of CLIENT_POPULATIONS: a plain string, as the organizations' list may grow.
    population: Mapped[str | None] = mapped_column(String(32))
    decline_reason: Mapped[DeclineReason | None] = mapped_column(str_enum(DeclineReason))
    outcome: Mapped[CloseOutcome | None] = mapped_column(str_enum(CloseOutcome))
    created_at: Mapped[created_at]
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    response_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    viewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The waits from sending, in whole microseconds, for the reports (NULL until the moment
    # they end): to the first view, to the answer, and to the answer when it was no decline.
    # Kept by database triggers on every write of the timestamps (migration 0019).
    viewed_after_us: Mapped[int | None] = mapped_column(
        BigInteger, server_default=FetchedValue(), server_onupdate=FetchedValue())
    answered_after_us: Mapped[int | None] = mapped_column(
        BigInteger, server_default=FetchedValue(), server_onupdate=FetchedValue())
    accepted_after_us: Mapped[int | None] = mapped_column(
        BigInteger, server_default=FetchedValue(), server_onupdate=FetchedValue())
    due_soon_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    sender: Mapped[Organization] = relationship(foreign_keys=[sender_org_id])
    receiver: Mapped[Organization] = relationship(foreign_keys=[receiver_org_id])
    created_by: Mapped[User | None] = relationship()
    redirected_from: Mapped[Referral | None] = relationship(remote_side="Referral.id")
    placement: Mapped[PlacementRequest | None] = relationship(
        back_populates="referrals", foreign_keys=[placement_id])
    consents: Mapped[list[Consent]] = relationship(
        back_populates="referral", cascade="all, delete-orphan", order_by="Consent.id")
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral", cascade="all, delete-orphan", order_by="ReferralEvent.id")
    notes: Mapped[list[ReferralNote]] = relationship(
        back_populates="referral", cascade="all, delete-orphan", order_by="ReferralNote.id")
    # The taxonomy entry ``service`` names (by code, not by key: codes are what HSDS shares).
    service_category: Mapped[ServiceCategory | None] = relationship(
        primaryjoin="foreign(Referral.service) == ServiceCategory.code", viewonly=True,
        lazy="selectin")

    __mapper_args__ = {"version_id_col": version}

    @property
    def service_name(self) -> str:
        """What people read: the service's name, never its code."""
        return self.service_category.label if self.service_category else self.service

    @property
    def consent(self) -> Consent | None:
        """The consent record in force for the current receiver (the newest one)."""
        return self.consents[-1] if self.consents else None

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        return (self.status == ReferralStatus.SENT and self.response_due_at is not None
                and self.response_due_at < (now or utcnow()))


class PlacementRequest(Base):
    """One de-identified request for a scarce service sent to several partners at once; the
    first referral accepted fills it."""

    __tablename__ = "placement_requests"

    id: Mapped[int_pk]
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    sender_org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    # The accepted referral's id; a plain column, as referrals already point here (no FK cycle).
    filled_referral_id: Mapped[int | None]
    filled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    referrals: Mapped[list[Referral]] = relationship(
        back_populates="placement", foreign_keys="Referral.placement_id", order_by="Referral.id")


class Consent(Base):
    __tablename__ = "referral_consents"

    id: Mapped[int_pk]
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    receiver_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id",
                                                            ondelete="CASCADE"))
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    # purpose, verbal_reason and legal_basis hold ciphertexts (CONSENT_TEXTS; "" when empty
    # or purged).
    purpose: Mapped[str] = mapped_column(Text)
    method: Mapped[ConsentMethod] = mapped_column(str_enum(ConsentMethod))
    verbal_reason: Mapped[str] = mapped_column(Text, default="")
    expires_on: Mapped[dt.date] = mapped_column(Date)
    minor_basis: Mapped[MinorBasis | None] = mapped_column(str_enum(MinorBasis))
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[created_at]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    referral: Mapped[Referral] = relationship(back_populates="consents")
    receiver: Mapped[Organization] = relationship()
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    def in_force(self, now: dt.datetime | None = None) -> bool:
        """Not revoked, and not past the end of its last day in the zone of the organization
        that recorded it (a consent ending "on the 5th" in Houston lasts until midnight there,
        not until 6 p.m.)."""
        return self.revoked_at is None and self.expires_on >= self.local_date(now)

    def local_date(self, now: dt.datetime | None = None) -> dt.date:
        """The date ``now`` (default: the present) in the recording organization's zone."""
        return self.referral.sender.local_date(now)


class ReferralEvent(Base):
    """One line of a referral's timeline: a transition, the first viewing, a revocation..."""

    __tablename__ = "referral_events"

    id: Mapped[int_pk]
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    # Encrypted: a decline or completion note can say something about the client.
    note: Mapped[str | None] = mapped_column(Text)

    referral: Mapped[Referral] = relationship(back_populates="events")


class ReferralNote(Base):
    """The secure thread between the two organizations."""

    __tablename__ = "referral_notes"

    id: Mapped[int_pk]
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    body: Mapped[str | None] = mapped_column(Text)  # encrypted; None once purged

    referral: Mapped[Referral] = relationship(back_populates="notes")
    author: Mapped[User | None] = relationship()
    author_org: Mapped[Organization | None] = relationship()


class Notification(Base):
    """An in-app notice; it names the referral and what happened, never client details."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int_pk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[created_at]
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    referral: Mapped[Referral | None] = relationship()
