"""The report route's post-commit relay kick: coalesced per process, yet no report's dispatch
request is left behind (real PostgreSQL, real Redis, the real relay)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import Engine, text

from dispatch import jobs
from dispatch.events import kick as kick_module
from service.app import create_app
from tests.integration.eventkit import GRID_01, GRID_02, interior_point, report_body

Headers = Callable[[str], dict[str, str]]


def _pending_dispatch(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT event_id FROM outbox WHERE topic = 'dispatch' AND processed_at IS NULL"
                )
            ).scalars()
        )


def test_reports_from_many_threads_all_reach_rq(
    committed: Engine, redis: Redis, token_for: Headers
) -> None:
    app = create_app()
    points = [interior_point(committed, GRID_01), interior_point(committed, GRID_02)]
    barrier = threading.Barrier(12)

    def send(i: int) -> int:
        client = TestClient(app)
        barrier.wait()
        r = client.post(
            "/api/v1/events",
            json=report_body(points[i % 2]),
            headers=token_for("g01m1" if i % 2 == 0 else "g02m1"),
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(send, range(12)))
    assert _pending_dispatch(committed) == []
    queued = {
        j.decode() if isinstance(j, bytes) else j for j in jobs.get_dispatch_queue(redis).job_ids
    }
    assert {f"dispatch-{i}" for i in ids} <= queued


def test_a_report_committed_during_a_relay_makes_it_go_round_again(
    committed: Engine, redis: Redis, token_for: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic: while the first relay runs, another report commits and kicks; that kick
    returns at once, and the running relay goes round once more and takes the new row."""
    app = create_app()
    client = TestClient(app)
    point = interior_point(committed, GRID_01)
    calls: list[int] = []
    real_relay = jobs.relay

    def relay_during_which_a_report_arrives(**kwargs: Any) -> int:
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            # the second report commits and its kick finds a relay running: it only marks it
            monkeypatch.setattr(kick_module, "relay", real_relay)
            r = client.post("/api/v1/events", json=report_body(point), headers=token_for("g01m1"))
            assert r.status_code == 201
            monkeypatch.setattr(kick_module, "relay", relay_during_which_a_report_arrives)
        return int(real_relay(**kwargs))

    monkeypatch.setattr(kick_module, "relay", relay_during_which_a_report_arrives)
    first = client.post("/api/v1/events", json=report_body(point), headers=token_for("g01m1"))
    assert first.status_code == 201
    assert calls == [1, 2], "the running relay must go round once more"
    assert _pending_dispatch(committed) == []


def test_a_failing_relay_leaves_the_row_for_the_worker_and_the_next_kick_works(
    committed: Engine, redis: Redis, token_for: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app()
    client = TestClient(app)
    point = interior_point(committed, GRID_01)
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens there
    real_relay = jobs.relay
    monkeypatch.setattr(kick_module, "relay", lambda **kw: real_relay(connection=down, **kw))
    r = client.post("/api/v1/events", json=report_body(point), headers=token_for("g01m1"))
    assert r.status_code == 201, "the report stands even when Redis is down"
    assert _pending_dispatch(committed) == [r.json()["id"]]
    monkeypatch.setattr(kick_module, "relay", real_relay)
    again = client.post("/api/v1/events", json=report_body(point), headers=token_for("g01m1"))
    assert again.status_code == 201
    # the new report went out; the failed row goes with the next relay once its short backoff
    # is over (the worker's relay, or a later kick)
    assert again.json()["id"] not in _pending_dispatch(committed)
