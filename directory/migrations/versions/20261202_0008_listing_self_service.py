"""Listing self-service and freshness: the organization's own confirmation and the review
reminders (listing_reviews), a capacity note, an age range and an eligibility note, and dated
closures of a location

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from directory.db import UTCDateTime

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = ("capacity_note", "capacity_noted_at", "eligibility_note", "min_age", "max_age")


def upgrade() -> None:
    # Plain ALTER TABLE on SQLite: a batch copy of organizations would, with foreign keys
    # on, delete every row that cascades from it.
    op.add_column("organizations", sa.Column("capacity_note", sa.String(200), nullable=False,
                                             server_default=""))
    op.add_column("organizations", sa.Column("capacity_noted_at", UTCDateTime(), nullable=True))
    op.add_column("organizations", sa.Column("eligibility_note", sa.String(1000),
                                             nullable=False, server_default=""))
    op.add_column("organizations", sa.Column("min_age", sa.Integer(), nullable=True))
    op.add_column("organizations", sa.Column("max_age", sa.Integer(), nullable=True))
    op.create_table(
        "listing_reviews",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("reminded_at", UTCDateTime(), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_listing_reviews_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["confirmed_by_id"], ["users.id"],
                                name=op.f("fk_listing_reviews_confirmed_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_listing_reviews")),
    )
    op.create_table(
        "location_closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.CheckConstraint("starts_on <= ends_on",
                           name=op.f("ck_location_closures_starts_before_ends")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"],
                                name=op.f("fk_location_closures_location_id_locations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_closures")),
    )
    op.create_index(op.f("ix_location_closures_location_id"), "location_closures",
                    ["location_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_location_closures_location_id"), table_name="location_closures")
    op.drop_table("location_closures")
    op.drop_table("listing_reviews")
    for name in reversed(NEW_COLUMNS):
        op.execute(f"ALTER TABLE organizations DROP COLUMN {name}")
