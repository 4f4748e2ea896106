"""The dispatch engine's background work: RQ jobs, the outbox relay, the timer promoter and the
reconciliation sweep (see docs/decisions/0003-outbox-relay-sweep.md).

- Jobs take ids and numbers only and are idempotent: ``auto_dispatch_job(event_id)``,
  ``sla_timer_job(event_id, kind, deadline_version)``, ``notify_job(outbox_id)``.
- ``relay`` moves committed outbox rows to Redis: timers become scheduled RQ jobs with
  deterministic ids (``sla-{event}-{kind}-{deadline_version}``), dispatch requests and
  notifications become queued jobs, stream rows are published for the command centre.
- ``promote_due_timers`` moves due timers from RQ's scheduled registry onto the queue with
  sub-second precision (RQ's own scheduler polls once a second on whole seconds; it stays on as
  the backstop).
- ``sweep`` reads PostgreSQL only: it handles overdue breaches and undispatched events itself,
  so losing Redis makes escalations late, never lost; it also re-schedules every open timer
  when Redis has lost its data.

The worker's pulse runs ``relay`` (``WANGGE_RELAY_SECONDS``), ``promote_due_timers``
(``WANGGE_PROMOTE_SECONDS``) and ``sweep`` (``WANGGE_SWEEP_SECONDS``) on their own threads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from redis import Redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry
from rq.job import Job
from sqlmodel import Session

from dispatch import outbox
from dispatch.lifecycle import service
from dispatch.notify import NotificationMessage, configured_adapter
from domain.lifecycle import TimerKind, timer_job_id
from kernel.db import get_engine, libpq_url
from kernel.settings import get_settings
from service.worker import periodic

log = logging.getLogger("wangge.dispatch.jobs")

#: Redis key whose presence says "every timer the outbox relayed is still scheduled".
TIMERS_SYNCED_KEY = "wangge:dispatch:timers-synced"
_RESYNC_LOCK_KEY = "wangge:dispatch:timers-resync-lock"
#: Retries of a timer or dispatch job that failed or whose worker died (RQ needs its scheduler).
JOB_RETRY = Retry(max=3, interval=[1, 5, 15])
JOB_TIMEOUT = 60
RESULT_TTL = 60
#: Timers due together are handled by one job of at most this many (one read, one commit).
TIMER_BATCH = 50


def _now() -> datetime:
    return datetime.now(UTC)


def _session() -> Session:
    return Session(get_engine(), expire_on_commit=False)


def stream_channel(db: int) -> str:
    """The pub/sub channel of the change stream for Redis database ``db`` (pub/sub ignores
    database numbers, so the number is part of the name: test and dev stay apart)."""
    return f"wangge:dispatch:changes:{db}"


def redis_db(connection: Redis) -> int:
    return int(connection.connection_pool.connection_kwargs.get("db", 0))


def _scheduled_key(queue: Queue) -> str:
    """The sorted set of RQ's scheduled jobs for ``queue``."""
    return str(queue.scheduled_job_registry.key)


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


# --- jobs -------------------------------------------------------------------------------------


def auto_dispatch_job(event_id: int) -> str:
    """Dispatch a registered event (a no-op once it is dispatched or voided)."""
    with _session() as session:
        decision = service.auto_dispatch(session, event_id, _now())
    return "dispatched" if decision else "nothing to do"


def sla_timer_job(event_id: int, kind: str, deadline_version: int) -> str:
    """A timer fired: apply the warning or breach if still current. A timer that arrives early
    (a clock ahead of ours) is put back for its due time; a stale one does nothing."""
    timer = TimerKind(kind)
    now = _now()
    with _session() as session:
        decision = service.handle_timer(session, event_id, timer, deadline_version, now)
        if decision is not None:
            return f"{decision.audit.action.value if decision.audit else 'noop'}"
        due = service.timer_due_time(session, event_id, timer, deadline_version)
    if due is not None and due > now:
        queue = get_dispatch_queue()
        with queue.connection.pipeline() as pipe:
            pipe.multi()
            schedule_timer(queue, pipe, event_id, timer, deadline_version, due)
            pipe.execute()
        return "early: rescheduled"
    return "stale"


def sla_batch_job(timers: list[tuple[int, str, int]]) -> str:
    """Several timers that fell due together, as ``(event_id, kind, deadline_version)``: one
    read, one commit (a burst of deadlines would otherwise pay RQ's per-job cost for each).
    Early ones are put back for their due time; stale ones do nothing."""
    now = _now()
    fired = [(event_id, TimerKind(kind), version) for event_id, kind, version in timers]
    with _session() as session:
        batch = service.handle_timers(session, fired, now)
    if batch.early:
        queue = get_dispatch_queue()
        with queue.connection.pipeline() as pipe:
            pipe.multi()
            for event_id, kind, version, due in batch.early:
                schedule_timer(queue, pipe, event_id, kind, version, due)
            pipe.execute()
    return f"{len(batch.applied)} applied, {len(batch.early)} early, of {len(timers)}"


