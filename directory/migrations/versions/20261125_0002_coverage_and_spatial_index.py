"""Coverage areas, and the spatial indexes of locations and coverage areas.

SQLite: R*Tree virtual tables kept in step with their tables by triggers, so every insert,
update and delete (ORM, bulk Core or raw SQL) keeps the index right.
PostgreSQL: GiST indexes on the bounding box (and point) expressions, and PostGIS GiST indexes
where the extension can be created.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED_KINDS = "('radius', 'polygon')"

# SQLite: one R*Tree for radius areas, one for polygons (few, but each needs a shape test).
SQLITE_UP = [
    "CREATE VIRTUAL TABLE location_index USING rtree(id, min_lat, max_lat, min_lon, max_lon)",
    "INSERT INTO location_index SELECT id, latitude, latitude, longitude, longitude FROM locations",
    """CREATE TRIGGER location_index_insert AFTER INSERT ON locations BEGIN
         INSERT INTO location_index VALUES (NEW.id, NEW.latitude, NEW.latitude,
                                            NEW.longitude, NEW.longitude);
       END""",
    """CREATE TRIGGER location_index_update AFTER UPDATE OF latitude, longitude ON locations BEGIN
         UPDATE location_index SET min_lat = NEW.latitude, max_lat = NEW.latitude,
                                   min_lon = NEW.longitude, max_lon = NEW.longitude
          WHERE id = NEW.id;
       END""",
    """CREATE TRIGGER location_index_delete AFTER DELETE ON locations BEGIN
         DELETE FROM location_index WHERE id = OLD.id;
       END""",
    *[statement
      for name, kind in (("coverage_index", "radius"), ("polygon_index", "polygon"))
      for statement in (
          f"CREATE VIRTUAL TABLE {name} USING rtree(id, min_lat, max_lat, min_lon, max_lon)",
          f"""CREATE TRIGGER {name}_insert AFTER INSERT ON coverage_areas
               WHEN NEW.kind = '{kind}' BEGIN
               INSERT INTO {name} VALUES (NEW.id, NEW.min_lat, NEW.max_lat,
                                          NEW.min_lon, NEW.max_lon);
             END""",
          f"""CREATE TRIGGER {name}_update AFTER UPDATE ON coverage_areas BEGIN
               DELETE FROM {name} WHERE id = OLD.id;
               INSERT INTO {name} SELECT NEW.id, NEW.min_lat, NEW.max_lat,
                                         NEW.min_lon, NEW.max_lon
                WHERE NEW.kind = '{kind}';
             END""",
          f"""CREATE TRIGGER {name}_delete AFTER DELETE ON coverage_areas BEGIN
               DELETE FROM {name} WHERE id = OLD.id;
             END""",
      )],
]
SQLITE_DOWN = [
    *[f"DROP {what} IF EXISTS {name}{suffix}"
      for name in ("polygon_index", "coverage_index")
      for what, suffix in (("TRIGGER", "_delete"), ("TRIGGER", "_update"), ("TRIGGER", "_insert"),
                           ("TABLE", ""))],
    "DROP TRIGGER IF EXISTS location_index_delete",
    "DROP TRIGGER IF EXISTS location_index_update",
    "DROP TRIGGER IF EXISTS location_index_insert",
    "DROP TABLE IF EXISTS location_index",
]
POSTGRES_UP = [
    "CREATE INDEX ix_locations_point ON locations USING gist (point(longitude, latitude))",
    f"""CREATE INDEX ix_coverage_areas_box ON coverage_areas
        USING gist (box(point(min_lon, min_lat), point(max_lon, max_lat)))
        WHERE kind IN {INDEXED_KINDS}""",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_coverage_areas_box",
    "DROP INDEX IF EXISTS ix_locations_point",
]
# Where PostGIS can be had, its GiST indexes too: geography points for distance queries and
# geometry envelopes for coverage boxes. The expressions must match directory/geo/spatial.py.
POSTGIS_UP = [
    """CREATE INDEX ix_locations_geography ON locations
        USING gist (geography(ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)))""",
    f"""CREATE INDEX ix_coverage_areas_envelope ON coverage_areas
        USING gist (ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326))
        WHERE kind IN {INDEXED_KINDS}""",
]
POSTGIS_DOWN = [
    "DROP INDEX IF EXISTS ix_coverage_areas_envelope",
    "DROP INDEX IF EXISTS ix_locations_geography",
]


def _enable_postgis() -> bool:
    """Create the PostGIS extension where the server offers it and we may; else carry on with
    the built-in GiST indexes alone."""
    bind = op.get_bind()
    available = bind.execute(sa.text(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")).scalar()
    if not available:
        return False
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def upgrade() -> None:
    op.create_table(
        "coverage_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("radius", "state", "county", "zip", "polygon",
                                  name="coveragekind", native_enum=False,
                                  create_constraint=True, length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("center_lat", sa.Float(), nullable=True),
        sa.Column("center_lon", sa.Float(), nullable=True),
        sa.Column("radius_mi", sa.Float(), nullable=True),
        sa.Column("unit_x", sa.Float(), sa.Computed(
            "cos(radians(center_lat)) * cos(radians(center_lon))", persisted=True)),
        sa.Column("unit_y", sa.Float(), sa.Computed(
            "cos(radians(center_lat)) * sin(radians(center_lon))", persisted=True)),
        sa.Column("unit_z", sa.Float(), sa.Computed("sin(radians(center_lat))", persisted=True)),
        sa.Column("cos_radius", sa.Float(), sa.Computed(
            "cos(radius_mi / 3958.7613)", persisted=True)),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("county_fips", sa.String(length=5), nullable=True),
        sa.Column("postal_code", sa.String(length=5), nullable=True),
        sa.Column("geojson", sa.Text(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True),
                  server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.CheckConstraint("min_lat <= max_lat AND min_lon <= max_lon",
                           name=op.f("ck_coverage_areas_bbox_ordered")),
        sa.CheckConstraint("radius_mi IS NULL OR radius_mi > 0",
                           name=op.f("ck_coverage_areas_radius_positive")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"],
                                name=op.f("fk_coverage_areas_location_id_locations"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_coverage_areas_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_areas")),
    )
    op.create_index("ix_coverage_areas_state", "coverage_areas", ["state"],
                    sqlite_where=sa.text("kind = 'state'"),
                    postgresql_where=sa.text("kind = 'state'"))
    op.create_index(op.f("ix_coverage_areas_county_fips"), "coverage_areas", ["county_fips"])
    op.create_index(op.f("ix_coverage_areas_location_id"), "coverage_areas", ["location_id"])
    op.create_index(op.f("ix_coverage_areas_organization_id"), "coverage_areas",
                    ["organization_id"])
    op.create_index(op.f("ix_coverage_areas_postal_code"), "coverage_areas", ["postal_code"])
    op.create_table(
        "coverage_area_services",
        sa.Column("coverage_area_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["service_categories.id"],
            name=op.f("fk_coverage_area_services_category_id_service_categories"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["coverage_area_id"], ["coverage_areas.id"],
            name=op.f("fk_coverage_area_services_coverage_area_id_coverage_areas"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("coverage_area_id", "category_id",
                                name=op.f("pk_coverage_area_services")),
    )
    op.create_index(op.f("ix_coverage_area_services_category_id"), "coverage_area_services",
                    ["category_id"])
    if op.get_bind().dialect.name == "sqlite":
        statements = SQLITE_UP
    else:
        statements = POSTGRES_UP + (POSTGIS_UP if _enable_postgis() else [])
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        statements = SQLITE_DOWN
    else:
        statements = POSTGIS_DOWN + POSTGRES_DOWN
    for statement in statements:
        op.execute(statement)
    op.drop_index(op.f("ix_coverage_area_services_category_id"),
                  table_name="coverage_area_services")
    op.drop_table("coverage_area_services")
    op.drop_index(op.f("ix_coverage_areas_postal_code"), table_name="coverage_areas")
    op.drop_index(op.f("ix_coverage_areas_organization_id"), table_name="coverage_areas")
    op.drop_index(op.f("ix_coverage_areas_location_id"), table_name="coverage_areas")
    op.drop_index(op.f("ix_coverage_areas_county_fips"), table_name="coverage_areas")
    op.drop_index("ix_coverage_areas_state", table_name="coverage_areas")
    op.drop_table("coverage_areas")
