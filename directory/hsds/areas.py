"""Coverage areas as HSDS `service_area` rows, and back.

HSDS gives a service area a free-text ``name`` and an ``extent`` whose ``extent_type`` is
"geojson", "topojson", "kml" or "text". The directory writes a drawn area as its GeoJSON
geometry and every other kind as a compact text form it reads back exactly:

    radius:<lat>,<lon>,<miles>    state:<ST>    county:<5-digit FIPS>    zip:<5-digit ZIP>

A radius around a confidential location is published around its city's centre, as the
location itself is (see directory.geo.public), and an import that finds it again keeps the
directory's own centre. The rules are in docs/hsds.md ("Coverage areas").
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from marshmallow import ValidationError

from directory.fastload import FastLoader
from directory.geo.boundaries import boundaries
from directory.geo.geocoder import GeocodeResult
from directory.geo.states import STATES, state_code
from directory.hsds.places import place_at
from directory.hsds.taxonomy import stable_id
from directory.orgs.coverage import coverage_columns
from directory.orgs.models import CoverageArea, CoverageKind, Location, Organization, Service
from directory.orgs.operations import ListingError
from directory.orgs.schemas import CoverageAreaSchema

_TEXT_FORM = re.compile(r"^\s*(radius|state|county|zip)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_FIPS = re.compile(r"^\d{5}$")
_AREA_COLUMNS = ("kind", "label", "center_lat", "center_lon", "radius_mi", "state",
                 "county_fips", "postal_code", "geojson", "min_lat", "max_lat", "min_lon",
                 "max_lon")
_SHAPE_COLUMNS = _AREA_COLUMNS[2:9]


class ExtentError(ValueError):
    """An extent the directory reads as one of its own forms, but whose values are wrong."""


# --- export ------------------------------------------------------------------------------------

def _number(value: float) -> str:
    """A float written so that float() gives it back exactly (25.0 as "25")."""
    text = repr(float(value))
    return text.removesuffix(".0")


def covers(area_codes: Collection[str], code: str) -> bool:
    """Whether an area limited to ``area_codes`` (none: every service) counts for a service of
    category ``code``: that category or one of its parents is named ("shelter" covers
    "shelter.youth"), as search counts it."""
    if not area_codes:
        return True
    parts = code.split(".")
    return any(".".join(parts[:end]) in area_codes for end in range(1, len(parts) + 1))


def area_codes(area: CoverageArea) -> frozenset[str]:
    return frozenset(category.code for category in area.services)


def _confidential_centre(area: CoverageArea, locations: list[Location]) -> Location | None:
    """The confidential location a radius is drawn around (tied to it, or at its very point)."""
    centre = (area.center_lat, area.center_lon)
    return next((location for location in locations if location.confidential and (
        location.id == area.location_id or location.true_point == centre)), None)


def _radius(area: CoverageArea, locations: list[Location]) -> tuple[str, str, str]:
    """(name, description, extent) of a radius area, its centre withheld where it must be.
    The place named is the one at the published centre, so that it reads back the same."""
    miles = area.radius_mi or 0.0
    lat, lon = area.center_lat or 0.0, area.center_lon or 0.0
    hidden = _confidential_centre(area, locations)
    if hidden is not None:
        lat, lon = hidden.latitude, hidden.longitude  # its public point
    found = place_at(lat, lon)
    place = f"{found[0]}, {found[1]}" if found else f"{lat:.4f}, {lon:.4f}"
    # A label typed as the coordinates of a shelter must not travel with it.
    name = f"Within {miles:g} mi of {place}" if hidden is not None else area.label
    extent = f"radius:{_number(lat)},{_number(lon)},{_number(miles)}"
    return name, f"Within {miles:g} miles of {place}", extent


def _published(area: CoverageArea, locations: list[Location]) -> tuple[str, str, str, str]:
    """(name, description, extent_type, extent) of an area as an export publishes it."""
    match area.kind:
        case CoverageKind.RADIUS:
            name, description, extent = _radius(area, locations)
            return name, description, "text", extent
        case CoverageKind.STATE:
            state = area.state or ""
            return area.label, f"Anywhere in {STATES.get(state, state)}", "text", f"state:{state}"
        case CoverageKind.COUNTY:
            county = boundaries().counties.get(area.county_fips or "")
            where = county.label if county else area.label
            return area.label, f"Anywhere in {where}", "text", f"county:{area.county_fips}"
        case CoverageKind.ZIP:
            return (area.label, f"Within ZIP code {area.postal_code}", "text",
                    f"zip:{area.postal_code}")
    return (area.label, "Within the area drawn on the map (the GeoJSON extent)", "geojson",
            area.geojson or "")


def service_area_rows(service: Service) -> list[dict[str, Any]]:
    """One service_area row per coverage area of the organization that counts for this
    service. Areas with the same published extent are one area to HSDS (the first is
    written); rows are ordered by extent, so that the order never depends on database ids."""
    organization = service.organization
    locations = list(organization.locations)
    rows: dict[str, dict[str, Any]] = {}
    for area in organization.coverage_areas:
        if not covers(area_codes(area), service.category.code):
            continue
        name, description, extent_type, extent = _published(area, locations)
        key = f"{extent_type}:{extent}"
        if key not in rows:
            rows[key] = {"id": stable_id(service.hsds_id, "service_area", key),
                         "service_id": service.hsds_id, "name": name,
                         "description": description, "extent": extent,
                         "extent_type": extent_type}
    return [rows[key] for key in sorted(rows)]


# --- import ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AreaShape:
    """A validated coverage area as read (column values of a CoverageArea), not yet anyone's;
    shared by the rows that repeat it, so never changed."""

    values: dict[str, Any]

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes two rows the same area."""
        return tuple(self.values[name] for name in ("kind", *_SHAPE_COLUMNS))

    @property
    def centre(self) -> tuple[float, float] | None:
        if self.values["kind"] != CoverageKind.RADIUS:
            return None
        return self.values["center_lat"], self.values["center_lon"]

    def area(self) -> CoverageArea:
        return CoverageArea(**self.values)


