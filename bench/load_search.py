"""HTTP load test of the search page, on loopback, against a synthetic network.

    python bench/load_search.py --orgs 100000 --clients 8 --seconds 30 [--workers W]
                                [--db PATH | --database-url URL]

Serves the app with its production WSGI server (``directory serve``: gunicorn, ``--workers``
processes of ``--threads`` threads) in a child process on 127.0.0.1, signs a coordinator in
through the real login form (CSRF token and all), then runs ``--clients`` threads that each
keep one connection alive and request random ZIP searches for ``--seconds`` (or ``--requests``
each). The load generator runs on the same machine and takes CPU from the server; the figures
include that. After the load, the bare indexed queries of bench/search.py (nearest locations,
covering areas) are timed in this process on the same ZIP points, for scale.
The last line of stdout is one JSON object with the figures. Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    OUT_DIR,
    code_version,
    ensure_database,
    loadavg,
    make_app,
    percentile,
    query_zips,
    remove_database,
    shown_url,
)

HOST = "127.0.0.1"
USER_EMAIL = "bench.coordinator@example.org"
USER_PASSWORD = "bench-load-test-password"  # of a throwaway benchmark database only
STARTUP_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 30.0
CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE_ATTRIBUTE = re.compile(r'value="([^"]*)"')


# --- set-up --------------------------------------------------------------------------------------

def ensure_user(db: str) -> None:
    """A coordinator to sign in as: the search page is for signed-in members only."""
    from directory.accounts.operations import create_user, find_user_by_email, set_password
    from directory.db import get_database, get_session

    app = make_app(db)
    with app.app_context():
        session = get_session()
        user = find_user_by_email(USER_EMAIL)
        if user is None:
            create_user(USER_EMAIL, "Benchmark coordinator", USER_PASSWORD, is_coordinator=True)
        else:
            set_password(user, USER_PASSWORD)
        session.commit()
        session.close()
    get_database(app).engine.dispose()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def directory_command() -> str:
    """The `directory` script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("directory")
    found = str(beside) if beside.exists() else shutil.which("directory")
    if not found:
        raise SystemExit("The `directory` command is not installed in this environment.")
    return found


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_server(db: str, workers: int, threads: int, log_dir: Path) -> Server:
    """`directory serve` (its master and workers) in testing mode on a free loopback port.

    Two-factor sign-in is switched off (the deployment setting DIRECTORY_REQUIRE_2FA): a
    coordinator without it is sent to enrol instead of to the search page."""
    port = free_port()
    env = {**os.environ, "DIRECTORY_ENV": "testing", "DIRECTORY_REQUIRE_2FA": "false",
           "DIRECTORY_INSTANCE_PATH": str(OUT_DIR / "instance"),
           "DIRECTORY_DATABASE_URL": db}
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [directory_command(), "serve", "--host", HOST, "--port", str(port),
             "--workers", str(workers), "--threads", str(threads)],
            env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Server(port, process, log)


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server on port {server.port} exited:\n{tail(server.log)}")
        try:
            status, _, _ = request(HOST, server.port, "GET", "/login")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server on port {server.port} did not answer in "
                       f"{STARTUP_TIMEOUT_S:.0f}s:\n{tail(server.log)}")


