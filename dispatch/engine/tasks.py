"""The dispatch engine's periodic work, run by the worker: the outbox relay (woken by
``NOTIFY outbox``), the timer promoter, the reconciliation sweep and the outbox's retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from dispatch.engine.promoter import promote_due_timers
from dispatch.engine.relay import OutboxWakeup, relay_all
from dispatch.engine.sweep import sweep
from dispatch.outbox import PURGE_BATCH, purge_processed
from kernel.clock import utc_now
from kernel.db import get_engine
from kernel.settings import get_settings
from kernel.tasks import PeriodicTask

#: At most one relay run per this many seconds: under a flood of commits (a burst of breaches)
#: each run then moves many rows, instead of one transaction per notification.
RELAY_COALESCE_SECONDS = 0.05
#: How often the worker deletes expired outbox rows, and at most how many batches a run.
RETENTION_SECONDS = 60.0
RETENTION_MAX_BATCHES = 100


def expire_outbox(now: datetime | None = None) -> int:
    """Delete processed outbox rows older than the retention, a batch per transaction (so no
    lock is held long), until none is left or ``RETENTION_MAX_BATCHES`` ran; how many went."""
    before = (now or utc_now()) - timedelta(days=get_settings().outbox_retention_days)
    total = 0
    for _ in range(RETENTION_MAX_BATCHES):
        with Session(get_engine()) as session:
            deleted = purge_processed(session, before=before)
            session.commit()
        total += deleted
        if deleted < PURGE_BATCH:
            break
    return total


def tasks() -> list[PeriodicTask]:
    settings = get_settings()
    wakeup = OutboxWakeup()

    def relay() -> None:
        wakeup.wait(settings.relay_seconds)
        relay_all()

    def promote() -> None:
        promote_due_timers()

    def reconcile() -> None:
        sweep()

    def retain() -> None:
        expire_outbox()

    return [
        PeriodicTask("dispatch.relay", RELAY_COALESCE_SECONDS, relay),
        PeriodicTask("dispatch.promote", settings.promote_seconds, promote),
        PeriodicTask("dispatch.sweep", settings.sweep_seconds, reconcile),
        PeriodicTask("dispatch.outbox_retention", RETENTION_SECONDS, retain),
    ]
