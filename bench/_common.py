"""What both benchmarks share: the synthetic database, the query points and the figures.

The database is built by the project's own generator in a *child process* (run this file as
``python bench/_common.py build ...``), so that the benchmark process's peak RSS measures the
searches, not the bulk inserts. A finished build leaves a ``<db>.meta.json`` beside the database
naming its size and seed; a later run with the same ``--db``, size and seed reuses it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
# 50 states and DC: the generator also leaves out these territories.
TERRITORIES = frozenset({"PR", "GU", "VI", "AS", "MP"})


def default_db_path(orgs: int, seed: int) -> Path:
    return OUT_DIR / f"search-{orgs}-s{seed}.db"


def meta_path(db: Path) -> Path:
    return db.with_name(db.name + ".meta.json")


def database_files(db: Path) -> list[Path]:
    """The database and everything SQLite or the builder leaves beside it."""
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), meta_path(db)]


def remove_database(db: Path) -> None:
    for path in database_files(db):
        path.unlink(missing_ok=True)


def database_url(db: Path | str) -> str:
    """The URL of an SQLite file given as a path, or a database URL as given."""
    return f"sqlite:///{db}" if isinstance(db, Path) else db


def make_app(db: Path | str) -> Any:
    """The application on ``db`` (an SQLite file or a database URL) in testing mode (fixed
    development keys, nothing else)."""
    from directory import create_app

    instance = db.parent / "instance" if isinstance(db, Path) else OUT_DIR / "instance"
    return create_app({"ENV": "testing", "INSTANCE_PATH": str(instance),
                       "DATABASE_URL": database_url(db)})


def shown_url(url: str) -> str:
    """A database URL for the figures: its backend and database name, no credentials."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"{parsed.get_backend_name()}:{Path(parsed.database or '').name}"


# --- building -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Database:
    url: str
    path: Path | None  # the SQLite file; None for a server's database (PostgreSQL)
    built: bool  # by this run (so it may be removed at the end)
    build_s: float  # this run's build, or the recorded one of the reused database

    def removable(self, kept: bool) -> bool:
        """Whether this run made the file at the default path and may remove it."""
        return self.path is not None and self.built and not kept


def _progress_printer(total: int, label: str) -> Callable[[int], None]:
    """Progress on stderr: a rewritten line on a terminal, a line per 5% otherwise."""
    state = {"done": 0, "shown": -1}
    started = time.perf_counter()
    tty = sys.stderr.isatty()

    def update(step: int) -> None:
        state["done"] += step
        done = state["done"]
        percent = 100 * done // total
        if not tty and percent // 5 == state["shown"] // 5 and done < total:
            return
        state["shown"] = percent
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        line = (f"{label}: {done:,}/{total:,} ({percent}%), {rate:,.0f}/s, "
                f"{elapsed:.0f}s elapsed, ~{eta:.0f}s left")
        print(("\r" + line) if tty else line, end="" if tty and done < total else "\n",
              file=sys.stderr, flush=True)

    return update


def _build_here(db: Path, orgs: int, seed: int) -> float:
    """Create the schema, the taxonomy and the synthetic network; return the seconds taken."""
    from directory.db import get_database, get_session, upgrade
    from directory.orgs.synthetic import generate_synthetic_network
    from directory.seeding import SeedReport, load_taxonomy

    started = time.perf_counter()
    app = make_app(db)
    with app.app_context():
        upgrade(get_database(app))
        session = get_session()
        load_taxonomy(SeedReport())
        report = generate_synthetic_network(orgs, seed, _progress_printer(orgs, "Generating"))
        session.commit()
        if report.skipped:
            raise RuntimeError(f"{db} already holds a synthetic network with seed {seed}")
        session.close()
    get_database(app).engine.dispose()
    return time.perf_counter() - started


def _build_command(args: argparse.Namespace) -> None:
    db = Path(args.db)
    try:
        build_s = _build_here(db, args.orgs, args.seed)
    except BaseException:
        remove_database(db)  # never leave a half-built database that looks reusable
        raise
    meta_path(db).write_text(json.dumps({"orgs": args.orgs, "seed": args.seed,
                                         "build_s": round(build_s, 1), "complete": True}))
    print(f"Built {db} in {build_s:.1f}s", file=sys.stderr)


