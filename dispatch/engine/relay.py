"""The outbox relay: committed outbox rows to Redis (see docs/decisions/0003).

Timers become scheduled RQ jobs with deterministic ids, notifications queued jobs, change-stream
rows pub/sub messages; the dispatch requests of a batch become one job that dispatches the
whole backlog of registered events, oldest report first. The worker runs it when ``NOTIFY outbox``
says rows were added (``OutboxWakeup``), and polls meanwhile.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

import psycopg
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Retry

from dispatch import outbox
from dispatch.changes import redis_db, stream_channel
from dispatch.engine.jobs import cancel_timer, dispatch_backlog_job, notify_job, schedule_timer
from dispatch.engine.queue import JOB_RETRY, JOB_TIMEOUT, RESULT_TTL, get_dispatch_queue
from dispatch.notify import configured_adapter
from domain.lifecycle import TimerKind
from kernel.clock import utc_now
from kernel.db import libpq_url
from kernel.settings import get_settings
from kernel.uow import unit_of_work

log = logging.getLogger("wangge.dispatch.relay")


def _stage(queue: Queue, pipe: Pipeline, message: outbox.Message, notify: bool) -> None:
    """Put the Redis commands of one outbox row on the (MULTI) pipeline."""
    p = message.payload
    if message.topic == outbox.TIMER_SET:
        assert message.event_id is not None
        fire_at = datetime.fromisoformat(p["fire_at"])
        kind = TimerKind(p["kind"])
        schedule_timer(queue, pipe, message.event_id, kind, int(p["deadline_version"]), fire_at)
    elif message.topic == outbox.TIMER_CANCEL:
        cancel_timer(queue, pipe, str(p["job_id"]))
    elif message.topic == outbox.DISPATCH:
        pass  # the batch's one backlog job (``relay``)
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
    now = now or utc_now()
    queue = get_dispatch_queue(connection)
    notify = configured_adapter() is not None
    with unit_of_work() as uow:
        session = uow.session
        messages = outbox.claim_pending(session, now=now, batch=batch)
        if not messages:
            return 0
        ids = [m.id for m in messages]
        try:
            with queue.connection.pipeline() as pipe:
                pipe.multi()
                for message in messages:
                    _stage(queue, pipe, message, notify)
                asks = [m.id for m in messages if m.topic == outbox.DISPATCH]
                if asks:  # one job takes the whole backlog, oldest report first
                    queue.enqueue(
                        dispatch_backlog_job,
                        job_id=f"dispatch-{asks[0]}",
                        retry=JOB_RETRY,
                        job_timeout=JOB_TIMEOUT,
                        result_ttl=RESULT_TTL,
                        at_front=True,  # assignment within a second: ahead of warnings
                        pipeline=pipe,
                    )
                pipe.execute()
        except RedisError as exc:
            outbox.mark_failed(session, ids, now=now, error=repr(exc))
            uow.commit()
            log.warning("relay: Redis refused %d outbox rows (%s); left pending", len(ids), exc)
            return 0
        outbox.mark_processed(session, ids, now=now)
        uow.commit()
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
