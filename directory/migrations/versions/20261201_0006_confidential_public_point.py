"""Confidential locations are searched at their public point (their city's centre)

A confidential location's true point moves to ``true_latitude``/``true_longitude``, and
``latitude``/``longitude`` (which the spatial indexes, the unit vectors and every outsider's
answer are computed from) take its public point. Radius coverage areas drawn around a
confidential location (tied to it, or centred within a mile of it) are tied to it and drawn
around the public point too.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from directory.geo.distance import haversine_mi
from directory.geo.public import public_point
from directory.orgs.coverage import circle_bounds

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIE_MILES = 1.0  # as directory.orgs.coverage.confidential_location_at


def _confidential_locations(bind: sa.engine.Connection) -> list[sa.Row]:  # type: ignore[type-arg]
    return list(bind.execute(sa.text(
        "SELECT id, organization_id, city, state, latitude, longitude FROM locations "
        "WHERE confidential")))


def _tie_radius_areas(bind: sa.engine.Connection, location: sa.Row,  # type: ignore[type-arg]
                      public: tuple[float, float]) -> None:
    areas = bind.execute(sa.text(
        "SELECT id, location_id, center_lat, center_lon, radius_mi FROM coverage_areas "
        "WHERE kind = 'radius' AND organization_id = :org"), {"org": location.organization_id})
    for area in areas.all():
        tied = area.location_id == location.id or (
            area.location_id is None and area.center_lat is not None
            and haversine_mi(area.center_lat, area.center_lon, location.latitude,
                             location.longitude) <= TIE_MILES)
        if not tied:
            continue
        min_lat, max_lat, min_lon, max_lon = circle_bounds(*public, area.radius_mi)
        bind.execute(sa.text(
            "UPDATE coverage_areas SET location_id = :location, center_lat = :lat, "
            "center_lon = :lon, min_lat = :min_lat, max_lat = :max_lat, min_lon = :min_lon, "
            "max_lon = :max_lon, label = :label WHERE id = :id"),
            {"location": location.id, "lat": public[0], "lon": public[1], "min_lat": min_lat,
             "max_lat": max_lat, "min_lon": min_lon, "max_lon": max_lon, "id": area.id,
             "label": f"Within {area.radius_mi:g} mi of {location.city}, {location.state}"})


def upgrade() -> None:
    op.add_column("locations", sa.Column("true_latitude", sa.Float(), nullable=True))
    op.add_column("locations", sa.Column("true_longitude", sa.Float(), nullable=True))
    bind = op.get_bind()
    for location in _confidential_locations(bind):
        public = public_point(location.city, location.state, location.latitude,
                              location.longitude)
        bind.execute(sa.text(
            "UPDATE locations SET true_latitude = latitude, true_longitude = longitude, "
            "latitude = :lat, longitude = :lon WHERE id = :id"),
            {"lat": public[0], "lon": public[1], "id": location.id})
        _tie_radius_areas(bind, location, public)


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text(
        "UPDATE locations SET latitude = true_latitude, longitude = true_longitude "
        "WHERE true_latitude IS NOT NULL AND true_longitude IS NOT NULL"))
    for area in bind.execute(sa.text(
            "SELECT a.id, a.radius_mi, l.latitude, l.longitude FROM coverage_areas a "
            "JOIN locations l ON l.id = a.location_id "
            "WHERE a.kind = 'radius' AND l.confidential")).all():
        min_lat, max_lat, min_lon, max_lon = circle_bounds(area.latitude, area.longitude,
                                                           area.radius_mi)
        bind.execute(sa.text(
            "UPDATE coverage_areas SET center_lat = :lat, center_lon = :lon, "
            "min_lat = :min_lat, max_lat = :max_lat, min_lon = :min_lon, max_lon = :max_lon "
            "WHERE id = :id"),
            {"lat": area.latitude, "lon": area.longitude, "min_lat": min_lat,
             "max_lat": max_lat, "min_lon": min_lon, "max_lon": max_lon, "id": area.id})
    # Plain ALTER TABLE on SQLite (3.35+): a batch copy would drop the R*Tree triggers.
    op.execute("ALTER TABLE locations DROP COLUMN true_longitude")
    op.execute("ALTER TABLE locations DROP COLUMN true_latitude")
