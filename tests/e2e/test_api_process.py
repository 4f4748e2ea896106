"""``wangge api`` as deployed (uvicorn with two worker processes): every scrape of /metrics
counts the requests of both processes, a change stream's duration stays out of the latency
histogram, and SIGTERM with a stream open exits within the grace period."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from tests.kit.servers import ROOT, ApiServer, server_env

pytestmark = pytest.mark.heavy  # scheduled first (tests/conftest.py)

Headers = Callable[[str], dict[str, str]]


def wangge_api(port: int) -> list[str]:
    """``wangge api --workers 2``, as compose runs it."""
    exe = str(ROOT / ".venv" / "bin" / "wangge")
    return [exe, "api", "--port", str(port), "--workers", "2"]


@pytest.fixture(scope="module")
def api(engine: Engine) -> Iterator[ApiServer]:
    env = server_env(os.environ["WANGGE_REDIS_URL"], WANGGE_SHUTDOWN_GRACE_SECONDS="2")
    server = ApiServer(env, command=wangge_api, ready="/livez")
    time.sleep(1)  # the second process may answer a moment after the first
    yield server
    server.close()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_every_scrape_counts_both_processes(api: ApiServer) -> None:
    key = (("method", "GET"), ("route", "/livez"), ("status", "200"))

    def livez_count() -> float:
        with httpx.Client() as fresh:
            text = fresh.get(api.base + "/metrics").text
        return samples(text, "wangge_http_requests_total").get(key, 0.0)

    before = livez_count()
    for _ in range(20):
        with httpx.Client() as fresh:  # a new connection each: both processes take some
            assert fresh.get(api.base + "/livez").status_code == 200
    assert [livez_count() for _ in range(4)] == [before + 20] * 4


def test_shutdown_with_an_open_stream_is_bounded(api: ApiServer, token_for: Headers) -> None:
    opened = threading.Event()
    latency_key = "wangge_http_request_duration_seconds_count"

    def listen() -> None:
        try:
            with httpx.stream(
                "GET", api.base + "/api/v1/dispatch/stream", headers=token_for("dispatch1"),
                timeout=httpx.Timeout(5, read=60),
            ) as reply:  # fmt: skip
                assert reply.status_code == 200
                for _ in reply.iter_lines():
                    opened.set()
        except httpx.HTTPError:
            pass

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(30), "the stream did not open"
    with httpx.Client() as fresh:
        text = fresh.get(api.base + "/metrics").text
    streams = samples(text, "wangge_sse_clients")
    assert sum(streams.values()) == 1.0, streams
    assert not any(
        dict(k).get("route") == "/api/v1/dispatch/stream" for k in samples(text, latency_key)
    )
    started = time.monotonic()
    api.proc.send_signal(signal.SIGTERM)
    api.proc.wait(timeout=30)
    took = time.monotonic() - started
    assert took <= 5, f"shutdown took {took:.1f} s with a stream open"
    listener.join(timeout=10)
    assert not listener.is_alive()
