"""Organization listings: who a partner is, where it works, what it offers, to whom."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
import zoneinfo
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    event,
    false,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.db import Base, UTCDateTime, created_at, int_pk, updated_at, utcnow
from directory.geo.public import public_point
from directory.types import str_enum

DEFAULT_TIMEZONE = "America/New_York"
UNIT_X = "cos(radians({0})) * cos(radians({1}))"
UNIT_Y = "cos(radians({0})) * sin(radians({1}))"
UNIT_Z = "sin(radians({0}))"


def true_point_of(location: Any) -> tuple[float, float]:
    """The true point of a location, or of a row with its columns: ``true_latitude``/
    ``true_longitude`` where set (a confidential one), else ``latitude``/``longitude``."""
    if location.true_latitude is not None and location.true_longitude is not None:
        return location.true_latitude, location.true_longitude
    return location.latitude, location.longitude


def new_hsds_id() -> str:
    return str(uuid.uuid4())


class OrganizationKind(enum.StrEnum):
    LAW_ENFORCEMENT = "law_enforcement"
    NONPROFIT = "nonprofit"
    FAITH_BASED = "faith_based"
    GOVERNMENT = "government"
    HEALTHCARE = "healthcare"
    LEGAL = "legal"
    TRIBAL = "tribal"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The kind's name in the reader's language."""
        return str(TRANSLATED_KIND_LABELS[self])


# English: the names data files, spreadsheets and the HSDS export use (and import by). Pages
# show the TRANSLATED_ labels below, in the reader's language; a test keeps the two equal in
# English.
KIND_LABELS = {
    OrganizationKind.LAW_ENFORCEMENT: "Law enforcement",
    OrganizationKind.NONPROFIT: "Nonprofit",
    OrganizationKind.FAITH_BASED: "Faith-based",
    OrganizationKind.GOVERNMENT: "Government",
    OrganizationKind.HEALTHCARE: "Healthcare",
    OrganizationKind.LEGAL: "Legal",
    OrganizationKind.TRIBAL: "Tribal",
    OrganizationKind.OTHER: "Other",
}
TRANSLATED_KIND_LABELS = {
    OrganizationKind.LAW_ENFORCEMENT: _l("Law enforcement"),
    OrganizationKind.NONPROFIT: _l("Nonprofit"),
    OrganizationKind.FAITH_BASED: _l("Faith-based"),
    OrganizationKind.GOVERNMENT: _l("Government"),
    OrganizationKind.HEALTHCARE: _l("Healthcare"),
    OrganizationKind.LEGAL: _l("Legal"),
    OrganizationKind.TRIBAL: _l("Tribal"),
    OrganizationKind.OTHER: _l("Other"),
}


class MembershipStatus(enum.StrEnum):
    """Where an organization stands in the network; only active ones are listed and refer."""

    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return str({MembershipStatus.PENDING: _l("Membership pending"),
                    MembershipStatus.ACTIVE: _l("Active member"),
                    MembershipStatus.SUSPENDED: _l("Membership suspended"),
                    MembershipStatus.DECLINED: _l("Membership declined")}[self])


class Population(enum.StrEnum):
    CHILDREN = "children"
    ADOLESCENTS = "adolescents"
    YOUNG_ADULTS = "young_adults"
    ADULTS = "adults"
    WOMEN = "women"
    MEN = "men"
    LGBTQ = "lgbtq"
    FAMILIES = "families"
    FOREIGN_NATIONALS = "foreign_nationals"
    SEX_TRAFFICKING = "sex_trafficking"
    LABOR_TRAFFICKING = "labor_trafficking"
    DISABILITIES = "disabilities"
    NATIVE_AMERICAN = "native_american"

    @property
    def label(self) -> str:
        """The population's name in the reader's language."""
        return str(TRANSLATED_POPULATION_LABELS[self])