def stop_server(server: Server) -> None:
    """Stop the server this run started (SIGTERM: gunicorn stops its workers), then make
    sure."""
    if server.process.poll() is None:
        server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def running_server(db: str, workers: int, threads: int, keep_logs: bool) -> Iterator[Server]:
    """The server, stopped at the end whatever happens. Its log (bench/out/serve-PORT.log) is
    kept when something failed, or when asked."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    server = start_server(db, workers, threads, OUT_DIR)
    failed = True
    try:
        wait_until_ready(server)
        yield server
        failed = False
    finally:
        stop_server(server)
        if failed or keep_logs:
            print(f"server log: {server.log}", file=sys.stderr)
        else:
            server.log.unlink(missing_ok=True)


# --- HTTP ----------------------------------------------------------------------------------------

def request(host: str, port: int, method: str, path: str, body: str | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, list[str]], str]:
    """One request on a fresh connection (set-up only): status, headers, text."""
    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        collected: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            collected.setdefault(name.lower(), []).append(value)
        return response.status, collected, response.read().decode(errors="replace")
    finally:
        connection.close()


def _cookies(headers: dict[str, list[str]], jar: dict[str, str]) -> dict[str, str]:
    for line in headers.get("set-cookie", []):
        parsed = SimpleCookie()
        parsed.load(line)
        for name, morsel in parsed.items():
            jar[name] = morsel.value
    return jar


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def sign_in(port: int) -> str:
    """Sign in through the login form as a browser would; return the Cookie header."""
    status, headers, page = request(HOST, port, "GET", "/login")
    field_html = CSRF_INPUT.search(page)
    token = VALUE_ATTRIBUTE.search(field_html.group(0)) if field_html else None
    if status != 200 or token is None:
        raise RuntimeError(f"GET /login gave {status} without a CSRF token")
    jar = _cookies(headers, {})
    form = urlencode({"csrf_token": token.group(1), "email": USER_EMAIL,
                      "password": USER_PASSWORD})
    status, headers, _ = request(HOST, port, "POST", "/login", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar)})
    if status not in (302, 303):
        raise RuntimeError(f"POST /login gave {status}, not a redirect: sign-in failed")
    return _cookie_header(_cookies(headers, jar))


# --- load ----------------------------------------------------------------------------------------

@dataclass
class ClientResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # connection errors and timeouts
    first_error: str = ""


def target_paths(template: str, zips: Sequence[Any]) -> list[str]:
    return [template.format(zip=z.code, state=z.state, lat=z.lat, lon=z.lon) for z in zips]


@dataclass
class Start:
    """The starting signal, and the deadline set just before it is given."""

    signal: threading.Event = field(default_factory=threading.Event)
    deadline: float = 0.0


def client(port: int, cookie: str, paths: Sequence[str], seed: int, max_requests: int,
           start: Start, result: ClientResult) -> None:
    """One keep-alive connection asking random searches until the deadline or the budget."""
    rng = random.Random(seed)
    headers = {"Cookie": cookie, "Connection": "keep-alive"}
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
    start.signal.wait()
    try:
        while len(result.latencies_ms) < max_requests and time.perf_counter() < start.deadline:
            path = rng.choice(paths)
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                result.failures += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
                connection.close()  # reconnects on the next request
                status = 0
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        connection.close()


def run_load(port: int, cookie: str, paths: Sequence[str], clients: int,
             seconds: float, max_requests: int, seed: int) -> tuple[list[ClientResult], float]:
    """All clients at once; the results and the wall time taken."""
    results = [ClientResult() for _ in range(clients)]
    start = Start()
    threads = [threading.Thread(target=client, daemon=True,
                                args=(port, cookie, paths,
                                      seed * 1000 + number, max_requests, start,
                                      results[number]))
               for number in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    start.deadline = started + seconds
    start.signal.set()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


# --- figures -------------------------------------------------------------------------------------

def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a server has used so far, its worker processes included,
    from /proc (Linux only)."""
    own = _stat_fields(pid)
    if own is None:
        return None
    total = int(own[11]) + int(own[12])
    for entry in Path("/proc").iterdir():
        fields = _stat_fields(entry.name) if entry.name.isdigit() else None
        if fields is not None and fields[1] == str(pid):  # a child: a worker
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    return time.process_time()


def cpu_percent(before: Sequence[float | None], after: Sequence[float | None],
                elapsed: float) -> float | None:
    """CPU used over the wall time, in percent of one core (200 = two cores busy)."""
    if elapsed <= 0 or any(value is None for value in (*before, *after)):
        return None
    used = sum(a - b for a, b in zip(after, before, strict=True))  # type: ignore[operator]
    return round(100 * used / elapsed, 1)


