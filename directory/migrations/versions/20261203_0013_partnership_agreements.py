"""Partners: the partnership agreement (MOU) a coordinator keeps on an organization, and when
an organization first became an active member

``partnership_agreements`` holds one row per organization with an agreement on record (on
file or not, its date, a coordinators' note); ``organizations.joined_at`` dates the first
activation, for the "new partners in the period" figure. Organizations that are members
already are dated by their approved application, else by their creation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from directory.db import UTCDateTime

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE on SQLite: a batch copy of organizations would, with foreign keys
    # on, delete every row that cascades from it.
    op.add_column("organizations", sa.Column("joined_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE organizations SET joined_at = COALESCE("
        "(SELECT MIN(a.decided_at) FROM membership_applications a"
        " WHERE a.organization_id = organizations.id AND a.status = 'approved'),"
        " created_at) WHERE status IN ('active', 'suspended')")
    op.create_table(
        "partnership_agreements",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("on_file", sa.Boolean(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_partnership_agreements_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"],
                                name=op.f("fk_partnership_agreements_updated_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_partnership_agreements")),
    )


def downgrade() -> None:
    op.drop_table("partnership_agreements")
    op.execute("ALTER TABLE organizations DROP COLUMN joined_at")