POPULATION_LABELS = {
    Population.CHILDREN: "Children (under 12)",
    Population.ADOLESCENTS: "Adolescents (12-17)",
    Population.YOUNG_ADULTS: "Young adults (18-24)",
    Population.ADULTS: "Adults",
    Population.WOMEN: "Women",
    Population.MEN: "Men",
    Population.LGBTQ: "LGBTQ+ people",
    Population.FAMILIES: "Families",
    Population.FOREIGN_NATIONALS: "Foreign nationals",
    Population.SEX_TRAFFICKING: "Survivors of sex trafficking",
    Population.LABOR_TRAFFICKING: "Survivors of labor trafficking",
    Population.DISABILITIES: "People with disabilities",
    Population.NATIVE_AMERICAN: "American Indian and Alaska Native people",
}
TRANSLATED_POPULATION_LABELS = {
    Population.CHILDREN: _l("Children (under 12)"),
    Population.ADOLESCENTS: _l("Adolescents (12-17)"),
    Population.YOUNG_ADULTS: _l("Young adults (18-24)"),
    Population.ADULTS: _l("Adults"),
    Population.WOMEN: _l("Women"),
    Population.MEN: _l("Men"),
    Population.LGBTQ: _l("LGBTQ+ people"),
    Population.FAMILIES: _l("Families"),
    Population.FOREIGN_NATIONALS: _l("Foreign nationals"),
    Population.SEX_TRAFFICKING: _l("Survivors of sex trafficking"),
    Population.LABOR_TRAFFICKING: _l("Survivors of labor trafficking"),
    Population.DISABILITIES: _l("People with disabilities"),
    Population.NATIVE_AMERICAN: _l("American Indian and Alaska Native people"),
}

LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "vi": "Vietnamese",
    "zh": "Chinese",
    "ar": "Arabic",
    "fr": "French",
    "ht": "Haitian Creole",
    "ko": "Korean",
    "ru": "Russian",
    "tl": "Tagalog",
    "pt": "Portuguese",
    "so": "Somali",
    "am": "Amharic",
    "hmn": "Hmong",
    "ase": "American Sign Language",
}
TRANSLATED_LANGUAGES = {
    "en": _l("English"),
    "es": _l("Spanish"),
    "vi": _l("Vietnamese"),
    "zh": _l("Chinese"),
    "ar": _l("Arabic"),
    "fr": _l("French"),
    "ht": _l("Haitian Creole"),
    "ko": _l("Korean"),
    "ru": _l("Russian"),
    "tl": _l("Tagalog"),
    "pt": _l("Portuguese"),
    "so": _l("Somali"),
    "am": _l("Amharic"),
    "hmn": _l("Hmong"),
    "ase": _l("American Sign Language"),
}


# The listing's fields as the change history, the "Saved: ..." message and the audit log
# name them.
FIELD_LABELS = {
    "name": _l("name"), "kind": _l("kind"), "description": _l("description"),
    "website": _l("website"), "email": _l("email"), "phone": _l("phone"),
    "accepting_referrals": _l("accepting referrals"), "min_age": _l("youngest age served"),
    "max_age": _l("oldest age served"), "eligibility_note": _l("eligibility"),
    "capacity_note": _l("capacity"), "languages": _l("languages"),
    "populations": _l("populations served"), "services": _l("services"),
    "contacts": _l("contacts"), "locations": _l("locations"),
    "coverage_areas": _l("coverage areas"),
}

def language_label(code: str) -> str:
    """A language's name in the reader's language (an unknown code as itself)."""
    label = TRANSLATED_LANGUAGES.get(code)
    return str(label) if label is not None else code


# The shipped taxonomy's names (seed/taxonomy.csv), by term code, in the reader's language. A
# category not shipped (added by an import) shows its own name. A test keeps this table and the
# seed file's English names equal.
SHIPPED_CATEGORY_LABELS = {
    "shelter": _l("Shelter and housing"),
    "shelter.emergency": _l("Emergency shelter"),
    "shelter.youth": _l("Youth shelter"),
    "shelter.safe_house": _l("Safe house"),
    "shelter.transitional": _l("Transitional housing"),
    "case_management": _l("Case management"),
    "victim_advocacy": _l("Victim advocacy"),
    "hotline": _l("Hotline"),
    "legal": _l("Legal services"),
    "legal.immigration": _l("Immigration legal services"),
    "legal.criminal_record": _l("Criminal record relief"),
    "legal.civil": _l("Civil legal aid"),
    "legal.victim_rights": _l("Crime victim rights"),
    "medical": _l("Medical care"),
    "medical.forensic_exam": _l("Forensic medical exam"),
    "medical.primary": _l("Primary care"),
    "medical.dental": _l("Dental care"),
    "mental_health": _l("Mental health"),
    "mental_health.counseling": _l("Trauma-informed counseling"),
    "mental_health.crisis": _l("Crisis intervention"),
    "mental_health.substance_use": _l("Substance use treatment"),
    "forensic_interview": _l("Forensic interview"),
    "investigation": _l("Investigation"),
    "child_welfare": _l("Child protective services"),
    "interpretation": _l("Interpretation and translation"),
    "job_training": _l("Job training and employment"),
    "education": _l("Education"),
    "basic_needs": _l("Basic needs"),
    "transportation": _l("Transportation"),
    "mentoring": _l("Survivor mentoring"),
    "prevention": _l("Prevention and outreach"),
}


