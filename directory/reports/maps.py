"""The coverage-gap map, drawn on the server as SVG from the county outlines the app ships.

Readable without colour: a county no member covers is hatched, a covered one is plain, and
the legend (HTML beside the map) names both. The SVG is ``aria-hidden`` and points to the
tables after it, which screen readers read instead. Outlines are projected once per set of
states (a plate carrée scaled by the cosine of the middle latitude, which keeps a state's
shape at the scale of one region) and simplified to the drawing's resolution.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import shapely
from flask_babel import gettext as _
from markupsafe import Markup, escape
from shapely.geometry.base import BaseGeometry

from directory.geo.boundaries import boundaries
from directory.reports.gaps import GapReport

WIDTH = 800
# (id, tile): a covered county is a pale plain fill; a gap is dark hatching over white.
PATTERNS = {
    "covered": '<rect width="8" height="8" fill="#e9eef5"/>',
    "gap": '<rect width="8" height="8" fill="#fff"/>'
           '<path d="M0 8L8 0M-2 2L2 -2M6 10L10 6" stroke="#223" stroke-width="2"/>',
}


@dataclass(frozen=True)
class _Drawing:
    width: int
    height: int
    counties: dict[str, str]  # FIPS -> path data
    states: dict[str, str]  # postal code -> path data of its outline


def _unwrapped(state: str):  # type: ignore[no-untyped-def]
    """Alaska's Aleutians cross the 180th meridian: draw them west of it, beside the rest."""

    def shift(coordinates):  # type: ignore[no-untyped-def]
        if state == "AK":
            coordinates = coordinates.copy()
            coordinates[:, 0] = [x - 360 if x > 0 else x for x in coordinates[:, 0]]
        return coordinates

    return shift


def _path(geometry: BaseGeometry) -> str:
    parts = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        for ring in [polygon.exterior, *polygon.interiors]:
            points = [f"{x:.1f} {y:.1f}" for x, y in ring.coords]
            if len(points) >= 3:
                parts.append("M" + "L".join(points) + "Z")
    return "".join(parts)


@functools.lru_cache(maxsize=32)
def _drawing(states: tuple[str, ...]) -> _Drawing:
    outlines = {fips: shapely.transform(boundaries().county_outline(fips), _unwrapped(c.state))
                for fips, c in boundaries().counties.items() if c.state in states}
    if not outlines:
        return _Drawing(WIDTH, 1, {}, {})
    min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(list(outlines.values()))
    x_scale = math.cos(math.radians((min_lat + max_lat) / 2))
    span_x = max((max_lon - min_lon) * x_scale, 1e-6)
    scale = (WIDTH - 2) / span_x
    height = max(1, math.ceil((max_lat - min_lat) * scale) + 2)

    def project(coordinates):  # type: ignore[no-untyped-def]
        projected = coordinates.copy()
        projected[:, 0] = (coordinates[:, 0] - min_lon) * x_scale * scale + 1
        projected[:, 1] = (max_lat - coordinates[:, 1]) * scale + 1
        return projected

    counties = {fips: _path(shapely.transform(outline, project).simplify(0.5))
                for fips, outline in outlines.items()}
    state_paths = {}
    for state in states:
        outline = boundaries().state_outlines.get(state)
        if outline is not None:
            state_paths[state] = _path(shapely.transform(
                shapely.transform(outline, _unwrapped(state)), project).simplify(0.5))
    return _Drawing(WIDTH, height, counties, state_paths)


def _covered_title(county: str, covered: bool) -> str:
    return (_("%(county)s: covered", county=county) if covered
            else _("%(county)s: no member covers it", county=county))


def gap_map(report: GapReport, table_id: str) -> Markup:
    """The network's counties, gaps hatched; ``table_id`` names the table that reads it."""
    drawing = _drawing(tuple(report.states))
    tiles = "".join(f'<pattern id="gapmap-{name}" width="8" height="8" '
                    f'patternUnits="userSpaceOnUse">{body}</pattern>'
                    for name, body in PATTERNS.items())
    counties = "".join(
        f'<path d="{drawing.counties[row.county.fips]}" '
        f'fill="url(#gapmap-{"covered" if row.covered else "gap"})" '
        f'data-fips="{row.county.fips}" data-covered="{str(row.covered).lower()}">'
        f'<title>{escape(_covered_title(row.county.label, row.covered))}</title></path>'
        for row in report.counties if row.county.fips in drawing.counties)
    states = "".join(f'<path d="{d}"/>' for d in drawing.states.values())
    return Markup(
        f'<svg class="chart gap-map" viewBox="0 0 {drawing.width} {drawing.height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" '
        f'aria-hidden="true" focusable="false" data-table="{escape(table_id)}">'
        f'<defs>{tiles}</defs><g stroke="#667" stroke-width="0.4">{counties}</g>'
        f'<g fill="none" stroke="#223" stroke-width="1.2">{states}</g></svg>')


def legend_swatch(name: str) -> Markup:
    """A small square of the map's fill ``name`` ("covered" or "gap") for the HTML legend."""
    return Markup(
        f'<svg class="swatch" width="20" height="20" viewBox="0 0 20 20" aria-hidden="true" '
        f'focusable="false"><defs><pattern id="swatch-{name}" width="8" height="8" '
        f'patternUnits="userSpaceOnUse">{PATTERNS[name]}</pattern></defs>'
        f'<rect x="0.5" y="0.5" width="19" height="19" fill="url(#swatch-{name})" '
        f'stroke="#223"/></svg>')
