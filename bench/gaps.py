"""Benchmark of the coverage-gap report: median and p95 per question, against a brute force.

    python bench/gaps.py [--db PATH | --database-url URL] [--orgs 100000] [--seed 1]
                         [--repeat 15] [--brute-counties 40]

On the synthetic network (SQLite: built or reused by bench/_common.py; PostgreSQL: filled by
`directory seed --synthetic N` when it holds fewer organizations), times
``coverage_gaps(service, population)`` for a few questions, warm (the boundaries loaded; the
first call of each question is reported apart). The brute force, in the same run, loads every
coverage area with its organization's status, services and populations as plain rows, with no
filter in SQL and no spatial index, and decides each county in Python by testing the areas
one after another until one covers it. Testing every county that way takes minutes, so it
decides a random sample of ``--brute-counties`` counties per question and its time is the
load plus the sample's time per county scaled to all the counties (``brute_est_ms``);
``ratio`` = brute_est / p50. Its answers are compared with the report's on the sample (exit
status 1 when any differs). The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shapely.geometry import Point, shape  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench._common import (  # noqa: E402
    OUT_DIR,
    code_version,
    ensure_database,
    loadavg,
    percentile,
    timed_calls,
)
from directory import create_app  # noqa: E402
from directory.db import db_session  # noqa: E402
from directory.geo.boundaries import boundaries  # noqa: E402
from directory.orgs.models import (  # noqa: E402
    CoverageArea,
    CoverageKind,
    MembershipStatus,
    Organization,
    OrganizationPopulation,
    Service,
    ServiceCategory,
    coverage_area_services,
)
from directory.orgs.operations import within_service  # noqa: E402
from directory.reports import gaps  # noqa: E402

QUESTIONS = [("shelter", None), ("shelter.youth", "adolescents"),
             ("legal.immigration", "foreign_nationals"), ("forensic_interview", "children"),
             ("transportation", "native_american")]


def _brute(code: str, population: str | None,
           sample: list[str]) -> tuple[float, float, set[str]]:
    """(load ms, per-county ms) and the covered counties of ``sample``, the slow way."""
    started = time.perf_counter()
    codes = dict(db_session.execute(select(ServiceCategory.id, ServiceCategory.code)).all())
    organizations = {oid: (status, accepting) for oid, status, accepting in db_session.execute(
        select(Organization.id, Organization.status, Organization.accepting_referrals))}
    offered: dict[int, set[str]] = defaultdict(set)
    for oid, category in db_session.execute(select(Service.organization_id,
                                                   Service.category_id)):
        offered[oid].add(codes[category])
    served: dict[int, set[str]] = defaultdict(set)
    for oid, value in db_session.execute(select(OrganizationPopulation.organization_id,
                                                OrganizationPopulation.population)):
        served[oid].add(str(value))
    limited: dict[int, set[str]] = defaultdict(set)
    for area_id, category in db_session.execute(select(coverage_area_services.c.coverage_area_id,
                                                       coverage_area_services.c.category_id)):
        limited[area_id].add(codes[category])
    areas = db_session.execute(select(
        CoverageArea.id, CoverageArea.organization_id, CoverageArea.kind, CoverageArea.state,
        CoverageArea.county_fips, CoverageArea.postal_code, CoverageArea.center_lat,
        CoverageArea.center_lon, CoverageArea.radius_mi, CoverageArea.geojson,
        CoverageArea.min_lat, CoverageArea.max_lat, CoverageArea.min_lon,
        CoverageArea.max_lon)).all()

    def counts(area: Any) -> bool:
        status, accepting = organizations[area.organization_id]
        if status != MembershipStatus.ACTIVE or not accepting:
            return False
        if not any(within_service(offer, code) for offer in offered[area.organization_id]):
            return False
        if population and population not in served[area.organization_id]:
            return False
        names = limited.get(area.id)
        return not names or any(within_service(code, name) or within_service(name, code)
                                for name in names)

    relevant = [area for area in areas if counts(area)]
    load_s = time.perf_counter() - started

    def covers(area: Any, fips: str) -> bool:
        county = boundaries().counties[fips]
        outline = boundaries().county_outline(fips)
        min_lon, min_lat, max_lon, max_lat = outline.bounds
        match area.kind:
            case CoverageKind.STATE:
                return area.state == county.state
            case CoverageKind.COUNTY:
                return area.county_fips == fips
            case CoverageKind.ZIP:
                return gaps._zip_county(area.postal_code) == fips  # noqa: SLF001
        if (area.max_lat < min_lat or area.min_lat > max_lat or area.max_lon < min_lon
                or area.min_lon > max_lon):
            return False
        if area.kind == CoverageKind.POLYGON:
            return bool(shape(json.loads(area.geojson)).intersects(outline))
        return bool(outline.intersects(Point(area.center_lon, area.center_lat))
                    or gaps._circle_reaches(fips, area.center_lat, area.center_lon,  # noqa: SLF001
                                            area.radius_mi))

    started = time.perf_counter()
    covered = {fips for fips in sample if any(covers(area, fips) for area in relevant)}
    per_county_s = (time.perf_counter() - started) / max(1, len(sample))
    return load_s * 1000, per_county_s * 1000, covered


def _ensure_postgres(url: str, orgs: int, seed: int) -> None:
    app = create_app({"ENV": "testing", "DATABASE_URL": url,
                      "INSTANCE_PATH": str(OUT_DIR / "instance")})
    from directory.db import get_database, upgrade

    upgrade(get_database(app))
    with app.app_context():
        have = db_session.scalar(select(func.count()).select_from(Organization)) or 0
    get_database(app).engine.dispose()
    if have >= orgs:
        print(f"Reusing {url.split('@')[-1]} ({have:,} organizations)", file=sys.stderr)
        return
    env = {**os.environ, "DIRECTORY_DATABASE_URL": url, "DIRECTORY_ENV": "testing"}
    command = str(Path(sys.executable).with_name("directory"))
    subprocess.run([command, "seed", "--synthetic", str(orgs - have), "--random-seed",
                    str(seed), "--json"], env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--brute-counties", type=int, default=40)
    args = parser.parse_args()
    if args.database_url:
        url = args.database_url
        _ensure_postgres(url, args.orgs, args.seed)
    else:
        url = f"sqlite:///{ensure_database(args.db, args.orgs, args.seed).path}"
    app = create_app({"ENV": "testing", "DATABASE_URL": url,
                      "INSTANCE_PATH": str(OUT_DIR / "instance")})
    figures: dict[str, Any] = {"code": code_version(), "database": url.split(":")[0],
                               "loadavg_start": loadavg(), "questions": {}}
    mismatches = 0
    rng = random.Random(args.seed)
    with app.app_context():
        boundaries()  # loaded once per process, before any timing
        figures["organizations"] = db_session.scalar(
            select(func.count()).select_from(Organization))
        figures["coverage_areas"] = db_session.scalar(
            select(func.count()).select_from(CoverageArea))
        states_first, states_times, states = timed_calls(gaps.network_states, args.repeat)
        figures["network_states"] = {"count": len(states), "first_ms": round(states_first, 1),
                                     "p50_ms": round(statistics.median(states_times), 2),
                                     "p95_ms": round(percentile(states_times, 95), 2)}
        print(f"network_states ({len(states)})          p50 "
              f"{figures['network_states']['p50_ms']:8.1f} ms")
        for code, population in QUESTIONS:
            category, chosen = gaps.parse_question(code, population)
            first, times, report = timed_calls(
                lambda c=category, p=chosen: gaps.coverage_gaps(c, p), args.repeat)
            counties = [row.county.fips for row in report.counties]
            sample = rng.sample(counties, min(args.brute_counties, len(counties)))
            load_ms, per_county_ms, brute_covered = _brute(code, population, sample)
            covered = {row.county.fips for row in report.counties if row.covered}
            same = brute_covered == covered & set(sample)
            mismatches += not same
            p50 = statistics.median(times)
            brute_ms = load_ms + per_county_ms * len(counties)
            entry = {"counties": len(counties), "gaps": len(report.gaps),
                     "first_ms": round(first, 1), "p50_ms": round(p50, 2),
                     "p95_ms": round(percentile(times, 95), 2),
                     "brute_load_ms": round(load_ms, 1),
                     "brute_per_county_ms": round(per_county_ms, 2),
                     "brute_est_ms": round(brute_ms, 1), "ratio": round(brute_ms / p50, 1),
                     "brute_sample": len(sample), "same_answer_on_sample": same}
            figures["questions"][f"{code}/{population or 'anyone'}"] = entry
            print(f"{code + '/' + (population or 'anyone'):38s} gaps {len(report.gaps):5d}  "
                  f"p50 {p50:8.1f} ms  p95 {entry['p95_ms']:8.1f} ms  first {first:8.1f} ms  "
                  f"brute est {brute_ms:10.1f} ms  ratio {entry['ratio']:8.1f}  same {same}")
    figures["loadavg_end"] = loadavg()
    print(f"load average: start {figures['loadavg_start']}, end {figures['loadavg_end']} "
          f"(cores: {os.cpu_count()})")
    print(json.dumps(figures))
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
