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

from sqlalchemy import create_engine, func, select  # noqa: E402

from bench._common import OUT_DIR, code_version, loadavg, percentile, timed_calls  # noqa: E402
from directory import create_app  # noqa: E402
from directory.db import db_session  # noqa: E402
from directory.orgs.models import MembershipStatus, Organization  # noqa: E402
from directory.referrals.models import MINOR_AGE_RANGES, Consent, Referral  # noqa: E402
from directory.reports import dashboard, grants  # noqa: E402
from directory.reports import operations as ops  # noqa: E402
from directory.reports.operations import DateRange, Dimension, Scope, Side, Timing  # noqa: E402
from directory.reports.suppression import rate, shown  # noqa: E402
from directory.reports.tables import HIDDEN, ORGANIZATION_ROWS, Viewer  # noqa: E402

MIN_COUNT = 5  # the default threshold, which the dashboard queries are timed with
Query = tuple[Callable[[], Any], Callable[[], Any] | None, Callable[[Any], Any]]


def _build(url: str, orgs: int, referrals: int, seed: int) -> float:
    env = {**os.environ, "DIRECTORY_DATABASE_URL": url, "DIRECTORY_ENV": "testing"}
    started = time.perf_counter()
    command = str(Path(sys.executable).with_name("directory"))  # the venv's console script
    subprocess.run([command, "seed", "--synthetic", str(orgs),
                    "--synthetic-referrals", str(referrals), "--random-seed", str(seed),
                    "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    if url.startswith("postgresql"):
        _vacuum(url)
    return time.perf_counter() - started


def _vacuum(url: str) -> None:
    """What autovacuum does some minutes after a bulk load, done now: PostgreSQL answers from
    an index alone (an index-only scan) only for the pages its visibility map marks."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) referrals")
        connection.exec_driver_sql("VACUUM (ANALYZE) organizations")
    engine.dispose()


def _time(function: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    _first, times, answer = timed_calls(function, repeat)
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
                repeat = (max(3, args.repeat // 3) if name.startswith("whole_dashboard")
                          else args.repeat)
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
    """Each dashboard query, its brute-force twin (None: no twin), and how to put the SQL
    answer in the twin's shape. A twin fetches the range's plain columns (no aggregation in
    SQL) and computes the whole answer in Python, the same definitions as the operations."""
    senders = list(ops.busiest(scope, Side.SENT, 10))
    receivers = list(ops.busiest(scope, Side.RECEIVED, 10))
    busiest = receivers[0] if receivers else None

    def rows(*columns: Any) -> list[Any]:
        return db_session.execute(select(*columns).where(*scope.where())).all()

    def text(value: Any) -> str:
        return str(getattr(value, "value", value))

    def hours(later: Any, earlier: Any) -> float | None:
        return None if later is None else (later - earlier).total_seconds() / 3600

    def key_of(dimension: Dimension, receiver: int, service: str, urgency: Any) -> str:
        return {Dimension.NETWORK: ops.ALL, Dimension.ORGANIZATION: str(receiver),
                Dimension.KIND: text(kinds[receiver]), Dimension.SERVICE: service,
                Dimension.URGENCY: text(urgency)}[dimension]

    def brute_counts(dimension: Dimension) -> dict[str, tuple[Any, ...]]:
        found: dict[str, list[Any]] = {}
        for receiver, service, urgency, status, sent, answered, reason, due in rows(
                Referral.receiver_org_id, Referral.service, Referral.urgency, Referral.status,
                Referral.sent_at, Referral.responded_at, Referral.decline_reason,
                Referral.response_due_at):
            entry = found.setdefault(key_of(dimension, receiver, service, urgency),
                                     [0, defaultdict(int), 0, 0, 0])
            entry[0] += 1
            entry[1][text(status)] += 1
            accepted = answered is not None and reason is None
            entry[2] += accepted
            entry[3] += accepted and hours(answered, sent) <= ops.MATCHED_WITHIN_HOURS
            entry[4] += status == "sent" and due is not None and due < now
        return {key: (n, {s.value: by_status.get(s.value, 0) for s in ops.REPORTED_STATUSES},
                      accepted, matched, overdue)
                for key, (n, by_status, accepted, matched, overdue) in found.items()}

    def sql_counts(answer: dict[str, ops.Counts]) -> dict[str, tuple[Any, ...]]:
        return {key: (c.sent, c.by_status, c.accepted, c.matched_48h, c.overdue)
                for key, c in answer.items()}

    def brute_busiest_receivers() -> dict[str, Any]:
        """The dashboard's by-organization rows: the busiest receivers reaching the threshold
        (ties by id as text), and every other receiver summed."""
        every = brute_counts(Dimension.ORGANIZATION)
        ranked = sorted(every, key=lambda key: (-every[key][0], key))
        kept = [key for key in ranked if every[key][0] >= MIN_COUNT][:ORGANIZATION_ROWS]
        chosen = set(kept)
        others = [every[key] for key in every if key not in chosen]
        other = (sum(c[0] for c in others),
                 {s.value: sum(c[1][s.value] for c in others) for s in ops.REPORTED_STATUSES},
                 *(sum(c[n] for c in others) for n in (2, 3, 4)))
        return {"kept": [(key, every[key]) for key in kept], "others": len(others),
                "other": other}

    def sql_busiest_receivers(answer: ops.Busiest) -> dict[str, Any]:
        def plain(c: ops.Counts) -> tuple[Any, ...]:
            return (c.sent, c.by_status, c.accepted, c.matched_48h, c.overdue)
        other = plain(answer.other)
        if not answer.others:  # no row summed: every status zero, as the twin counts them
            other = (0, {s.value: 0 for s in ops.REPORTED_STATUSES}, 0, 0, 0)
        return {"kept": [(key, plain(c)) for key, c in answer.kept.items()],
                "others": answer.others, "other": other}

    def brute_timing(dimension: Dimension, timing: Timing,
                     only: set[int] | None = None) -> dict[str, tuple[Any, ...]]:
        groups: dict[str, list[float]] = defaultdict(list)
        for receiver, service, urgency, sent, viewed, answered, reason in rows(
                Referral.receiver_org_id, Referral.service, Referral.urgency, Referral.sent_at,
                Referral.viewed_at, Referral.responded_at, Referral.decline_reason):
            end = viewed if timing == Timing.FIRST_VIEW else answered
            if end is None or (timing == Timing.ACCEPTANCE and reason is not None):
                continue
            if only is not None and receiver not in only:
                continue
            groups[key_of(dimension, receiver, service, urgency)].append(hours(end, sent))
        return {key: _nearest_rank(values) for key, values in groups.items()}

    def sql_timing(answer: dict[str, ops.Percentiles]) -> dict[str, tuple[Any, ...]]:
        return {key: (p.count, round(p.median, 6), round(p.p90, 6)) for key, p in answer.items()}

    def brute_over_time() -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for sent, status in rows(Referral.sent_at, Referral.status):
            found[sent.date().isoformat()[:10 if days <= ops.DAILY_UP_TO_DAYS else 7]][
                text(status)] += 1
        return {period: dict(statuses) for period, statuses in found.items()}

    def brute_decline_reasons() -> dict[str, int]:
        found: dict[str, int] = defaultdict(int)
        for status, reason in rows(Referral.status, Referral.decline_reason):
            if status == "declined" and reason is not None:
                found[text(reason)] += 1
        return dict(found)

    def brute_outcomes() -> dict[str, int]:
        found: dict[str, int] = defaultdict(int)
        for status, outcome in rows(Referral.status, Referral.outcome):
            if status == "completed":
                found["completed"] += 1
            elif status == "closed":
                found[text(outcome) if outcome is not None else "unknown"] += 1
        return dict(found)

    def brute_flows() -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = defaultdict(int)
        for sender, receiver in rows(Referral.sender_org_id, Referral.receiver_org_id):
            found[(text(kinds[sender]), text(kinds[receiver]))] += 1
        return dict(found)

    def brute_organization_flows() -> dict[tuple[int, int], int]:
        chosen_senders, chosen_receivers = set(senders), set(receivers)
        found: dict[tuple[int, int], int] = defaultdict(int)
        for sender, receiver in rows(Referral.sender_org_id, Referral.receiver_org_id):
            found[(sender if sender in chosen_senders else 0,
                   receiver if receiver in chosen_receivers else 0)] += 1
        return dict(found)

    def brute_busiest(side: Side) -> dict[int, int]:
        column = Referral.sender_org_id if side == Side.SENT else Referral.receiver_org_id
        found: dict[int, int] = defaultdict(int)
        for (organization,) in rows(column):
            found[organization] += 1
        return dict(sorted(found.items(), key=lambda item: (-item[1], item[0]))[:10])

    queries: dict[str, Query] = {}
    # By organization the dashboard counts and times only the rows it shows (the busiest
    # receivers and one sum of the others): those are the queries timed for it.
    for dimension in (Dimension.NETWORK, Dimension.KIND, Dimension.SERVICE, Dimension.URGENCY):
        queries[f"counts_by_{dimension}"] = (
            lambda d=dimension: ops.counts(scope, d, now=now),
            lambda d=dimension: brute_counts(d), sql_counts)
    queries["busiest_receivers_shown"] = (
        lambda: ops.busiest_receivers(scope, ORGANIZATION_ROWS, MIN_COUNT, now=now),
        brute_busiest_receivers, sql_busiest_receivers)
    shown = [int(key) for key in
             ops.busiest_receivers(scope, ORGANIZATION_ROWS, MIN_COUNT, now=now).kept]
    for dimension in (Dimension.NETWORK, Dimension.KIND):
        queries[f"answer_times_by_{dimension}"] = (
            lambda d=dimension: ops.timings(scope, d, Timing.ANSWER),
            lambda d=dimension: brute_timing(d, Timing.ANSWER), sql_timing)
    queries["answer_times_shown_organizations"] = (
        lambda: ops.timings(scope, Dimension.ORGANIZATION, Timing.ANSWER, shown),
        lambda: brute_timing(Dimension.ORGANIZATION, Timing.ANSWER, set(shown)), sql_timing)
    for timing in (Timing.FIRST_VIEW, Timing.ACCEPTANCE):
        queries[f"{timing}_times_by_kind"] = (
            lambda t=timing: ops.timings(scope, Dimension.KIND, t),
            lambda t=timing: brute_timing(Dimension.KIND, t), sql_timing)
    queries["over_time"] = (lambda: ops.over_time(scope), brute_over_time, lambda a: a)
    queries["decline_reasons"] = (lambda: ops.decline_reasons(scope), brute_decline_reasons,
                                  lambda a: a)
    queries["outcomes"] = (lambda: ops.outcomes(scope), brute_outcomes, lambda a: a)
    queries["kind_flows"] = (lambda: ops.kind_flows(scope), brute_flows, lambda a: a)
    for side in (Side.SENT, Side.RECEIVED):
        queries[f"busiest_{side}"] = (lambda s=side: ops.busiest(scope, s, 10),
                                      lambda s=side: brute_busiest(s), lambda a: a)
    queries["organization_flows"] = (
        lambda: ops.organization_flows(scope, senders, receivers), brute_organization_flows,
        lambda a: a)
    queries.update(_grant_queries(scope.period, busiest))
    queries["whole_dashboard"] = (
        lambda: dashboard.network(scope.period, Dimension.KIND, Viewer(MIN_COUNT)), None,
        lambda a: a)
    queries["whole_dashboard_by_organization"] = (
        lambda: dashboard.network(scope.period, Dimension.ORGANIZATION, Viewer(MIN_COUNT)),
        None, lambda a: a)
    if busiest is not None:
        organization = db_session.get(Organization, busiest)
        queries["organization_page"] = (
            lambda: dashboard.organization(organization, scope.period,
                                           Viewer(MIN_COUNT, own=frozenset({str(busiest)}))),
            None, lambda a: a)
    return queries


GrantAnswer = dict[str, list[tuple[str, tuple[Any, ...]]]]


def _grant_queries(period: DateRange, busiest: int | None) -> dict[str, Query]:
    """The grant period reports: the network's (a coordinator's), and the busiest receiver's
    read by its own admins (its received fields counted only where a consent names them)."""
    network = Viewer(MIN_COUNT)
    found: dict[str, Query] = {"grant_report_network": (
        lambda: grants.report(period, network), lambda: _brute_grants(period, network, None),
        _grant_answer)}
    if busiest is not None:
        organization = db_session.get(Organization, busiest)
        own = Viewer(MIN_COUNT, own=frozenset({str(busiest)}))
        found["grant_report_organization"] = (
            lambda: grants.report(period, own, organization),
            lambda: _brute_grants(period, own, organization), _grant_answer)
    return found


def _cells(cells: list[Any]) -> tuple[Any, ...]:
    return tuple("hidden" if cell is HIDDEN else round(cell, 9) if isinstance(cell, float)
                 else cell for cell in cells)


def _grant_answer(report: grants.GrantReport) -> GrantAnswer:
    return {table.slug: [(row.key, _cells(row.cells))
                         for row in [*table.rows, *([table.totals] if table.totals else [])]]
            for table in report.tables}


def _brute_grants(period: DateRange, viewer: Viewer,
                  organization: Organization | None) -> GrantAnswer:
    """The grant report from the range's plain columns (and the consents' of an organization's
    received referrals), counted in Python; the suppression rules are the report's own
    (``grants._column_cells``, ``shown``, ``rate``), applied to the twin's counts."""
    parts = grants._parts(period, organization, viewer)
    scope = Scope(period)
    columns = (Referral.id, Referral.sender_org_id, Referral.receiver_org_id, Referral.sent_at,
               Referral.responded_at, Referral.decline_reason, Referral.age_range,
               Referral.trafficking_type, Referral.gender, Referral.nationality)
    every = db_session.execute(select(*columns).where(*scope.where())).all()

    def in_part(part: grants.Part, row: Any) -> bool:
        if part.scope.organization_id is None:
            return True
        side = row.sender_org_id if part.scope.side == Side.SENT else row.receiver_org_id
        return side == part.scope.organization_id

    rows_of = {part.key: [row for row in every if in_part(part, row)] for part in parts}
    answer: GrantAnswer = {"matched": []}
    for part in parts:
        sent = len(rows_of[part.key])
        accepted = [row for row in rows_of[part.key]
                    if row.responded_at is not None and row.decline_reason is None]
        matched = sum((row.responded_at - row.sent_at).total_seconds() / 3600
                      <= ops.MATCHED_WITHIN_HOURS for row in accepted)
        cells = [HIDDEN if value is None else value for value in (
            shown(n, viewer.min_count, own=part.own) for n in (sent, len(accepted), matched))]
        cells.append(rate(matched, sent, viewer.min_count, own=part.own))
        answer["matched"].append((part.key, _cells(cells)))
    named = {part.key: _named_by_consent(rows_of[part.key]) for part in parts
             if part.received_own}
    for item in grants.ITEMS:
        counted = [_brute_codes(rows_of[part.key], item, named.get(part.key)
                                if part.consent_limited(item) else None) for part in parts]
        categories = item.categories() + [extra for extra in grants._extra_categories()
                                          if any(c[extra[0]] for c in counted)]
        cells = [grants._column_cells([c[code] for code, _label in categories], part, item,
                                      viewer.min_count)
                 for c, part in zip(counted, parts, strict=True)]
        answer[item.key] = [
            *((code, _cells([grants._hidden(column[n]) for column, _total in cells]))
              for n, (code, _label) in enumerate(categories)),
            ("total", _cells([grants._hidden(total) for _column, total in cells]))]
    if organization is None:
        joined = db_session.execute(select(Organization.status, Organization.joined_at)).all()
        new = sum(at is not None and scope.period.start_at <= at < scope.period.end_at
                  for _status, at in joined)
        partners = sum(status == MembershipStatus.ACTIVE for status, _at in joined)
        answer["partners"] = [("network", (new, partners))]
    return answer


