"""Coded grant-reporting fields on referrals

``referrals`` gains ``trafficking_type``, ``gender``, ``nationality`` and ``population``: optional,
coded, non-identifying answers the sender records for the grant period reports (OVC TIMS,
HHS). Existing referrals have none (NULL: not recorded).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNANSWERED = ("not_asked", "declined")
CODED = {
    "trafficking_type": ("traffickingtype", ("sex", "labor", "both", "unknown", *UNANSWERED)),
    "gender": ("gender", ("female", "male", "transgender", "nonbinary", "other", *UNANSWERED)),
    "nationality": ("nationality", ("us", "foreign", *UNANSWERED)),
}


def upgrade() -> None:
    # Plain ALTER TABLE, no batch copy: on SQLite a copy of ``referrals`` would cascade the
    # deletion of its consents and events, and drop the tables' triggers. The CHECK goes with
    # the column, which both databases accept (and which Alembic skips on SQLite).
    for column, (name, values) in CODED.items():
        listed = ", ".join(f"'{value}'" for value in values)
        op.execute(f"ALTER TABLE referrals ADD COLUMN {column} VARCHAR(32) "
                   f"CONSTRAINT ck_referrals_{name} CHECK ({column} IN ({listed}))")
    op.add_column("referrals", sa.Column("population", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # A column's own CHECK goes with it on both databases.
    for column in ("population", *reversed(CODED)):
        op.execute(f"ALTER TABLE referrals DROP COLUMN {column}")
