"""Reports at scale: the organizations' kinds on each referral, and a covering index

The dashboard reads a range of referrals by ``sent_at`` and aggregates a few plain columns.
With only ``ix_referrals_sent_at`` every referral in the range was a lookup in the table
(random: referrals are sent in no order of id), and the planner could take the status index
instead and read most of the table. ``ix_referrals_report`` holds every column the reports
read, led by ``sent_at``, so that a range is one ordered read of the index; it replaces
``ix_referrals_sent_at``.

Figures by kind of organization joined every referral to its organizations (a lookup per
referral, the slowest part of those queries on SQLite). The sender's and receiver's kinds are
copied onto the referral instead, by triggers, so that no code path (the operations, a bulk
insert, an import, a change of an organization's kind) can leave a stale copy.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_COLUMNS = ["sent_at", "status", "receiver_org_id", "sender_org_id", "receiver_kind",
                  "sender_kind", "service", "urgency", "responded_at", "viewed_at",
                  "response_due_at", "decline_reason", "outcome"]

BACKFILL = """UPDATE referrals SET
    sender_kind = (SELECT kind FROM organizations WHERE id = referrals.sender_org_id),
    receiver_kind = (SELECT kind FROM organizations WHERE id = referrals.receiver_org_id)"""

_SQLITE_SET_KINDS = """UPDATE referrals SET
           sender_kind = (SELECT kind FROM organizations WHERE id = NEW.sender_org_id),
           receiver_kind = (SELECT kind FROM organizations WHERE id = NEW.receiver_org_id)
         WHERE id = NEW.id;"""
_KIND_TO_REFERRALS = """UPDATE referrals SET sender_kind = NEW.kind WHERE sender_org_id = NEW.id;
         UPDATE referrals SET receiver_kind = NEW.kind WHERE receiver_org_id = NEW.id;"""
SQLITE_UP = [
    f"""CREATE TRIGGER referrals_kinds_insert AFTER INSERT ON referrals BEGIN
         {_SQLITE_SET_KINDS}
       END""",
    f"""CREATE TRIGGER referrals_kinds_update AFTER UPDATE OF sender_org_id, receiver_org_id
       ON referrals BEGIN
         {_SQLITE_SET_KINDS}
       END""",
    f"""CREATE TRIGGER organizations_kind_referrals AFTER UPDATE OF kind ON organizations
       WHEN OLD.kind IS NOT NEW.kind BEGIN
         {_KIND_TO_REFERRALS}
       END""",
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS {name}" for name in (
    "organizations_kind_referrals", "referrals_kinds_update", "referrals_kinds_insert")]

POSTGRESQL_UP = [
    """CREATE FUNCTION referrals_set_kinds() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         NEW.sender_kind := (SELECT kind FROM organizations WHERE id = NEW.sender_org_id);
         NEW.receiver_kind := (SELECT kind FROM organizations WHERE id = NEW.receiver_org_id);
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER referrals_kinds BEFORE INSERT OR UPDATE OF sender_org_id, receiver_org_id
       ON referrals FOR EACH ROW EXECUTE FUNCTION referrals_set_kinds()""",
    f"""CREATE FUNCTION organizations_kind_to_referrals() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         {_KIND_TO_REFERRALS}
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER organizations_kind_referrals AFTER UPDATE OF kind ON organizations
       FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind)
       EXECUTE FUNCTION organizations_kind_to_referrals()""",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS organizations_kind_referrals ON organizations",
    "DROP FUNCTION IF EXISTS organizations_kind_to_referrals()",
    "DROP TRIGGER IF EXISTS referrals_kinds ON referrals",
    "DROP FUNCTION IF EXISTS referrals_set_kinds()",
]


def upgrade() -> None:
    op.add_column("referrals", sa.Column("sender_kind", sa.String(32), nullable=True))
    op.add_column("referrals", sa.Column("receiver_kind", sa.String(32), nullable=True))
    op.execute(BACKFILL)
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_UP if postgresql else SQLITE_UP:
        op.execute(statement)
    op.create_index("ix_referrals_report", "referrals", REPORT_COLUMNS)
    op.drop_index("ix_referrals_sent_at", table_name="referrals")


def downgrade() -> None:
    op.create_index("ix_referrals_sent_at", "referrals", ["sent_at"])
    op.drop_index("ix_referrals_report", table_name="referrals")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DOWN if postgresql else SQLITE_DOWN:
        op.execute(statement)
    op.drop_column("referrals", "receiver_kind")
    op.drop_column("referrals", "sender_kind")
