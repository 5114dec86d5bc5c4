"""Mailed links that change an account's email address

``account_tokens`` gains the purpose ``change_email`` and the column ``new_email``: the address
a change link moves the account to when it is followed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_account_tokens_tokenpurpose"
BEFORE = ("reset_password", "verify_email")
AFTER = (*BEFORE, "change_email")


def _purposes(values: tuple[str, ...]) -> str:
    return "purpose IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("new_email", sa.String(length=254), nullable=True))
        batch_op.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(CONSTRAINT), _purposes(AFTER))


def downgrade() -> None:
    op.execute("DELETE FROM account_tokens WHERE purpose = 'change_email'")
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(CONSTRAINT), _purposes(BEFORE))
        batch_op.drop_column("new_email")
