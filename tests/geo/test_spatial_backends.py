"""On PostgreSQL the PostGIS indexes and the built-in GiST fallback give the same answers."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from directory.geo import spatial
from directory.orgs.coverage import add_coverage_area, locate
from directory.orgs.search import covering, near
from tests.factories import Factory

POINTS = [(29.7502, -95.3677, "77002"), (29.95, -95.1, None), (30.27, -97.74, None)]


@pytest.fixture()
def postgres(db: Session) -> Session:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one spatial backend, the R*Tree")
    return db


def answers(db: Session, backend: str) -> list[tuple[list[int], list[int]]]:
    engine = db.get_bind().engine
    previous = spatial._backends.get(engine)
    spatial._backends[engine] = backend
    try:
        results = []
        for lat, lon, zip_code in POINTS:
            point = locate(lat, lon, zip_code)
            results.append(([h.organization_id for h in near(point, 100, limit=50).hits],
                            [h.organization_id for h in covering(point, limit=50).hits]))
        return results
    finally:
        if previous is None:
            spatial._backends.pop(engine, None)
        else:
            spatial._backends[engine] = previous


def test_postgis_and_builtin_gist_agree(postgres: Session, factory: Factory) -> None:
    if spatial.backend(postgres) != "postgis":
        pytest.skip("PostGIS is not installed on this server")
    for index, (city, state, radius) in enumerate([("Houston", "TX", 30), ("Austin", "TX", 150),
                                                    ("Pasadena", "TX", 5), ("Katy", "TX", 60)]):
        organization = factory.organization(name=f"Backend Partner {index}",
                                            locations=[{"city": city, "state": state}])
        add_coverage_area(organization, {"kind": "radius", "radius_mi": radius,
                                         "location_id": organization.locations[0].id})
    postgis, builtin = answers(postgres, "postgis"), answers(postgres, "postgresql")
    assert postgis == builtin
    assert any(near_ids for near_ids, _ in postgis) and any(cover for _, cover in postgis)
