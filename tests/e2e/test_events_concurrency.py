"""Twenty phones (or one phone retrying twenty times) send the same report at once, through the
real app and the real connection pools (nothing overridden): exactly one event."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from service.api.app import create_app
from tests.kit.events import GRID_01, interior_point, report_body

Headers = Callable[[str], dict[str, str]]
N = 20


def test_twenty_concurrent_identical_reports_make_one_event(
    committed: Engine, token_for: Headers
) -> None:
    app = create_app()  # real sessions from the pool: each request its own transaction
    body = report_body(interior_point(committed, GRID_01))
    headers = token_for("g01m1")
    barrier = threading.Barrier(N)

    def send(_: int) -> tuple[int, Any]:
        barrier.wait()
        r = client.post("/api/v1/events", json=body, headers=headers)
        return r.status_code, r.json()

    # one app instance (its lifespan: the async pool), requests from twenty threads at once
    with TestClient(app) as client, ThreadPoolExecutor(N) as pool:
        results = list(pool.map(send, range(N)))

    statuses = sorted(s for s, _ in results)
    assert statuses == [200] * (N - 1) + [201], results
    ids = {b["id"] for _, b in results}
    assert len(ids) == 1
    with committed.connect() as conn:
        events = conn.execute(
            text("SELECT id FROM event WHERE client_id = :c"), {"c": body["client_id"]}
        ).all()
        audit = conn.execute(text("SELECT action FROM event_audit")).scalars().all()
        dispatch = (
            conn.execute(text("SELECT payload FROM outbox WHERE topic = 'dispatch'"))
            .scalars()
            .all()
        )
    assert len(events) == 1 and events[0][0] in ids
    assert audit == ["register"]
    assert dispatch == [{"event_id": events[0][0]}]


def test_concurrent_reports_with_one_client_id_but_different_bodies(
    committed: Engine, token_for: Headers
) -> None:
    """One wins (201); the others, which reused its client_id for another body, get 409."""
    app = create_app()
    base = report_body(interior_point(committed, GRID_01))
    headers = token_for("g01m1")
    barrier = threading.Barrier(8)

    def send(i: int) -> int:
        barrier.wait()
        body = {**base, "description": f"第 {i} 份"}
        return int(client.post("/api/v1/events", json=body, headers=headers).status_code)

    with TestClient(app) as client, ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(send, range(8)))
    assert statuses == [201] + [409] * 7
    with committed.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM event_audit")).scalar_one() == 1
