"""The event lifecycle's rules: the state machine, SLA clocks, escalation and the assignment
choice (standard library only: no database, web, Redis or RQ).

Public API
----------
Creating and moving an event::

    open_event(*, event_id, policy, now, reporter_id, trusted=True, grid=None, note="") -> Decision
    apply(state, command, *, now, policy) -> Decision
    allowed_actions(state, *, include_system=False) -> list[Action]
    replay(audit_entries) -> EventState

``Decision`` carries the new ``EventState``, its ``AuditEntry`` (None for a no-op timer), the
``TimerCommand``s to set or cancel (job id ``sla-{event_id}-{kind}-{deadline_version}``) and the
``Notification``s for the outbox. ``now`` is always passed in, aware UTC (naive raises
``NaiveDatetime``). ``IllegalTransition(state, action, allowed)`` is the 409 of the web layer,
as is ``StaleVersion`` (``Command.expected_version``); ``InvalidCommand`` is a 422.

Choosing a handler::

    choose_assignee(candidates, *, category, place, load_cap, now, level=None) -> Assignment
    escalation_target(state) -> int | None      # the level an escalation/breach would go to
    dispatched_up(state, assignment) -> bool    # a dispatch to a department: an escalation
    reviewer_role(state) -> Role

SLA values: ``SlaPolicy(category, levels={level: LevelAllowance(multiplier, ack_minutes,
resolve_minutes)}, calendar=WorkCalendar, level_calendars={level: WorkCalendar})`` (minutes of
working time on the calendar of the level that answers for the clock, ``calendar_at(level)``:
``domain.calendar``; ``24x7`` by default); ``pending_timers(state)`` and
``set_timers(state, now)`` rebuild the timer plan (for the reconciliation sweep);
``current_timer_due(state, kind, deadline_version)`` says when a timer is due if it still
belongs to the plan; ``sla_state(state, now)`` /
``clock_state(state, clock, now)`` say whether the event is ok, in warning or breached;
``invariant_violations(state)`` lists broken invariants.

The transition table is data (``RULES`` / ``TRANSITIONS`` in ``transitions``);
``render_markdown()`` prints it, and the ``transitions`` module docstring shows it.

Decisions the service layer follows
-----------------------------------
- ``suspended`` is a status; ``resume_status`` remembers dispatched/acknowledged, and the
  remaining allowances are stored on the state while suspended.
- Deadlines start at dispatch (first dispatch, re-dispatch, escalation, rework), for the level
  of the assignment; ``deadline_version`` goes up then and on resume. ``registered`` and
  ``pending_verification`` have no clock; ``resolved`` waits for review without one.
- Escalation and breach take an optional ``Assignment`` at ``level + 1`` (the service calls
  ``choose_assignee(level=escalation_target(state))`` first); None puts the event in the level's
  queue, and whoever acknowledges a queued event claims it; ``claim`` takes a queued event
  without acknowledging it. The command centre's level is always a shared queue
  (``domain.roles.SHARED_QUEUE_LEVELS``): the assignment rules never name a dispatcher.
- A dispatch to a department (level 3) from below counts as an escalation
  (``dispatched_up``: ``escalation_count`` + 1, reason ``dispatched_up``), not a re-dispatch.
- A failed review is rework: back to ``dispatched``, same handler and level, ``rework_count``
  + 1, fresh ack and resolve deadlines. A member's fix is reviewed by the grid head, every other
  fix (community, command centre, department, head) by the command centre.
- A breach at level 3 cannot escalate: it is recorded and reported to the command centre.
- A holder's request (``request_extension`` with ``Command.deadline``, ``request_parking`` with
  an optional review date) waits on the state (``request_kind`` ...) for the level above
  (``approve_*`` / ``refuse_*``); it moves nothing until approved. An approved extension moves
  ``due_at`` and ``promised_due_at`` to the deadline asked; an approved parking pauses the
  clocks as a suspension does (``parked``; ``unpark`` resumes). ``reopen`` takes a closed case
  into a new cycle (``cycle`` + 1, ``rework_count`` + 1, new clocks and promise);
  docs/decisions/0017.
- Every applied command (a sent warning too) bumps ``version`` and writes one audit entry whose
  ``data`` holds the changed fields; timestamps on the state describe the current cycle.
- Who may do what (roles) is the service's check; the domain checks the state only.
"""

from domain.lifecycle.assignment import Candidate, choose_assignee
from domain.lifecycle.audit import encode_delta, replay
from domain.lifecycle.engine import (
    apply,
    dispatched_up,
    escalation_target,
    open_event,
    reviewer_role,
)
from domain.lifecycle.errors import (
    DomainError,
    IllegalTransition,
    InvalidCommand,
    NaiveDatetime,
    ReplayError,
    StaleVersion,
)
from domain.lifecycle.invariants import invariant_violations
from domain.lifecycle.model import (
    Action,
    Assignment,
    AuditEntry,
    Category,
    Clock,
    Command,
    Decision,
    EscalationReason,
    EventState,
    Notification,
    NotificationKind,
    RequestKind,
    Status,
    TimerCommand,
    TimerKind,
    TimerOp,
    timer_job_id,
)
from domain.lifecycle.sla import (
    LevelAllowance,
    SlaPolicy,
    SlaState,
    clock_state,
    current_timer_due,
    pending_timers,
    set_timers,
    sla_state,
)
from domain.lifecycle.transitions import RULES, TRANSITIONS, Rule, allowed_actions, render_markdown

__all__ = [
    "RULES",
    "TRANSITIONS",
    "Action",
    "Assignment",
    "AuditEntry",
    "Candidate",
    "Category",
    "Clock",
    "Command",
    "Decision",
    "DomainError",
    "EscalationReason",
    "EventState",
    "IllegalTransition",
    "InvalidCommand",
    "LevelAllowance",
    "NaiveDatetime",
    "Notification",
    "NotificationKind",
    "ReplayError",
    "RequestKind",
    "Rule",
    "SlaPolicy",
    "SlaState",
    "StaleVersion",
    "Status",
    "TimerCommand",
    "TimerKind",
    "TimerOp",
    "allowed_actions",
    "apply",
    "choose_assignee",
    "clock_state",
    "current_timer_due",
    "encode_delta",
    "dispatched_up",
    "escalation_target",
    "invariant_violations",
    "open_event",
    "pending_timers",
    "render_markdown",
    "replay",
    "reviewer_role",
    "set_timers",
    "sla_state",
    "timer_job_id",
]
