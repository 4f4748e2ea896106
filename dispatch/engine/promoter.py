"""Promoting due timers: from the timers' sorted set to the queue at their exact time, as batch
jobs, no faster than the workers take them (a storm of deadlines waits in the sorted set, oldest
due first, not as tens of thousands of queued jobs). RQ's own scheduled jobs (its retries, and
timer jobs armed before timers were batched) are moved too: RQ's scheduler polls once a second
on whole seconds and stays on as their backstop."""

from __future__ import annotations

import hashlib
import time

from redis import Redis
from rq.job import Job

from dispatch.engine.jobs import sla_batch_job
from dispatch.engine.queue import (
    JOB_RETRY,
    JOB_TIMEOUT,
    RESULT_TTL,
    get_dispatch_queue,
    scheduled_key,
    timers_key,
)
from domain.lifecycle import TimerKind, timer_job_id

#: Timers due together are handled by one job of at most this many (one read, one commit).
TIMER_BATCH = 50
#: At most this many timer batch jobs wait on the queue; more due timers stay in the sorted set
#: until the workers have taken some (each tick tops the queue up, oldest due first).
MAX_QUEUED_BATCHES = 8
BATCH_PREFIX = "slabatch-"


def parse_timer_job_id(job_id: str) -> tuple[int, TimerKind, int] | None:
    """``sla-{event_id}-{kind}-{deadline_version}`` → its parts (None for other jobs)."""
    parts = job_id.split("-")
    if len(parts) != 4 or parts[0] != "sla":
        return None
    try:
        return int(parts[1]), TimerKind(parts[2]), int(parts[3])
    except ValueError:
        return None


def _decode(raw: list[bytes]) -> list[str]:
    return [r.decode() if isinstance(r, bytes) else str(r) for r in raw]


def _claim(redis: Redis, key: str, ids: list[str]) -> list[str]:
    """ZREM each id: what this promoter removed is its own (of several promoters racing, each
    timer goes to one, or at worst twice through RQ's scheduler: the jobs are idempotent)."""
    if not ids:
        return []
    with redis.pipeline() as pipe:
        for job_id in ids:
            pipe.zrem(key, job_id)
        return [job_id for job_id, removed in zip(ids, pipe.execute(), strict=True) if removed]


def queued_batches(redis: Redis, queue_key: str, *, scan: int = 1000) -> int:
    """Timer batch jobs waiting on the queue (among its first ``scan`` jobs)."""
    ids: list[bytes] = redis.lrange(queue_key, 0, scan - 1)  # type: ignore[assignment]
    return sum(1 for i in ids if i.startswith(BATCH_PREFIX.encode()))


def promote_due_timers(
    *,
    connection: Redis | None = None,
    now: float | None = None,
    limit: int = 2000,
    batch: int = TIMER_BATCH,
    max_queued: int = MAX_QUEUED_BATCHES,
) -> int:
    """Move what is due to the queue, at its exact time.

    Due timers go as ``sla_batch_job``s of up to ``batch`` timers, breaches at the queue's
    front, and only as many as keep at most ``max_queued`` batch jobs waiting: the rest stay
    armed in the sorted set (oldest due first next tick), so a burst of thousands never floods
    the queue or Redis and a report's dispatch job is never behind more than a few batches.
    Due RQ scheduled jobs (retries) go as they are; timer jobs found there (armed before
    timers were batched) join the batches. Returns the number of timers and jobs moved.
    """
    queue = get_dispatch_queue(connection)
    redis = queue.connection
    at = now if now is not None else time.time()
    scheduled = _claim(
        redis,
        scheduled_key(queue),
        _decode(redis.zrangebyscore(scheduled_key(queue), "-inf", at, start=0, num=limit)),  # type: ignore[arg-type]
    )
    room = max(0, max_queued - queued_batches(redis, queue.key)) * batch
    armed = (
        _claim(
            redis,
            timers_key(queue),
            _decode(redis.zrangebyscore(timers_key(queue), "-inf", at, start=0, num=room)),  # type: ignore[arg-type]
        )
        if room
        else []
    )
    if not scheduled and not armed:
        return 0
    timers: list[tuple[int, str, int]] = []
    legacy: list[tuple[int, str, int]] = []  # timer jobs from RQ's schedule: drop their hashes
    others: list[str] = []
    from_schedule = set(scheduled)
    for job_id in (*armed, *scheduled):
        parsed = parse_timer_job_id(job_id)
        if parsed is None:
            others.append(job_id)
            continue
        timer = (parsed[0], parsed[1].value, parsed[2])
        timers.append(timer)
        if job_id in from_schedule:
            legacy.append(timer)
    jobs = [j for j in Job.fetch_many(others, connection=redis) if j is not None]
    breaches = [t for t in timers if TimerKind(t[1]).is_breach]
    warnings = [t for t in timers if not TimerKind(t[1]).is_breach]
    with redis.pipeline() as pipe:
        pipe.multi()
        for job in jobs:
            queue.enqueue_job(job, pipeline=pipe)
        # escalations go to the front of the queue: a burst of warnings (or of reports to
        # dispatch) never holds up a breach; the earliest due breaches end up first
        for group, urgent in ((warnings, False), (list(reversed(breaches)), True)):
            for start in range(0, len(group), batch):
                chunk = group[start : start + batch]
                if urgent:
                    chunk = list(reversed(chunk))
                digest = hashlib.sha1(repr(chunk).encode()).hexdigest()[:20]
                queue.enqueue(
                    sla_batch_job,
                    chunk,
                    job_id=f"{BATCH_PREFIX}{digest}",
                    retry=JOB_RETRY,
                    job_timeout=JOB_TIMEOUT,
                    result_ttl=RESULT_TTL,
                    at_front=urgent,
                    pipeline=pipe,
                )
        for event_id, kind, version in legacy:
            pipe.delete(Job.key_for(timer_job_id(str(event_id), TimerKind(kind), version)))
        pipe.execute()
    return len(timers) + len(jobs)
