"""Real server processes for the dispatch engine's end-to-end and fault tests: a private
``redis-server`` the tests may stop, restart and FLUSHALL without touching anyone else's data,
the API under uvicorn, and ``wangge worker``. Loopback only; every wait is bounded."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from redis import Redis
from redis.exceptions import RedisError

ROOT = Path(__file__).resolve().parents[2]
START_HINT = "install redis-server (scripts/bootstrap.sh does) or run `make test`"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class PrivateRedis:
    """A throw-away redis-server on a free port (no persistence): stop() makes Redis
    unreachable for real, start() brings it back empty on the same port."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(f"redis-server not found; {START_HINT}")
        self.exe = exe
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="wangge-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Redis:
        return Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def server_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The test process's settings (test database, dev secret) with another Redis."""
    env = dict(os.environ)
    env.update(WANGGE_REDIS_URL=redis_url, WANGGE_LOG_LEVEL="WARNING", **extra)
    return env


def _uvicorn(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "service.api.app:app_factory", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--log-level", "warning", "--timeout-graceful-shutdown", "1"]  # fmt: skip


class ApiServer:
    """The API on a free port: one uvicorn process, or ``command(port)`` (e.g. ``wangge api
    --workers 2`` as deployed), in a process group of its own; ready when ``ready`` answers."""

    def __init__(
        self,
        env: dict[str, str],
        command: Callable[[int], list[str]] = _uvicorn,
        ready: str = "/openapi.json",
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(command(self.port), env=env, cwd=ROOT, start_new_session=True)
        deadline = time.monotonic() + 120  # importing the app takes long on a busy machine
        while True:
            try:
                if httpx.get(self.base + ready, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the API server did not start")
            time.sleep(0.1)

    def close(self) -> None:
        _stop(self.proc)


class WorkerProcess:
    """``wangge worker``: RQ SimpleWorker + scheduler + the pulse (relay, promoter, sweep)."""

    def __init__(self, env: dict[str, str]) -> None:
        exe = ROOT / ".venv" / "bin" / "wangge"
        self.proc = subprocess.Popen(
            [str(exe), "worker"], env=env, cwd=ROOT, start_new_session=True
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, whatever the job was doing stops mid-way."""
        _stop(self.proc, signal.SIGKILL)

    def close(self) -> None:
        _stop(self.proc)
