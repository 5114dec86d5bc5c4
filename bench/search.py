"""Benchmark of the two search questions, *near* and *covering*, on a synthetic network.

    python bench/search.py --orgs 100000 [--queries 1000] [--seed 1] [--keep]
                           [--db PATH | --database-url URL]

Times ``directory.orgs.search.near`` / ``covering`` (with and without a service filter) from
random ZIP centroids, and the same questions answered by a brute-force scan of every location
and coverage area in plain Python, in the same run: the scan is both the baseline of the
speed-up and the reference the indexed answers are checked against (ids in order, distances).
Also in the same run, the *bare* indexed queries on the same tables and points, through the
database driver with no application code: a page of the nearest locations (PostGIS: KNN
``<->`` with ``ST_DWithin`` on the GiST index; SQLite: the R*Tree ring by ring) and a page of
the coverage areas that contain the point (GiST ``&&`` / R*Tree, and the named kinds by their
indexes); ``vs_bare`` = our p50 / the bare query's p50.
The last line of stdout is one JSON object with the figures; the exit status is 1 when any
indexed answer differs from the scan's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point, shape

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    Database,
    code_version,
    ensure_database,
    loadavg,
    make_app,
    peak_rss_mb,
    percentile,
    query_zips,
    remove_database,
    shown_url,
    stage,
)

LIMIT = 10
NEAR_RADIUS_MI = 50.0
SERVICE = "shelter"
DISTANCE_TOLERANCE_MI = 0.01
TIE_MI = 1e-6
EARTH_RADIUS_MI = 3958.7613  # as directory.geo.distance
QUERY_TYPES = ("covering", "near", "covering_filtered", "near_filtered")
# Brute force costs about a second per query at a million organizations: scan this many
# "organization-queries" per type at most, and never fewer than 100 points.
BRUTE_BUDGET = 20_000_000
MIN_BRUTE_POINTS = 100

Answer = list[tuple[int, float]]  # (organization id, distance in miles), nearest first


# --- the indexed searches ------------------------------------------------------------------------

def indexed_queries() -> dict[str, Callable[[Any], Answer]]:
    """The four questions through the application's search operations."""
    from directory.orgs.search import SearchFilters, SearchResults, covering, near

    shelter = SearchFilters(service=SERVICE)

    def answer(results: SearchResults) -> Answer:
        return [(hit.organization_id, math.inf if hit.distance_mi is None else hit.distance_mi)
                for hit in results.hits]

    return {
        "covering": lambda point: answer(covering(point, limit=LIMIT)),
        "near": lambda point: answer(near(point, NEAR_RADIUS_MI, limit=LIMIT)),
        "covering_filtered": lambda point: answer(covering(point, shelter, limit=LIMIT)),
        "near_filtered": lambda point: answer(near(point, NEAR_RADIUS_MI, shelter, limit=LIMIT)),
    }


def time_calls(run: Callable[[Any], Answer], points: Sequence[Any],
               label: str) -> tuple[list[float], list[Answer]]:
    """Milliseconds per call and the answers, one per point (progress every 10 s)."""
    timings: list[float] = []
    answers: list[Answer] = []
    shown = time.perf_counter()
    for number, point in enumerate(points, start=1):
        started = time.perf_counter()
        answers.append(run(point))
        finished = time.perf_counter()
        timings.append((finished - started) * 1000)
        if finished - shown >= 10:
            print(f"  {label}: {number}/{len(points)}", file=sys.stderr, flush=True)
            shown = finished
    print(f"  {label}: {len(points)} in {sum(timings) / 1000:.1f}s", file=sys.stderr, flush=True)
    return timings, answers


# --- the bare indexed queries ----------------------------------------------------------------

