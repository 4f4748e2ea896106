"""The outbox relay, the timer promoter, the RQ jobs and the reconciliation sweep, on the real
PostgreSQL and Redis (test database number), with RQ's own SimpleWorker and scheduler."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from rq.job import Job
from sqlalchemy import Engine, text
from sqlmodel import Session

from dispatch import changes
from dispatch.engine import jobs, promoter
from dispatch.engine import relay as relayer
from dispatch.engine import sweep as sweeper
from dispatch.engine.queue import get_dispatch_queue, timers_key
from dispatch.lifecycle import actions, loading, system
from domain.lifecycle import Action, TimerKind
from domain.lifecycle.model import ACK_TIMERS, RESOLVE_TIMERS
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from tests.kit.dispatch import audit_actions, ensure_category, principal, report
from tests.kit.dispatch import work as _work

FAST = "zz_fast_ack"  # acknowledgement allowance 1 s, resolution 1 h


@pytest.fixture
def session(committed: Engine) -> Iterator[Session]:
    with Session(committed, expire_on_commit=False) as s:
        yield s


def _outbox(session: Session, event_id: int) -> list[tuple[str, bool, int]]:
    session.rollback()
    rows = session.execute(
        text(
            "SELECT topic, processed_at IS NOT NULL, attempts FROM outbox"
            " WHERE event_id = :e ORDER BY id"
        ),
        {"e": event_id},
    ).all()
    return [(str(t), bool(p), int(a)) for t, p, a in rows]


def _scheduled(redis: Redis) -> dict[str, float]:
    key = timers_key(get_dispatch_queue(redis))
    pairs: list[tuple[bytes, float]] = redis.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]
    return {k.decode(): float(v) for k, v in pairs}


def _queued_jobs(redis: Redis) -> list[str]:
    queue = get_dispatch_queue(redis)
    return [str(Job.fetch(job_id, connection=redis).func_name) for job_id in queue.job_ids]


def test_report_relay_worker_dispatches_and_schedules_exact_timers(
    session: Session, redis: Redis
) -> None:
    now = datetime.now(UTC)
    event_id = report(session, "g01m1", now=now)
    pubsub = redis.pubsub()  # type: ignore[no-untyped-call]
    pubsub.subscribe(changes.stream_channel(changes.redis_db(redis)))
    # the dispatch request, the register change and the dispatch clock's three timers
    assert relayer.relay(connection=redis) == 5
    assert [t for t, done, _ in _outbox(session, event_id) if not done] == []
    assert _queued_jobs(redis) == ["dispatch.engine.jobs.dispatch_backlog_job"]

    _work(redis)
    session.rollback()
    assert audit_actions(session, event_id) == ["register", "dispatch"]
    assert relayer.relay(connection=redis) >= 8  # 6 timers, the notification, the change
    loaded = loading.load(session, event_id)
    assert loaded is not None
    scheduled = _scheduled(redis)
    state = loaded.state
    handling = (*ACK_TIMERS, *RESOLVE_TIMERS)
    assert set(scheduled) == {f"sla-{event_id}-{kind.value}-1" for kind in handling}, (
        "six timers with deterministic ids; the dispatch clock's are cancelled"
    )
    assert state.ack_due_at is not None and state.due_at is not None
    breach = scheduled[f"sla-{event_id}-ack_breach-1"]
    assert breach == pytest.approx(state.ack_due_at.timestamp(), abs=1e-3), "exact, not floored"

    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while len(messages) < 2 and time.monotonic() < deadline:
        m = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if m is not None:
            messages.append(json.loads(m["data"]))
    pubsub.close()
    assert [m["action"] for m in messages] == ["register", "dispatch"]
    assert all(m["event_id"] == event_id and m["audit_id"] > 0 for m in messages)


def test_acknowledging_cancels_the_acknowledgement_timers(session: Session, redis: Redis) -> None:
    now = datetime.now(UTC)
    event_id = report(session, "g01m1", now=now)
    decision = system.auto_dispatch(UnitOfWork(session), event_id, now)
    assert decision is not None and decision.state.assignee_id is not None
    relayer.relay(connection=redis)
    handler = session.execute(
        text("SELECT username FROM users WHERE staff_id = :s"),
        {"s": int(decision.state.assignee_id)},
    ).scalar_one()
    actions.act(
        uow=UnitOfWork(session),
        principal=principal(session, handler),
        event_id=event_id,
        action=Action.ACKNOWLEDGE,
        request=actions.ActionRequest(),
        now=now,
    )
    relayer.relay(connection=redis)
    scheduled = _scheduled(redis)
    assert set(scheduled) == {f"sla-{event_id}-{k}-1" for k in ("resolve_warn50",
                                                                 "resolve_warn75",
                                                                 "resolve_breach")}  # fmt: skip
    assert not redis.exists(f"rq:job:sla-{event_id}-ack_breach-1"), "job hash deleted too"


def test_relay_keeps_rows_pending_while_redis_is_down(session: Session, redis: Redis) -> None:
    now = datetime.now(UTC)
    event_id = report(session, "g01m1", now=now)
    down = Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=RedisRetry(NoBackoff(), 0)
    )
    assert relayer.relay(connection=down, now=now) == 0
    rows = _outbox(session, event_id)
    assert rows and all(not done and attempts == 1 for _, done, attempts in rows)
    error = session.execute(
        text("SELECT last_error FROM outbox WHERE event_id = :e LIMIT 1"), {"e": event_id}
    ).scalar_one()
    assert "Connection" in error
    # after the backoff (0.2 s) the next relay meets the same failure and swallows it
    time.sleep(0.3)
    assert relayer.relay(connection=down) == 0
    assert all(attempts == 2 for _, _, attempts in _outbox(session, event_id))
    # Redis back: after the short backoff everything goes through, nothing twice
    assert relayer.relay(connection=redis, now=datetime.now(UTC) + timedelta(seconds=6)) == 5
    assert all(done for _, done, _ in _outbox(session, event_id))
    assert _queued_jobs(redis) == ["dispatch.engine.jobs.dispatch_backlog_job"]


def test_promoter_moves_a_timer_at_its_exact_time(redis: Redis) -> None:
    queue = get_dispatch_queue(redis)
    fire_at = datetime.now(UTC) + timedelta(seconds=30)
    with redis.pipeline() as pipe:
        pipe.multi()
        jobs.schedule_timer(queue, pipe, 424242, TimerKind.ACK_BREACH, 3, fire_at)
        pipe.execute()
    job_id = "sla-424242-ack_breach-3"
    assert promoter.promote_due_timers(connection=redis, now=fire_at.timestamp() - 0.05) == 0
    assert queue.job_ids == []
    assert promoter.promote_due_timers(connection=redis, now=fire_at.timestamp() + 0.01) == 1
    (batch_id,) = queue.job_ids
    assert batch_id.startswith("slabatch-")
    assert Job.fetch(batch_id, connection=redis).args == ([(424242, "ack_breach", 3)],)
    assert not redis.exists(Job.key_for(job_id)), "the timer's own job is replaced by the batch"
    assert promoter.promote_due_timers(connection=redis, now=fire_at.timestamp() + 1) == 0
    # setting the same timer again moves it (last write wins), it does not duplicate it
    later = fire_at + timedelta(seconds=60)
    with redis.pipeline() as pipe:
        pipe.multi()
        jobs.schedule_timer(queue, pipe, 424242, TimerKind.ACK_BREACH, 3, later)
        pipe.execute()
    assert _scheduled(redis) == {job_id: pytest.approx(later.timestamp(), abs=1e-3)}


def test_seconds_long_timers_fire_through_rq_and_escalate_once(
    session: Session, redis: Redis
) -> None:
    ensure_category(session, FAST, ack_seconds=1, resolve_seconds=3600)
    event_id = report(session, "g01m1", now=datetime.now(UTC), category=FAST)
    # dispatched "2 s from now" and relayed as of then, so every timer is scheduled (not yet
    # due) however slow this machine is; the jobs themselves run on the real clock
    now = datetime.now(UTC) + timedelta(seconds=2)
    assert system.auto_dispatch(UnitOfWork(session), event_id, now) is not None
    relayer.relay_all(connection=redis, now=now)
    time.sleep(max(0.0, (now + timedelta(seconds=1.05) - datetime.now(UTC)).total_seconds()))
    assert promoter.promote_due_timers(connection=redis) == 3  # warn50, warn75, breach
    _work(redis)
    session.rollback()
    # the breach goes first (breaches are queued at the front); the two warnings due with it
    # are then stale: the escalation supersedes them
    assert audit_actions(session, event_id) == ["register", "dispatch", "breach"]
    level, reason = session.execute(
        text("SELECT level, last_escalation_reason FROM event WHERE id = :e"), {"e": event_id}
    ).one()
    assert (level, reason) == (1, "ack_overdue")
    # the same timer delivered again (a retry, a duplicate promotion) changes nothing
    assert jobs.sla_timer_job(event_id, "ack_breach", 1) == "stale"
    assert audit_actions(session, event_id).count("breach") == 1


def test_an_early_timer_is_put_back_for_its_due_time(session: Session, redis: Redis) -> None:
    now = datetime.now(UTC)
    event_id = report(session, "g01m1", now=now)
    decision = system.auto_dispatch(UnitOfWork(session), event_id, now)
    assert decision is not None and decision.state.ack_due_at is not None
    assert jobs.sla_timer_job(event_id, "ack_breach", 1) == "early: rescheduled"
    key = f"sla-{event_id}-ack_breach-1"
    assert _scheduled(redis)[key] == pytest.approx(decision.state.ack_due_at.timestamp(), abs=1e-3)
    assert audit_actions(session, event_id) == ["register", "dispatch"]


def test_sweep_does_what_redis_did_not(session: Session, redis: Redis) -> None:
    sweeper.mark_timers_synced(redis)
    now = datetime.now(UTC)
    late = report(session, "g01m1", now=now)
    assert system.auto_dispatch(UnitOfWork(session), late, now) is not None
    never_dispatched = report(session, "g02m1", now=now, grid="130203001001002")
    fresh = report(session, "g03m1", now=now, grid="130203001001003")
    # nothing is overdue yet: the sweep leaves the timers to RQ
    result = sweeper.sweep(now + timedelta(seconds=1), connection=redis)
    assert (result.breaches, result.dispatched) == ([], [])
    # 10 min 6 s later: the ack deadline passed > the grace period ago; reports waited too
    later = now + timedelta(minutes=10, seconds=6)
    session.execute(text(
        "UPDATE event SET created_at = :t, dispatch_warn50_at = :t, dispatch_warn75_at = :t,"
        " dispatch_due_at = :t WHERE id = :e"
    ), {"t": now + timedelta(minutes=20), "e": fresh})  # fmt: skip
    session.commit()
    result = sweeper.sweep(later, connection=redis)
    # the ack breach, the dispatch stage's breach (5 min) before it, and the late dispatch
    assert result.breaches == [never_dispatched, late]
    assert result.dispatched == [never_dispatched]
    assert result.timers_rescheduled is None, "Redis still holds its timers"
    assert audit_actions(session, late)[-1] == "breach"
    assert audit_actions(session, never_dispatched) == ["register", "breach", "dispatch"]
    again = sweeper.sweep(later, connection=redis)
    assert (again.breaches, again.dispatched) == ([], []), "idempotent"


def test_sweep_reschedules_every_open_timer_when_redis_lost_them(
    session: Session, redis: Redis
) -> None:
    now = datetime.now(UTC)
    ids = [report(session, "g01m1", now=now) for _ in range(3)]
    for event_id in ids:
        assert system.auto_dispatch(UnitOfWork(session), event_id, now) is not None
    relayer.relay_all(connection=redis)
    assert len(_scheduled(redis)) == 18
    redis.flushdb()
    result = sweeper.sweep(datetime.now(UTC), connection=redis)
    assert result.timers_rescheduled == 18
    relayer.relay_all(connection=redis)
    assert len(_scheduled(redis)) == 18
    assert sweeper.sweep(datetime.now(UTC), connection=redis).timers_rescheduled is None


def test_a_burst_of_due_timers_is_handled_in_batches(session: Session, redis: Redis) -> None:
    ensure_category(session, FAST, ack_seconds=1, resolve_seconds=3600)
    ids = [report(session, "g01m1", now=datetime.now(UTC), category=FAST) for _ in range(60)]
    now = datetime.now(UTC) + timedelta(seconds=3)  # dispatched "in 3 s": relayed before due
    for event_id in ids:
        assert system.auto_dispatch(UnitOfWork(session), event_id, now) is not None
    session.execute(
        text("UPDATE event SET warnings_sent = '{ack_warn50,ack_warn75}' WHERE id = ANY(:ids)"),
        {"ids": ids},
    )
    session.commit()
    relayer.relay_all(connection=redis, budget=10, now=now)
    at = (now + timedelta(seconds=1.01)).timestamp()
    promoter.promote_due_timers(connection=redis, now=at)
    batches = [j for j in get_dispatch_queue(redis).job_ids if j.startswith("slabatch-")]
    # 180 due ack timers (the warnings' are stale now) in batches of 50, the breaches first
    contents = [Job.fetch(b, connection=redis).args[0] for b in batches]
    assert [len(c) for c in contents] == [10, 50, 50, 50, 20]
    assert all(kind == "ack_breach" for c in contents[:2] for _, kind, _ in c)
    assert get_dispatch_queue(redis).job_ids[:2] == batches[:2], "ahead of everything"
    time.sleep(max(0.0, at - time.time()))
    _work(redis)
    breaches = session.execute(
        text("SELECT count(*) FROM event_audit WHERE action = 'breach' AND event_id = ANY(:ids)"),
        {"ids": ids},
    ).scalar_one()
    assert breaches == 60
    # the community members took them in turn (load balanced within a batch), the rest queued
    assignees = session.execute(
        text("SELECT assignee_id, count(*) FROM event WHERE id = ANY(:ids) GROUP BY 1"),
        {"ids": ids},
    ).all()
    assert dict(assignees).get(None, 0) == 60 - get_settings().assignment_load_cap
