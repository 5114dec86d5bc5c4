"""HTTP load test with a realistic mix, then a count that no referral event was lost.

    python bench/load.py [--database-url URL] [--workers 2] [--clients 8] [--seconds 30]
                         [--ratelimit-storage redis://127.0.0.1:6379] [--orgs 2000]

Serves the app with ``directory serve`` (gunicorn, ``--workers`` processes) in a child process
on 127.0.0.1 and drives it from this process for ``--seconds``, through the JSON API with two
personal tokens: searches 70% (``GET /api/v1/search`` near a random ZIP code), profile views
20% (``GET /api/v1/organizations/<slug>``), referral actions 10% (each client walks its own
referrals through create, view, accept, note, complete). It prints throughput, p50/p95/p99 per
kind and the errors, then counts in the database that every 2xx answer has its row: each
created referral, each accepted and completed transition (the timeline event) and each note.

Without ``--database-url`` an SQLite file in bench/out is used. The database gets the demo
network, ``--orgs`` synthetic organizations (both idempotent) and two users made for the run.
The last line of stdout is one JSON object with the figures. Exit status 1 when there were
errors or lost events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT_DIR, code_version, loadavg, percentile, query_zips  # noqa: E402

HOST = "127.0.0.1"
SENDER_ORG = "harris-county-human-trafficking-task-force-houston"
RECEIVER_ORG = "live-oak-hill-ministries-safe-home-houston"
MIX = (("search", 0.70), ("profile", 0.20), ("referral", 0.10))
STARTUP_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 30.0
# The API's per-token limit is for people; the load's two tokens ask far more often.
API_RATE_LIMIT = "1000000 per minute"


# --- set-up, in this process, before the server starts -------------------------------------------

@dataclass(frozen=True)
class Setup:
    sender_token: str
    receiver_token: str
    slugs: list[str]
    service: str  # one the receiver offers


def prepare(url: str, orgs: int) -> Setup:
    """Migrate, seed (idempotent), and make the run's two users and their tokens."""
    from sqlalchemy import select

    from directory import create_app
    from directory.accounts.membership import add_membership
    from directory.accounts.models import MemberRole
    from directory.accounts.operations import create_user
    from directory.api.operations import create_token
    from directory.db import analyze, get_database, get_session, upgrade
    from directory.orgs.models import MembershipStatus, Organization, Service, ServiceCategory
    from directory.orgs.synthetic import generate_synthetic_network
    from directory.seeding import seed_demo_network

    app = create_app({"ENV": "testing", "DATABASE_URL": url,
                      "INSTANCE_PATH": str(OUT_DIR / "load-instance")})
    with app.app_context(), app.test_request_context():
        upgrade(get_database(app))
        session = get_session()
        seed_demo_network()
        generate_synthetic_network(orgs, 1)
        session.commit()
        analyze(get_database(app).engine)
        run = secrets.token_hex(4)
        tokens = []
        for slug in (SENDER_ORG, RECEIVER_ORG):
            organization = session.scalar(select(Organization).where(Organization.slug == slug))
            user = create_user(f"load-{run}-{slug[:20]}@example.org", f"Load {run}",
                               secrets.token_urlsafe(24), email_verified=True)
            add_membership(user, organization, MemberRole.REFERRER)
            tokens.append(create_token(user, f"load {run}", 1)[1])
        service = session.scalar(
            select(ServiceCategory.code).join(Service, Service.category_id == ServiceCategory.id)
            .join(Organization, Organization.id == Service.organization_id)
            .where(Organization.slug == RECEIVER_ORG).order_by(ServiceCategory.code))
        slugs = list(session.scalars(select(Organization.slug).where(
            Organization.status == MembershipStatus.ACTIVE).limit(5000)))
        session.commit()
    get_database(app).engine.dispose()
    return Setup(tokens[0], tokens[1], slugs, service)


