"""Benchmark of the report queries: median and p95 per query, against a brute-force baseline.

    python bench/reports.py [--database-url URL] [--orgs 100000] [--referrals 1000000]
                            [--seed 1] [--days 90,365] [--repeat 15]

Builds (or reuses) a synthetic network with `directory seed --synthetic N
--synthetic-referrals M` in a child process, then times every query of the dashboard for a
range of the last D days (each size in --days). The brute force, in the same run, fetches the
same referrals' plain columns with no aggregation in SQL and computes the same answer in
Python; ``ratio`` = brute p50 / SQL p50, and each brute answer is compared with the SQL one
(exit status 1 when any differs). The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench._common import OUT_DIR, code_version, loadavg, percentile  # noqa: E402
from directory import create_app  # noqa: E402
from directory.db import db_session  # noqa: E402
from directory.orgs.models import Organization  # noqa: E402
from directory.referrals.models import Referral  # noqa: E402
from directory.reports import dashboard  # noqa: E402
from directory.reports import operations as ops  # noqa: E402
from directory.reports.operations import DateRange, Dimension, Scope, Side, Timing  # noqa: E402
from directory.reports.tables import Viewer  # noqa: E402

Query = tuple[Callable[[], Any], Callable[[], Any] | None, Callable[[Any], Any]]


def _build(url: str, orgs: int, referrals: int, seed: int) -> float:
    env = {**os.environ, "DIRECTORY_DATABASE_URL": url, "DIRECTORY_ENV": "testing"}
    started = time.perf_counter()
    command = str(Path(sys.executable).with_name("directory"))  # the venv's console script
    subprocess.run([command, "seed", "--synthetic", str(orgs),
                    "--synthetic-referrals", str(referrals), "--random-seed", str(seed),
                    "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _time(function: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    function()  # warm-up: caches, compiled statements
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = function()
        times.append((time.perf_counter() - started) * 1000)
    return times, answer


def _nearest_rank(values: list[float]) -> tuple[int, float, float]:
    ordered = sorted(values)
    n = len(ordered)
    return n, ordered[(n + 1) // 2 - 1], ordered[(9 * n + 9) // 10 - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", default="90,365")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--brute-repeat", type=int, default=3)
    args = parser.parse_args()
    url = args.database_url or (
        f"sqlite:///{OUT_DIR / f'reports-{args.orgs}-{args.referrals}-s{args.seed}.db'}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    build_s = _build(url, args.orgs, args.referrals, args.seed)
    print(f"database ready in {build_s:.1f} s: {url.split('@')[-1]}", file=sys.stderr)

    app = create_app({"ENV": "testing", "DATABASE_URL": url,
                      "INSTANCE_PATH": str(OUT_DIR / "instance")})
    figures: dict[str, Any] = {"code": code_version(), "database": url.split(":")[0],
                               "loadavg_start": loadavg(), "build_s": round(build_s, 1),
                               "ranges": {}}
    mismatches = 0
    with app.app_context():
        total = db_session.scalar(select(func.count()).select_from(Referral))
        organizations = db_session.scalar(select(func.count()).select_from(Organization))
        figures.update(referrals=total, organizations=organizations)
        kinds = dict(db_session.execute(select(Organization.id, Organization.kind)).all())
        now = ops.utcnow()
        for days in (int(d) for d in args.days.split(",")):
            scope = Scope(DateRange.last(days))
            queries = _queries(scope, days, kinds, now)
            in_range = db_session.scalar(select(func.count()).select_from(Referral)
                                         .where(*scope.where()))
            results: dict[str, Any] = {}
            print(f"\nlast {days} days: {in_range} referrals in range", file=sys.stderr)
            for name, (query, brute, normal) in queries.items():
                repeat = max(3, args.repeat // 3) if name == "whole_dashboard" else args.repeat
                times, answer = _time(query, repeat)
                entry: dict[str, Any] = {"p50_ms": round(statistics.median(times), 2),
                                         "p95_ms": round(percentile(times, 95), 2)}
                if brute is not None:
                    brute_times, brute_answer = _time(brute, args.brute_repeat)
                    entry["brute_p50_ms"] = round(statistics.median(brute_times), 2)
                    entry["ratio"] = round(entry["brute_p50_ms"] / max(entry["p50_ms"], 1e-6), 2)
                    same = _same(normal(answer), brute_answer)
                    entry["same_answer"] = same
                    mismatches += not same
                results[name] = entry
                brute_text = (f"  brute p50 {entry['brute_p50_ms']:8.1f} ms  ratio "
                              f"{entry['ratio']:6.2f}  same {entry['same_answer']}"
                              if brute else "")
                print(f"{name:28s} p50 {entry['p50_ms']:8.1f} ms  p95 {entry['p95_ms']:8.1f} ms"
                      f"{brute_text}")
            figures["ranges"][str(days)] = {"referrals_in_range": in_range, "queries": results}
    figures["loadavg_end"] = loadavg()
    print(json.dumps(figures))
    return 1 if mismatches else 0


def _queries(scope: Scope, days: int, kinds: dict[int, Any], now: Any) -> dict[str, Query]:
    """Each dashboard query, its brute-force twin (None: no twin), and how to compare them."""
    busiest = next(iter(ops.busiest(scope, Side.RECEIVED, 1)), None)

    def rows(*columns: Any) -> list[Any]:
        return db_session.execute(select(*columns).where(*scope.where())).all()

    def brute_counts(dimension: Dimension) -> dict[str, int]:
        column = {Dimension.ORGANIZATION: Referral.receiver_org_id,
                  Dimension.KIND: Referral.receiver_org_id,
                  Dimension.SERVICE: Referral.service,
                  Dimension.URGENCY: Referral.urgency}[dimension]
        found: dict[str, int] = defaultdict(int)
        for (key,) in rows(column):
            key = kinds[key] if dimension == Dimension.KIND else key
            found[str(getattr(key, "value", key))] += 1
        return dict(found)

    def brute_timing(dimension: Dimension) -> dict[str, tuple[int, float, float]]:
        groups: dict[str, list[float]] = defaultdict(list)
        for receiver, sent, answered in rows(Referral.receiver_org_id, Referral.sent_at,
                                             Referral.responded_at):
            if answered is None:
                continue
            key = (str(kinds[receiver].value) if dimension == Dimension.KIND
                   else "all")
            groups[key].append((answered - sent).total_seconds() / 3600)
        return {key: _nearest_rank(values) for key, values in groups.items()}

    def brute_flows() -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = defaultdict(int)
        for sender, receiver in rows(Referral.sender_org_id, Referral.receiver_org_id):
            found[(kinds[sender].value, kinds[receiver].value)] += 1
        return dict(found)

    def brute_over_time() -> int:
        found: dict[str, int] = defaultdict(int)
        for sent, status in rows(Referral.sent_at, Referral.status):
            found[sent.date().isoformat()[:7 if days > 62 else 10] + status] += 1
        return sum(found.values())

    queries: dict[str, Query] = {}
    for dimension in (Dimension.NETWORK, Dimension.ORGANIZATION, Dimension.KIND,
                      Dimension.SERVICE, Dimension.URGENCY):
        queries[f"counts_by_{dimension}"] = (
            lambda d=dimension: ops.counts(scope, d, now=now),
            None if dimension == Dimension.NETWORK else
            (lambda d=dimension: brute_counts(d)),
            lambda answer: {k: c.sent for k, c in answer.items()})
    for dimension in (Dimension.NETWORK, Dimension.KIND, Dimension.ORGANIZATION):
        queries[f"answer_times_by_{dimension}"] = (
            lambda d=dimension: ops.timings(scope, d, Timing.ANSWER),
            (lambda d=dimension: brute_timing(d)) if dimension != Dimension.ORGANIZATION
            else None,
            lambda answer: {k: (p.count, round(p.median, 6), round(p.p90, 6))
                            for k, p in answer.items()})
    for timing in (Timing.FIRST_VIEW, Timing.ACCEPTANCE):
        queries[f"{timing}_times_by_kind"] = (
            lambda t=timing: ops.timings(scope, Dimension.KIND, t), None, lambda a: a)
    queries["over_time"] = (lambda: ops.over_time(scope), brute_over_time,
                            lambda a: sum(sum(v.values()) for v in a.values()))
    queries["decline_reasons"] = (lambda: ops.decline_reasons(scope), None, lambda a: a)
    queries["outcomes"] = (lambda: ops.outcomes(scope), None, lambda a: a)
    queries["kind_flows"] = (lambda: ops.kind_flows(scope), brute_flows, lambda a: a)
    queries["organization_flows"] = (
        lambda: ops.organization_flows(scope, list(ops.busiest(scope, Side.SENT, 10)),
                                       list(ops.busiest(scope, Side.RECEIVED, 10))),
        None, lambda a: a)
    queries["whole_dashboard"] = (
        lambda: dashboard.network(scope.period, Dimension.KIND, Viewer(5)), None,
        lambda a: a)
    if busiest is not None:
        organization = db_session.get(Organization, busiest)
        queries["organization_page"] = (
            lambda: dashboard.organization(organization, scope.period,
                                           Viewer(5, own=frozenset({str(busiest)}))),
            None, lambda a: a)
    return queries


def _same(sql_answer: Any, brute_answer: Any) -> bool:
    if isinstance(brute_answer, dict) and brute_answer and isinstance(
            next(iter(brute_answer.values())), tuple):
        return all(sql_answer.get(k) == (v[0], round(v[1], 6), round(v[2], 6))
                   for k, v in brute_answer.items()) and len(sql_answer) == len(brute_answer)
    return sql_answer == brute_answer


if __name__ == "__main__":
    sys.exit(main())
