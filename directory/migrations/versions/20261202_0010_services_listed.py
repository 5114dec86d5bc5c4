"""Services carry whether their organization is listed, for the HSDS API's lists

``services.listed`` is true when the service's organization is active. Triggers keep it so
on every path that writes (the ORM, bulk inserts, SQL by hand): on a new service, on a service
moved to another organization, and on a change of an organization's status. With the index
on (listed, id) a page of the HSDS API's /services, and its count, read one index range
instead of joining every service to its organization.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTED = "(SELECT status = 'active' FROM organizations WHERE id = {0}.organization_id)"
SQLITE_UP = [
    f"""CREATE TRIGGER services_listed_insert AFTER INSERT ON services BEGIN
         UPDATE services SET listed = {LISTED.format("NEW")} WHERE id = NEW.id;
       END""",
    f"""CREATE TRIGGER services_listed_move AFTER UPDATE OF organization_id ON services BEGIN
         UPDATE services SET listed = {LISTED.format("NEW")} WHERE id = NEW.id;
       END""",
    """CREATE TRIGGER services_listed_status AFTER UPDATE OF status ON organizations BEGIN
         UPDATE services SET listed = (NEW.status = 'active') WHERE organization_id = NEW.id;
       END""",
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS services_listed_{name}"
               for name in ("status", "move", "insert")]
POSTGRES_UP = [
    f"""CREATE FUNCTION services_listed_of_organization() RETURNS trigger AS $$
        BEGIN
          NEW.listed := COALESCE({LISTED.format("NEW")}, false);
          RETURN NEW;
        END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER services_listed_write BEFORE INSERT OR UPDATE OF organization_id
        ON services FOR EACH ROW EXECUTE FUNCTION services_listed_of_organization()""",
    """CREATE FUNCTION services_listed_of_status() RETURNS trigger AS $$
        BEGIN
          UPDATE services SET listed = (NEW.status = 'active') WHERE organization_id = NEW.id;
          RETURN NULL;
        END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER services_listed_status AFTER UPDATE OF status ON organizations
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION services_listed_of_status()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS services_listed_status ON organizations",
    "DROP FUNCTION IF EXISTS services_listed_of_status()",
    "DROP TRIGGER IF EXISTS services_listed_write ON services",
    "DROP FUNCTION IF EXISTS services_listed_of_organization()",
]


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("listed", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute(f"UPDATE services SET listed = COALESCE({LISTED.format('services')}, false)")
    op.create_index("ix_services_listed", "services", ["listed", "id"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_UP if sqlite else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_index("ix_services_listed", table_name="services")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("listed")
