"""Operability from outside, on real processes: liveness and readiness apart, the worker's
own healthcheck from its heartbeat, and the worker visible to RQ's tools (``rq info``) also
after Redis restarted empty."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.kit.servers import ROOT, ApiServer, PrivateRedis, WorkerProcess, server_env

pytestmark = pytest.mark.heavy  # scheduled first (tests/conftest.py)

BIN = ROOT / ".venv" / "bin"


def wait_for(predicate: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def rq_workers(redis: PrivateRedis) -> str:
    """``rq info`` as an operator runs it: its last line counts workers and queues."""
    out = subprocess.run(
        [str(BIN / "rq"), "info", "--only-workers", "--url", redis.url],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    return out


def probe(env: dict[str, str], part: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wangge"), "probe", part], env=env, capture_output=True, text=True, timeout=30
    )


def test_live_and_ready_on_a_healthy_service(client: TestClient) -> None:
    assert client.get("/livez").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "down": []}


def test_without_its_database_the_api_is_alive_but_not_ready() -> None:
    """The orchestrator keeps the process (no restart loop) but sends it no traffic."""
    env = server_env(
        os.environ["WANGGE_REDIS_URL"],
        WANGGE_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/wangge_no_such_db",
    )
    server = ApiServer(env)
    try:
        assert httpx.get(server.base + "/livez", timeout=10).status_code == 200
        ready = httpx.get(server.base + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json() == {"status": "unready", "down": ["postgres"]}
        assert probe(env | {"WANGGE_WORKER_HEARTBEAT_FILE": "/nonexistent"}, "api").returncode
        ok = subprocess.run(
            [str(BIN / "wangge"), "probe", "api", "--url", server.base + "/livez"],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert ok.returncode == 0, ok.stderr
    finally:
        server.close()


@pytest.fixture
def worker_env(private_redis: PrivateRedis, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield server_env(
        private_redis.url,
        WANGGE_WORKER_HEARTBEAT_FILE=str(tmp_path / "worker.heartbeat"),
        WANGGE_WORKER_HEARTBEAT_SECONDS="0.5",  # stale after 2 s
    )


def test_the_worker_healthcheck_follows_its_heartbeat(worker_env: dict[str, str]) -> None:
    missing = probe(worker_env, "worker")
    assert missing.returncode == 1 and "has not started" in missing.stderr
    worker = WorkerProcess(worker_env)
    try:
        assert wait_for(lambda: probe(worker_env, "worker").returncode == 0)
        alive = probe(worker_env, "worker")
        assert re.search(r"worker wangge-\S+ \(pid \d+\) beat [\d.]+ s ago, reaches Redis",
                         alive.stdout), alive.stdout  # fmt: skip
    finally:
        worker.kill()  # no shutdown handler: only the heartbeat's age can tell
    assert wait_for(lambda: probe(worker_env, "worker").returncode == 1, seconds=10)
    assert "stale" in probe(worker_env, "worker").stderr


def test_a_worker_started_while_redis_is_down_waits_for_it(
    worker_env: dict[str, str], private_redis: PrivateRedis
) -> None:
    """RQ's worker reaches Redis when it is made: started during an outage, the process stays
    up, retrying, and registers once Redis is back (it used to exit with ConnectionError)."""
    private_redis.stop()
    worker = WorkerProcess(worker_env)
    try:
        time.sleep(4)  # long enough to import and try at least once
        assert worker.proc.poll() is None  # still running: waiting, not gone
        private_redis.start()
        mine = f"wangge-{socket.gethostname()}-{worker.proc.pid} "
        assert wait_for(lambda: mine in rq_workers(private_redis), seconds=20), rq_workers(
            private_redis
        )
    finally:
        worker.close()
        if private_redis.proc is None:
            private_redis.start()  # the module's server, for the tests after this one


def test_rq_info_sees_the_worker_also_after_redis_restarts_empty(
    worker_env: dict[str, str], private_redis: PrivateRedis
) -> None:
    worker = WorkerProcess(worker_env)
    # this worker, by name (an earlier test's killed worker may still be in the registry)
    mine = f"wangge-{socket.gethostname()}-{worker.proc.pid} "
    try:
        assert wait_for(lambda: mine in rq_workers(private_redis)), rq_workers(private_redis)
        assert re.search(r"wangge-\S+ \(.*\): (idle|busy) wangge\.", rq_workers(private_redis))
        private_redis.stop()
        time.sleep(1)
        private_redis.start()  # empty: RQ's registry is gone with everything else
        assert wait_for(
            lambda: "1 workers" in (listed := rq_workers(private_redis)) and mine in listed,
            seconds=15,
        ), rq_workers(private_redis)
        # and it still works jobs: the probe says it reaches Redis again
        assert wait_for(lambda: "reaches Redis" in probe(worker_env, "worker").stdout)
    finally:
        worker.close()
    # a clean stop takes it out of the registry
    assert wait_for(lambda: "0 workers" in rq_workers(private_redis), seconds=15)
