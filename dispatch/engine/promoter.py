"""Promoting due timers: from RQ's scheduled registry to the queue at their exact time (RQ's
own scheduler polls once a second on whole seconds; it stays on as the backstop). Timers due
together go as batches, breaches at the queue's front."""

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
)
from domain.lifecycle import TimerKind, timer_job_id

#: Timers due together are handled by one job of at most this many (one read, one commit).
TIMER_BATCH = 50


def parse_timer_job_id(job_id: str) -> tuple[int, TimerKind, int] | None:
    """``sla-{event_id}-{kind}-{deadline_version}`` → its parts (None for other jobs)."""
    parts = job_id.split("-")
    if len(parts) != 4 or parts[0] != "sla":
        return None
    try:
        return int(parts[1]), TimerKind(parts[2]), int(parts[3])
    except ValueError:
        return None


def promote_due_timers(
    *,
    connection: Redis | None = None,
    now: float | None = None,
    limit: int = 2000,
    batch: int = TIMER_BATCH,
) -> int:
    """Move what is due from the scheduled registry to the queue, at its exact time.

    Each id is claimed with ZREM, so of several promoters (and RQ's scheduler, which reads
    before it removes) at most a duplicate run results, which the jobs' idempotency absorbs.
    Timers due together go to the queue as ``sla_batch_job``s of up to ``batch`` timers (their
    own job hashes are dropped: the id says everything), breaches at the queue's front; other
    jobs (RQ's retries) as they are.
    Returns the number of timers and jobs moved.
    """
    queue = get_dispatch_queue(connection)
    redis = queue.connection
    key = scheduled_key(queue)
    at = now if now is not None else time.time()
    raw = redis.zrangebyscore(key, "-inf", at, start=0, num=limit)
    if not raw:
        return 0
    ids = [r.decode() if isinstance(r, bytes) else str(r) for r in raw]
    with redis.pipeline() as pipe:
        for job_id in ids:
            pipe.zrem(key, job_id)
        claimed = [job_id for job_id, removed in zip(ids, pipe.execute(), strict=True) if removed]
    timers: list[tuple[int, str, int]] = []
    others: list[str] = []
    for job_id in claimed:
        parsed = parse_timer_job_id(job_id)
        if parsed is None:
            others.append(job_id)
        else:
            timers.append((parsed[0], parsed[1].value, parsed[2]))
    jobs = [j for j in Job.fetch_many(others, connection=redis) if j is not None]
    breaches = [t for t in timers if TimerKind(t[1]).is_breach]
    warnings = [t for t in timers if not TimerKind(t[1]).is_breach]
    with redis.pipeline() as pipe:
        pipe.multi()
        for job in jobs:
            queue.enqueue_job(job, pipeline=pipe)
        # escalations go to the front of the queue: a burst of warnings (or of reports to
        # dispatch) never holds up a breach
        for group, urgent in ((warnings, False), (breaches, True)):
            for start in range(0, len(group), batch):
                chunk = group[start : start + batch]
                digest = hashlib.sha1(repr(chunk).encode()).hexdigest()[:20]
                queue.enqueue(
                    sla_batch_job,
                    chunk,
                    job_id=f"slabatch-{digest}",
                    retry=JOB_RETRY,
                    job_timeout=JOB_TIMEOUT,
                    result_ttl=RESULT_TTL,
                    at_front=urgent,
                    pipeline=pipe,
                )
        for event_id, kind, version in timers:
            pipe.delete(Job.key_for(timer_job_id(str(event_id), TimerKind(kind), version)))
        pipe.execute()
    return len(timers) + len(jobs)