def category_label(code: str, name: str) -> str:
    """A service category's name in the reader's language: the shipped taxonomy's translation
    for its code, else its own ``name``."""
    label = SHIPPED_CATEGORY_LABELS.get(code)
    return str(label) if label is not None else name


class ServiceCategory(Base):
    """A node of the services taxonomy (seeded from seed/taxonomy.csv)."""

    __tablename__ = "service_categories"

    id: Mapped[int_pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("service_categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")

    parent: Mapped[ServiceCategory | None] = relationship(
        remote_side="ServiceCategory.id", back_populates="children"
    )
    children: Mapped[list[ServiceCategory]] = relationship(
        back_populates="parent", order_by="ServiceCategory.code"
    )

    @property
    def label(self) -> str:
        return category_label(self.code, self.name)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int_pk]
    hsds_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_hsds_id)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[OrganizationKind] = mapped_column(str_enum(OrganizationKind))
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    accepting_referrals: Mapped[bool] = mapped_column(Boolean, default=True)
    # No index on kind or status: nearly every row shares a few values, and an index would
    # tempt SQLite's planner away from the spatial index.
    status: Mapped[MembershipStatus] = mapped_column(
        str_enum(MembershipStatus), default=MembershipStatus.PENDING
    )
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    capacity_note: Mapped[str] = mapped_column(String(200), default="", server_default="")
    capacity_noted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    eligibility_note: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    # When it first became an active member ("new partners" of a period); set by
    # _record_first_activation below, kept through a suspension and reinstatement.
    joined_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    languages: Mapped[list[OrganizationLanguage]] = relationship(
        cascade="all, delete-orphan", order_by="OrganizationLanguage.code"
    )
    populations: Mapped[list[OrganizationPopulation]] = relationship(
        cascade="all, delete-orphan", order_by="OrganizationPopulation.population"
    )
    services: Mapped[list[Service]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="Service.id"
    )
    locations: Mapped[list[Location]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="Location.id"
    )
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="Contact.id"
    )
    coverage_areas: Mapped[list[CoverageArea]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="CoverageArea.id"
    )
    review: Mapped[ListingReview | None] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def confirmed_at(self) -> dt.datetime | None:
        return self.review.confirmed_at if self.review else None

    @hybrid_property
    def is_active(self) -> bool:
        """An active member: the one definition every report and listing counts by."""
        return self.status == MembershipStatus.ACTIVE

    def local_date(self, now: dt.datetime | None = None) -> dt.date:
        """The date ``now`` (default: the present) in the organization's own zone."""
        return (now or utcnow()).astimezone(self.time_zone).date()

    @property
    def time_zone(self) -> zoneinfo.ZoneInfo:
        """The organization's own zone: its first location's (the Eastern zone without one)."""
        name = self.locations[0].timezone if self.locations else DEFAULT_TIMEZONE
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)

    @property
    def language_codes(self) -> list[str]:
        return [language.code for language in self.languages]

    @property
    def population_codes(self) -> list[Population]:
        return [item.population for item in self.populations]


@event.listens_for(Organization.status, "set")
def _record_first_activation(organization: Organization, status: MembershipStatus,
                             _old: Any, _initiator: Any) -> None:
    if status == MembershipStatus.ACTIVE and organization.joined_at is None:
        organization.joined_at = utcnow()