def summarize(results: Sequence[ClientResult], elapsed: float) -> dict[str, Any]:
    latencies = [value for result in results for value in result.latencies_ms]
    statuses: dict[int, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    errors = sum(count for status, count in statuses.items() if status != 200)  # 0: no answer
    return {"requests": len(latencies), "elapsed_s": round(elapsed, 2),
            "rps": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
            "p50_ms": round(percentile(latencies, 50), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "errors": errors, "connection_errors": sum(r.failures for r in results),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "first_error": next((r.first_error for r in results if r.first_error), "")}


def bare_figures(url: str, zips: Sequence[Any]) -> dict[str, dict[str, float]]:
    """p50 and p95 of bench/search.py's bare indexed queries from the same ZIP points."""
    from search import bare_queries

    from directory.db import get_database
    from directory.orgs.coverage import locate

    app = make_app(url)
    found: dict[str, dict[str, float]] = {}
    with app.app_context():
        points = [locate(z.lat, z.lon, z.code) for z in zips]
        queries, close = bare_queries(get_database(app).engine)
        try:
            for name, query in queries.items():
                for point in points:  # warm-up
                    query(point)
                timings = []
                for point in points:
                    started = time.perf_counter()
                    query(point)
                    timings.append((time.perf_counter() - started) * 1000)
                found[name] = {"p50_ms": round(percentile(timings, 50), 3),
                               "p95_ms": round(percentile(timings, 95), 3)}
        finally:
            close()
    get_database(app).engine.dispose()
    return found


def print_figures(figures: dict[str, Any]) -> None:
    print(f"server: {figures['server']} on {HOST}, {figures['orgs']:,} organizations in "
          f"{figures['database']}, "
          f"GET {figures['path_template']}, code {figures['code']}")
    print(f"clients: {figures['clients']} for {figures['seconds']} s -> {figures['requests']:,} "
          f"requests in {figures['elapsed_s']} s = {figures['rps']} req/s")
    print(f"latency: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
          f"p99 {figures['p99_ms']} ms")
    print(f"errors: {figures['errors']} (statuses {figures['statuses']})"
          + (f", first: {figures['first_error']}" if figures["first_error"] else ""))
    print(f"CPU (% of one core): server {figures['server_cpu_pct']}, load generator "
          f"{figures['client_cpu_pct']}, on {os.cpu_count()} cores")
    for name, bare in figures["bare"].items():
        print(f"bare {name} query (in process, no HTTP): p50 {bare['p50_ms']} ms, "
              f"p95 {bare['p95_ms']} ms; request p50 / bare p50 "
              f"{figures['p50_ms'] / max(bare['p50_ms'], 1e-6):.1f}x")
    print(f"load average (1, 5, 15 min): {figures['loadavg']}")
    print(json.dumps(figures))


# --- the run -------------------------------------------------------------------------------------

def probe(port: int, cookie: str, path: str) -> None:
    """One request before the load: a target that fails would only measure error pages."""
    started = time.perf_counter()
    try:
        status, _, page = request(HOST, port, "GET", path, headers={"Cookie": cookie})
    except TimeoutError as exc:
        raise SystemExit(f"GET {path} took over {REQUEST_TIMEOUT_S:.0f}s: not worth a load "
                         "test") from exc
    print(f"probe: GET {path} -> {status} in {(time.perf_counter() - started) * 1000:.0f} ms",
          file=sys.stderr)
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}, not 200 (is the page there? try "
                         f"--path-template '/organizations?state={{state}}'):\n{page[:500]}")


def run(args: argparse.Namespace) -> int:
    figures: dict[str, Any] = {"orgs": args.orgs, "code": code_version(),
                               "clients": args.clients,
                               "seconds": args.seconds, "path_template": args.path_template,
                               "loadavg": {"start": loadavg()}}
    database = ensure_database(Path(args.db) if args.db else None, args.orgs, args.seed,
                               args.database_url)
    figures["database"] = shown_url(database.url)
    try:
        ensure_user(database.url)
        paths = target_paths(args.path_template, query_zips(args.queries, args.seed))
        with running_server(database.url, args.workers, args.threads,
                            args.keep_logs) as server:
            cookie = sign_in(server.port)
            for path in paths[:3]:
                probe(server.port, cookie, path)
            figures["server"] = (f"gunicorn, {args.workers} worker"
                                 f"{'s' if args.workers > 1 else ''} of {args.threads} "
                                 f"threads")
            figures["workers"] = args.workers
            if args.warmup > 0:
                run_load(server.port, cookie, paths, args.clients, args.warmup, args.requests,
                         args.seed + 1)
            figures["loadavg"]["before"] = loadavg()
            cpu_before = [cpu_seconds(server.process.pid)]
            own_before = own_cpu_seconds()
            results, elapsed = run_load(server.port, cookie, paths, args.clients, args.seconds,
                                        args.requests, args.seed)
            figures["server_cpu_pct"] = cpu_percent(
                cpu_before, [cpu_seconds(server.process.pid)], elapsed)
            figures["client_cpu_pct"] = cpu_percent([own_before], [own_cpu_seconds()], elapsed)
            figures["loadavg"]["after"] = loadavg()
        figures["bare"] = bare_figures(database.url, query_zips(args.queries, args.seed))
    finally:
        if database.path and database.removable(args.keep or bool(args.db)):
            remove_database(database.path)
    figures.update(summarize(results, elapsed))
    print_figures(figures)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, required=True, help="organizations to generate")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the timed load")
    parser.add_argument("--requests", type=int, default=100_000,
                        help="at most this many requests per client")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of untimed load first (caches, connections)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the server (default: one per core)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker (directory serve's default: 1)")
    parser.add_argument("--path-template", default="/search?near={zip}&mode=near",
                        help="requested path; {zip}, {state}, {lat}, {lon} are filled in")
    parser.add_argument("--queries", type=int, default=1000, help="distinct ZIP codes to ask")
    parser.add_argument("--seed", type=int, default=1, help="generator and query seed")
    parser.add_argument("--db", help="database file (reused if built with the same --orgs and "
                                     "--seed; default bench/out/search-N-sS.db)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL database instead (postgresql+psycopg://...): the "
                             "network is loaded there with `directory seed --synthetic N`")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database this run builds at the default path")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the servers' logs in bench/out/ even after a clean run")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse_args()))