def notify_job(outbox_id: int) -> str:
    """Deliver one notification through the configured adapter (raises to be retried)."""
    adapter = configured_adapter()
    if adapter is None:
        return "no adapter configured"
    with _session() as session:
        message = outbox.get_message(session, outbox_id)
    if message is None or message.topic != outbox.NOTIFY:
        return "gone"
    adapter.deliver(NotificationMessage.from_outbox(message))
    return "delivered"


# --- relay ------------------------------------------------------------------------------------


def schedule_timer(
    queue: Queue,
    pipe: Pipeline,
    event_id: int,
    kind: TimerKind,
    deadline_version: int,
    fire_at: datetime,
    *,
    now: datetime | None = None,
) -> None:
    """Schedule (or move: same id, last write wins) one timer job on ``pipe``. RQ scores the
    scheduled registry in whole seconds, which would let a job run up to 1 s early; the score
    is overwritten with the exact instant, so RQ's scheduler is never early and the promoter
    is on time. A fire time in the past enqueues the job at once."""
    job_id = timer_job_id(str(event_id), kind, deadline_version)
    args = (event_id, kind.value, deadline_version)
    options: dict[str, Any] = {
        "job_id": job_id,
        "retry": JOB_RETRY,
        "job_timeout": JOB_TIMEOUT,
        "result_ttl": RESULT_TTL,
        "pipeline": pipe,
    }
    if fire_at <= (now or _now()):
        pipe.zrem(_scheduled_key(queue), job_id)
        queue.enqueue(sla_timer_job, *args, **options)
        return
    queue.enqueue_at(fire_at, sla_timer_job, *args, **options)
    pipe.zadd(_scheduled_key(queue), {job_id: fire_at.timestamp()})


def _cancel_timer(queue: Queue, pipe: Pipeline, job_id: str) -> None:
    """Remove a scheduled timer and its job hash (a queued copy then vanishes on dequeue; a
    copy already running finds its deadline version stale)."""
    pipe.zrem(_scheduled_key(queue), job_id)
    pipe.delete(Job.key_for(job_id))


def _stage(
    queue: Queue, pipe: Pipeline, message: outbox.Message, now: datetime, notify: bool
) -> None:
    """Put the Redis commands of one outbox row on the (MULTI) pipeline."""
    p = message.payload
    if message.topic == outbox.TIMER_SET:
        assert message.event_id is not None
        fire_at = datetime.fromisoformat(p["fire_at"])
        kind = TimerKind(p["kind"])
        schedule_timer(
            queue, pipe, message.event_id, kind, int(p["deadline_version"]), fire_at, now=now
        )
    elif message.topic == outbox.TIMER_CANCEL:
        _cancel_timer(queue, pipe, str(p["job_id"]))
    elif message.topic == outbox.DISPATCH:
        event_id = int(p.get("event_id") or message.event_id or 0)
        queue.enqueue(
            auto_dispatch_job,
            event_id,
            job_id=f"dispatch-{event_id}",
            retry=JOB_RETRY,
            job_timeout=JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            at_front=True,  # assignment within a second: ahead of warnings and notices
            pipeline=pipe,
        )
    elif message.topic == outbox.NOTIFY:
        if notify:  # without an adapter the row itself is the record; nothing to deliver
            intervals = get_settings().webhook_retry_intervals
            queue.enqueue(
                notify_job,
                message.id,
                job_id=f"notify-{message.id}",
                retry=Retry(max=len(intervals), interval=intervals),
                job_timeout=JOB_TIMEOUT,
                pipeline=pipe,
            )
    elif message.topic == outbox.STREAM:
        pipe.publish(stream_channel(redis_db(queue.connection)), json.dumps(p, ensure_ascii=False))
    else:
        log.warning("outbox row %s has an unknown topic %r; marked done", message.id, message.topic)


def relay(
    *,
    batch: int = 500,
    connection: Redis | None = None,
    now: datetime | None = None,
) -> int:
    """Move one batch of pending outbox rows to Redis; returns how many were moved.

    The rows stay locked (``SKIP LOCKED`` for other relays) while their commands run in one
    MULTI/EXEC; only then are they marked processed, in the same transaction. When Redis fails
    the rows stay pending (attempts + 1, the error kept, a short backoff) and the error is
    logged, not raised: the next run tries again.
    """
    now = now or _now()
    queue = get_dispatch_queue(connection)
    notify = configured_adapter() is not None
    with _session() as session:
        messages = outbox.claim_pending(session, now=now, batch=batch)
        if not messages:
            session.rollback()
            return 0
        ids = [m.id for m in messages]
        try:
            with queue.connection.pipeline() as pipe:
                pipe.multi()
                for message in messages:
                    _stage(queue, pipe, message, now, notify)
                pipe.execute()
        except RedisError as exc:
            outbox.mark_failed(session, ids, now=now, error=repr(exc))
            session.commit()
            log.warning("relay: Redis refused %d outbox rows (%s); left pending", len(ids), exc)
            return 0
        outbox.mark_processed(session, ids, now=now)
        session.commit()
    return len(messages)