class PartnershipAgreement(Base):
    """Whether the network holds a signed partnership agreement (MOU) with the organization.

    A coordinator's record, kept apart from the listing: changing it is no change of the
    listing (its ``updated_at``, the HSDS ``last_modified``), and the row is loaded only where
    it is shown. The flag and the date are for coordinators and the organization's own admins
    (Permission.VIEW_PARTNERSHIP_AGREEMENT); the note is for coordinators alone.
    """

    __tablename__ = "partnership_agreements"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    on_file: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[updated_at]
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))


class ListingReview(Base):
    """The organization's own word that its listing is current (apart from the network's
    verification), and the reminders the sweep sent since (see orgs/freshness.py)."""

    __tablename__ = "listing_reviews"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reminders: Mapped[int] = mapped_column(Integer, default=0)


class OrganizationLanguage(Base):
    __tablename__ = "organization_languages"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(8), primary_key=True, index=True)

    @property
    def label(self) -> str:
        return language_label(self.code)


class OrganizationPopulation(Base):
    __tablename__ = "organization_populations"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    population: Mapped[Population] = mapped_column(
        str_enum(Population), primary_key=True, index=True
    )


class Service(Base):
    """A service an organization offers, classified by one taxonomy category."""

    __tablename__ = "services"
    __table_args__ = (
        Index("ix_services_category_org", "category_id", "organization_id", unique=True),
        Index("ix_services_listed", "listed", "id"),
    )

    id: Mapped[int_pk]
    hsds_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_hsds_id)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[int] = mapped_column(ForeignKey("service_categories.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    # Whether the organization is active (listed): kept by database triggers (migration
    # 0010), never written here; the HSDS API's lists read it from their index.
    listed: Mapped[bool] = mapped_column(Boolean, server_default=false())

    organization: Mapped[Organization] = relationship(back_populates="services")
    category: Mapped[ServiceCategory] = relationship(lazy="joined")


class Location(Base):
    """A physical site. A confidential one (a shelter, a safe house) never shows its address
    or exact point outside its own organization.

    ``latitude``/``longitude`` are the point the directory searches, measures and publishes
    with: for a confidential location that is its *public point*, its city's centre (see
    directory.geo.public), and its true point is kept in ``true_latitude``/``true_longitude``
    for its own members. Set the point with ``place``, never the columns one by one.
    """

    __tablename__ = "locations"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        # Partners by state: count distinct organizations per state from the index alone.
        Index("ix_locations_confidential_state_org", "confidential", "state", "organization_id"),
    )

    id: Mapped[int_pk]
    hsds_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_hsds_id)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(2), index=True)
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    county: Mapped[str] = mapped_column(String(120), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    # The point as a unit vector: the dot product of two such vectors is the cosine of their
    # angular distance, so "within r miles" and "nearest" need no trigonometry per row.
    unit_x: Mapped[float | None] = mapped_column(
        Float, Computed(UNIT_X.format("latitude", "longitude"), persisted=True)
    )
    unit_y: Mapped[float | None] = mapped_column(
        Float, Computed(UNIT_Y.format("latitude", "longitude"), persisted=True)
    )
    unit_z: Mapped[float | None] = mapped_column(
        Float, Computed(UNIT_Z.format("latitude"), persisted=True)
    )
    # Set only for a confidential location: NULL means latitude/longitude are the true point.
    true_latitude: Mapped[float | None] = mapped_column(Float)
    true_longitude: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    open_24_7: Mapped[bool] = mapped_column(Boolean, default=False)

    organization: Mapped[Organization] = relationship(back_populates="locations")
    hours: Mapped[list[OpeningHours]] = relationship(
        cascade="all, delete-orphan", order_by="(OpeningHours.weekday, OpeningHours.opens)"
    )
    closures: Mapped[list[Closure]] = relationship(
        cascade="all, delete-orphan", order_by="Closure.starts_on"
    )

    @property
    def true_point(self) -> tuple[float, float]:
        """Where the location really is: for its own organization's eyes only."""
        return true_point_of(self)

    def place(self, lat: float, lon: float, confidential: bool | None = None) -> None:
        """Put the location at its true point ``lat``, ``lon`` (and change whether it is
        confidential, when given). A confidential location is published at the public point
        of its city and state, which must be set first."""
        if confidential is not None:
            self.confidential = confidential
        if self.confidential:
            self.true_latitude, self.true_longitude = lat, lon
            self.latitude, self.longitude = public_point(self.city, self.state, lat, lon)
        else:
            self.true_latitude = self.true_longitude = None
            self.latitude, self.longitude = lat, lon


class OpeningHours(Base):
    """One opening interval on one weekday (0 = Monday), in the location's time zone."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
    )

    id: Mapped[int_pk]
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]
    opens: Mapped[dt.time] = mapped_column(Time)
    closes: Mapped[dt.time] = mapped_column(Time)


class Closure(Base):
    """Dates a location is closed (a holiday), ``starts_on`` to ``ends_on`` inclusive, in
    the location's own time zone."""

    __tablename__ = "location_closures"
    __table_args__ = (CheckConstraint("starts_on <= ends_on", name="starts_before_ends"),)

    id: Mapped[int_pk]
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int_pk]
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))

    organization: Mapped[Organization] = relationship(back_populates="contacts")


