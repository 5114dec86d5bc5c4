"""Benchmark of the standard HSDS 3.0 API (/hsds/) on a synthetic network.

    python bench/hsds_api.py --orgs 100000 [--requests 300] [--seed 1] [--db PATH] [--keep]

Requests go through the application's test client (in-process WSGI: routing, access check,
queries, JSON; no network), in testing mode with DIRECTORY_PUBLIC_HSDS_API on. Each endpoint
gets one untimed warm-up pass, then ``--requests`` timed requests: random pages of
``/hsds/services?per_page=50`` (the target: p95 under 50 ms at 100,000 organizations), the
same with ``full=true``, random pages of organizations and of services at locations, items
by id, and ``postcode`` searches (alone: coverage; with ``proximity``: distance) from random
ZIP codes. Baseline, same run: the page and its count read the way a listing would be read
without the ``services.listed`` index (every service joined to its organization to keep the
active ones), in bare SQL, without building any object. The last line of stdout is one JSON
object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    code_version,
    ensure_database,
    loadavg,
    make_app,
    percentile,
    query_zips,
    remove_database,
    stage,
)

PER_PAGE = 50
PROXIMITY_M = 10_000
TARGET_P95_MS = 50.0


def _figures(timings: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(timings, 50), 2),
            "p95_ms": round(percentile(timings, 95), 2), "max_ms": round(max(timings), 2)}


def _time(label: str, make_path: Callable[[random.Random], str], client: Any, requests: int,
          seed: int) -> dict[str, float]:
    for warm in range(min(requests, 20)):
        client.get(make_path(random.Random(seed + warm)))
    rng = random.Random(seed)
    timings = []
    for _ in range(requests):
        path = make_path(rng)
        started = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or not body:
            raise SystemExit(f"{path} answered {response.status_code}: {body[:300]!r}")
    figures = _figures(timings)
    print(f"{label:34} p50 {figures['p50_ms']:7.2f} ms   p95 {figures['p95_ms']:7.2f} ms   "
          f"max {figures['max_ms']:7.2f} ms")
    return figures


def _baseline(requests: int, pages: int, seed: int) -> dict[str, float]:
    """The page of services and its count joined to the organizations, bare SQL."""
    from sqlalchemy import text

    from directory.db import get_session

    session = get_session()
    count = text("SELECT count(*) FROM services JOIN organizations "
                 "ON organizations.id = services.organization_id "
                 "WHERE organizations.status = 'active'")
    page = text("SELECT services.id, services.hsds_id FROM services JOIN organizations "
                "ON organizations.id = services.organization_id "
                "WHERE organizations.status = 'active' ORDER BY services.id "
                "LIMIT :limit OFFSET :offset")
    rng = random.Random(seed)
    timings = []
    for _ in range(requests):
        number = rng.randint(1, pages)
        started = time.perf_counter()
        session.execute(count).scalar()
        session.execute(page, {"limit": PER_PAGE, "offset": (number - 1) * PER_PAGE}).all()
        timings.append((time.perf_counter() - started) * 1000)
    figures = _figures(timings)
    print(f"{'baseline: join page + count (SQL)':34} p50 {figures['p50_ms']:7.2f} ms   "
          f"p95 {figures['p95_ms']:7.2f} ms   max {figures['max_ms']:7.2f} ms")
    return figures


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select

    from directory.db import get_session
    from directory.orgs.models import Organization, Service

    database = ensure_database(Path(args.db) if args.db else None, args.orgs, args.seed)
    app = make_app(database.path)
    app.config.update(PUBLIC_HSDS_API=True, API_RATE_LIMIT="1000000 per minute")
    load = {"start": loadavg()}
    results: dict[str, Any] = {}
    with app.app_context():
        session = get_session()
        services = session.scalar(select(func.count()).select_from(Service)
                                  .where(Service.listed.is_(True))) or 0
        organizations = session.scalar(select(func.count()).select_from(Organization)) or 0
        service_ids = list(session.scalars(select(Service.hsds_id).limit(5000)))
        org_ids = list(session.scalars(select(Organization.hsds_id).limit(5000)))
        zips = [area.code for area in query_zips(1000, args.seed)]
        client = app.test_client()
        link_ids = [item["id"] for item in client.get(
            "/hsds/service_at_locations?per_page=500&page=3").get_json()["contents"]]
        service_pages = -(-services // PER_PAGE)
        org_pages = -(-organizations // PER_PAGE)
        endpoints: dict[str, Callable[[random.Random], str]] = {
            "services?page=N&per_page=50": lambda rng: (
                f"/hsds/services?page={rng.randint(1, service_pages)}&per_page={PER_PAGE}"),
            "services?page=1&per_page=50": lambda rng: f"/hsds/services?per_page={PER_PAGE}",
            "services?full=true (page=N)": lambda rng: (
                f"/hsds/services?full=true&page={rng.randint(1, service_pages)}"
                f"&per_page={PER_PAGE}"),
            "organizations?page=N": lambda rng: (
                f"/hsds/organizations?page={rng.randint(1, org_pages)}&per_page={PER_PAGE}"),
            "services/{id}": lambda rng: f"/hsds/services/{rng.choice(service_ids)}",
            "organizations/{id}": lambda rng: f"/hsds/organizations/{rng.choice(org_ids)}",
            "service_at_locations/{id}": lambda rng: (
                f"/hsds/service_at_locations/{rng.choice(link_ids)}"),
            "service_at_locations?postcode": lambda rng: (
                f"/hsds/service_at_locations?postcode={rng.choice(zips)}&per_page={PER_PAGE}"),
            "service_at_locations?postcode&proximity": lambda rng: (
                f"/hsds/service_at_locations?postcode={rng.choice(zips)}"
                f"&proximity={PROXIMITY_M}&per_page={PER_PAGE}"),
        }
        print(f"{organizations:,} organizations, {services:,} listed services; "
              f"{args.requests} requests per endpoint ({code_version()})")
        with stage("HSDS API requests"):
            for label, make_path in endpoints.items():
                requests = args.requests if "full" not in label else max(args.requests // 3, 30)
                results[label] = _time(label, make_path, client, requests, args.seed)
        load["after_api"] = loadavg()
        with stage("baseline"):
            results["baseline_join_page_and_count"] = _baseline(args.requests, service_pages,
                                                                args.seed)
        session.close()
    target = results["services?page=N&per_page=50"]["p95_ms"]
    print(f"target: /hsds/services?page=N&per_page=50 p95 {target:.2f} ms "
          f"({'under' if target < TARGET_P95_MS else 'OVER'} {TARGET_P95_MS:.0f} ms)")
    load["end"] = loadavg()
    if database.built and not args.keep:
        remove_database(database.path)
    return {"orgs": organizations, "services": services, "requests": args.requests,
            "per_page": PER_PAGE, "endpoints": results, "target_p95_ms": TARGET_P95_MS,
            "code": code_version(), "loadavg": load}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db")
    parser.add_argument("--keep", action="store_true")
    print(json.dumps(run(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