def _named_by_consent(rows: list[Any]) -> dict[int, set[str]]:
    """Per referral, the items its consent in force names: the newest record, not revoked,
    not past its last day in the sender's zone (today); none without one in force."""
    ids = {row.id for row in rows}
    newest: dict[int, Any] = {}
    for consent in db_session.execute(select(
            Consent.referral_id, Consent.id, Consent.revoked_at, Consent.expires_on,
            Consent.items)).all():
        if consent.referral_id in ids and (consent.referral_id not in newest
                                           or consent.id > newest[consent.referral_id].id):
            newest[consent.referral_id] = consent
    senders = {row.sender_org_id for row in rows}
    today = {sender.id: sender.local_date() for sender in db_session.scalars(
        select(Organization).where(Organization.id.in_(senders))).all()}
    sender_of = {row.id: row.sender_org_id for row in rows}
    return {referral: set(consent.items or []) for referral, consent in newest.items()
            if consent.revoked_at is None
            and consent.expires_on >= today[sender_of[referral]]}


def _brute_codes(rows: list[Any], item: grants.Item,
                 named: dict[int, set[str]] | None) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for row in rows:
        if item.key == "age":
            found[grants.MINOR if row.age_range in MINOR_AGE_RANGES else grants.ADULT] += 1
            continue
        value = getattr(row, item.key)
        if value is None:
            found[grants.NOT_RECORDED] += 1
        elif named is not None and item.consent_item not in named.get(row.id, set()):
            found[grants.NOT_SHARED] += 1
        else:
            found[str(getattr(value, "value", value))] += 1
    return found


def _same(sql_answer: Any, brute_answer: Any) -> bool:
    """Equal answers; percentiles compared to the microsecond (rounded to 1e-6 hours)."""
    if isinstance(brute_answer, dict) and brute_answer and all(
            isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], float)
            for value in brute_answer.values()):
        brute_answer = {key: (n, round(median, 6), round(p90, 6))
                        for key, (n, median, p90) in brute_answer.items()}
    return sql_answer == brute_answer


if __name__ == "__main__":
    sys.exit(main())