_POSTGIS_POINT = "geography(ST_SetSRID(ST_MakePoint(%(plon)s, %(plat)s), 4326))"
_POSTGIS_LOCATION = "geography(ST_SetSRID(ST_MakePoint(longitude, latitude), 4326))"
BARE_SQL = {
    ("postgresql", "near"): f"""
        SELECT id FROM locations
        WHERE ST_DWithin({_POSTGIS_LOCATION}, {_POSTGIS_POINT}, %(meters)s)
        ORDER BY {_POSTGIS_LOCATION} <-> {_POSTGIS_POINT} LIMIT %(limit)s""",
    ("postgresql", "covering"): """
        SELECT organization_id FROM coverage_areas
        WHERE kind = 'radius'
          AND ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326)
              && ST_SetSRID(ST_MakePoint(%(plon)s, %(plat)s), 4326)
          AND unit_x * %(px)s + unit_y * %(py)s + unit_z * %(pz)s >= cos_radius
        UNION ALL
        SELECT organization_id FROM coverage_areas
        WHERE kind = 'polygon'
          AND ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326)
              && ST_SetSRID(ST_MakePoint(%(plon)s, %(plat)s), 4326)
        UNION ALL
        SELECT organization_id FROM coverage_areas
        WHERE (kind = 'state' AND state = %(state)s)
           OR (kind = 'county' AND county_fips = %(county)s)
           OR (kind = 'zip' AND postal_code = %(zip)s)""",
    ("sqlite", "near"): """
        SELECT l.id FROM location_index AS r JOIN locations AS l ON l.id = r.id
        WHERE r.min_lat >= :min_lat AND r.max_lat <= :max_lat
          AND r.min_lon >= :min_lon AND r.max_lon <= :max_lon
          AND l.unit_x * :px + l.unit_y * :py + l.unit_z * :pz >= :cos_radius
        ORDER BY l.unit_x * :px + l.unit_y * :py + l.unit_z * :pz DESC LIMIT :limit""",
    ("sqlite", "covering"): """
          SELECT a.organization_id FROM coverage_index AS r JOIN coverage_areas AS a
            ON a.id = r.id
          WHERE r.min_lat <= :plat AND r.max_lat >= :plat AND r.min_lon <= :plon
            AND r.max_lon >= :plon
            AND a.unit_x * :px + a.unit_y * :py + a.unit_z * :pz >= a.cos_radius
          UNION ALL
          SELECT a.organization_id FROM polygon_index AS r JOIN coverage_areas AS a
            ON a.id = r.id
          WHERE r.min_lat <= :plat AND r.max_lat >= :plat AND r.min_lon <= :plon
            AND r.max_lon >= :plon
          UNION ALL
          SELECT organization_id FROM coverage_areas
          WHERE (kind = 'state' AND state = :state)
             OR (kind = 'county' AND county_fips = :county)
             OR (kind = 'zip' AND postal_code = :zip)""",
}


def bare_queries(engine: Any) -> tuple[dict[str, Callable[[Any], int]], Callable[[], None]]:
    """The bare indexed queries, on one connection of the driver (no SQLAlchemy, no ORM):
    each returns how many rows it fetched. The second value closes the connection."""
    from directory.geo import spatial
    from directory.orgs.coverage import circle_bounds
    from directory.orgs.search import FIRST_RING_MI, _radii

    dialect = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
    raw = engine.raw_connection()
    cursor = raw.cursor()
    near_sql, covering_sql = BARE_SQL[(dialect, "near")], BARE_SQL[(dialect, "covering")]
    rings = _radii(FIRST_RING_MI / 2, NEAR_RADIUS_MI)

    def params(point: Any) -> dict[str, Any]:
        return {**spatial.point_params(point.lat, point.lon), "limit": LIMIT,
                "state": point.state, "county": point.county_fips, "zip": point.postal_code}

    def near(point: Any) -> int:
        base = params(point)
        if dialect == "postgresql":  # KNN needs no rings: the index walks outwards
            cursor.execute(near_sql, {**base, "meters": NEAR_RADIUS_MI * 1609.344})
            return len(cursor.fetchall())
        rows: list[Any] = []
        for radius in rings:
            ring = spatial.ring_params(radius, circle_bounds(point.lat, point.lon, radius))
            cursor.execute(near_sql, {**base, **ring})
            rows = cursor.fetchall()
            if len(rows) == LIMIT:
                break
        return len(rows)

    def covering(point: Any) -> int:
        cursor.execute(covering_sql, params(point))
        return len(cursor.fetchall())

    def close() -> None:
        raw.rollback()
        raw.close()

    return {"near": near, "covering": covering}, close


