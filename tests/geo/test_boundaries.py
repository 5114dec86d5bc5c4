"""County and state boundaries (us-atlas), answered offline for arbitrary points."""

import pytest

from directory.geo.boundaries import County, boundaries


@pytest.mark.parametrize(("lat", "lon", "fips", "name", "state"), [
    (29.7604, -95.3698, "48201", "Harris", "TX"),      # downtown Houston
    (39.9612, -82.9988, "39049", "Franklin", "OH"),    # downtown Columbus
    (32.7767, -96.7970, "48113", "Dallas", "TX"),      # downtown Dallas
    (29.3013, -94.7977, "48167", "Galveston", "TX"),   # Galveston Island
    (61.2181, -149.9003, "02020", "Anchorage", "AK"),  # Anchorage
])
def test_known_points_fall_in_their_county_and_state(lat: float, lon: float, fips: str,
                                                     name: str, state: str) -> None:
    areas = boundaries().at(lat, lon)
    assert areas.state == state
    assert areas.county == County(fips, name, state)


@pytest.mark.parametrize(("lat", "lon"), [
    (27.0, -90.0),    # the middle of the Gulf of Mexico
    (35.0, -40.0),    # the Atlantic
    (48.8566, 2.3522),  # Paris
])
def test_points_outside_the_united_states_are_in_no_county(lat: float, lon: float) -> None:
    areas = boundaries().at(lat, lon)
    assert areas.state is None and areas.county is None


@pytest.mark.parametrize("name", ["Harris County", "Harris", "harris", "HARRIS COUNTY",
                                  "  harris   county "])
def test_county_named_accepts_the_usual_spellings(name: str) -> None:
    county = boundaries().county_named(name, "tx")
    assert county is not None and county.fips == "48201" and county.label == "Harris County, TX"


@pytest.mark.parametrize(("name", "state", "fips"), [
    ("Franklin County", "OH", "39049"),
    ("Franklin County", "PA", "42055"),  # one name, many states: the state decides
    ("Saint Louis County", "MN", "27137"),
    ("St. Louis County", "MN", "27137"),
    ("Orleans Parish", "LA", "22071"),
])
def test_county_named_finds_the_county_of_that_state(name: str, state: str, fips: str) -> None:
    county = boundaries().county_named(name, state)
    assert county is not None and county.fips == fips and county.state == state


@pytest.mark.parametrize(("name", "state"), [("Harris County", "OH"), ("Atlantis", "TX"),
                                             ("", "TX"), ("Harris County", "ZZ")])
def test_county_named_answers_none_for_unknown_counties(name: str, state: str) -> None:
    assert boundaries().county_named(name, state) is None


@pytest.mark.parametrize(("name", "state", "fips", "label"), [
    ("Richmond County", "VA", "51159", "Richmond County, VA"),
    ("Richmond", "VA", "51159", "Richmond County, VA"),
    ("Richmond city", "VA", "51760", "Richmond city, VA"),
    ("Baltimore County", "MD", "24005", "Baltimore County, MD"),
    ("Baltimore city", "MD", "24510", "Baltimore city, MD"),
    ("St. Louis County", "MO", "29189", "St. Louis County, MO"),
    ("St. Louis city", "MO", "29510", "St. Louis city, MO"),
    ("Orleans Parish", "LA", "22071", "Orleans Parish, LA"),
])
def test_county_named_tells_independent_cities_from_counties(name: str, state: str, fips: str,
                                                             label: str) -> None:
    county = boundaries().county_named(name, state)
    assert county is not None and (county.fips, county.label) == (fips, label)


def test_a_point_in_an_independent_city_is_in_the_city() -> None:
    areas = boundaries().at(37.5407, -77.4360)  # downtown Richmond, VA
    assert areas.county is not None and areas.county.fips == "51760"
    assert areas.county.is_independent_city


@pytest.mark.parametrize(("name", "state", "label"), [
    ("North Slope Borough", "AK", "North Slope Borough, AK"),
    ("Nome Census Area", "AK", "Nome Census Area, AK"),
    ("Carson City", "NV", "Carson City, NV"),
    ("District of Columbia", "DC", "District of Columbia, DC"),
])
def test_county_labels_use_the_units_own_word(name: str, state: str, label: str) -> None:
    county = boundaries().county_named(name, state)
    assert county is not None and county.label == label


@pytest.mark.parametrize(("state", "inside", "outside"), [
    ("TX", (29.7604, -95.3698), (39.9612, -82.9988)),
    ("OH", (39.9612, -82.9988), (29.7604, -95.3698)),
    ("CO", (39.7392, -104.9903), (41.8781, -87.6298)),
])
def test_state_bounds_enclose_the_state_and_not_far_away_places(
        state: str, inside: tuple[float, float], outside: tuple[float, float]) -> None:
    min_lat, max_lat, min_lon, max_lon = boundaries().state_bounds[state]
    assert min_lat < max_lat and min_lon < max_lon
    assert min_lat <= inside[0] <= max_lat and min_lon <= inside[1] <= max_lon
    assert not (min_lat <= outside[0] <= max_lat and min_lon <= outside[1] <= max_lon)


def test_state_bounds_have_plausible_extents() -> None:
    bounds = boundaries().state_bounds
    assert {"TX", "OH", "CA", "NY", "DC", "HI"} <= bounds.keys()
    tx_min_lat, tx_max_lat, tx_min_lon, tx_max_lon = bounds["TX"]
    # Texas: from Brownsville (25.84 N) to the panhandle (36.5 N), El Paso (106.6 W) to the Sabine.
    assert (tx_min_lat, tx_max_lat) == pytest.approx((25.84, 36.5), abs=0.1)
    assert (tx_min_lon, tx_max_lon) == pytest.approx((-106.65, -93.5), abs=0.1)
    # Colorado is (nearly) a rectangle: 37-41 N, 102.05-109.05 W.
    co = bounds["CO"]
    assert co == pytest.approx((37.0, 41.0, -109.05, -102.04), abs=0.1)


def test_county_bounds_are_inside_the_state_bounds() -> None:
    harris = boundaries().county_bounds("48201")
    texas = boundaries().state_bounds["TX"]
    assert texas[0] <= harris[0] < harris[1] <= texas[1]
    assert texas[2] <= harris[2] < harris[3] <= texas[3]
    assert harris[0] < 29.7604 < harris[1] and harris[2] < -95.3698 < harris[3]
    assert harris[1] - harris[0] < 1.0 and harris[3] - harris[2] < 1.2  # a county, not a state