def ensure_database(db: Path | None, orgs: int, seed: int,
                    url: str | None = None) -> Database:
    """Reuse ``db`` if it was generated with the same size and seed, else build it.

    A file that exists but was not built with these settings is an error, never overwritten:
    it may be someone's real database. With ``url`` (a PostgreSQL database), the network is
    loaded there by ``directory seed --synthetic`` instead (idempotent: a network with the
    same seed already there is kept as it is)."""
    if url is not None and not url.startswith("sqlite"):
        return _ensure_server_database(url, orgs, seed)
    if url is not None:
        from sqlalchemy.engine import make_url

        db = Path(make_url(url).database or "")
    path = (db or default_db_path(orgs, seed)).resolve()
    if path.exists():
        meta = _read_meta(path)
        if meta.get("complete") and meta.get("orgs") == orgs and meta.get("seed") == seed:
            print(f"Reusing {path} ({orgs:,} organizations, seed {seed}, built in "
                  f"{meta.get('build_s')}s)", file=sys.stderr)
            upgrade_schema(path)
            return Database(database_url(path), path, built=False,
                            build_s=float(meta.get("build_s") or 0.0))
        raise SystemExit(f"{path} exists but was not generated with --orgs {orgs} --seed {seed} "
                         f"(meta: {meta or 'none'}): remove it or choose another --db.")
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "build", "--db", str(path),
                    "--orgs", str(orgs), "--seed", str(seed)], check=True)
    return Database(database_url(path), path, built=True, build_s=time.perf_counter() - started)


def _ensure_server_database(url: str, orgs: int, seed: int) -> Database:
    """The demo network and ``orgs`` synthetic organizations in the database at ``url``,
    through the CLI a deployment uses (migrations, bulk load, ANALYZE), in a child process."""
    env = {**os.environ, "DIRECTORY_DATABASE_URL": url, "DIRECTORY_ENV": "testing",
           "DIRECTORY_INSTANCE_PATH": str(OUT_DIR / "instance")}
    command = str(Path(sys.executable).with_name("directory"))  # the venv's console script
    started = time.perf_counter()
    done = subprocess.run([command, "seed", "--synthetic", str(orgs), "--random-seed",
                           str(seed), "--json"], env=env, check=True, stdout=subprocess.PIPE)
    build_s = time.perf_counter() - started
    report = json.loads(done.stdout)
    present = bool(report["synthetic"]["already_present"])
    print(f"{shown_url(url)}: synthetic network with seed {seed} "
          f"{'already present' if present else 'loaded'} ({build_s:.1f}s)", file=sys.stderr)
    return Database(url, None, built=not present, build_s=build_s)


def upgrade_schema(db: Path | str) -> None:
    """Bring a reused database to the code's newest migration: the application moves on
    between runs, and its pages fail on a schema it no longer expects."""
    from directory.db import get_database, upgrade

    app = make_app(db)
    upgrade(get_database(app))
    get_database(app).engine.dispose()


def _read_meta(db: Path) -> dict[str, Any]:
    try:
        return json.loads(meta_path(db).read_text())
    except (OSError, ValueError):
        return {}


# --- query points --------------------------------------------------------------------------------

def query_zips(count: int, seed: int) -> list[Any]:
    """``count`` distinct standard ZIP codes of the 50 states and DC, the same for a seed:
    people search from where they live, so query points follow the ZIP codes."""
    from directory.geo.gazetteer import gazetteer

    zips = sorted((area for area in gazetteer().zips.values()
                   if area.standard and area.state not in TERRITORIES), key=lambda a: a.code)
    return random.Random(seed).sample(zips, min(count, len(zips)))


# --- figures -------------------------------------------------------------------------------------

def timed_calls(function: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """A first call (the warm-up: caches, compiled statements), then ``repeat`` timed calls:
    the first call's ms, the others' ms, and the last answer."""
    started = time.perf_counter()
    answer = function()
    first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = function()
        times.append((time.perf_counter() - started) * 1000)
    return first, times, answer


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the nearest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def code_version() -> str:
    """The commit the application code comes from, "+dirty" if it has uncommitted changes:
    the code moves while benchmarks run, and figures mean little without it."""
    root = BENCH_DIR.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "directory", "templates"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def loadavg() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its largest finished child), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # kB on Linux


@contextmanager
def stage(label: str) -> Iterator[None]:
    """Say on stderr what is running and how long it took (stdout is for the figures)."""
    print(f"{label} (load average {loadavg()}) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    yield
    print(f"{label}: done in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build a synthetic benchmark database.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="generate N organizations into --db")
    build.add_argument("--db", required=True)
    build.add_argument("--orgs", type=int, required=True)
    build.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "build":
        _build_command(args)


if __name__ == "__main__":
    main()
