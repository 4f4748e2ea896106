"""The dispatch engine's Redis side: the RQ queue and a connection that fails fast, the job
options, the sorted set of RQ's scheduled jobs and the sorted set of the SLA timers."""

from __future__ import annotations

from functools import lru_cache

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry

from kernel.settings import get_settings

#: Retries of a timer or dispatch job that failed or whose worker died (RQ needs its scheduler).
JOB_RETRY = Retry(max=3, interval=[1, 5, 15])
JOB_TIMEOUT = 60
RESULT_TTL = 60


def scheduled_key(queue: Queue) -> str:
    """The sorted set of RQ's scheduled jobs for ``queue`` (RQ's retries)."""
    return str(queue.scheduled_job_registry.key)


def timers_key(queue: Queue) -> str:
    """The sorted set of the SLA timers for ``queue``: member ``sla-{event}-{kind}-{version}``,
    score the exact due instant. A timer is only this entry, no RQ job: arming tens of
    thousands (a re-arm after Redis lost its data) costs one ZADD each, and the promoter
    turns the due ones into batch jobs as the workers can take them."""
    return f"wangge:timers:{queue.name}"


@lru_cache
def relay_redis() -> Redis:
    """A connection that fails fast: the relay must not stall for
    redis-py's default retries when Redis is down (the next relay tick is the retry)."""
    return Redis.from_url(
        get_settings().redis_url,
        socket_connect_timeout=0.5,
        socket_timeout=5,
        retry=RedisRetry(NoBackoff(), 0),
    )


def get_dispatch_queue(connection: Redis | None = None) -> Queue:
    return Queue(get_settings().queue_name, connection=connection or relay_redis())


#: The job states ``job_counts`` reports: RQ's queue and its registries.
JOB_STATES = ("queued", "scheduled", "started", "deferred", "failed")


def job_counts(connection: Redis) -> dict[str, int]:
    """How many of the dispatch queue's jobs are in each state, read without side effects (RQ's
    own ``count`` cleans registries up first). Scheduled includes the SLA timers."""
    queue = get_dispatch_queue(connection)
    with connection.pipeline(transaction=False) as pipe:
        pipe.llen(queue.key)
        for registry in (
            queue.scheduled_job_registry,
            queue.started_job_registry,
            queue.deferred_job_registry,
            queue.failed_job_registry,
        ):
            pipe.zcard(registry.key)
        pipe.zcard(timers_key(queue))
        *counts, timers = pipe.execute()
    result = dict(zip(JOB_STATES, (int(c) for c in counts), strict=True))
    result["scheduled"] += int(timers)
    return result