def _text_form(kind: str, value: str) -> dict[str, Any]:
    """CoverageAreaSchema input for one of the directory's text forms."""
    match kind:
        case "radius":
            parts = [part.strip() for part in value.split(",")]
            try:
                lat, lon, miles = (float(part) for part in parts)
            except ValueError as exc:
                raise ExtentError(_("radius:%(value)s is not radius:<lat>,<lon>,<miles>",
                                    value=value)) from exc
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ExtentError(_("radius:%(value)s has coordinates out of range",
                                    value=value))
            return {"kind": "radius", "radius_mi": miles, "center": f"{lat!r},{lon!r}",
                    "centre": (lat, lon)}
        case "state":
            return {"kind": "state", "state": state_code(value) or value}
        case "county":
            county = boundaries().counties.get(value) if _FIPS.match(value) else None
            if county is None:
                raise ExtentError(_("county:%(value)s is not the 5-digit FIPS code of a US "
                                    "county", value=value))
            return {"kind": "county", "state": county.state, "county": county.name}
    return {"kind": "zip", "postal_code": value}


def extent_input(values: dict[str, Any]) -> dict[str, Any] | None:
    """CoverageAreaSchema input for a service_area row: one of the directory's text forms, a
    GeoJSON extent, else its name read as a US state; None when none of these is there."""
    extent = str(values.get("extent") or "")
    extent_type = str(values.get("extent_type") or "").strip().lower()
    if match := _TEXT_FORM.match(extent):
        return _text_form(match.group(1).lower(), match.group(2))
    if extent_type == "geojson" and extent.strip():
        try:
            json.loads(extent)
        except json.JSONDecodeError:
            pass  # a placeholder or prose: no extent, as in Open Referral's own example
        else:
            return {"kind": "polygon", "geojson": extent, "label": values.get("name", "")}
    state = state_code(str(values.get("name") or ""))
    return {"kind": "state", "state": state} if state else None


def _messages(error: ValidationError) -> str:
    messages = error.messages if isinstance(error.messages, dict) else {"area": error.messages}
    return "; ".join(f"{name}: {' '.join(map(str, text)) if isinstance(text, list) else text}"
                     for name, text in messages.items())


@functools.cache
def _schema() -> FastLoader:
    """One schema for every row (a package may hold 250,000 service areas), loaded through
    FastLoader: the same rules, faster."""
    return FastLoader(CoverageAreaSchema())


def read_area(values: dict[str, Any]) -> AreaShape | None:
    """The coverage area a service_area row describes, validated by the same schema and
    constructor as an admin's entry; None when it has no extent the directory can read.
    Raises ExtentError saying what is wrong with one it can read."""
    return _read_area(str(values.get("extent") or ""), str(values.get("extent_type") or ""),
                      str(values.get("name") or "").strip()[:200])


@functools.cache
def _nobody() -> Organization:
    """The organization of an area read on its own: none of its locations is any centre."""
    return Organization()


@functools.lru_cache(maxsize=4096)
def _read_area(extent: str, extent_type: str, name: str) -> AreaShape | None:
    """read_area, once per distinct row: an area is repeated under each service it serves."""
    data = extent_input({"extent": extent, "extent_type": extent_type, "name": name})
    if data is None:
        return None
    # A radius centre is already a checked point: placing it again (the geocoder's nearest
    # ZIP code, for a label the row's name replaces) would cost more than the whole row.
    point = data.pop("centre", None)
    centre = None if point is None else GeocodeResult(*point, label=name or data["center"],
                                                      state=None, precision="point")
    try:
        checked = _schema().load(data)
        columns, _services = coverage_columns(_nobody(), checked, centre=centre)
    except ValidationError as exc:
        raise ExtentError(_messages(exc)) from exc
    except ListingError as exc:
        raise ExtentError(str(exc)) from exc
    shape = {column: columns.get(column) for column in _AREA_COLUMNS}
    if name:
        shape["label"] = name
    return AreaShape(shape)
