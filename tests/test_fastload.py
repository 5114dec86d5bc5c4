"""FastLoader answers what marshmallow's own load answers, value for value and error for error."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields

from directory.fastload import FastLoader
from directory.orgs.schemas import (
    CoverageAreaSchema,
    ListingChangesSchema,
    ListingSchema,
)

TEXT = st.one_of(
    st.sampled_from(["", " ", "A", "Harbor House", "x" * 201, "y" * 5001, "a\u202eb",
                     "a\u200fb", "https://harbor.example/about", "http://localhost", "ftp://x.example",
                     "not a url", "help@harbor.example", "bad@", "(713) 555-0100", "09:00",
                     "17:30", "24:00", "9am", "en", "es", "xx", "legal", "shelter.youth",
                     "nonprofit", "other", "spaceship", "adults", "youth", "TX", "tx", "ZZ",
                     "77002", "7700", "77002-1234", "mon", "sun", "funday", "radius", "state",
                     "Houston"]),
    st.text(max_size=6),
)
ANYTHING = st.one_of(TEXT, st.none(), st.booleans(), st.integers(-5, 300),
                     st.floats(allow_nan=True, allow_infinity=True),
                     st.lists(TEXT, max_size=3), st.dictionaries(TEXT, TEXT, max_size=2))


def _value(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all."""
    return st.one_of(good, good, good, ANYTHING)


HOURS = st.fixed_dictionaries({
    "days": _value(st.lists(st.sampled_from(["mon", "tue", "sat", "sun", "funday"]),
                            max_size=3)),
    "opens": _value(st.sampled_from(["08:00", "09:00", "13:00", "9am"])),
    "closes": _value(st.sampled_from(["12:00", "17:00", "08:30", "25:00"])),
})
LOCATION = st.fixed_dictionaries(
    {"city": _value(st.sampled_from(["Houston", "", "Austin"])),
     "state": _value(st.sampled_from(["TX", "OH", "ZZ"]))},
    optional={
        "name": _value(TEXT), "address": _value(TEXT),
        "postal_code": _value(st.sampled_from(["77002", "", "7700", "77002-1234"])),
        "latitude": _value(st.floats(-100, 100)), "longitude": _value(st.floats(-200, 200)),
        "confidential": _value(st.booleans()), "open_24_7": _value(st.booleans()),
        "hours": _value(st.lists(HOURS, max_size=3)), "id": _value(st.integers(0, 3)),
        "closures": _value(st.lists(st.fixed_dictionaries(
            {"starts_on": _value(st.sampled_from(["2026-12-25", "soon"]))}), max_size=1)),
        "extra": TEXT,
    })
CONTACT = st.fixed_dictionaries({"name": _value(TEXT)}, optional={
    "title": _value(TEXT), "email": _value(st.one_of(st.none(), TEXT)),
    "phone": _value(st.one_of(st.none(), TEXT)), "extra": TEXT})
LISTING = st.fixed_dictionaries(
    {"name": _value(TEXT), "kind": _value(st.sampled_from(["nonprofit", "other", "legal"]))},
    optional={
        "description": _value(TEXT), "website": _value(st.one_of(st.none(), TEXT)),
        "email": _value(st.one_of(st.none(), TEXT)), "phone": _value(st.one_of(st.none(), TEXT)),
        "languages": _value(st.lists(st.sampled_from(["en", "es", "vi", "xx"]), max_size=3)),
        "populations": _value(st.lists(st.sampled_from(["adults", "youth", "aliens"]),
                                       max_size=2)),
        "services": _value(st.lists(TEXT, max_size=3)),
        "accepting_referrals": _value(st.booleans()),
        "contacts": _value(st.lists(CONTACT, max_size=2)),
        "locations": _value(st.lists(LOCATION, max_size=2)),
        "min_age": _value(st.integers(-1, 130)), "max_age": _value(st.integers(-1, 130)),
        "capacity_note": _value(TEXT), "unknown_field": TEXT,
    })
AREA = st.fixed_dictionaries(
    {"kind": _value(st.sampled_from(["radius", "state", "county", "zip", "polygon", "moon"]))},
    optional={"radius_mi": _value(st.floats(0, 600)), "center": _value(TEXT),
              "state": _value(TEXT), "county": _value(TEXT), "postal_code": _value(TEXT),
              "label": _value(TEXT), "services": _value(st.lists(TEXT, max_size=2)),
              "location_id": _value(st.integers(-1, 5))})


def answer(load: Any, data: Any) -> tuple[str, Any]:
    try:
        return "loaded", load(copy.deepcopy(data))
    except ValidationError as error:
        return "refused", error.messages


@pytest.mark.parametrize("schema", [ListingSchema(), ListingChangesSchema(),
                                    CoverageAreaSchema()], ids=lambda schema: type(schema).__name__)
def test_the_listing_schemas_take_the_fast_path(schema: Schema) -> None:
    assert FastLoader(schema)._plan is not None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=LISTING)
def test_a_listing_loads_as_marshmallow_loads_it(data: dict[str, Any]) -> None:
    for schema in (ListingSchema(), ListingChangesSchema()):
        assert answer(FastLoader(schema).load, data) == answer(schema.load, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=AREA)
def test_a_coverage_area_loads_as_marshmallow_loads_it(data: dict[str, Any]) -> None:
    schema = CoverageAreaSchema()
    assert answer(FastLoader(schema).load, data) == answer(schema.load, data)


def test_a_valid_listing_is_decided_without_marshmallow() -> None:
    listing = {"name": "Harbor House", "kind": "nonprofit", "website": "https://harbor.example",
               "languages": ["en", "es"], "contacts": [{"name": "Intake", "email": None}],
               "locations": [{"city": "Houston", "state": "TX", "latitude": 29.75,
                              "longitude": -95.36,
                              "hours": [{"days": ["mon"], "opens": "09:00", "closes": "17:00"}]}]}
    loader = FastLoader(ListingSchema())
    assert loader.load_checked(copy.deepcopy(listing)) == ListingSchema().load(listing)


def test_a_value_of_another_field_type_is_read_by_marshmallow() -> None:
    class Dated(Schema):
        day = fields.Date()
        note = fields.String(load_default="")

    loader = FastLoader(Dated())
    assert loader.load_checked({"note": "x"}) == {"note": "x"}
    assert loader.load({"day": "2026-12-02"}) == Dated().load({"day": "2026-12-02"})
    with pytest.raises(ValidationError, match="Not a valid date"):
        loader.load({"day": "soon"})


def test_a_schema_it_cannot_reproduce_is_loaded_by_marshmallow() -> None:
    class Renamed(Schema):
        name = fields.String(data_key="Name")

    loader = FastLoader(Renamed())
    assert loader._plan is None
    assert loader.load({"Name": "x"}) == {"name": "x"}