class CoverageKind(enum.StrEnum):
    """How a coverage area is described; each kind has its own exact containment test."""

    RADIUS = "radius"
    STATE = "state"
    COUNTY = "county"
    ZIP = "zip"
    POLYGON = "polygon"

    @property
    def label(self) -> str:
        return str({CoverageKind.RADIUS: _l("Radius"), CoverageKind.STATE: _l("State"),
                    CoverageKind.COUNTY: _l("County"), CoverageKind.ZIP: _l("ZIP code"),
                    CoverageKind.POLYGON: _l("Drawn area")}[self])


coverage_area_services = Table(
    "coverage_area_services",
    Base.metadata,
    Column("coverage_area_id", ForeignKey("coverage_areas.id", ondelete="CASCADE"),
           primary_key=True),
    Column("category_id", ForeignKey("service_categories.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)


class CoverageArea(Base):
    """Where an organization serves clients. Its bounding box feeds the spatial index; the
    exact test (distance, polygon, or the point's state/county/ZIP) is applied after."""

    __tablename__ = "coverage_areas"
    __table_args__ = (
        # Partial, so that no index on `kind` lures the planner away from the spatial index.
        Index("ix_coverage_areas_state", "state", sqlite_where=text("kind = 'state'"),
              postgresql_where=text("kind = 'state'")),
        CheckConstraint("min_lat <= max_lat AND min_lon <= max_lon", name="bbox_ordered"),
        CheckConstraint("radius_mi IS NULL OR radius_mi > 0", name="radius_positive"),
    )

    id: Mapped[int_pk]
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[CoverageKind] = mapped_column(str_enum(CoverageKind, length=16))
    label: Mapped[str] = mapped_column(String(200))
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL"), index=True
    )
    center_lat: Mapped[float | None] = mapped_column(Float)
    center_lon: Mapped[float | None] = mapped_column(Float)
    radius_mi: Mapped[float | None] = mapped_column(Float)
    unit_x: Mapped[float | None] = mapped_column(
        Float, Computed(UNIT_X.format("center_lat", "center_lon"), persisted=True)
    )
    unit_y: Mapped[float | None] = mapped_column(
        Float, Computed(UNIT_Y.format("center_lat", "center_lon"), persisted=True)
    )
    unit_z: Mapped[float | None] = mapped_column(
        Float, Computed(UNIT_Z.format("center_lat"), persisted=True)
    )
    cos_radius: Mapped[float | None] = mapped_column(
        Float, Computed("cos(radius_mi / 3958.7613)", persisted=True)
    )
    state: Mapped[str | None] = mapped_column(String(2))
    county_fips: Mapped[str | None] = mapped_column(String(5), index=True)
    postal_code: Mapped[str | None] = mapped_column(String(5), index=True)
    geojson: Mapped[str | None] = mapped_column(Text)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    created_at: Mapped[created_at]

    organization: Mapped[Organization] = relationship(back_populates="coverage_areas")
    location: Mapped[Location | None] = relationship()
    services: Mapped[list[ServiceCategory]] = relationship(
        secondary=coverage_area_services, order_by="ServiceCategory.code"
    )


# Registers the flush hook that keeps Organization.updated_at the listing's change time.
from directory.orgs import changes as _changes  # noqa: E402, F401
