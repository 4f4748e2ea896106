"""The dispatch engine's RQ jobs. They take ids and numbers only and are idempotent: each
re-reads the event and does nothing when it has moved on, so RQ may run one twice, late, or
never (the sweep then does its work from PostgreSQL).

- ``dispatch_backlog_job()``: assign the registered events, oldest report first, in batches;
- ``sla_timer_job(event_id, kind, deadline_version)`` and ``sla_batch_job(timers)``: warnings
  and breaches (timers due together go in batches);
- ``notify_job(outbox_id)``: deliver one notification through the configured adapter.

``schedule_timer`` / ``arm_timers`` / ``cancel_timer`` arm and disarm timers: entries of a
sorted set scored by their due instant (``queue.timers_key``), not jobs; the promoter turns
the due ones into ``sla_batch_job``s as fast as the workers take them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from redis.client import Pipeline
from rq import Queue
from rq.job import Job

from dispatch import outbox
from dispatch.engine.queue import get_dispatch_queue, timers_key
from dispatch.engine.queue import scheduled_key as _scheduled_key
from dispatch.lifecycle import system
from dispatch.notify import NotificationMessage, configured_adapter
from domain.lifecycle import TimerKind, timer_job_id
from kernel.clock import utc_now
from kernel.uow import unit_of_work

log = logging.getLogger("wangge.dispatch")


def dispatch_backlog_job() -> str:
    """Dispatch every registered event, oldest report first, a batch per transaction, until
    none is left (events another worker holds are skipped: it is dispatching them). One log
    line per batch (at most ``system.DISPATCH_BATCH`` events), with their ids, in report order,
    and the lag from the report (RQ's own per-job lines are off:
    kernel.logging)."""
    total = 0
    while True:
        now = utc_now()
        with unit_of_work() as uow:
            decisions = system.dispatch_backlog(uow, now)
        if not decisions:
            break
        total += len(decisions)
        lags = sorted((now - d.state.created_at).total_seconds() for d in decisions)
        log.info(
            "dispatched",
            extra={
                "fields": {
                    "events": len(decisions),
                    "event_ids": [int(d.state.event_id) for d in decisions],
                    "lag_seconds_max": round(lags[-1], 3),
                    "lag_seconds_median": round(lags[len(lags) // 2], 3),
                }
            },
        )
    return f"dispatched {total}"


def sla_timer_job(event_id: int, kind: str, deadline_version: int) -> str:
    """One timer (a retry, or a timer job armed before timers were batched): apply the warning
    or breach if still current. A timer that arrives early (a clock ahead of ours) is put back
    for its due time; a stale one does nothing."""
    timer = TimerKind(kind)
    now = utc_now()
    with unit_of_work() as uow:
        decision = system.handle_timer(uow, event_id, timer, deadline_version, now)
        if decision is not None:
            return f"{decision.audit.action.value if decision.audit else 'noop'}"
        due = system.timer_due_time(uow.session, event_id, timer, deadline_version)
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
    now = utc_now()
    fired = [(event_id, TimerKind(kind), version) for event_id, kind, version in timers]
    with unit_of_work() as uow:
        batch = system.handle_timers(uow, fired, now)
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
    with unit_of_work() as uow:
        message = outbox.get_message(uow.session, outbox_id)
    if message is None or message.topic != outbox.NOTIFY:
        return "gone"
    adapter.deliver(NotificationMessage.from_outbox(message))
    return "delivered"


def schedule_timer(
    queue: Queue,
    pipe: Pipeline,
    event_id: int,
    kind: TimerKind,
    deadline_version: int,
    fire_at: datetime,
) -> None:
    """Arm (or move: same member, last write wins) one timer on ``pipe``: a ZADD in the timers'
    sorted set, scored with the exact instant (no RQ job: the promoter makes batch jobs of the
    due ones). A fire time in the past is due at once: the promoter takes it on its next tick,
    with the others due, in batches."""
    job_id = timer_job_id(str(event_id), kind, deadline_version)
    pipe.zadd(timers_key(queue), {job_id: fire_at.timestamp()})


def arm_timers(queue: Queue, pipe: Pipeline, timers: dict[str, float]) -> None:
    """Arm many timers (``{timer id: due timestamp}``) with one ZADD."""
    if timers:
        pipe.zadd(timers_key(queue), timers)


def cancel_timer(queue: Queue, pipe: Pipeline, job_id: str) -> None:
    """Disarm a timer (a batch job already holding it finds its deadline version stale). Timers
    armed before they were plain sorted-set entries were RQ scheduled jobs: those go too."""
    pipe.zrem(timers_key(queue), job_id)
    pipe.zrem(_scheduled_key(queue), job_id)
    pipe.delete(Job.key_for(job_id))
