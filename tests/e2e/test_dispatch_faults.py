"""A fault test of the dispatch engine through HTTP, on real servers: PostgreSQL, a private
redis-server (so stopping it touches nobody else) and the API under uvicorn.

(a) Redis unreachable while 100 events are reported: all 201, nothing lost; Redis back: all
    dispatched, and once the seconds-long deadlines pass every breach fires.

(b) and (c), a worker killed mid-job and FLUSHALL, are tests/integration/test_dispatch_faults.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import Engine, text
from sqlmodel import Session

from dispatch.engine import promoter
from dispatch.engine import relay as relayer
from dispatch.engine.queue import get_dispatch_queue
from tests.kit import faults
from tests.kit.dispatch import work as _work
from tests.kit.events import interior_point
from tests.kit.faults import ACK_2S, N
from tests.kit.faults import count as _count
from tests.kit.faults import members as _members
from tests.kit.faults import wait_until as _wait_until
from tests.kit.servers import ApiServer, PrivateRedis, server_env

# Redis is the module's private server, started and empty; the session commits
redis = faults.redis
session = faults.session


@pytest.fixture(scope="module")
def api(engine: Engine, private_redis: PrivateRedis) -> Iterator[ApiServer]:
    server = ApiServer(server_env(private_redis.url))
    yield server
    server.close()


def _queued_timers(redis: Redis) -> int:
    """Timers waiting on the queue: single timer jobs and those inside batch jobs."""
    count = 0
    for job_id in get_dispatch_queue(redis).job_ids:
        if job_id.startswith("sla-"):
            count += 1
        elif job_id.startswith("slabatch-"):
            count += len(Job.fetch(job_id, connection=redis).args[0])
    return count


def test_a_redis_down_while_reporting_nothing_is_lost(
    api: ApiServer,
    private_redis: PrivateRedis,
    redis: Redis,
    session: Session,
    token_for: object,
) -> None:
    headers = token_for  # the fixture: username → Authorization header
    assert callable(headers)
    reporters = _members(session, 20)
    points = {code: interior_point(session, code) for _, code in reporters}
    private_redis.stop()
    statuses = []
    with httpx.Client(base_url=api.base, timeout=10) as http:
        for i in range(N):
            username, code = reporters[i % len(reporters)]
            lon, lat = points[code]
            r = http.post(
                "/api/v1/events",
                headers=headers(username),
                json={
                    "client_id": str(uuid.uuid4()),
                    "category": ACK_2S,
                    "description": f"Redis 宕机期间上报 {i}",
                    "location": {"lon": lon, "lat": lat, "coord": "wgs84", "accuracy_m": 5},
                },
            )
            statuses.append(r.status_code)
    assert statuses == [201] * N, "reporting never needs Redis"
    assert _count(session, "SELECT count(*) FROM event WHERE status = 'registered'") == N
    pending = "SELECT count(*) FROM outbox WHERE topic = :t AND processed_at IS NULL"
    assert _count(session, pending, t="dispatch") == N, "every dispatch request kept"
    assert _count(session, pending, t="stream") == N
    relayer.relay_all(connection=private_redis.client())  # the worker's relay, Redis still down
    assert _count(session, "SELECT count(*) FROM outbox WHERE attempts > 0") >= N, (
        "the relay tried Redis and left the rows pending"
    )

    private_redis.start()
    deadline = time.monotonic() + 20
    while _count(session, pending, t="dispatch") and time.monotonic() < deadline:
        relayer.relay_all(connection=redis)
        time.sleep(0.2)
    assert _count(session, pending, t="dispatch") == 0
    _work(redis)
    assert _count(session, "SELECT count(*) FROM event WHERE status = 'dispatched'") == N
    dispatched_at = datetime.now(UTC)

    relayer.relay_all(connection=redis, budget=10)
    assert _count(session, "SELECT count(*) FROM outbox WHERE processed_at IS NULL") == 0
    latest = session.execute(text("SELECT max(ack_due_at) FROM event")).scalar_one()
    assert latest <= dispatched_at + timedelta(seconds=2)
    _wait_until(latest + timedelta(milliseconds=100))
    promoter.promote_due_timers(connection=redis)  # what the relay did not already find due
    assert _queued_timers(redis) == 3 * N, "two warnings and the breach of each event"
    _work(redis)
    assert _count(session, "SELECT count(*) FROM event_audit WHERE action = 'breach'") == N
    assert (
        _count(session, "SELECT count(*) FROM event WHERE level = 1 AND escalation_count = 1") == N
    )
    # warnings due together with their breach are superseded by it (breaches run first)
    assert _count(session, "SELECT count(*) FROM event_audit WHERE action = 'warn'") <= 2 * N
