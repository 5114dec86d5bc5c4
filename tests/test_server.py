"""`directory serve`: the production server, started as an operator would, in a child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from directory import create_app
from directory.cli import main
from directory.server import server_options, shared_limits_warning

STARTUP_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def directory_command() -> str:
    return str(Path(sys.executable).with_name("directory"))


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.append(int(entry.name))
    return found


@pytest.fixture()
def serve_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DIRECTORY_ENV": "testing", "DIRECTORY_INSTANCE_PATH": str(tmp_path),
           "DIRECTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    env.pop("DIRECTORY_RATELIMIT_STORAGE", None)
    result = CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return env


@pytest.fixture()
def server(serve_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [directory_command(), "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
        env=serve_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0]
            try:
                if get(f"http://127.0.0.1:{port}/login") == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"the server did not answer on port {port} in {STARTUP_S:.0f}s")
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker processes from /proc")
def test_serve_runs_several_workers_that_answer_and_stop_on_sigterm(
        server: tuple[subprocess.Popen[str], int]) -> None:
    process, port = server
    # The first worker may answer before the master has forked the second.
    deadline = time.monotonic() + STARTUP_S
    while len(children(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(children(process.pid)) == 2
    # Each worker opened its own database connections after the fork: concurrent requests
    # on both all succeed.
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(get, [f"http://127.0.0.1:{port}/login"] * 40
                                 + [f"http://127.0.0.1:{port}/organizations"] * 40))
    assert statuses == [200] * 80  # /organizations redirects to the sign-in page, followed
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "with 2 workers of 2 threads" in output
    assert "DIRECTORY_RATELIMIT_STORAGE=redis://" in output  # memory limits: the warning
    assert "Traceback" not in output


def test_serve_in_production_mode_without_secrets_is_a_clear_error(tmp_path: Path) -> None:
    env = {"DIRECTORY_ENV": "production", "DIRECTORY_INSTANCE_PATH": str(tmp_path),
           "DIRECTORY_SECRET_KEY": "", "DIRECTORY_DATA_KEY": "",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}  # restored after the run
    result = CliRunner().invoke(main, ["serve", "--port", str(free_port())], env=env)
    assert result.exit_code == 1
    assert "DIRECTORY_SECRET_KEY is not set" in result.output and "Traceback" not in result.output


def test_serve_refuses_a_bad_worker_count(serve_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["serve", "--workers", "0"], env=serve_env)
    assert result.exit_code == 2 and "--workers" in result.output


def test_memory_rate_limits_warn_only_with_several_workers(tmp_path: Path) -> None:
    app = create_app({"ENV": "testing", "INSTANCE_PATH": str(tmp_path),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"})
    assert shared_limits_warning(app, 1) is None
    assert "each of the 3 workers" in (shared_limits_warning(app, 3) or "")
    app.config["RATELIMIT_STORAGE"] = "redis://127.0.0.1:6379"
    assert shared_limits_warning(app, 3) is None


def test_server_options_bind_ipv6_hosts_in_brackets(tmp_path: Path) -> None:
    app = create_app({"ENV": "testing", "INSTANCE_PATH": str(tmp_path),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"})
    assert server_options(app, "::1", 8080, 2, 4)["bind"] == "[::1]:8080"
    options = server_options(app, "0.0.0.0", 8080, 2, 4)
    assert options["bind"] == "0.0.0.0:8080"
    assert options["accesslog"] is None  # request lines carry places searched


def _metrics_directories(temporary: Path) -> list[Path]:
    return sorted(temporary.glob("directory-metrics-*"))


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def _started(env: dict[str, str]) -> subprocess.Popen[str]:
    port = free_port()
    process = subprocess.Popen(
        [directory_command(), "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            if get(f"http://127.0.0.1:{port}/healthz") == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"the server did not answer on port {port} in {STARTUP_S:.0f}s")


def test_the_metrics_directory_it_makes_is_removed_when_it_stops(
        serve_env: dict[str, str], tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**serve_env, "TMPDIR": str(temporary)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = _started(env)
    try:
        made = _metrics_directories(temporary)
        assert len(made) == 1 and list(made[0].glob("*.db"))  # the workers' files
    finally:
        output = _stop(process)
    assert _metrics_directories(temporary) == [], output


def test_a_given_metrics_directory_is_cleared_at_start_and_at_stop(
        serve_env: dict[str, str], tmp_path: Path) -> None:
    given = tmp_path / "metrics"
    given.mkdir()
    stale = given / "counter_12345.db"
    stale.write_bytes(b"from a previous run")
    kept = given / "README"
    kept.write_text("not ours")
    process = _started({**serve_env, "PROMETHEUS_MULTIPROC_DIR": str(given)})
    try:
        assert not stale.exists()
        assert list(given.glob("*.db"))  # this run's workers' files
    finally:
        _stop(process)
    assert list(given.glob("*.db")) == [] and kept.read_text() == "not ours"
