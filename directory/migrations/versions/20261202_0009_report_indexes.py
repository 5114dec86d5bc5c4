"""Indexes for the network reports: referrals by the time they were sent, overall and per side

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_referrals_sent_at": ["sent_at"],
    "ix_referrals_sender_org_id_sent_at": ["sender_org_id", "sent_at"],
    "ix_referrals_receiver_org_id_sent_at": ["receiver_org_id", "sent_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "referrals", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="referrals")
