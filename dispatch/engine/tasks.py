"""The dispatch engine's periodic work, run by the worker: the outbox relay (woken by
``NOTIFY outbox``), the timer promoter and the reconciliation sweep."""

from __future__ import annotations

from dispatch.engine.promoter import promote_due_timers
from dispatch.engine.relay import OutboxWakeup, relay_all
from dispatch.engine.sweep import sweep
from kernel.settings import get_settings
from kernel.tasks import PeriodicTask

#: At most one relay run per this many seconds: under a flood of commits (a burst of breaches)
#: each run then moves many rows, instead of one transaction per notification.
RELAY_COALESCE_SECONDS = 0.05


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

    return [
        PeriodicTask("dispatch.relay", RELAY_COALESCE_SECONDS, relay),
        PeriodicTask("dispatch.promote", settings.promote_seconds, promote),
        PeriodicTask("dispatch.sweep", settings.sweep_seconds, reconcile),
    ]