# --- the brute-force reference -------------------------------------------------------------------

@dataclass
class Network:
    """Every active organization's locations, coverage areas and services, as plain lists.

    Coordinates are kept as radians with the cosine of the latitude, so the scan's haversine
    is the same formula as ``haversine_mi`` without recomputing the per-row trigonometry."""

    locations: list[tuple[int, float, float, float]] = field(default_factory=list)
    locations_by_org: dict[int, list[tuple[float, float, float]]] = field(
        default_factory=lambda: defaultdict(list))
    # (organization id, area id, kind, kind's data); radius data is (lat, lon, cos lat, miles)
    areas: list[tuple[int, int, str, Any]] = field(default_factory=list)
    area_services: dict[int, frozenset[int]] = field(default_factory=dict)
    services: dict[int, frozenset[int]] = field(default_factory=dict)
    shelter_ids: frozenset[int] = frozenset()


def _radians(lat: float, lon: float) -> tuple[float, float, float]:
    phi = math.radians(lat)
    return phi, math.radians(lon), math.cos(phi)


def load_network() -> Network:
    """Read everything once (not timed): what the scan works from."""
    from sqlalchemy import select

    from directory.db import get_session
    from directory.orgs.models import (
        CoverageArea,
        Location,
        MembershipStatus,
        Organization,
        Service,
        ServiceCategory,
        coverage_area_services,
    )

    session = get_session()
    network = Network()
    active = set(session.scalars(
        select(Organization.id).where(Organization.status == MembershipStatus.ACTIVE)))
    for org_id, lat, lon in session.execute(
            select(Location.organization_id, Location.latitude, Location.longitude)):
        if org_id in active:
            phi, lam, cos_phi = _radians(lat, lon)
            network.locations.append((org_id, phi, lam, cos_phi))
            network.locations_by_org[org_id].append((phi, lam, cos_phi))
    for row in session.execute(select(
            CoverageArea.organization_id, CoverageArea.id, CoverageArea.kind,
            CoverageArea.center_lat, CoverageArea.center_lon, CoverageArea.radius_mi,
            CoverageArea.state, CoverageArea.county_fips, CoverageArea.postal_code,
            CoverageArea.geojson)):
        if row.organization_id not in active:
            continue
        kind = str(row.kind.value)
        network.areas.append((row.organization_id, row.id, kind, _area_data(kind, row)))
    limits: dict[int, set[int]] = defaultdict(set)
    for area_id, category_id in session.execute(select(
            coverage_area_services.c.coverage_area_id, coverage_area_services.c.category_id)):
        limits[area_id].add(category_id)
    network.area_services = {area_id: frozenset(ids) for area_id, ids in limits.items()}
    offered: dict[int, set[int]] = defaultdict(set)
    for org_id, category_id in session.execute(
            select(Service.organization_id, Service.category_id)):
        offered[org_id].add(category_id)
    network.services = {org_id: frozenset(ids) for org_id, ids in offered.items()}
    network.shelter_ids = frozenset(session.scalars(select(ServiceCategory.id).where(
        (ServiceCategory.code == SERVICE) | ServiceCategory.code.startswith(f"{SERVICE}."))))
    session.rollback()
    return network


def _area_data(kind: str, row: Any) -> Any:
    """What the exact test of the kind needs: radians and miles, a code, or a shape."""
    if kind == "radius":
        return (*_radians(row.center_lat, row.center_lon), row.radius_mi)
    if kind == "polygon":
        polygon = shape(json.loads(row.geojson or "{}"))
        shapely.prepare(polygon)
        return polygon
    return {"state": row.state, "county": row.county_fips, "zip": row.postal_code}[kind]


