"""Domain metrics of dispatch: what happened to events, counted once per committed change in
the process that made it (an API process for reports and people's actions, the worker for
automatic dispatch and the SLA timers). Labels stay bounded: category codes, actions, levels,
clocks; never an event or a person.

Each process exports its own counts: the API's processes through Prometheus's multiprocess
mode, the worker on its own port (``wangge worker``); a dashboard sums them (docker/grafana).
What describes shared state rather than a process's work (the outbox backlog, RQ's queues,
the worker's heartbeat) is read at scrape time instead (``service.api.metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client import Counter, Histogram
from sqlmodel import Session

from domain.lifecycle import Action, Status
from domain.lifecycle.model import Decision, NotificationKind, TimerKind
from kernel.uow import after_commit

REPORTED = Counter(
    "wangge_events_reported_total",
    "Events reported, by category and source",
    ["category", "source"],
)
TRANSITIONS = Counter(
    "wangge_event_transitions_total",
    "Committed changes of events, by action and the level the event is at afterwards",
    ["action", "level"],
)
REPORT_TO_ASSIGNED = Histogram(
    "wangge_report_to_assigned_seconds",
    "From the report to the first dispatch (to a person or a level's queue)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
SLA_WARNINGS = Counter(
    "wangge_sla_warnings_total",
    "SLA warnings sent, by clock (ack, resolve) and the share of the allowance used",
    ["clock", "percent"],
)
SLA_BREACHES = Counter(
    "wangge_sla_breaches_total",
    "SLA deadlines passed, by clock (ack, resolve) and the level the event was at",
    ["clock", "level"],
)

CALENDAR_FALLBACKS = Counter(
    "wangge_calendar_fallback_total",
    "Deadlines set on a year their calendar has not loaded (the fallback counted those days "
    "as whole working days: load the year with `wangge calendar load`), by category",
    ["category"],
)
log = logging.getLogger("wangge.calendar")

_TIMER_NOTICES = (NotificationKind.WARNING, NotificationKind.BREACH)


def observe(decisions: Iterable[Decision]) -> None:
    """Count committed decisions (call only once they are committed)."""
    for decision in decisions:
        audit = decision.audit
        if audit is None:
            continue
        TRANSITIONS.labels(audit.action.value, str(audit.to_level)).inc()
        # new deadlines, or a close whose working minutes newly used the fallback
        if decision.state.clock_fallback and (
            "deadline_version" in audit.data or "clock_fallback" in audit.data
        ):
            CALENDAR_FALLBACKS.labels(decision.state.category).inc()
            log.warning(
                "event %s (%s): deadlines or working minutes reach a year its calendar has "
                "not loaded; "
                "fallback applied (whole days count as working time)",
                decision.state.event_id,
                decision.state.category,
            )
        if audit.action is Action.DISPATCH and audit.from_status is Status.REGISTERED:
            lag = (audit.at - decision.state.created_at).total_seconds()
            REPORT_TO_ASSIGNED.observe(max(lag, 0.0))
        elif audit.action in (Action.WARN, Action.BREACH):
            kind = next(
                (TimerKind(n.detail) for n in decision.notifications if n.kind in _TIMER_NOTICES),
                None,
            )
            if kind is None:
                continue
            clock = kind.clock.value
            if kind.is_breach:
                SLA_BREACHES.labels(clock, str(audit.from_level)).inc()
            else:
                SLA_WARNINGS.labels(clock, f"{kind.fraction * 100:g}").inc()


def observe_after_commit(session: Session, decisions: Iterable[Decision]) -> None:
    """Count ``decisions`` once the unit of work holding ``session`` commits."""
    kept = list(decisions)
    after_commit(session, lambda: observe(kept))


def observe_report(decision: Decision, *, category: str, source: str) -> None:
    """A new event, committed."""
    REPORTED.labels(category, source).inc()
    observe([decision])
