"""The production HTTP server: gunicorn, a worker process per core.

One Python process runs one request at a time on one core (the GIL), so the directory serves
with a process per core, each taking one request at a time by default: the search page is
bound by the CPU, and threads in one process only take turns at it (measured with
bench/load_search.py: the same throughput, a longer tail). Threads pay where requests wait on
the network (a PostgreSQL server elsewhere, a slow mail server): ``--threads``.

The application is built once, in the master, before the workers are forked: a broken
configuration stops the server before it starts, and the gazetteer and county boundaries are
loaded once and shared. Database connections are never shared across a fork:
each worker drops the pool it inherited and opens its own.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from directory.db import get_database
from directory.geo.boundaries import basemap_geojson, boundaries
from directory.geo.gazetteer import gazetteer

DEFAULT_THREADS = 1
METRICS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIRECTORY_PREFIX = "directory-metrics-"
# (process id, directory, whether it was made here) of the last prepare_metrics_directory
_prepared: tuple[int, Path, bool] | None = None


def default_workers() -> int:
    """One worker per core."""
    return max(1, os.cpu_count() or 1)


def shared_limits_warning(app: Flask, workers: int) -> str | None:
    """Rate limits kept in memory are counted per worker: with several, a client gets the limit
    once per worker. Say so, with the fix."""
    storage = str(app.config.get("RATELIMIT_STORAGE", "memory://"))
    if workers > 1 and storage.startswith("memory://"):
        return (f"Warning: rate limits are kept in memory, so each of the {workers} workers "
                "counts its own. Set DIRECTORY_RATELIMIT_STORAGE=redis://HOST:6379 to share "
                "them, or serve with --workers 1.")
    return None


class DirectoryServer(BaseApplication):  # type: ignore[misc]
    """gunicorn serving an application object that is already built."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def _clear_metrics_files(directory: Path) -> None:
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def prepare_metrics_directory() -> Path:
    """Where the workers write their metrics for any one of them to add up at a scrape.

    Called before the application (and so prometheus_client) is loaded: the library picks its
    multi-process mode when it is imported. ``PROMETHEUS_MULTIPROC_DIR`` when given (its old
    files are cleared: they belong to workers of a previous run), else a new private one.
    ``release_metrics_directory`` undoes this when the server stops."""
    global _prepared
    given = os.environ.get(METRICS_DIRECTORY_VARIABLE)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        _clear_metrics_files(directory)
    else:
        directory = Path(tempfile.mkdtemp(prefix=METRICS_DIRECTORY_PREFIX))
        os.environ[METRICS_DIRECTORY_VARIABLE] = str(directory)
    _prepared = (os.getpid(), directory, not given)
    return directory


def release_metrics_directory() -> None:
    """When the server stops: remove the directory ``prepare_metrics_directory`` made, or
    empty the one it was given of the metrics files (counts of a run that is over). Only in
    the process that prepared it: a worker leaving (its exit unwinds through the same code
    after the fork) must not take the others' files."""
    if _prepared is None or _prepared[0] != os.getpid():
        return
    _, directory, made_here = _prepared
    if made_here:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        _clear_metrics_files(directory)


def server_options(app: Flask, host: str, port: int, workers: int,
                   threads: int) -> dict[str, Any]:
    def post_fork(server: Any, worker: Any) -> None:
        # close=False: the connections belong to the master; the worker only forgets them.
        get_database(app).engine.dispose(close=False)

    def child_exit(server: Any, worker: Any) -> None:
        if os.environ.get(METRICS_DIRECTORY_VARIABLE):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)

    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "post_fork": post_fork,
        "child_exit": child_exit,
        "proc_name": "directory",
        # No access log: request lines carry search places and referral ids.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "keepalive": 5,
        "graceful_timeout": 20,
    }
    if app.config.get("LOG_FORMAT") == "json":
        from directory.ops.logs import gunicorn_log_config

        options["logconfig_dict"] = gunicorn_log_config()
    return options


def load_shared_data() -> None:
    """Load the read-only geography (ZIP gazetteer, county and state boundaries: some 400,000
    Python objects) before the workers fork, so that they share it, and take it out of the
    garbage collector's sweeps: each full collection would walk all of it again (about 200 ms,
    a stall of every request in flight)."""
    gazetteer()
    boundaries()
    basemap_geojson()
    gc.collect()
    gc.freeze()


def serve(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until stopped (Ctrl+C or SIGTERM stop gracefully)."""
    load_shared_data()
    DirectoryServer(app, server_options(app, host, port, workers, threads)).run()
