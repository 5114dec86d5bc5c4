"""The gazetteer's nearest ZIP code: the exact nearest centroid, as a scan of all would say."""

from __future__ import annotations

import random

import pytest

from directory.geo.distance import haversine_mi
from directory.geo.gazetteer import ZipArea, gazetteer


def _scan(lat: float, lon: float, max_miles: float) -> tuple[float, ZipArea] | None:
    best: tuple[float, ZipArea] | None = None
    for area in gazetteer().zips.values():
        miles = haversine_mi(lat, lon, area.lat, area.lon)
        if miles <= max_miles and (best is None or miles < best[0]):
            best = (miles, area)
    return best


def _points() -> list[tuple[float, float]]:
    rnd = random.Random(7)
    areas = list(gazetteer().zips.values())
    near_centroids = [(area.lat + rnd.uniform(-0.6, 0.6), area.lon + rnd.uniform(-0.6, 0.6))
                      for area in rnd.sample(areas, 25)]
    anywhere = [(rnd.uniform(25, 49), rnd.uniform(-124, -67)) for _ in range(15)]
    # Alaska's north, Hawaii, Puerto Rico, open ocean, next to the 180th meridian.
    edges = [(71.29, -156.79), (21.3, -157.8), (18.4, -66.1), (0.0, 0.0), (52.0, 179.9),
             (35.0, -60.0)]
    return near_centroids + anywhere + edges


@pytest.mark.parametrize("max_miles", [15.0, 60.0])
def test_nearest_zip_is_the_nearest_centroid_within_reach(max_miles: float) -> None:
    for lat, lon in _points():
        found = gazetteer().nearest_zip(lat, lon, max_miles)
        expected = _scan(lat, lon, max_miles)
        if expected is None:
            assert found is None, (lat, lon)
        else:
            assert found is not None, (lat, lon)
            assert haversine_mi(lat, lon, found.lat, found.lon) == pytest.approx(expected[0])


def test_a_centroid_is_its_own_nearest_zip() -> None:
    houston = gazetteer().zip_area("77002")
    assert houston is not None
    assert gazetteer().nearest_zip(houston.lat, houston.lon) == houston