def _miles(phi1: float, lam1: float, cos1: float, phi2: float, lam2: float,
           cos2: float) -> float:
    a = math.sin((phi2 - phi1) / 2) ** 2 + cos1 * cos2 * math.sin((lam2 - lam1) / 2) ** 2
    return 2 * EARTH_RADIUS_MI * math.asin(min(1.0, math.sqrt(a)))


def _offers(network: Network, org_id: int, wanted: frozenset[int] | None) -> bool:
    return wanted is None or not network.services.get(org_id, frozenset()).isdisjoint(wanted)


def _area_contains(kind: str, data: Any, point: Any, where: tuple[float, float, float]) -> bool:
    """The exact test of each kind, as ``directory.orgs.coverage.contains`` defines it."""
    if kind == "radius":
        return _miles(data[0], data[1], data[2], *where) <= data[3]
    if kind == "state":
        return point.state is not None and data == point.state
    if kind == "county":
        return point.county_fips is not None and data == point.county_fips
    if kind == "zip":
        return point.postal_code is not None and data == point.postal_code
    return bool(data.intersects(Point(point.lon, point.lat)))


def brute_covering(network: Network, point: Any, wanted: frozenset[int] | None) -> Answer:
    """Every organization with an area containing the point (an area limited to services
    counts only for one of them), ranked by its nearest location; those with none last."""
    where = _radians(point.lat, point.lon)
    found: set[int] = set()
    for org_id, area_id, kind, data in network.areas:
        if org_id in found or (wanted is not None and not _offers(network, org_id, wanted)):
            continue
        limited = network.area_services.get(area_id)
        if wanted is not None and limited and limited.isdisjoint(wanted):
            continue
        if _area_contains(kind, data, point, where):
            found.add(org_id)
    ranked = [(min((_miles(*spot, *where) for spot in network.locations_by_org.get(org, ())),
                   default=math.inf), org) for org in found]
    return [(org, miles) for miles, org in sorted(ranked)]


def brute_near(network: Network, point: Any, wanted: frozenset[int] | None) -> Answer:
    """Every organization with a location within the radius, by its nearest location."""
    phi2, lam2, cos2 = _radians(point.lat, point.lon)
    nearest: dict[int, float] = {}
    for org_id, phi1, lam1, cos1 in network.locations:
        a = math.sin((phi2 - phi1) / 2) ** 2 + cos1 * cos2 * math.sin((lam2 - lam1) / 2) ** 2
        miles = 2 * EARTH_RADIUS_MI * math.asin(min(1.0, math.sqrt(a)))
        if (miles <= NEAR_RADIUS_MI and miles < nearest.get(org_id, math.inf)
                and (wanted is None or _offers(network, org_id, wanted))):
            nearest[org_id] = miles
    return [(org, miles) for miles, org in sorted((m, o) for o, m in nearest.items())]


def brute_queries(network: Network) -> dict[str, Callable[[Any], Answer]]:
    shelter = network.shelter_ids
    return {
        "covering": lambda point: brute_covering(network, point, None),
        "near": lambda point: brute_near(network, point, None),
        "covering_filtered": lambda point: brute_covering(network, point, shelter),
        "near_filtered": lambda point: brute_near(network, point, shelter),
    }


# --- checking ------------------------------------------------------------------------------------

def difference(indexed: Answer, reference: Answer) -> str | None:
    """Why the indexed page is not the reference's first page, or None if it is.

    Organizations may swap places only when the reference puts them at the same distance
    (within TIE_MI); distances must agree within DISTANCE_TOLERANCE_MI."""
    expected = reference[:LIMIT]
    if len(indexed) != len(expected):
        return f"{len(indexed)} results, expected {len(expected)}"
    if len({org for org, _ in indexed}) != len(indexed):
        return "an organization appears twice"
    distance_of = dict(reference)
    pairs = zip(indexed, expected, strict=True)
    for position, ((org, miles), (want_org, want_miles)) in enumerate(pairs):
        if not _close(miles, want_miles, DISTANCE_TOLERANCE_MI):
            return f"#{position + 1}: org {org} at {miles:.4f} mi, expected {want_miles:.4f} mi"
        if org != want_org and not _close(distance_of.get(org, math.nan), want_miles, TIE_MI):
            return (f"#{position + 1}: org {org} ({distance_of.get(org, 'not found')} mi by scan), "
                    f"expected org {want_org} ({want_miles:.6f} mi)")
    return None


