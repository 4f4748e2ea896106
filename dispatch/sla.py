"""The SLA rules of ``domain.lifecycle.sla`` as SQL over the event table, for the lists, the
board and the reconciliation sweep. Built from the domain's tables (which clocks run in which
status, which stored mark each timer fires at), never written by hand; a property test checks
that SQL and Python agree on random events and instants.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, any_, case, func, literal, or_

from domain.lifecycle import Clock, SlaState, TimerKind
from domain.lifecycle.model import RUNNING_CLOCKS, TIMER_FIELDS
from domain.lifecycle.sla import BREACH_TIMER, WARNING_TIMER


def _statuses(clock: Clock) -> list[str]:
    return [status.value for status, clocks in RUNNING_CLOCKS.items() if clock in clocks]


def _clock(kind: TimerKind) -> Clock:
    return kind.clock


def fire_at(event: FromClause, kind: TimerKind) -> ColumnElement[Any]:
    """When a timer of ``kind`` fires for the row's current deadlines: the row's mark column
    (``domain.lifecycle.sla.timer_due_at``, computed on the category's calendar)."""
    return event.c[TIMER_FIELDS[kind]]


def _reached(event: FromClause, kind: TimerKind, now: Any) -> ColumnElement[bool]:
    """The timer's clock runs and ``now`` is at or past its mark."""
    return and_(event.c.status.in_(_statuses(_clock(kind))), fire_at(event, kind) <= now)


def sla_state(event: FromClause, now: Any) -> ColumnElement[str]:
    """``domain.lifecycle.sla_state`` as a SQL expression ('ok' / 'warning' / 'breached');
    ``now`` is a bound parameter or a value."""
    clocks = list(Clock)
    return case(
        (or_(*(_reached(event, BREACH_TIMER[c], now) for c in clocks)), SlaState.BREACHED.value),
        (or_(*(_reached(event, WARNING_TIMER[c], now) for c in clocks)), SlaState.WARNING.value),
        else_=literal(SlaState.OK.value),
    )


def overdue(event: FromClause, now: Any) -> ColumnElement[bool]:
    """Rows whose SLA state is breached at ``now`` (a running clock past its deadline)."""
    return or_(*(_reached(event, BREACH_TIMER[c], now) for c in Clock))


def breach_pending(event: FromClause, kind: TimerKind, before: Any) -> ColumnElement[bool]:
    """Rows whose ``kind`` breach is due by ``before`` and not recorded as sent: the timer is
    in the row's current plan (``domain.lifecycle.pending_timers``) and past its mark."""
    sent = literal(kind.value) == any_(event.c.warnings_sent)
    return and_(_reached(event, kind, before), ~sent)


def first_breach_at(event: FromClause) -> ColumnElement[Any]:
    """The earliest breach mark among the row's running clocks (NULL when none runs)."""
    return func.least(
        *(case((event.c.status.in_(_statuses(c)), fire_at(event, BREACH_TIMER[c]))) for c in Clock)
    )


def clocked(event: FromClause) -> ColumnElement[bool]:
    """Rows in a status where an SLA clock runs (they may carry timers)."""
    return event.c.status.in_([status.value for status in RUNNING_CLOCKS])
