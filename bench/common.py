"""Shared benchmark plumbing: a bench database, server processes, and wrk as the load generator.

Load comes from ``wrk`` (C, epoll), not from Python, so on this 2-core machine the client
does not starve the server it measures. Every server listens on 127.0.0.1 only, and every
run is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from kernel.db import libpq_url

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "wangge_bench"

# wrk prints one JSON line of its own measurements at the end (latency in microseconds).
_WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() != 0:
        sys.exit("bench needs wrk: apt-get install wrk (as root)")
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or "wrk"


def server_env() -> dict[str, str]:
    """The dev servers' URLs (from .local/dev.env when make run has been used)."""
    env = dict(os.environ)
    dev_env = ROOT / ".local" / "dev.env"
    if dev_env.exists():
        for line in dev_env.read_text().splitlines():
            key, _, value = line.partition("=")
            env.setdefault(key, value)
    env.setdefault("WANGGE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/wangge")
    env.setdefault("WANGGE_REDIS_URL", "redis://127.0.0.1:6379/0")
    return env


def bench_database(*, fresh: bool = True, name: str = BENCH_DB) -> dict[str, str]:
    """Create (or reuse) the bench database with the schema and reference data loaded.

    Returns the environment for bench processes (WANGGE_DATABASE_URL pointing at it).
    ``name`` lets a benchmark use a database of its own, so concurrent runs of different
    benchmarks do not drop each other's database.
    """
    env = server_env()
    base = env["WANGGE_DATABASE_URL"]
    url = libpq_url(base, name).replace("postgresql://", "postgresql+psycopg://", 1)
    env.update(WANGGE_DATABASE_URL=url, WANGGE_ENV="dev", WANGGE_REDIS_URL=bench_redis_url(env))
    # Load comes from a few accounts and one address: the limits would measure themselves. They
    # are still checked on every request (their cost is in the figures), never reached.
    unlimited = "1000000/second"
    env.update(
        WANGGE_REPORT_RATE_PER_ACCOUNT=unlimited,
        WANGGE_REPORT_RATE_PER_SOURCE=unlimited,
        WANGGE_SIGNIN_RATE_PER_SOURCE=unlimited,
    )
    with psycopg.connect(libpq_url(base, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if fresh or not exists:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
            with psycopg.connect(libpq_url(url), autocommit=True) as db:
                db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            wangge = str(ROOT / ".venv" / "bin" / "wangge")
            subprocess.run([wangge, "migrate"], check=True, env=env, capture_output=True)
            subprocess.run([wangge, "load-data"], check=True, env=env, capture_output=True)
    return env


def bench_redis_url(env: dict[str, str]) -> str:
    """Redis database 14 of the dev server: benchmarks may flush it."""
    from urllib.parse import urlsplit

    return urlsplit(env["WANGGE_REDIS_URL"])._replace(path="/14").geturl()


@contextlib.contextmanager
def serve(
    app: str,
    *,
    env: dict[str, str],
    workers: int = 2,
    factory: bool = True,
    ready_path: str = "/openapi.json",
    start_timeout: float = 30,
) -> Iterator[str]:
    """Run ``uvicorn app`` on a free port; yields the base URL; stops it afterwards."""
    with serve_process(
        app, env=env, workers=workers, factory=factory, ready_path=ready_path,
        start_timeout=start_timeout,
    ) as (base, _):  # fmt: skip
        yield base


@contextlib.contextmanager
def serve_process(
    app: str,
    *,
    env: dict[str, str],
    workers: int = 2,
    factory: bool = True,
    ready_path: str = "/openapi.json",
    start_timeout: float = 30,
) -> Iterator[tuple[str, int]]:
    """``serve``, yielding the server's process id too (with one worker, the process that
    serves the requests)."""
    port = free_port()
    cmd = [
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(
        cmd, env={**env, "WANGGE_LOG_LEVEL": "WARNING"}, cwd=ROOT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(base + ready_path, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server {app} did not start")
            time.sleep(0.2)
        time.sleep(0.5)  # let every worker process finish starting
        yield base, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    non2xx: int

    def line(self, label: str) -> str:
        return (
            f"{label:<34} {self.rps:>9.0f} req/s   p50 {self.p50_ms:6.2f} ms   "
            f"p90 {self.p90_ms:6.2f} ms   p99 {self.p99_ms:6.2f} ms   "
            f"errors {self.errors}  non-2xx {self.non2xx}"
        )


def wrk(
    url: str,
    *,
    connections: int = 10,
    seconds: float = 10,
    threads: int = 2,
    lua: str = "",
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Run wrk against ``url``; ``lua`` may define request()/init() (wrk's scripting API)."""
    exe = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua + "\n" + _WRK_DONE)
        script = f.name
    cmd = [
        exe,
        "-t",
        str(min(threads, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "5s",
        "-s",
        script,
    ]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
    os.unlink(script)
    data = json.loads(out.strip().splitlines()[-1])
    return LoadResult(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        requests=data["requests"],
        errors=data["errors"],
        non2xx=data["non2xx"],
    )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
