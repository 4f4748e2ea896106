"""Breach storms on the real PostgreSQL and Redis: hundreds of acknowledgement deadlines falling
in the same minute are escalated through bounded batch jobs, each exactly once, and a re-arm
after Redis lost its data arms the timers a page at a time without a job or an outbox row per
timer. The jobs' clock is injected (``jobs.utc_now``): nobody waits for the deadlines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import Engine, text
from sqlmodel import Session

from dispatch.engine import jobs, promoter
from dispatch.engine import relay as relayer
from dispatch.engine import sweep as sweeper
from dispatch.engine.queue import get_dispatch_queue, timers_key
from dispatch.lifecycle import reconcile, system
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.kit.dispatch import ensure_category, report
from tests.kit.dispatch import work as _work

pytestmark = pytest.mark.heavy  # scheduled first (tests/conftest.py)

STORM = "zz_storm_ack60"  # acknowledgement allowance 60 s, resolution 1 h
EVENTS = 500


@pytest.fixture
def session(committed: Engine) -> Iterator[Session]:
    with Session(committed, expire_on_commit=False) as s:
        yield s


def _dispatch_all(session: Session, ids: list[int], start: datetime, step: float) -> None:
    """Dispatch the registered events in batches of 100, the n-th batch ``n × step`` seconds
    after ``start`` (so their deadlines spread over the minute)."""
    uow = UnitOfWork(session)
    done = 0
    while done < len(ids):
        decisions = system.dispatch_backlog(
            uow, start + timedelta(seconds=step * (done // 100)), limit=100
        )
        assert decisions, "every event dispatched"
        done += len(decisions)


def _armed(redis: Redis) -> dict[str, float]:
    key = timers_key(get_dispatch_queue(redis))
    pairs: list[tuple[bytes, float]] = redis.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]
    return {k.decode(): float(v) for k, v in pairs}


def _queued_batches(redis: Redis) -> list[list[tuple[int, str, int]]]:
    return [
        [tuple(t) for t in Job.fetch(j, connection=redis).args[0]]
        for j in get_dispatch_queue(redis).job_ids
        if j.startswith(promoter.BATCH_PREFIX)
    ]


def _breaches(session: Session, ids: list[int]) -> dict[int, int]:
    session.rollback()
    rows = session.execute(
        text(
            "SELECT event_id, count(*) FROM event_audit"
            " WHERE action = 'breach' AND event_id = ANY(:ids) GROUP BY event_id"
        ),
        {"ids": ids},
    ).all()
    return {int(e): int(n) for e, n in rows}


def test_500_deadlines_in_one_minute_escalate_in_bounded_batches_exactly_once(
    session: Session, redis: Redis, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_category(session, STORM, ack_seconds=60, resolve_seconds=3600)
    start = clock.now
    reporters = ["g01m1", "g02m1", "g03m1", "g04m1", "g05m1"]
    grids = [f"13020300100100{i}" for i in range(1, 6)]
    ids = [
        report(session, reporters[i % 5], now=start, category=STORM, grid=grids[i % 5])
        for i in range(EVENTS)
    ]
    # dispatched over 40 s: every acknowledgement deadline falls within [start+60 s, start+100 s)
    _dispatch_all(session, ids, start, step=10)
    relayer.relay_all(connection=redis, budget=60, now=start + timedelta(seconds=40))
    armed = _armed(redis)
    assert len(armed) == 6 * EVENTS, "six timers an event, armed as sorted-set entries"
    queued = get_dispatch_queue(redis).job_ids
    assert [j for j in queued if not j.startswith("dispatch-")] == [], "no timer is a job"
    ack_breaches = [s for k, s in armed.items() if "-ack_breach-" in k]
    assert max(ack_breaches) - min(ack_breaches) < 60, "the deadlines fall within one minute"

    # the minute has passed: 1,500 acknowledgement timers (two warnings, one breach each) due
    after = clock.advance(seconds=101)
    monkeypatch.setattr(jobs, "utc_now", clock)
    get_dispatch_queue(redis).empty()  # type: ignore[no-untyped-call]  # dispatch requests: done above
    rounds: list[list[int]] = []
    seen: list[list[tuple[int, str, int]]] = []
    while True:
        promoter.promote_due_timers(connection=redis, now=after.timestamp())
        batches = _queued_batches(redis)
        if not batches:
            break
        sizes = [len(b) for b in batches]
        assert len(batches) <= promoter.MAX_QUEUED_BATCHES, "the queue holds a few batches"
        assert max(sizes) <= promoter.TIMER_BATCH
        rounds.append(sizes)
        seen.extend(batches)
        _work(redis)
    assert len(rounds) >= 1500 // (promoter.MAX_QUEUED_BATCHES * promoter.TIMER_BATCH), (
        "the storm was handed out a few batches at a time"
    )
    assert sum(map(sum, rounds)) == 3 * EVENTS, "each due timer promoted once"
    assert not [k for k, s in _armed(redis).items() if s <= after.timestamp()], "none left due"
    breaches = _breaches(session, ids)
    assert sorted(breaches) == sorted(ids), "every event escalated"
    assert set(breaches.values()) == {1}, "exactly once each"
    notices = session.execute(
        text("SELECT count(*) FROM supervision WHERE event_id = ANY(:ids)"), {"ids": ids}
    ).scalar_one()
    assert notices == EVENTS, "one 督办 notice per breach"

    # a batch job delivered twice (an RQ retry, a duplicate promotion) changes nothing
    breach_batch = next(b for b in seen if all(kind == "ack_breach" for _, kind, _ in b))
    assert jobs.sla_batch_job(breach_batch).startswith("0 applied")
    assert set(_breaches(session, ids).values()) == {1}
    escalated = session.execute(
        text("SELECT count(*) FROM event WHERE id = ANY(:ids) AND level = 1"), {"ids": ids}
    ).scalar_one()
    assert escalated == EVENTS


def test_rearm_after_flushdb_arms_the_timers_a_page_at_a_time(
    session: Session, redis: Redis, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_category(session, STORM, ack_seconds=60, resolve_seconds=3600)
    start = clock.now
    ids = [report(session, "g01m1", now=start, category=STORM) for _ in range(30)]
    _dispatch_all(session, ids, start, step=0)
    relayer.relay_all(connection=redis, budget=30, now=start)
    before = _armed(redis)
    assert len(before) == 6 * 30

    redis.flushdb()
    outbox_rows = "SELECT count(*) FROM outbox"
    rows_before = session.execute(text(outbox_rows)).scalar_one()
    pages: list[int] = []
    read = reconcile.open_timers

    def counted(*args: object, **kwargs: object) -> tuple[dict[str, datetime], int | None]:
        timers, last = read(*args, **kwargs)  # type: ignore[arg-type]
        pages.append(len(timers))
        return timers, last

    monkeypatch.setattr(reconcile, "open_timers", counted)
    # 50 s later: the acknowledgement warnings (30 s, 45 s) are past, the breach (60 s) ahead
    later = start + timedelta(seconds=50)
    assert sweeper.resync_timers(connection=redis, now=later, page=7) == 6 * 30
    assert pages == [42, 42, 42, 42, 12, 0], "seven events (42 timers) a page, one ZADD each"
    after = _armed(redis)
    assert set(after) == set(before), "the same timers, same ids"
    for key, due in before.items():
        assert after[key] == pytest.approx(max(due, later.timestamp()), abs=1e-3)
    assert get_dispatch_queue(redis).job_ids == [], "no job per timer"
    assert not redis.keys("rq:job:*"), "no job hash either"
    session.rollback()
    assert session.execute(text(outbox_rows)).scalar_one() == rows_before, "no outbox rows"
    assert sweeper.resync_timers(connection=redis, now=later) is None, "marker set: once"

    # the 60 warnings already due go to the workers in bounded batches, the breaches wait
    promoter.promote_due_timers(connection=redis, now=later.timestamp(), batch=10, max_queued=4)
    assert [len(b) for b in _queued_batches(redis)] == [10, 10, 10, 10]
    assert len([k for k, s in _armed(redis).items() if s <= later.timestamp()]) == 20
    promoter.promote_due_timers(connection=redis, now=later.timestamp(), batch=10, max_queued=4)
    assert len(_queued_batches(redis)) == 4, "nothing more while the queue is full"
    monkeypatch.setattr(jobs, "utc_now", lambda: later)
    _work(redis)
    promoter.promote_due_timers(connection=redis, now=later.timestamp(), batch=10, max_queued=4)
    assert [len(b) for b in _queued_batches(redis)] == [10, 10]
    _work(redis)
    warned = session.execute(
        text("SELECT count(*) FROM event_audit WHERE action = 'warn' AND event_id = ANY(:ids)"),
        {"ids": ids},
    ).scalar_one()
    assert warned == 60, "both acknowledgement warnings of each event, once"
    assert _breaches(session, ids) == {}
