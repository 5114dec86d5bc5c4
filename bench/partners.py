"""Benchmark of the partner and listing-freshness reports: median and p95 per query, against a
brute-force baseline.

    python bench/partners.py [--database-url URL] [--orgs 100000] [--seed 1] [--repeat 15]

Builds (or reuses) a synthetic network with `directory seed --synthetic N` in a child process,
then gives it, once and deterministically for the seed, what the generator leaves out: a
joining date over the last two years, a partnership agreement for a third of the organizations
(most on file) and a confirmation for half of them. It times each query of the two reports and
the whole of each page's tables. The brute force, in the same run, fetches the plain columns of
every organization, location, agreement and confirmation with no aggregation in SQL and
computes the same answer in Python; ``ratio`` = brute p50 / SQL p50, and each brute answer is
compared with the SQL one (exit status 1 when any differs). The last line is one JSON object
with every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, insert, select, update  # noqa: E402

from bench._common import OUT_DIR, code_version, loadavg, percentile, timed_calls  # noqa: E402
from directory import create_app  # noqa: E402
from directory.db import db_session, utcnow  # noqa: E402
from directory.orgs.models import (  # noqa: E402
    ListingReview,
    Location,
    MembershipStatus,
    Organization,
    PartnershipAgreement,
)
from directory.reports import freshness, partners  # noqa: E402
from directory.reports.operations import DateRange  # noqa: E402

Query = tuple[Callable[[], Any], Callable[[], Any] | None, Callable[[Any], Any]]


def _build(url: str, orgs: int, seed: int) -> float:
    env = {**os.environ, "DIRECTORY_DATABASE_URL": url, "DIRECTORY_ENV": "testing"}
    started = time.perf_counter()
    command = str(Path(sys.executable).with_name("directory"))  # the venv's console script
    subprocess.run([command, "seed", "--synthetic", str(orgs), "--random-seed", str(seed),
                    "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _complete(seed: int, now: dt.datetime) -> None:
    """Joining dates, agreements and confirmations, once per database."""
    if db_session.scalar(select(func.count()).select_from(PartnershipAgreement)):
        return
    rng = random.Random(seed)
    ids = list(db_session.scalars(select(Organization.id).order_by(Organization.id)))
    joined, agreements, reviews = [], [], []
    for organization_id in ids:
        joined.append({"b_id": organization_id,
                       "joined": now - dt.timedelta(days=rng.uniform(0, 730))})
        if rng.random() < 1 / 3:
            on_file = rng.random() < 0.8
            agreements.append({"organization_id": organization_id, "on_file": on_file,
                               "signed_on": (now - dt.timedelta(days=rng.randrange(1, 1500))
                                             ).date() if on_file else None,
                               "note": "", "updated_at": now})
        if rng.random() < 0.5:
            reviews.append({"organization_id": organization_id, "reminders": 0,
                            "confirmed_at": now - dt.timedelta(days=rng.uniform(0, 500))})
    db_session.connection().execute(
        update(Organization).where(Organization.id == bindparam("b_id"))
        .values(joined_at=bindparam("joined")), joined)
    if agreements:
        db_session.execute(insert(PartnershipAgreement), agreements)
    if reviews:
        db_session.execute(insert(ListingReview), reviews)
    db_session.commit()


def _time(function: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    _first, times, answer = timed_calls(function, repeat)
    return times, answer


def _queries(period: DateRange, now: dt.datetime) -> dict[str, Query]:
    active = MembershipStatus.ACTIVE

    def organizations() -> list[Any]:
        return db_session.execute(select(Organization.id, Organization.kind,
                                         Organization.status, Organization.joined_at,
                                         Organization.verified_at)).all()

    def brute_by_kind() -> dict[str, tuple[int, int, int]]:
        on_file = {organization_id for organization_id, flag in db_session.execute(
            select(PartnershipAgreement.organization_id, PartnershipAgreement.on_file)) if flag}
        found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for organization_id, kind, status, joined, _ in organizations():
            entry = found[kind.value]
            entry[0] += status == active
            entry[1] += joined is not None and period.start_at <= joined < period.end_at
            entry[2] += status == active and organization_id in on_file
        return {kind: (a, b, c) for kind, (a, b, c) in found.items() if a or b}

    def brute_by_state() -> dict[tuple[str, str], int]:
        kinds = {row[0]: row[1].value for row in organizations() if row[2] == active}
        states: dict[int, set[str]] = defaultdict(set)
        for organization_id, state, confidential, latitude, longitude in db_session.execute(
                select(Location.organization_id, Location.state, Location.confidential,
                       Location.latitude, Location.longitude)):
            if organization_id in kinds:
                states[organization_id].add(partners._public_state(latitude, longitude)
                                            if confidential else state)
        found: dict[tuple[str, str], int] = defaultdict(int)
        for organization_id, kind in kinds.items():
            for state in states.get(organization_id) or {partners.NO_LOCATION}:
                found[(state, kind)] += 1
        return dict(found)

    def brute_freshness() -> dict[tuple[str, str, str], int]:
        confirmed = dict(db_session.execute(select(ListingReview.organization_id,
                                                   ListingReview.confirmed_at)).all())

        def bucket(moment: dt.datetime | None) -> str:
            if moment is None:
                return freshness.NEVER
            age = now - moment
            return next(b.key for b in freshness.BUCKETS
                        if b.to_days is None or age < dt.timedelta(days=b.to_days))

        found: dict[tuple[str, str, str], int] = defaultdict(int)
        for organization_id, kind, status, _, verified in organizations():
            if status == active:
                found[(kind.value, bucket(confirmed.get(organization_id)),
                       bucket(verified))] += 1
        return dict(found)

    return {
        "partners_by_kind": (lambda: partners.counts_by_kind(period), brute_by_kind,
                             lambda a: {k: (c.partners, c.new, c.mou) for k, c in a.items()}),
        "partners_by_state": (partners.counts_by_state, brute_by_state, lambda a: a),
        "freshness": (lambda: freshness.counts(now), brute_freshness, lambda a: a),
        "partners_page_tables": (lambda: partners.report(period), None, lambda a: a),
        "freshness_page_tables": (lambda: freshness.report(now), None, lambda a: a),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--brute-repeat", type=int, default=3)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{OUT_DIR / f'partners-{args.orgs}-s{args.seed}.db'}"
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    build_s = _build(url, args.orgs, args.seed)
    print(f"database ready in {build_s:.1f} s: {url.split('@')[-1]}", file=sys.stderr)
    app = create_app({"ENV": "testing", "DATABASE_URL": url,
                      "INSTANCE_PATH": str(OUT_DIR / "instance")})
    figures: dict[str, Any] = {"code": code_version(), "database": url.split(":")[0],
                               "loadavg_start": loadavg(), "build_s": round(build_s, 1),
                               "queries": {}}
    mismatches = 0
    with app.app_context():
        now = utcnow()
        _complete(args.seed, now)
        figures["organizations"] = db_session.scalar(
            select(func.count()).select_from(Organization))
        figures["locations"] = db_session.scalar(select(func.count()).select_from(Location))
        period = DateRange.last(args.days)
        for name, (query, brute, normal) in _queries(period, now).items():
            times, answer = _time(query, args.repeat)
            entry: dict[str, Any] = {"p50_ms": round(statistics.median(times), 2),
                                     "p95_ms": round(percentile(times, 95), 2)}
            text = ""
            if brute is not None:
                brute_times, brute_answer = _time(brute, args.brute_repeat)
                entry["brute_p50_ms"] = round(statistics.median(brute_times), 2)
                entry["ratio"] = round(entry["brute_p50_ms"] / max(entry["p50_ms"], 1e-6), 2)
                entry["same_answer"] = normal(answer) == brute_answer
                mismatches += not entry["same_answer"]
                text = (f"  brute p50 {entry['brute_p50_ms']:8.1f} ms  ratio "
                        f"{entry['ratio']:6.2f}  same {entry['same_answer']}")
            print(f"{name:24s} p50 {entry['p50_ms']:8.1f} ms  p95 {entry['p95_ms']:8.1f} ms{text}")
            figures["queries"][name] = entry
    figures["loadavg_end"] = loadavg()
    print(f"load average {figures['loadavg_start']} -> {figures['loadavg_end']}",
          file=sys.stderr)
    print(json.dumps(figures))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
