"""Reports at a year's scale: each referral's waits stored as whole microseconds

The report queries computed the time from sending to the first view, to the answer and to the
acceptance from the two timestamps on every row they read: on SQLite from their ISO text
(julianday, about 2 µs a row: most of a year's timing query). ``viewed_after_us``,
``answered_after_us`` and ``accepted_after_us`` (the answer's wait when it was no decline)
hold them as integers, kept by triggers like the organizations' kinds (migration 0014), so
that no code path that writes a timestamp (the operations, a bulk insert, an import) can leave
a stale copy; this migration fills them in for the existing referrals.

The indexes that held the timestamps for the reports hold the waits instead (integers: smaller
than ISO text), and the receiving side's index covers its counts and times. On SQLite, which
groups through a sort of the range unless an index hands it the rows in group order, one
index per dimension of the dashboard's breakdowns (receiving kind, service, urgency) and one
of the grant report's four coded fields, led by them and then by ``sent_at``: SQLite reads
each group's part of the range in turn (a skip-scan), already grouped. PostgreSQL hashes its
groups instead and gets none of these.

Microseconds, not seconds: the reports' percentiles and the 48-hour match must stay exactly
what Python computes from the timestamps (``timedelta.total_seconds() / 3600``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("viewed_after_us", "answered_after_us", "accepted_after_us")
SOURCES = ("sent_at", "viewed_at", "responded_at", "decline_reason")


def _sqlite_us(later: str, earlier: str) -> str:
    """``later - earlier`` in microseconds from SQLite's stored text (always with six digits
    of microseconds): the whole seconds of the first 19 characters (julianday's rounding
    error rounded away) and the microseconds apart, exact."""
    seconds = f"round((julianday(substr({later}, 1, 19)) - julianday(substr({earlier}, 1, 19))) * 86400)"
    return (f"CAST({seconds} AS INTEGER) * 1000000 + CAST(substr({later}, 21, 6) AS INTEGER)"
            f" - CAST(substr({earlier}, 21, 6) AS INTEGER)")


def _postgresql_us(later: str, earlier: str) -> str:
    # EXTRACT gives an exact numeric number of seconds (PostgreSQL 14 and later).
    return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000000 AS BIGINT)"


def _waits(us: object, row: str) -> dict[str, str]:
    """Each column's expression over the row ``row`` (NULL when either timestamp is)."""
    answered = us(f"{row}.responded_at", f"{row}.sent_at")  # type: ignore[operator]
    return {"viewed_after_us": us(f"{row}.viewed_at", f"{row}.sent_at"),  # type: ignore[operator]
            "answered_after_us": answered,
            "accepted_after_us": f"CASE WHEN {row}.decline_reason IS NULL THEN {answered} END"}


def _sqlite_set(row: str) -> str:
    return ", ".join(f"{column} = {value}" for column, value in _waits(_sqlite_us, row).items())


SQLITE_UP = [
    # A new row's waits are NULL already unless it was written with an end (a bulk load).
    f"""CREATE TRIGGER referrals_waits_insert AFTER INSERT ON referrals
       WHEN NEW.sent_at IS NOT NULL
         AND (NEW.viewed_at IS NOT NULL OR NEW.responded_at IS NOT NULL) BEGIN
         UPDATE referrals SET {_sqlite_set("NEW")} WHERE id = NEW.id;
       END""",
    f"""CREATE TRIGGER referrals_waits_update AFTER UPDATE OF {", ".join(SOURCES)}
       ON referrals BEGIN
         UPDATE referrals SET {_sqlite_set("NEW")} WHERE id = NEW.id;
       END""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS referrals_waits_update",
               "DROP TRIGGER IF EXISTS referrals_waits_insert"]

_PG_SET = "\n".join(f"NEW.{column} := {value};"
                    for column, value in _waits(_postgresql_us, "NEW").items())
POSTGRESQL_UP = [
    f"""CREATE FUNCTION referrals_set_waits() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         {_PG_SET}
         RETURN NEW;
       END $$""",
    f"""CREATE TRIGGER referrals_waits BEFORE INSERT OR UPDATE OF {", ".join(SOURCES)}
       ON referrals FOR EACH ROW EXECUTE FUNCTION referrals_set_waits()""",
]
POSTGRESQL_DOWN = ["DROP TRIGGER IF EXISTS referrals_waits ON referrals",
                   "DROP FUNCTION IF EXISTS referrals_set_waits()"]


WAITS = ["accepted_after_us", "response_due_at", "answered_after_us", "viewed_after_us"]
# name -> (columns, before 0019's columns or None when new)
INDEXES = {
    "ix_referrals_report": (
        ["sent_at", "status", "receiver_org_id", "sender_org_id", "receiver_kind", "sender_kind",
         "service", "urgency", "viewed_after_us", "answered_after_us", "accepted_after_us",
         "response_due_at", "decline_reason", "outcome"],
        ["sent_at", "status", "receiver_org_id", "sender_org_id", "receiver_kind", "sender_kind",
         "service", "urgency", "responded_at", "viewed_at", "response_due_at", "decline_reason",
         "outcome"]),
    "ix_referrals_grant": (
        ["sent_at", "age_range", "trafficking_type", "gender", "nationality",
         "accepted_after_us"],
        ["sent_at", "age_range", "trafficking_type", "gender", "nationality", "responded_at",
         "decline_reason"]),
}
RECEIVED = ["receiver_org_id", "sent_at", "status", "service", *WAITS]
# SQLite only: each led by a dimension the dashboard groups by.
GROUPED = {
    **{f"ix_referrals_by_{name}": [column, "sent_at", "status", *WAITS]
       for name, column in (("kind", "receiver_kind"), ("service", "service"),
                            ("urgency", "urgency"))},
    # The grant report's one pass groups by all four coded fields (grants._counted).
    "ix_referrals_by_grant_fields": ["trafficking_type", "age_range", "gender", "nationality",
                                     "sent_at", "accepted_after_us"],
}


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for column in COLUMNS:
        op.add_column("referrals", sa.Column(column, sa.BigInteger(), nullable=True))
    us = _postgresql_us if postgresql else _sqlite_us
    op.execute("UPDATE referrals SET " + ", ".join(
        f"{column} = {value}" for column, value in _waits(us, "referrals").items())
        + " WHERE sent_at IS NOT NULL AND (viewed_at IS NOT NULL OR responded_at IS NOT NULL)")
    for statement in POSTGRESQL_UP if postgresql else SQLITE_UP:
        op.execute(statement)
    for name, (columns, _before) in INDEXES.items():
        op.drop_index(name, table_name="referrals")
        op.create_index(name, "referrals", columns)
    op.drop_index("ix_referrals_receiver_org_id_sent_at", table_name="referrals")
    op.create_index("ix_referrals_received", "referrals", RECEIVED)
    if not postgresql:
        for name, columns in GROUPED.items():
            op.create_index(name, "referrals", columns)
        op.execute("ANALYZE referrals")  # the skip-scans need the new indexes' statistics


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if not postgresql:
        for name in GROUPED:
            op.drop_index(name, table_name="referrals")
    op.drop_index("ix_referrals_received", table_name="referrals")
    op.create_index("ix_referrals_receiver_org_id_sent_at", "referrals",
                    ["receiver_org_id", "sent_at"])
    for name, (_columns, before) in INDEXES.items():
        op.drop_index(name, table_name="referrals")
        op.create_index(name, "referrals", before)
    for statement in POSTGRESQL_DOWN if postgresql else SQLITE_DOWN:
        op.execute(statement)
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE referrals DROP COLUMN {column}")
