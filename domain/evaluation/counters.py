"""What one event contributes to the counters of its report day, from its current state.

The statistics keep these counters in SQL (the ``stats_counts`` function the triggers and the
rebuild share, docs/decisions/0004); this is the same definition in Python, which a property
test holds the SQL to. ``dispatched_on_time`` depends on the audit log (the first dispatch's
time) and is defined beside it, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.lifecycle.model import Status
from domain.roles import COMMAND_CENTRE_LEVEL, GRID_LEVEL

#: Events that were registered (verified, if reported by the public) and not voided.
_NOT_REGISTERED = frozenset({Status.PENDING_VERIFICATION, Status.VOIDED})
#: Events whose fix was submitted (and possibly accepted).
_HANDLED = frozenset({Status.RESOLVED, Status.CLOSED})
#: Sources of reports that grid staff did not make (the 漏报率 numerator counts them).
STAFF_SOURCE = "staff"


@dataclass(frozen=True)
class EventFacts:
    """The fields of an event the counters read."""

    status: Status
    source: str
    level: int
    created_at: datetime
    dispatched_at: datetime | None
    resolved_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    redispatch_count: int
    escalation_count: int
    rework_count: int
    duplicate_of: int | None = None
    promised_due_at: datetime | None = None


def closed_on_time(event: EventFacts, resolve_minutes: float) -> bool:
    """Closed within the category's resolve time of the report (exact, in seconds)."""
    if event.status is not Status.CLOSED or event.closed_at is None:
        return False
    return (event.closed_at - event.created_at).total_seconds() <= resolve_minutes * 60


def counts(event: EventFacts, resolve_minutes: float) -> dict[str, int]:
    """The event's contribution to each counter (``stats_counts``, in its field order). A
    report linked to the event it duplicates contributes nothing: the original counts once."""
    registered = event.status not in _NOT_REGISTERED
    handled = event.status in _HANDLED
    closed = event.status is Status.CLOSED
    fixed_in_time = (
        handled
        and event.resolved_at is not None
        and event.due_at is not None
        and event.resolved_at <= event.due_at
    )
    kept_promise = (
        handled
        and event.resolved_at is not None
        and event.promised_due_at is not None
        and event.resolved_at <= event.promised_due_at
    )
    counted = {
        "reported": 1,
        "voided": int(event.status is Status.VOIDED),
        "registered": int(registered),
        "public_registered": int(registered and event.source != STAFF_SOURCE),
        "dispatched": int(event.dispatched_at is not None),
        "redispatches": event.redispatch_count,
        "escalations": event.escalation_count,
        "handled": int(handled),
        "handled_on_time": int(fixed_in_time),
        "reworks": event.rework_count,
        "closed": int(closed),
        "closed_on_time": int(closed_on_time(event, resolve_minutes)),
        "closed_level0": int(closed and event.level == GRID_LEVEL),
        "closed_le2": int(closed and event.level <= COMMAND_CENTRE_LEVEL),
        "handled_on_promise": int(kept_promise),
    }
    if event.duplicate_of is not None:
        return dict.fromkeys(counted, 0)
    return counted
