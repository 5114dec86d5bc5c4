"""Consent free text and the hand-off plan are client data: encrypted, and purged with it

``referral_consents.purpose``, ``verbal_reason`` and ``legal_basis`` become Fernet ciphertexts
under DIRECTORY_DATA_KEY (emptied where the referral's client data was already purged), and
``referrals.contact_person``/``handoff_time`` move into the encrypted ``client_data``. Existing
rows need the data key: run the upgrade through ``directory init`` (or any command that
upgrades) with DIRECTORY_DATA_KEY set.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import json
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import MultiFernet

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSENT_TEXTS = ("purpose", "verbal_reason", "legal_basis")
HANDOFF_ITEMS = ("contact_person", "handoff_time")


def _fernet() -> MultiFernet:
    from flask import current_app, has_app_context

    from directory.datakey import fernet_of

    if not has_app_context() or not current_app.config.get("DATA_KEY"):
        raise RuntimeError("Migration 0007 encrypts stored consent records: run it through "
                           "`directory init` with DIRECTORY_DATA_KEY set.")
    return fernet_of(current_app.config["DATA_KEY"])


def _has_rows(bind: sa.engine.Connection, table: str) -> bool:
    return bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None


def _drop_column(table: str, column: str) -> None:
    # Plain ALTER TABLE on SQLite (3.35+): a batch copy would drop the tables' triggers.
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def _recode_consents(bind: sa.engine.Connection, code: Callable[[str], str]) -> None:
    rows = bind.execute(sa.text(
        "SELECT c.id, c.purpose, c.verbal_reason, c.legal_basis, r.purged_at "
        "FROM referral_consents c JOIN referrals r ON r.id = c.referral_id")).all()
    for row in rows:
        values = {name: "" if row.purged_at is not None or not value else code(value)
                  for name, value in zip(CONSENT_TEXTS, row[1:4], strict=True)}
        bind.execute(sa.text(
            "UPDATE referral_consents SET purpose = :purpose, verbal_reason = :verbal_reason, "
            "legal_basis = :legal_basis WHERE id = :id"), {**values, "id": row.id})


def upgrade() -> None:
    bind = op.get_bind()
    if _has_rows(bind, "referrals"):
        fernet = _fernet()
        rows = bind.execute(sa.text(
            "SELECT id, client_data, contact_person, handoff_time FROM referrals "
            "WHERE client_data IS NOT NULL")).all()
        for row in rows:
            details = json.loads(fernet.decrypt(row.client_data.encode()))
            details.update(contact_person=row.contact_person, handoff_time=row.handoff_time)
            token = fernet.encrypt(json.dumps(details, sort_keys=True).encode()).decode()
            bind.execute(sa.text("UPDATE referrals SET client_data = :data WHERE id = :id"),
                         {"data": token, "id": row.id})
        _recode_consents(bind, lambda value: fernet.encrypt(value.encode()).decode())
    for column in HANDOFF_ITEMS:
        _drop_column("referrals", column)


def downgrade() -> None:
    for column in HANDOFF_ITEMS:
        op.add_column("referrals", sa.Column(column, sa.String(length=200), nullable=False,
                                             server_default=""))
    bind = op.get_bind()
    if not _has_rows(bind, "referrals"):
        return
    fernet = _fernet()
    for row in bind.execute(sa.text(
            "SELECT id, client_data FROM referrals WHERE client_data IS NOT NULL")).all():
        details = json.loads(fernet.decrypt(row.client_data.encode()))
        plan = {name: str(details.pop(name, ""))[:200] for name in HANDOFF_ITEMS}
        token = fernet.encrypt(json.dumps(details, sort_keys=True).encode()).decode()
        bind.execute(sa.text(
            "UPDATE referrals SET client_data = :data, contact_person = :contact_person, "
            "handoff_time = :handoff_time WHERE id = :id"), {**plan, "data": token, "id": row.id})
    _recode_consents(bind, lambda value: fernet.decrypt(value.encode()).decode())