def _close(a: float, b: float, tolerance: float) -> bool:
    return a == b or abs(a - b) <= tolerance  # a == b also matches inf (no location)


# --- the run -------------------------------------------------------------------------------------

def brute_point_count(orgs: int, queries: int, requested: int | None) -> int:
    if requested is not None:
        return max(1, min(requested, queries))
    return min(queries, max(MIN_BRUTE_POINTS, BRUTE_BUDGET // max(orgs, 1)))


def run(args: argparse.Namespace) -> int:
    figures: dict[str, Any] = {"orgs": args.orgs, "code": code_version(),
                               "loadavg": {"start": loadavg()}}
    database = ensure_database(Path(args.db) if args.db else None, args.orgs, args.seed,
                               args.database_url)
    figures["database"] = shown_url(database.url)
    figures["build_s"] = round(database.build_s, 1)
    figures["reused_db"] = not database.built
    figures["build_peak_rss_mb"] = peak_rss_mb(children=True) if database.built else None
    try:
        return measure(args, database, figures)
    finally:
        if database.path and database.removable(args.keep or bool(args.db)):
            remove_database(database.path)


def measure(args: argparse.Namespace, database: Database, figures: dict[str, Any]) -> int:
    from sqlalchemy import func, select

    from directory.db import get_database, get_session
    from directory.orgs.coverage import locate
    from directory.orgs.models import Organization

    app = make_app(database.url)
    with app.app_context():
        figures["organizations_in_db"] = get_session().scalar(
            select(func.count()).select_from(Organization))
        get_session().rollback()
        zips = query_zips(args.queries, args.seed)
        points = [locate(z.lat, z.lon, z.code) for z in zips]
        figures["queries"] = len(points)
        indexed = indexed_queries()
        with stage(f"Warm-up: {len(points)} points x {len(QUERY_TYPES)} searches"):
            for name in QUERY_TYPES:
                time_calls(indexed[name], points, f"warm-up {name}")
        figures["loadavg"]["warm"] = loadavg()
        timings: dict[str, list[float]] = {}
        answers: dict[str, list[Answer]] = {}
        with stage("Timed indexed searches"):
            for name in QUERY_TYPES:
                timings[name], answers[name] = time_calls(indexed[name], points, name)
        figures["loadavg"]["indexed"] = loadavg()
        figures["peak_rss_mb"] = peak_rss_mb()
        bare, close = bare_queries(get_database(app).engine)
        bare_timings: dict[str, list[float]] = {}
        with stage("Bare indexed queries"):
            try:
                for name, query in bare.items():
                    time_calls(lambda point, query=query: [(query(point), 0.0)], points,
                               f"warm-up bare {name}")
                    bare_timings[name], _ = time_calls(
                        lambda point, query=query: [(query(point), 0.0)], points, f"bare {name}")
            finally:
                close()
        figures["loadavg"]["bare"] = loadavg()
        with stage("Loading the whole network for the brute-force scan"):
            network = load_network()
        count = brute_point_count(args.orgs, len(points), args.brute_points)
        figures["brute_points"] = count
        brute = brute_queries(network)
        brute_timings: dict[str, list[float]] = {}
        brute_answers: dict[str, list[Answer]] = {}
        with stage(f"Brute-force scan on {count} points"):
            for name in QUERY_TYPES:
                brute_timings[name], brute_answers[name] = time_calls(
                    brute[name], points[:count], f"brute {name}")
    figures["loadavg"]["end"] = loadavg()
    figures["peak_rss_total_mb"] = peak_rss_mb()
    mismatches = report_mismatches(answers, brute_answers, zips)
    figures["mismatches"] = mismatches
    for name in QUERY_TYPES:
        figures[name] = summarize(timings[name], brute_timings[name])
    for name, values in bare_timings.items():
        p50 = percentile(values, 50)
        figures[f"bare_{name}"] = {"p50_ms": round(p50, 3),
                                   "p95_ms": round(percentile(values, 95), 3),
                                   "p99_ms": round(percentile(values, 99), 3)}
        figures[name]["vs_bare"] = round(figures[name]["p50_ms"] / p50, 2)
    print_figures(figures)
    return 1 if mismatches else 0


def summarize(timings: list[float], brute_timings: list[float]) -> dict[str, float]:
    p50 = percentile(timings, 50)
    brute_p50 = percentile(brute_timings, 50)
    return {"p50_ms": round(p50, 3), "p95_ms": round(percentile(timings, 95), 3),
            "p99_ms": round(percentile(timings, 99), 3), "max_ms": round(max(timings), 3),
            "brute_p50_ms": round(brute_p50, 2), "speedup": round(brute_p50 / p50, 1)}


def report_mismatches(answers: dict[str, list[Answer]], reference: dict[str, list[Answer]],
                      zips: Sequence[Any]) -> int:
    """Print the first few differences; return how many (point, search) pairs differ."""
    total = 0
    for name in QUERY_TYPES:
        for index, expected in enumerate(reference[name]):
            problem = difference(answers[name][index], expected)
            if problem is None:
                continue
            total += 1
            if total <= 20:
                print(f"MISMATCH {name} at ZIP {zips[index].code} ({zips[index].state}): "
                      f"{problem}")
    return total


def print_figures(figures: dict[str, Any]) -> None:
    print(f"code: {figures['code']}")
    print(f"organizations: {figures['orgs']:,} asked, {figures['organizations_in_db']:,} in "
          f"{figures['database']}  (database {'reused' if figures['reused_db'] else 'built'}: "
          f"build {figures['build_s']} s)")
    print(f"query points: {figures['queries']} (brute force on the first "
          f"{figures['brute_points']}, which are also the correctness sample)")
    for name in QUERY_TYPES:
        row = figures[name]
        print(f"{name:<18} p50 {row['p50_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms  "
              f"p99 {row['p99_ms']:8.2f} ms  max {row['max_ms']:8.2f} ms  | brute p50 "
              f"{row['brute_p50_ms']:9.1f} ms  speed-up {row['speedup']:8.1f}x")
    for name in ("near", "covering"):
        bare = figures[f"bare_{name}"]
        print(f"bare {name:<13} p50 {bare['p50_ms']:8.2f} ms  p95 {bare['p95_ms']:8.2f} ms  "
              f"p99 {bare['p99_ms']:8.2f} ms  | ours/bare (p50) {figures[name]['vs_bare']:.2f}x")
    print(f"mismatches: {figures['mismatches']}")
    print(f"peak RSS: {figures['peak_rss_mb']} MB after the indexed searches, "
          f"{figures['peak_rss_total_mb']} MB with the brute-force copy "
          + (f"(builder process: {figures['build_peak_rss_mb']} MB)"
             if figures["build_peak_rss_mb"] is not None else "(database reused)"))
    print(f"load average (1, 5, 15 min): {figures['loadavg']}")
    print(json.dumps(figures))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, required=True, help="organizations to generate")
    parser.add_argument("--queries", type=int, default=1000, help="query points (ZIP centroids)")
    parser.add_argument("--seed", type=int, default=1, help="generator and query-point seed")
    parser.add_argument("--db", help="database file (reused if built with the same --orgs and "
                                     "--seed; default bench/out/search-N-sS.db)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL database instead (postgresql+psycopg://...): the "
                             "network is loaded there with `directory seed --synthetic N`")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database this run builds at the default path")
    parser.add_argument("--brute-points", type=int, default=None,
                        help="points scanned by brute force (default: all up to 20,000 "
                             f"organizations, then fewer, at least {MIN_BRUTE_POINTS})")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse_args()))
