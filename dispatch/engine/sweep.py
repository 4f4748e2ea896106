"""The reconciliation sweep: what Redis should have done and did not, done from PostgreSQL.

Losing Redis makes escalations late, never lost: overdue breaches and undispatched events are
handled here directly, and a Redis that lost its data (the "timers synced" marker is gone)
gets every open timer armed again, a page of events at a time (the due ones then go through
the promoter in batches, as fast as the workers take them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from dispatch.engine.jobs import arm_timers
from dispatch.engine.promoter import TIMER_BATCH
from dispatch.engine.queue import get_dispatch_queue, relay_redis
from dispatch.lifecycle import reconcile, system
from kernel.clock import utc_now
from kernel.uow import unit_of_work

log = logging.getLogger("wangge.dispatch.sweep")

#: Redis key whose presence says "every timer the outbox relayed is still scheduled".
TIMERS_SYNCED_KEY = "wangge:dispatch:timers-synced"
_RESYNC_LOCK_KEY = "wangge:dispatch:timers-resync-lock"


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
    - Redis without the "timers synced" marker (flushed, restarted empty) → arm every pending
      timer of every clocked event again (``resync_timers``), then set it.

    The writers re-check each event's state (version-checked), so the sweep may run beside the
    timers and beside other sweeps. The first two need no Redis at all.
    """
    now = now or utc_now()
    before = now - reconcile.grace()
    result = SweepResult()
    with unit_of_work() as uow:
        overdue = reconcile.overdue_breaches(uow.session, before=before, limit=limit)
        for start in range(0, len(overdue), TIMER_BATCH):
            batch = system.handle_timers(uow, overdue[start : start + TIMER_BATCH], now)
            result.breaches.extend(int(d.state.event_id) for d in batch.applied)
        for event_id in reconcile.undispatched(uow.session, before=before, limit=limit):
            if system.auto_dispatch(uow, event_id, now) is not None:
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


#: Clocked events read per page when re-arming (one ZADD of their timers per page).
RESYNC_PAGE = 1000


def resync_timers(
    *, connection: Redis | None = None, now: datetime | None = None, page: int = RESYNC_PAGE
) -> int | None:
    """Re-arm every open timer when Redis lost them (the marker key is gone): a page of events
    per read and one ZADD per page, no job and no outbox row per timer (a flush with 15,000
    open events would otherwise leave ~90,000 rows to relay and as many jobs). Timers already
    due are armed at ``now``: the promoter hands them to the workers in batches, oldest first.
    Returns the number of timers armed, or None when Redis still holds its timers."""
    redis = connection or relay_redis()
    if redis.exists(TIMERS_SYNCED_KEY):
        return None
    if not redis.set(_RESYNC_LOCK_KEY, "1", nx=True, ex=300):
        return None  # another worker is on it
    at = now or utc_now()
    queue = get_dispatch_queue(redis)
    count = 0
    last_id: int | None = 0
    try:
        while last_id is not None:
            with unit_of_work() as uow:
                timers, last_id = reconcile.open_timers(
                    uow.session, now=at, after_id=last_id, batch=page
                )
            with redis.pipeline() as pipe:
                arm_timers(queue, pipe, {k: v.timestamp() for k, v in timers.items()})
                pipe.execute()
            count += len(timers)
        redis.set(TIMERS_SYNCED_KEY, at.isoformat())
    finally:
        redis.delete(_RESYNC_LOCK_KEY)
    return count


def mark_timers_synced(connection: Redis | None = None) -> None:
    """Declare Redis in step with the outbox (after a deliberate flush on an empty system)."""
    (connection or relay_redis()).set(TIMERS_SYNCED_KEY, utc_now().isoformat())