def relay_all(
    *,
    batch: int = 500,
    connection: Redis | None = None,
    budget: float = 1.0,
    now: datetime | None = None,
) -> int:
    """Relay batches until the outbox is drained or ``budget`` seconds have passed."""
    moved = 0
    started = time.monotonic()
    while time.monotonic() - started < budget:
        n = relay(batch=batch, connection=connection, now=now)
        moved += n
        if n < batch:
            break
    return moved


class OutboxWakeup:
    """The relay's alarm clock: a LISTEN connection on ``outbox``, which a statement trigger
    NOTIFYs when rows are added (delivered at commit, migration 0007). So a report's dispatch
    request and an action's timers reach Redis right after their commit, from the worker,
    without the API spending anything on it; the timeout keeps the relay polling when
    notifications are lost (no connection: the relay just polls)."""

    def __init__(self) -> None:
        self._conn: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> None:
        """Return when rows were added since the last call, or after ``timeout`` seconds."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    libpq_url(get_settings().database_url), autocommit=True, connect_timeout=5
                )
                self._conn.execute("LISTEN outbox")
                return  # rows may have come while nobody listened: relay now
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                pass
            for _ in self._conn.notifies(timeout=0.0):  # one relay run serves all of them
                pass
        except (psycopg.Error, OSError) as exc:
            log.warning("outbox LISTEN failed (%s); the relay polls meanwhile", exc)
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            time.sleep(timeout)


# --- promoting due timers ---------------------------------------------------------------------


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
    key = _scheduled_key(queue)
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


# --- reconciliation sweep ---------------------------------------------------------------------


@dataclass
class SweepResult:
    breaches: list[int] = field(default_factory=list)
    dispatched: list[int] = field(default_factory=list)
    timers_rescheduled: int | None = None


def sweep(
    now: datetime | None = None, *, connection: Redis | None = None, limit: int = 1000
) -> SweepResult:
    """Find what Redis should have done and did not, and do it from PostgreSQL:

    - clocked events whose ack or resolve deadline passed more than the grace period ago with
      no breach recorded → apply the breach now (escalation to the next level's handler);
    - registered events older than the grace period that no dispatch reached → dispatch them;
    - Redis without the "timers synced" marker (flushed, restarted empty) → write a
      ``timer.set`` outbox row for every pending timer of every clocked event, then set it.

    The writers re-check each event's state (version-checked), so the sweep may run beside the
    timers and beside other sweeps. The first two need no Redis at all.
    """
    now = now or _now()
    before = now - service.grace()
    result = SweepResult()
    with _session() as session:
        overdue = service.overdue_breaches(session, before=before, limit=limit)
        for start in range(0, len(overdue), TIMER_BATCH):
            batch = service.handle_timers(session, overdue[start : start + TIMER_BATCH], now)
            result.breaches.extend(int(d.state.event_id) for d in batch.applied)
        for event_id in service.undispatched(session, before=before, limit=limit):
            if service.auto_dispatch(session, event_id, now) is not None:
                result.dispatched.append(event_id)
    try:
        result.timers_rescheduled = resync_timers(connection=connection, now=now)
    except RedisError as exc:
        log.warning("sweep: Redis unavailable (%s); timers not checked", exc)
    if result.breaches or result.dispatched or result.timers_rescheduled:
        log.warning(
            "sweep: %d breaches and %d dispatches Redis had not done; %s timers re-scheduled",
            len(result.breaches),
            len(result.dispatched),
            result.timers_rescheduled or 0,
        )
    return result


def resync_timers(*, connection: Redis | None = None, now: datetime | None = None) -> int | None:
    """Re-schedule every open timer when Redis lost them (the marker key is gone). Returns the
    number of timers written to the outbox, or None when Redis still holds its timers."""
    redis = connection or relay_redis()
    if redis.exists(TIMERS_SYNCED_KEY):
        return None
    if not redis.set(_RESYNC_LOCK_KEY, "1", nx=True, ex=300):
        return None  # another worker is on it
    try:
        with _session() as session:
            count = service.reschedule_open_timers(session, now=now or _now())
        redis.set(TIMERS_SYNCED_KEY, (now or _now()).isoformat())
    finally:
        redis.delete(_RESYNC_LOCK_KEY)
    return count


def mark_timers_synced(connection: Redis | None = None) -> None:
    """Declare Redis in step with the outbox (after a deliberate flush on an empty system)."""
    (connection or relay_redis()).set(TIMERS_SYNCED_KEY, _now().isoformat())


# --- periodic tasks of the worker's pulse -----------------------------------------------------

_settings = get_settings()


_wakeup = OutboxWakeup()
#: At most one relay run per this many seconds: under a flood of commits (a burst of breaches)
#: each run then moves many rows, instead of one transaction per notification.
RELAY_COALESCE_SECONDS = 0.05


@periodic("dispatch.relay", RELAY_COALESCE_SECONDS)
def _relay_task() -> None:
    _wakeup.wait(_settings.relay_seconds)
    relay_all()


@periodic("dispatch.promote", _settings.promote_seconds)
def _promote_task() -> None:
    promote_due_timers()


@periodic("dispatch.sweep", _settings.sweep_seconds)
def _sweep_task() -> None:
    sweep()