# --- the server ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(url: str, workers: int, threads: int, storage: str | None) -> Iterator[int]:
    port = free_port()
    env = os.environ | {"DIRECTORY_ENV": "development", "DIRECTORY_DATABASE_URL": url,
                        "DIRECTORY_INSTANCE_PATH": str(OUT_DIR / "load-instance"),
                        "DIRECTORY_SECRET_KEY": secrets.token_urlsafe(32),
                        "DIRECTORY_API_RATE_LIMIT": API_RATE_LIMIT}
    if storage:
        env["DIRECTORY_RATELIMIT_STORAGE"] = storage
    directory = str(Path(sys.executable).with_name("directory"))
    process = subprocess.Popen(  # noqa: S603
        [directory, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers),
         "--threads", str(threads)], env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                connection = http.client.HTTPConnection(HOST, port, timeout=2)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not become ready")
            time.sleep(0.3)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=60)


# --- the load ------------------------------------------------------------------------------------

@dataclass
class Tally:
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    transitions: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # to state
    notes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client(threading.Thread):
    def __init__(self, port: int, setup: Setup, zips: list[str], tally: Tally,
                 until: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.port, self.setup, self.zips, self.tally, self.until = port, setup, zips, tally, until
        self.random = random.Random(seed)
        self.connection = self._connect()
        self.referral: dict[str, Any] | None = None  # the one this client is walking
        self.step = 0

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)

    def call(self, kind: str, method: str, path: str, token: str,
             body: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            self.connection = self._connect()
            status, data = 0, str(exc).encode()
        elapsed = (time.perf_counter() - started) * 1000
        with self.tally.lock:
            self.tally.timings[kind].append(elapsed)
            if not 200 <= status < 300:
                self.tally.errors[kind] += 1
                if len(self.tally.examples) < 10:
                    self.tally.examples.append(f"{method} {path.split('?')[0]}: {status} "
                                               f"{data[:200]!r}")
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None

    def run(self) -> None:
        kinds, weights = zip(*MIX, strict=True)
        while time.monotonic() < self.until:
            kind = self.random.choices(kinds, weights)[0]
            if kind == "search":
                query = urlencode({"near": self.random.choice(self.zips), "radius": 50})
                self.call("search", "GET", f"/api/v1/search?{query}", self.setup.sender_token)
            elif kind == "profile":
                slug = self.random.choice(self.setup.slugs)
                self.call("profile", "GET", f"/api/v1/organizations/{slug}",
                          self.setup.sender_token)
            else:
                self.referral_step()

    def referral_step(self) -> None:
        """create -> view -> accept -> note -> complete, one step per pick."""
        receiver = self.setup.receiver_token
        if self.referral is None:
            status, body = self.call("referral.create", "POST", "/api/v1/referrals",
                                     self.setup.sender_token, referral_data(self.setup.service))
            if status == 201:
                self.referral = body
                with self.tally.lock:
                    self.tally.created.append(body["id"])
            return
        path = f"/api/v1/referrals/{self.referral['id']}"
        action = ("view", "accept", "note", "complete")[self.step]
        if action == "view":
            status, body = self.call("referral.view", "GET", path, receiver)
        elif action == "note":
            status, body = self.call("referral.note", "POST", f"{path}/notes", receiver,
                                     {"body": "Intake booked for tomorrow."})
            if status == 201:
                with self.tally.lock:
                    self.tally.notes += 1
        else:
            to = "accepted" if action == "accept" else "completed"
            body_in = {"to": to, "version": self.referral["version"]}
            if to == "completed":
                body_in["note"] = "Housed."
            status, body = self.call(f"referral.{action}", "POST", f"{path}/transitions",
                                     receiver, body_in)
            if status == 200:
                with self.tally.lock:
                    self.tally.transitions[to] += 1
        if not 200 <= status < 300:
            self.referral, self.step = None, 0  # start a fresh one
            return
        if action in {"view", "accept"}:
            self.referral = body
        self.step += 1
        if self.step == 4:
            self.referral, self.step = None, 0


def referral_data(service: str) -> dict[str, Any]:
    """A de-identified referral with its consent record (as the API takes it)."""
    return {"to": RECEIVER_ORG, "service": service, "urgency": "urgent",
            "age_range": "18-24", "alias": "L.T.", "language": "Spanish",
            "needs": "Safe housing and legal advice.", "safety_concerns": "",
            "contact_instructions": "Text first.", "contact_person": "Case manager on duty",
            "handoff_time": "Tomorrow 10am",
            "consent": {"items": [], "purpose": "Housing referral", "method": "written",
                        "expires_on": (dt.date.today() + dt.timedelta(days=30)).isoformat()}}


# --- the count ------------------------------------------------------------------------------------

def count_rows(url: str, tally: Tally) -> dict[str, dict[str, int]]:
    """Answered 2xx versus found in the database, for each kind of row."""
    from sqlalchemy import create_engine, func, select

    from directory.referrals.models import Referral, ReferralEvent, ReferralNote

    engine = create_engine(url)
    ids = tally.created
    found: dict[str, int] = {"created": 0, "accepted": 0, "completed": 0, "notes": 0}
    with engine.connect() as connection:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            referral_ids = select(Referral.id).where(Referral.public_id.in_(chunk))
            found["created"] += connection.scalar(
                select(func.count()).select_from(referral_ids.subquery())) or 0
            for state in ("accepted", "completed"):
                found[state] += connection.scalar(select(func.count()).where(
                    ReferralEvent.referral_id.in_(referral_ids),
                    ReferralEvent.to_status == state)) or 0
            found["notes"] += connection.scalar(select(func.count()).where(
                ReferralNote.referral_id.in_(referral_ids))) or 0
    engine.dispose()
    answered = {"created": len(ids), "accepted": tally.transitions["accepted"],
                "completed": tally.transitions["completed"], "notes": tally.notes}
    return {"answered_2xx": answered, "in_database": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=f"sqlite:///{OUT_DIR / 'load.db'}")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--orgs", type=int, default=2000)
    parser.add_argument("--ratelimit-storage", default=None,
                        help="e.g. redis://127.0.0.1:6379 (memory:// per worker otherwise)")
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    print("Preparing the database ...", file=sys.stderr)
    setup = prepare(args.database_url, args.orgs)
    zips = [area.code for area in query_zips(400, 1)]
    tally = Tally()
    with served(args.database_url, args.workers, args.threads, args.ratelimit_storage) as port:
        print(f"Driving {args.clients} clients for {args.seconds:.0f}s ...", file=sys.stderr)
        started = time.monotonic()
        clients = [Client(port, setup, zips, tally, started + args.seconds, seed)
                   for seed in range(args.clients)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.monotonic() - started
    counts = count_rows(args.database_url, tally)
    lost = {kind: counts["answered_2xx"][kind] - counts["in_database"][kind]
            for kind in counts["answered_2xx"]}
    total = sum(len(values) for values in tally.timings.values())
    figures = {
        "code": code_version(), "database": args.database_url.split(":")[0],
        "workers": args.workers, "threads": args.threads, "clients": args.clients,
        "seconds": round(elapsed, 1), "requests": total,
        "throughput_rps": round(total / elapsed, 1),
        "kinds": {kind: {"count": len(values), "errors": tally.errors.get(kind, 0),
                         "p50_ms": round(percentile(values, 50), 1),
                         "p95_ms": round(percentile(values, 95), 1),
                         "p99_ms": round(percentile(values, 99), 1)}
                  for kind, values in sorted(tally.timings.items())},
        "errors": sum(tally.errors.values()), "error_examples": tally.examples,
        "rows": counts, "lost": lost, "loadavg": loadavg(),
    }
    for kind, row in figures["kinds"].items():
        print(f"{kind:<18} {row['count']:>6} requests  p50 {row['p50_ms']:>7.1f} ms  "
              f"p95 {row['p95_ms']:>7.1f} ms  p99 {row['p99_ms']:>7.1f} ms  "
              f"errors {row['errors']}")
    print(f"{total} requests in {elapsed:.1f}s: {figures['throughput_rps']} per second; "
          f"{figures['errors']} errors; lost rows {lost}")
    print(json.dumps(figures))
    if figures["errors"] or any(lost.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
