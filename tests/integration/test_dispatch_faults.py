"""Fault tests of the dispatch engine on real servers, driven directly (no HTTP): PostgreSQL,
a private redis-server (so FLUSHALL touches nobody else) and ``wangge worker``.

(b) A worker SIGKILLed in the middle of a timer job (blocked inside its transaction): the
    escalation happens exactly once, whether RQ re-runs the abandoned job or the sweep gets
    there first.
(c) FLUSHALL with 100 open timers: the sweep restores every escalation from PostgreSQL; the
    lost timers firing later after all changes nothing.

(a), reporting over HTTP while Redis is down, is tests/e2e/test_dispatch_faults.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq.job import Job
from rq.registry import StartedJobRegistry
from sqlalchemy import Engine, text
from sqlmodel import Session

from dispatch.engine import jobs, promoter
from dispatch.engine import relay as relayer
from dispatch.engine import sweep as sweeper
from dispatch.engine.queue import get_dispatch_queue, timers_key
from dispatch.lifecycle import system
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.kit import faults
from tests.kit.dispatch import audit_actions, report
from tests.kit.dispatch import work as _work
from tests.kit.faults import ACK_2S, N
from tests.kit.faults import count as _count
from tests.kit.faults import members as _members
from tests.kit.faults import wait_until as _wait_until
from tests.kit.servers import PrivateRedis, WorkerProcess, server_env

# Redis is the module's private server, started and empty; the session commits
redis = faults.redis
session = faults.session


def _timers_of(redis: Redis, job_id: str) -> list[tuple[int, str, int]]:
    """The timers a job handles: a batch job's list, or the single timer of a timer job."""
    parsed = promoter.parse_timer_job_id(job_id)
    if parsed is not None:
        return [(parsed[0], parsed[1].value, parsed[2])]
    return [tuple(t) for t in Job.fetch(job_id, connection=redis).args[0]]


def test_b_worker_killed_mid_job_the_escalation_happens_once(
    redis: Redis, private_redis: PrivateRedis, session: Session, committed: Engine
) -> None:
    now = datetime.now(UTC)
    event_id = report(session, "g01m1", now=now, category=ACK_2S)
    assert system.auto_dispatch(UnitOfWork(session), event_id, now) is not None
    # only the breach should touch the row: the warnings count as sent already
    session.execute(
        text("UPDATE event SET warnings_sent = '{ack_warn50,ack_warn75}' WHERE id = :e"),
        {"e": event_id},
    )
    session.commit()
    relayer.relay_all(connection=redis)
    queue = get_dispatch_queue(redis)
    started = StartedJobRegistry(queue=queue)

    blocker = committed.connect()
    lock = blocker.begin()
    blocker.execute(text("SELECT id FROM event WHERE id = :e FOR UPDATE"), {"e": event_id})
    # the sweep stays out of it: this test is about the job RQ runs
    worker = WorkerProcess(server_env(private_redis.url, WANGGE_SWEEP_GRACE_SECONDS="600"))
    try:
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE 'UPDATE event %'"
        )
        deadline = time.monotonic() + 90  # the worker imports the app first: slow when busy
        in_flight: list[str] = []
        while time.monotonic() < deadline:
            in_flight = started.get_job_ids()
            if in_flight and _count(session, waiting):
                break
            time.sleep(0.1)
        (job_id,) = in_flight
        timers = _timers_of(redis, job_id)
        assert (event_id, "ack_breach", 1) in timers, "the breach timer's job is mid-way"
        assert _count(session, waiting) == 1, "blocked inside its transaction, before commit"
        worker.kill()
    finally:
        worker.close()
        lock.rollback()
        blocker.close()
    assert audit_actions(session, event_id) == ["register", "dispatch"], "nothing committed"

    # Recovery, as the next worker would do it. RQ's abandoned-job handling (its clock moved
    # past the execution's expiry) schedules the job's retry; the dead worker's scheduler still
    # holds RQ's scheduler lock for a minute, so the lock-free promoter (every worker's pulse
    # runs it) moves the retry to the queue. A copy enqueued twice (promoter and RQ's scheduler
    # racing) may also still wait there. Then the sweep runs, as the pulse would, after grace.
    started.cleanup(timestamp=time.time() + 3600)
    time.sleep(1.1)
    promoter.promote_due_timers(connection=redis)
    _work(redis)
    ack_due = session.execute(
        text("SELECT (data->>'ack_due_at')::timestamptz FROM event_audit"
             " WHERE event_id = :e AND action = 'dispatch'"),
        {"e": event_id},
    ).scalar_one()  # fmt: skip
    after_grace = ack_due + timedelta(seconds=get_settings().sweep_grace_seconds + 0.5)
    sweeper.sweep(after_grace, connection=redis)
    assert audit_actions(session, event_id) == ["register", "dispatch", "breach"], "exactly once"
    # whoever did it, the other path found nothing left; a duplicate delivery is stale
    assert sweeper.sweep(after_grace, connection=redis).breaches == []
    assert jobs.sla_timer_job(event_id, "ack_breach", 1) == "stale"
    assert audit_actions(session, event_id).count("breach") == 1
    level = session.execute(text("SELECT level FROM event WHERE id = :e"), {"e": event_id})
    assert level.scalar_one() == 1


def test_c_flushall_with_100_open_timers_the_sweep_restores_every_escalation(
    redis: Redis, session: Session, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "sweep_grace_seconds", 0.5)
    reporters = _members(session, 20)
    now = datetime.now(UTC)
    ids = []
    for i in range(N):
        username, code = reporters[i % len(reporters)]
        event_id = report(session, username, now=now, category=ACK_2S, grid=code)
        assert system.auto_dispatch(UnitOfWork(session), event_id, now) is not None
        ids.append(event_id)
    relayer.relay_all(connection=redis, budget=10)
    sweeper.mark_timers_synced(redis)
    queue = get_dispatch_queue(redis)
    members: list[bytes] = redis.zrange(timers_key(queue), 0, -1)  # type: ignore[assignment]
    assert len({k.decode() for k in members}) == 6 * N, "100 events with their six timers each"

    redis.flushall()
    _wait_until(now + timedelta(seconds=2.6))
    result = sweeper.sweep(connection=redis)
    assert sorted(result.breaches) == sorted(ids), "every escalation restored"
    assert result.timers_rescheduled == 6 * N, "and the new level's timers re-scheduled"
    breaches = "SELECT count(*) FROM event_audit WHERE action = 'breach'"
    assert _count(session, breaches) == N

    # the lost timers firing after all (a replica kept them, say) change nothing
    for event_id in ids:
        assert jobs.sla_timer_job(event_id, "ack_breach", 1) == "stale"
    relayer.relay_all(connection=redis, budget=10)
    promoter.promote_due_timers(connection=redis)
    _work(redis)
    assert _count(session, breaches) == N
    assert sweeper.sweep(connection=redis).breaches == []
    escalated = "SELECT count(*) FROM event WHERE level = 1 AND escalation_count = 1"
    assert _count(session, escalated) == N
