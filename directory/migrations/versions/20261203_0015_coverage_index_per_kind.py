"""PostgreSQL: one GiST index of coverage boxes per kind (radius, polygon), as SQLite has

The single index of radius and polygon boxes made every look-up of the (few) polygons that
contain a point read every radius box around it too, and throw them away by their kind: some
3,500 rows for one polygon at 100,000 organizations, the largest part of a search's time.
SQLite already keeps one R*Tree per kind. Nothing changes there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("radius", "polygon")
# The expressions must match directory/geo/spatial.py (and migration 0002's).
BOX = "box(point(min_lon, min_lat), point(max_lon, max_lat))"
ENVELOPE = "ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326)"


def _has_index(name: str) -> bool:
    return bool(op.get_bind().execute(sa.text(
        "SELECT 1 FROM pg_indexes WHERE indexname = :name"), {"name": name}).scalar())


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    postgis = _has_index("ix_coverage_areas_envelope")
    for kind in KINDS:
        op.execute(f"CREATE INDEX ix_coverage_areas_{kind}_box ON coverage_areas "
                   f"USING gist ({BOX}) WHERE kind = '{kind}'")
        if postgis:
            op.execute(f"CREATE INDEX ix_coverage_areas_{kind}_envelope ON coverage_areas "
                       f"USING gist ({ENVELOPE}) WHERE kind = '{kind}'")
    op.execute("DROP INDEX IF EXISTS ix_coverage_areas_box")
    op.execute("DROP INDEX IF EXISTS ix_coverage_areas_envelope")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    postgis = _has_index("ix_coverage_areas_radius_envelope")
    indexed = "('radius', 'polygon')"
    op.execute(f"CREATE INDEX ix_coverage_areas_box ON coverage_areas USING gist ({BOX}) "
               f"WHERE kind IN {indexed}")
    if postgis:
        op.execute(f"CREATE INDEX ix_coverage_areas_envelope ON coverage_areas "
                   f"USING gist ({ENVELOPE}) WHERE kind IN {indexed}")
    for kind in KINDS:
        op.execute(f"DROP INDEX IF EXISTS ix_coverage_areas_{kind}_envelope")
        op.execute(f"DROP INDEX IF EXISTS ix_coverage_areas_{kind}_box")
